import express, { type RequestHandler, type Response } from 'express';
import { RequestInvalid, UnsupportedMediaType } from '../errors';

/**
 * Media types CPIX clients send. The PallyCon Python client sends none at all, and API Gateway
 * proxies may send `application/octet-stream`, so a missing type is accepted too (docs/key-exchange.md).
 */
const CPIX_MEDIA_TYPES = new Set(['application/xml', 'text/xml', 'application/cpix+xml', 'application/octet-stream']);

/**
 * Reads a CPIX request body as raw bytes (the hardened XML parser decodes it), refusing bodies above
 * `limitBytes` (413, from express's raw parser, before the whole body is buffered) and media types
 * that are not XML (415). The bytes land in `req.body` as a Buffer.
 */
export function readCpixBody(limitBytes: number): RequestHandler[] {
  const checkType: RequestHandler = (req, _res, next) => {
    const type = req.get('content-type')?.split(';')[0]?.trim().toLowerCase();
    if (type !== undefined && type !== '' && !CPIX_MEDIA_TYPES.has(type)) {
      throw new UnsupportedMediaType('request body must be CPIX XML (application/xml)');
    }
    next();
  };
  const raw = express.raw({ type: () => true, limit: limitBytes });
  const requireBody: RequestHandler = (req, _res, next) => {
    if (!Buffer.isBuffer(req.body) || req.body.length === 0) throw new RequestInvalid('request body is empty');
    next();
  };
  return [checkType, raw, requireBody];
}

/**
 * Sends a CPIX document as `application/xml` exactly (AWS SPEKE API v1 and v2 response headers),
 * without express's charset suffix. The string goes to the socket as it is, encoded to UTF-8 once
 * on the way: a Buffer made first would be a second copy of a document of tens of kilobytes.
 */
export function sendCpix(res: Response, xml: string): void {
  res.setHeader('Content-Type', 'application/xml');
  res.setHeader('Content-Length', Buffer.byteLength(xml, 'utf8'));
  res.end(xml, 'utf8');
}
