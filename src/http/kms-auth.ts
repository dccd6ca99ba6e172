import type { Request, RequestHandler } from 'express';
import type { AuthAttempt, AuthFailureLimiter } from '../auth-limits/auth-failure-limiter';
import { Unauthenticated } from '../errors';
import { credentialLookupId } from '../sites/kms-token';
import type { AuthenticatedSite, SiteService } from '../sites/site-service';
import { clientAddress } from './request-context';

/** Longest credential we look at: our tokens are 64 characters, legacy PallyCon tokens ≤ 1 KiB. */
export const MAX_CREDENTIAL_LENGTH = 1024;
const BEARER = /^Bearer (\S+)$/;

/** The credential of an `Authorization: Bearer …` header, if there is one (any length: callers bound it). */
export function bearerCredential(req: Request): string | undefined {
  return BEARER.exec(req.get('authorization') ?? '')?.[1];
}

/**
 * Where packagers put the KMS token (docs/pallycon.md §1, docs/speke.md §2): PallyCon CPIX API in
 * the path (`/getKey/:token`), PallyCon SPEKE in `?enc-token=`, others as `Authorization: Bearer`
 * or `X-KMS-Token`. More than one different credential in one request is refused, so a proxy that
 * adds its own header cannot silently change which site a request is for.
 */
export function presentedKmsToken(req: Request): string | undefined {
  const candidates = new Set<string>();
  const add = (value: unknown) => {
    if (typeof value === 'string' && value.length > 0) candidates.add(value);
  };
  add(bearerCredential(req));
  add(req.get('x-kms-token'));
  add(req.query['enc-token']);
  add((req.params as Record<string, string | undefined>).token);
  if (candidates.size > 1) throw new Unauthenticated({ detail: 'more than one KMS credential in the request' });
  const [token] = candidates;
  if (token !== undefined && token.length > MAX_CREDENTIAL_LENGTH) throw new Unauthenticated({ detail: 'credential too long' });
  return token;
}

/** What the failure limiter counts a credential check of `req` on a key route against. */
export function authAttempt(req: Request, presented: string | undefined): AuthAttempt {
  const credentialId = presented === undefined ? undefined : credentialLookupId(presented);
  return { clientAddress: clientAddress(req), realm: 'key', ...(credentialId !== undefined && { credentialId }) };
}

/** The authenticated site of a request, set by `requireKmsToken`. */
export function authenticatedSite(res: { locals: Record<string, unknown> }): AuthenticatedSite {
  const site = res.locals.kmsSite as AuthenticatedSite | undefined;
  if (!site) throw new Error('requireKmsToken must run before this handler');
  return site;
}

/**
 * Authenticates a key-exchange request by its KMS token (an active site's token, or its legacy
 * PallyCon token when the site opted in). 401 for a missing or unknown credential, 403 for a disabled
 * site. The token itself never reaches a log: access-log URLs are redacted (http/redact.ts) and
 * failures log only the token ID. The token is always checked: a valid one is answered whatever
 * failures its address or ID have seen; a failure past the limits (`authFailures`) is answered 429.
 */
export function requireKmsToken(sites: SiteService, authFailures: AuthFailureLimiter): RequestHandler {
  return async (req, res, next) => {
    const token = presentedKmsToken(req);
    if (token === undefined) throw new Unauthenticated({ detail: 'no KMS token' });
    res.locals.kmsSite = await authFailures.guard(authAttempt(req, token), () => sites.authenticate(token));
    next();
  };
}
