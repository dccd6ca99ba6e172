import type { RequestHandler } from 'express';
import type { AuthFailureLimiter } from '../auth-limits/auth-failure-limiter';
import { hashSecret, secretMatchesHash } from '../crypto/secrets';
import { Unauthenticated } from '../errors';
import { bearerCredential } from './kms-auth';
import { clientAddress } from './request-context';

/** Longest configured secret we compare against (admin and metrics tokens are ≥ 32 characters). */
const MAX_SECRET_LENGTH = 512;

/**
 * Authentication by one configured secret (`Authorization: Bearer <secret>`), compared as SHA-256
 * digests in constant time; only the digest is kept in memory. The secret is always compared first,
 * so the right one is never refused; wrong ones count against the client address in this secret's own
 * realm (`admin`, `metrics`: failures on the key routes never change the admin API's answers) and,
 * past the limit, are answered 429. There is no per-secret count: with one secret it would be one
 * counter for every client on the internet, adding nothing to the address counts.
 */
export function requireBearerSecret(secret: string, name: 'admin' | 'metrics', authFailures: AuthFailureLimiter): RequestHandler {
  const expected = hashSecret(secret);
  const challenge = `Bearer realm="cpix-kms ${name}"`;
  return async (req, res, next) => {
    try {
      const presented = bearerCredential(req);
      if (presented === undefined || presented.length > MAX_SECRET_LENGTH) throw new Unauthenticated({ detail: `no ${name} bearer token` });
      await authFailures.guard({ clientAddress: clientAddress(req), realm: name }, () => {
        if (!secretMatchesHash(presented, expected)) throw new Unauthenticated({ detail: `wrong ${name} token` });
      });
    } catch (error) {
      // Every 401 of this route carries the challenge (RFC 9110 §11.6.1), also a malformed credential's.
      if (error instanceof Unauthenticated) res.setHeader('WWW-Authenticate', challenge);
      throw error;
    }
    next();
  };
}

/** Admin API authentication: the admin token (ADMIN_TOKEN). */
export function requireAdminToken(adminToken: string, authFailures: AuthFailureLimiter): RequestHandler {
  return requireBearerSecret(adminToken, 'admin', authFailures);
}
