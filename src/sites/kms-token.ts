import type { RandomSource } from '../crypto/random';
import { randomSecret } from '../crypto/secrets';

/**
 * KMS token format: `kms1.<id>.<secret>`.
 * - `id`: 96 random bits, base64url (16 chars); the lookup handle, safe to log and to rate-limit by.
 * - `secret`: 256 random bits, base64url (43 chars); stored only as SHA-256, compared in constant time.
 * Only URL-safe characters, because PallyCon clients put the token in the URL path.
 */
const TOKEN_PREFIX = 'kms1';
const TOKEN_ID_BYTES = 96 / 8;
const TOKEN_SECRET_BYTES = 256 / 8;
const TOKEN_PATTERN = /^kms1\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{43})$/;

export interface IssuedToken {
  readonly id: string;
  readonly secret: string;
  /** The full token, shown once. */
  readonly token: string;
}

export function generateKmsToken(random: RandomSource): IssuedToken {
  const id = randomSecret(random, TOKEN_ID_BYTES);
  const secret = randomSecret(random, TOKEN_SECRET_BYTES);
  return { id, secret, token: `${TOKEN_PREFIX}.${id}.${secret}` };
}

/** Splits a presented token; undefined when it is not of our format (it may be a legacy token). */
export function parseKmsToken(presented: string): { readonly id: string; readonly secret: string } | undefined {
  const match = TOKEN_PATTERN.exec(presented);
  return match?.[1] !== undefined && match[2] !== undefined ? { id: match[1], secret: match[2] } : undefined;
}

/** Legacy PallyCon tokens are base64 of a small JSON object; anything longer is not one. */
const MAX_LEGACY_TOKEN_LENGTH = 1024;

/**
 * Decodes PallyCon's legacy token base64({"site_id":"…","access_key":"…"}) (docs/pallycon.md §1.2):
 * keys in any order, standard or URL-safe base64. The JSON is parsed, never string-compared.
 */
export function parseLegacyToken(presented: string): { readonly siteId: string; readonly accessKey: string } | undefined {
  if (presented.length > MAX_LEGACY_TOKEN_LENGTH || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(presented)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(presented, 'base64').toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { site_id: siteId, access_key: accessKey } = parsed as Record<string, unknown>;
  return typeof siteId === 'string' && typeof accessKey === 'string' ? { siteId, accessKey } : undefined;
}
