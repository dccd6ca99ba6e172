import { decodeJwt, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import type { Clock } from '../crypto/random';
import { Unauthenticated } from '../errors';
import { keyIdFromBytes, type KeyId } from '../keys/key-id';
import { MAX_CONTENT_ID_LENGTH } from '../keys/content-key-service';
import { SITE_ID_PATTERN } from '../sites/site';
import type { VerificationKey } from './licence-token-keys';
import { LICENCE_TOKEN_ALGORITHMS, type LicenceTokenAlgorithm } from './ports';

/**
 * Licence tokens (docs/clearkey.md): compact JWS JWTs (RFC 7519) that a customer's backend signs with
 * a key registered for its site, and a player sends as `Authorization: Bearer` to the ClearKey
 * licence endpoint. Verified with panva's `jose`, the algorithm pinned to the key named by `kid`.
 */

/** Longest token looked at (bytes of the header value); anything longer is refused unread. */
export const MAX_LICENCE_TOKEN_LENGTH = 4096;
/** Clock difference tolerated between the customer's backend and us (`exp`, `nbf`, `iat`). */
export const LICENCE_TOKEN_CLOCK_SKEW_SECONDS = 60;
/** Longest lifetime a token may claim: `exp − iat`, or `exp − now` without `iat`. */
export const MAX_LICENCE_TOKEN_LIFETIME_SECONDS = 24 * 60 * 60;
/** `kids` claim: at most this many KIDs. */
export const MAX_TOKEN_KIDS = 64;
/** `sub` (the customer's user ID): 1 to 128 characters, no control characters (it is audited). */
const MAX_SUBJECT_LENGTH = 128;
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** What a verified token grants. */
export interface LicenceGrant {
  readonly siteId: string;
  /** The `kid` of the key that verified it. */
  readonly keyId: string;
  /** `sub`: the customer's user. */
  readonly userId: string;
  /** `cid`: the one content the token is for. */
  readonly contentId: string;
  /** `kids`: when present, the only keys of the content the token may unlock. */
  readonly kids?: ReadonlySet<KeyId>;
  /** `exp`, seconds since the epoch. */
  readonly expiresAt: number;
}

export interface LicenceTokenVerifierDeps {
  /** The key registered for (`iss`, `kid`), unrevoked; undefined when there is none. */
  readonly verificationKey: (siteId: string, kid: string) => Promise<VerificationKey | undefined>;
  readonly clock: Clock;
}

const refuse = (detail: string) => new Unauthenticated({ detail: `licence token: ${detail}` });

/** A KID of the ClearKey format (EME §9.1.3): base64url of 16 bytes, no padding. */
export function parseBase64UrlKid(text: unknown): KeyId | undefined {
  if (typeof text !== 'string' || text.length !== 22 || !BASE64URL.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  // 22 characters carry 132 bits: the last 4 must be zero, or two spellings would name one KID.
  if (bytes.length !== 16 || bytes.toString('base64url') !== text) return undefined;
  return keyIdFromBytes(bytes);
}

function isAlgorithm(value: unknown): value is LicenceTokenAlgorithm {
  return typeof value === 'string' && (LICENCE_TOKEN_ALGORITHMS as readonly string[]).includes(value);
}

/** The claims this service defines, checked after the signature: every refusal names the claim. */
function grantOf(payload: JWTPayload, siteId: string, keyId: string, nowSeconds: number): LicenceGrant {
  const { sub, exp, iat } = payload;
  const cid: unknown = payload.cid;
  if (typeof sub !== 'string' || sub.length === 0 || sub.length > MAX_SUBJECT_LENGTH || CONTROL_CHARACTERS.test(sub)) {
    throw refuse(`sub must be 1 to ${MAX_SUBJECT_LENGTH} characters without control characters`);
  }
  if (typeof cid !== 'string' || cid.length === 0 || cid.length > MAX_CONTENT_ID_LENGTH) {
    throw refuse(`cid must be 1 to ${MAX_CONTENT_ID_LENGTH} characters`);
  }
  if (typeof exp !== 'number') throw refuse('exp is required');
  if (iat !== undefined) {
    if (iat > nowSeconds + LICENCE_TOKEN_CLOCK_SKEW_SECONDS) throw refuse('iat is in the future');
    if (exp - iat > MAX_LICENCE_TOKEN_LIFETIME_SECONDS) throw refuse('lifetime (exp - iat) is over 24 hours');
  } else if (exp - nowSeconds > MAX_LICENCE_TOKEN_LIFETIME_SECONDS + LICENCE_TOKEN_CLOCK_SKEW_SECONDS) {
    throw refuse('lifetime (exp - now) is over 24 hours');
  }
  let kids: Set<KeyId> | undefined;
  if (payload.kids !== undefined) {
    const claimed: unknown = payload.kids;
    if (!Array.isArray(claimed) || claimed.length === 0 || claimed.length > MAX_TOKEN_KIDS) {
      throw refuse(`kids must be a list of 1 to ${MAX_TOKEN_KIDS} KIDs`);
    }
    kids = new Set();
    for (const entry of claimed) {
      const kid = parseBase64UrlKid(entry);
      if (kid === undefined) throw refuse('kids holds something that is not a base64url KID');
      kids.add(kid);
    }
  }
  return { siteId, keyId, userId: sub, contentId: cid, ...(kids !== undefined && { kids }), expiresAt: exp };
}

/** The JWT header `kid`, when it has our shape: safe to use as a failure counter's credential ID. */
export function licenceTokenKeyId(token: string): string | undefined {
  if (token.length > MAX_LICENCE_TOKEN_LENGTH || !COMPACT_JWS.test(token)) return undefined;
  try {
    const { kid } = decodeProtectedHeader(token);
    return typeof kid === 'string' && /^[A-Za-z0-9_-]{16}$/.test(kid) ? kid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Verifies a licence token and returns what it grants. The unverified header and claims are read only
 * to find the key: `kid` within the site named by `iss`, so a key of another site is never tried. The
 * key's algorithm is the only one accepted (no `none`, no HS256 with a public key); `exp` is required,
 * `nbf`/`exp`/`iat` get `LICENCE_TOKEN_CLOCK_SKEW_SECONDS` of skew, and the lifetime is at most 24 h.
 *
 * @throws Unauthenticated for any token that does not verify (the detail, logged only, says why);
 *   store and KMS failures propagate as they are.
 */
export async function verifyLicenceToken(token: string, deps: LicenceTokenVerifierDeps): Promise<LicenceGrant> {
  if (token.length > MAX_LICENCE_TOKEN_LENGTH) throw refuse('too long');
  if (!COMPACT_JWS.test(token)) throw refuse('not a compact JWS');
  let header: ReturnType<typeof decodeProtectedHeader>;
  let unverified: JWTPayload;
  try {
    header = decodeProtectedHeader(token);
    unverified = decodeJwt(token);
  } catch {
    throw refuse('header or claims are not JSON objects');
  }
  const { kid, alg, typ } = header;
  if (!isAlgorithm(alg)) throw refuse('alg is not HS256, ES256 or RS256');
  if (typ !== undefined && typ.toUpperCase() !== 'JWT') throw refuse('typ is not JWT');
  if (typeof kid !== 'string') throw refuse('no kid');
  const siteId = unverified.iss;
  if (typeof siteId !== 'string' || !SITE_ID_PATTERN.test(siteId)) throw refuse('iss is not a site ID');

  const key = await deps.verificationKey(siteId, kid);
  if (key === undefined) throw refuse('no such key for this site, or revoked');
  if (key.alg !== alg) throw refuse(`alg ${alg} is not the key's (${key.alg})`);

  const now = deps.clock();
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, key.key, {
      algorithms: [key.alg],
      issuer: siteId,
      requiredClaims: ['exp', 'sub', 'cid'],
      clockTolerance: LICENCE_TOKEN_CLOCK_SKEW_SECONDS,
      currentDate: now,
    }));
  } catch (error) {
    if (error instanceof joseErrors.JOSEError) throw refuse(error.code);
    throw error;
  } finally {
    // An unwrapped HS256 secret lives only for this verification.
    if (key.alg === 'HS256') key.key.fill(0);
  }
  return grantOf(payload, siteId, kid, Math.floor(now.getTime() / 1000));
}
