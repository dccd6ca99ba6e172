import type { Request, RequestHandler } from 'express';
import type { AuthAttempt, AuthFailureLimiter } from '../auth-limits/auth-failure-limiter';
import { Unauthenticated } from '../errors';
import { credentialLookupId } from '../sites/kms-token';
import type { AuthenticatedSite, SiteService } from '../sites/site-service';
import { clientAddress } from './request-context';

/** Longest credential we look at: our tokens are 64 characters, legacy PallyCon tokens ≤ 1 KiB. */
export const MAX_CREDENTIAL_LENGTH = 1024;
/** The query parameter PallyCon's SPEKE clients put the KMS token in (docs/key-exchange.md, route table). */
const TOKEN_QUERY_PARAMETER = 'enc-token';
/**
 * `Authorization: <scheme> <credentials>`. The scheme is case-insensitive (RFC 9110 §11.1); the Bearer
 * credential is one run of visible ASCII (RFC 6750 §2.1 allows less, but the admin token is
 * operator-chosen and was always taken as such).
 */
const AUTHORIZATION = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?: +(.*))?$/;
const BEARER_CREDENTIAL = /^[\x21-\x7e]+$/;

/** Every place a credential can stand in a request, each already checked to be there at most once. */
interface CredentialForms {
  /** `Authorization: Bearer …`. */
  readonly bearer?: string;
  /** `X-KMS-Token: …`. */
  readonly header?: string;
  /** `?enc-token=…`. */
  readonly query?: string;
  /** The `:token` path segment (`/getKey/:token`). */
  readonly path?: string;
}

const refuse = (detail: string) => new Unauthenticated({ detail });

/** How often a header was sent: node keeps the first `Authorization` and joins repeated `X-KMS-Token`s. */
function headerCount(req: Request, name: string): number {
  let count = 0;
  for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]?.toLowerCase() === name) count += 1;
  return count;
}

/**
 * Reads every credential form of `req`. A form that is present must be exactly one non-empty string:
 * a repeated header or query parameter (`?enc-token=X&enc-token=X`), a bracketed or differently cased
 * parameter name (`?enc-token[a]=`, `?Enc-Token=`), an empty value or a Bearer header that is not one
 * credential is refused (401), because whichever copy we picked, a proxy or a client could mean the
 * other. Authorization schemes other than Bearer are not ours (an ingress's Basic auth) and are ignored.
 */
function credentialForms(req: Request): CredentialForms {
  const forms: { bearer?: string; header?: string; query?: string; path?: string } = {};

  const authorizations = headerCount(req, 'authorization');
  if (authorizations > 1) throw refuse('Authorization header repeated');
  const authorization = AUTHORIZATION.exec(req.get('authorization') ?? '');
  if (authorizations === 1 && authorization?.[1]?.toLowerCase() === 'bearer') {
    const credential = authorization[2] ?? '';
    if (!BEARER_CREDENTIAL.test(credential)) throw refuse('Authorization: Bearer without exactly one credential');
    forms.bearer = credential;
  }

  const tokenHeaders = headerCount(req, 'x-kms-token');
  if (tokenHeaders > 1) throw refuse('X-KMS-Token header repeated');
  if (tokenHeaders === 1) {
    const value = req.get('x-kms-token') ?? '';
    if (value === '') throw refuse('empty X-KMS-Token header');
    forms.header = value;
  }

  for (const [name, value] of Object.entries(req.query as Record<string, unknown>)) {
    if (name.replace(/\[.*$/s, '').toLowerCase() !== TOKEN_QUERY_PARAMETER) continue;
    if (name !== TOKEN_QUERY_PARAMETER) throw refuse('KMS token query parameter under another name');
    if (typeof value !== 'string') throw refuse('KMS token query parameter repeated or structured');
    if (value === '') throw refuse('empty KMS token query parameter');
    forms.query = value;
  }

  const path: unknown = (req.params as Record<string, unknown> | undefined)?.token;
  if (path !== undefined) {
    if (typeof path !== 'string' || path === '') throw refuse('empty KMS token path segment');
    forms.path = path;
  }
  return forms;
}

/**
 * The credential of a route that takes it only as `Authorization: Bearer` (license export, admin API,
 * metrics), if there is one (any length: callers bound it). A KMS token beside it (`X-KMS-Token`,
 * `?enc-token=`) is refused: one request, one credential.
 */
export function bearerCredential(req: Request): string | undefined {
  const { bearer, header, query, path } = credentialForms(req);
  if (header !== undefined || query !== undefined || path !== undefined) {
    throw refuse('a KMS token form on a route that takes only Authorization: Bearer');
  }
  return bearer;
}

/**
 * Where packagers put the KMS token (docs/key-exchange.md, route table; docs/pallycon-api.md): PallyCon CPIX API in
 * the path (`/getKey/:token`), PallyCon SPEKE in `?enc-token=`, others as `Authorization: Bearer`
 * or `X-KMS-Token`. The same token in several places is one credential; more than one different
 * credential in one request is refused, so a proxy that adds its own header cannot silently change
 * which site a request is for.
 */
export function presentedKmsToken(req: Request): string | undefined {
  const candidates = new Set(Object.values(credentialForms(req)).filter((value): value is string => value !== undefined));
  if (candidates.size > 1) throw refuse('more than one KMS credential in the request');
  const [token] = candidates;
  if (token !== undefined && token.length > MAX_CREDENTIAL_LENGTH) throw refuse('credential too long');
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
    res.locals.kmsSite = await authenticateKmsRequest(req, sites, authFailures);
    next();
  };
}

/**
 * `requireKmsToken`'s check; `fresh` reads the token and site from the store, for a request whose
 * store step found them changed since they were read (`StaleAuthentication`).
 */
export async function authenticateKmsRequest(
  req: Request,
  sites: SiteService,
  authFailures: AuthFailureLimiter,
  fresh = false,
): Promise<AuthenticatedSite> {
  const token = presentedKmsToken(req);
  if (token === undefined) throw refuse('no KMS token');
  return authFailures.guard(authAttempt(req, token), () => sites.authenticate(token, { fresh }));
}
