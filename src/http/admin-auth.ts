import type { RequestHandler } from 'express';
import { hashSecret, secretMatchesHash } from '../crypto/secrets';
import { Unauthenticated } from '../errors';

const BEARER = /^Bearer ([\x21-\x7e]{1,512})$/;

/**
 * Admin API authentication: `Authorization: Bearer <admin token>`, compared as SHA-256 digests in
 * constant time. Only the digest of the configured token is kept in memory.
 */
export function requireAdminToken(adminToken: string): RequestHandler {
  const expected = hashSecret(adminToken);
  return (req, res, next) => {
    const presented = BEARER.exec(req.get('authorization') ?? '')?.[1];
    if (presented === undefined || !secretMatchesHash(presented, expected)) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="cpix-kms admin"');
      throw new Unauthenticated({ detail: presented === undefined ? 'no admin bearer token' : 'wrong admin token' });
    }
    next();
  };
}
