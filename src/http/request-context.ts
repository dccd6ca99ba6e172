import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import type { Request, RequestHandler } from 'express';
import type { Logger } from '../log';
import { redactUrl } from './redact';

/** A caller-supplied request ID is kept only if it is short and plain (it ends up in logs). */
const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;
/**
 * …and holds nothing credential-shaped: no `kms1.`/`lsc1.` prefix and no run of 43 or more base64url
 * characters (a credential's secret part, an access key, a 64-hex admin token). UUIDs (36) and W3C
 * trace IDs (32) pass; a client that pasted a secret here gets a fresh ID instead of a logged secret.
 */
const CREDENTIAL_SHAPED = /(kms1|lsc1)\.|[A-Za-z0-9_-]{43,}/;

/**
 * Assigns a request ID (echoed as `X-Request-Id`) and writes one access-log line per request when
 * the response finishes. The line holds the redacted URL and never headers or bodies.
 */
export function requestContext(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const incoming = req.get('x-request-id');
    const requestId =
      incoming !== undefined && REQUEST_ID_PATTERN.test(incoming) && !CREDENTIAL_SHAPED.test(incoming) ? incoming : randomUUID();
    res.locals.requestId = requestId;
    res.setHeader('X-Request-Id', requestId);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const level = res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info';
      // The line (and its redacted URL) is made only when it will be written.
      if (!logger.isLevelEnabled(level)) return;
      logger[level](
        {
          requestId,
          method: req.method,
          url: redactUrl(req.originalUrl),
          status: res.statusCode,
          durationMs: Number(process.hrtime.bigint() - started) / 1e6,
          remoteAddress: req.socket.remoteAddress,
        },
        'request',
      );
    });
    next();
  };
}

/**
 * The client's address as audit records and failure counters name it: express's `req.ip`, which
 * follows X-Forwarded-For only as far as the app's `trust proxy` setting (TRUST_PROXY_HOPS) allows.
 * express takes the believed X-Forwarded-For entry as it stands; an entry that is not an IP address
 * (a client that reached the service past the proxy wrote it, or a broken proxy) is not recorded: the
 * socket's address is, so no client text reaches an audit record or a store key name.
 */
export function clientAddress(req: Request): string {
  const forwarded = req.ip;
  if (forwarded !== undefined && isIP(forwarded) !== 0) return forwarded;
  return req.socket.remoteAddress ?? 'unknown';
}
