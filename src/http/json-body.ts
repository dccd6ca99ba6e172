import express, { type RequestHandler } from 'express';
import { UnsupportedMediaType } from '../errors';

/** Admin bodies are small JSON documents; the largest, a key import of 1000 keys, is about 120 KiB. */
const ADMIN_BODY_LIMIT = 256 * 1024;

/**
 * A request that carries a body must say it is JSON (`application/json` or a `+json` type), else 415:
 * a body of another type would otherwise reach the routes as no body at all and be refused for a
 * missing field. Then the body is parsed (strict: an object or an array).
 */
const JSON_TYPES = ['application/json', '+json'];

export const adminJsonBody: readonly RequestHandler[] = [
  (req, _res, next) => {
    // `Content-Length: 0` is no body (clients send it on a bodiless POST); type-is counts it as one.
    const carriesBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length']) > 0;
    if (carriesBody && !req.is(JSON_TYPES)) throw new UnsupportedMediaType('request body must be JSON (Content-Type: application/json)');
    next();
  },
  express.json({ limit: ADMIN_BODY_LIMIT, strict: true, type: JSON_TYPES }),
];
