import type { RequestHandler } from 'express';
import type { AuthFailureLimiter } from '../auth-limits/auth-failure-limiter';
import { hashSecret, secretMatchesHash } from '../crypto/secrets';
import { Unauthenticated } from '../errors';
import { clientAddress } from './request-context';

const BEARER = /^Bearer ([\x21-\x7e]{1,512})$/;

/**
 * Authentication by one configured secret (`Authorization: Bearer <secret>`), compared as SHA-256
 * digests in constant time; only the digest is kept in memory. Wrong secrets count against the
 * client address only: there is one secret, and a per-secret count would let anyone lock the
 * operator out. `name` says which secret in the realm and in the internal detail (`admin`, `metrics`).
 */
export function requireBearerSecret(secret: string, name: string, authFailures: AuthFailureLimiter): RequestHandler {
  const expected = hashSecret(secret);
  const challenge = `Bearer realm="cpix-kms ${name}"`;
  return async (req, res, next) => {
    const presented = BEARER.exec(req.get('authorization') ?? '')?.[1];
    if (presented === undefined) {
      res.setHeader('WWW-Authenticate', challenge);
      throw new Unauthenticated({ detail: `no ${name} bearer token` });
    }
    await authFailures.guard({ clientAddress: clientAddress(req) }, () => {
      if (secretMatchesHash(presented, expected)) return;
      res.setHeader('WWW-Authenticate', challenge);
      throw new Unauthenticated({ detail: `wrong ${name} token` });
    });
    next();
  };
}

/** Admin API authentication: the admin token (ADMIN_TOKEN). */
export function requireAdminToken(adminToken: string, authFailures: AuthFailureLimiter): RequestHandler {
  return requireBearerSecret(adminToken, 'admin', authFailures);
}
