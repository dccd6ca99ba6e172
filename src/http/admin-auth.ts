import type { RequestHandler } from 'express';
import type { AuthFailureLimiter } from '../auth-limits/auth-failure-limiter';
import { hashSecret, secretMatchesHash } from '../crypto/secrets';
import { Unauthenticated } from '../errors';
import { clientAddress } from './request-context';

const BEARER = /^Bearer ([\x21-\x7e]{1,512})$/;

/**
 * Admin API authentication: `Authorization: Bearer <admin token>`, compared as SHA-256 digests in
 * constant time. Only the digest of the configured token is kept in memory. Wrong tokens count against
 * the client address only: there is one admin token, and a per-token count would let anyone lock the
 * operator out.
 */
export function requireAdminToken(adminToken: string, authFailures: AuthFailureLimiter): RequestHandler {
  const expected = hashSecret(adminToken);
  return async (req, res, next) => {
    const presented = BEARER.exec(req.get('authorization') ?? '')?.[1];
    if (presented === undefined) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="cpix-kms admin"');
      throw new Unauthenticated({ detail: 'no admin bearer token' });
    }
    await authFailures.guard({ clientAddress: clientAddress(req) }, () => {
      if (secretMatchesHash(presented, expected)) return;
      res.setHeader('WWW-Authenticate', 'Bearer realm="cpix-kms admin"');
      throw new Unauthenticated({ detail: 'wrong admin token' });
    });
    next();
  };
}
