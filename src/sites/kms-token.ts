import type { RandomSource } from '../crypto/random';
import { randomIdentifier, randomSecret } from '../crypto/secrets';
import { SITE_ID_PATTERN } from './site';

/**
 * Credential format `<prefix>.<id>.<secret>`, shared by KMS tokens (`kms1`) and license-server
 * credentials (`lsc1`), so a credential of one kind never parses as the other.
 * - `id`: 96 random bits, base64url (16 chars, never starting with `-`); the lookup handle, safe to log, audit and rate-limit by.
 * - `secret`: 256 random bits, base64url (43 chars); stored only as SHA-256, compared in constant time.
 * Only URL-safe characters, because PallyCon clients put the token in the URL path.
 */
export type CredentialPrefix = 'kms1' | 'lsc1';

export const KMS_TOKEN_PREFIX = 'kms1';
export const LICENSE_SERVER_CREDENTIAL_PREFIX = 'lsc1';

const CREDENTIAL_ID_BYTES = 96 / 8;
const CREDENTIAL_SECRET_BYTES = 256 / 8;
const CREDENTIAL_PATTERN = /^([a-z0-9]{4})\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{43})$/;

export interface IssuedCredential {
  readonly id: string;
  readonly secret: string;
  /** The full credential, shown once. */
  readonly token: string;
}

export interface ParsedCredential {
  readonly id: string;
  readonly secret: string;
}

/** A fresh `<prefix>.<id>.<secret>` credential from `random`. */
export function generateCredential(prefix: CredentialPrefix, random: RandomSource): IssuedCredential {
  const id = randomIdentifier(random, CREDENTIAL_ID_BYTES);
  const secret = randomSecret(random, CREDENTIAL_SECRET_BYTES);
  return { id, secret, token: `${prefix}.${id}.${secret}` };
}

/** Splits a presented credential of kind `prefix`; undefined for anything else (other kind, other shape). */
export function parseCredential(prefix: CredentialPrefix, presented: string): ParsedCredential | undefined {
  const match = CREDENTIAL_PATTERN.exec(presented);
  if (match?.[1] !== prefix || match[2] === undefined || match[3] === undefined) return undefined;
  return { id: match[2], secret: match[3] };
}

export function generateKmsToken(random: RandomSource): IssuedCredential {
  return generateCredential(KMS_TOKEN_PREFIX, random);
}

/** Splits a presented token; undefined when it is not of our format (it may be a legacy token). */
export function parseKmsToken(presented: string): ParsedCredential | undefined {
  return parseCredential(KMS_TOKEN_PREFIX, presented);
}

/** Legacy PallyCon tokens are base64 of a small JSON object; anything longer is not one. */
const MAX_LEGACY_TOKEN_LENGTH = 1024;

/**
 * Decodes PallyCon's legacy token base64({"site_id":"…","access_key":"…"}) (docs/pallycon-api.md, URLs):
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

/** `lastUsedAt` is written at most this often per credential, so authentication is not a write per request. */
export const TOKEN_TOUCH_INTERVAL_MS = 60_000;

/**
 * Records that a credential (KMS token, license-server credential) was used at `usedAt`, unless its
 * last recorded use is younger than `TOKEN_TOUCH_INTERVAL_MS`. Best effort: a store hiccup while
 * recording the use must not turn a valid login into an error, so failures only reach `onError`.
 */
export async function recordCredentialUse(
  lastUsedAt: string | undefined,
  usedAt: Date,
  touch: (usedAt: string) => Promise<void>,
  onError: ((error: unknown) => void) | undefined,
): Promise<void> {
  if (lastUsedAt !== undefined && usedAt.getTime() - Date.parse(lastUsedAt) < TOKEN_TOUCH_INTERVAL_MS) return;
  await touch(usedAt.toISOString()).catch((error: unknown) => onError?.(error));
}

/**
 * The non-secret part of a presented credential that rate limits count failures by: `<prefix>.<id>` of
 * our credentials, `legacy.<siteId>` of a legacy PallyCon token; undefined for anything else (then only
 * the client address is counted). Never the secret, so counters name nothing worth stealing.
 */
export function credentialLookupId(presented: string): string | undefined {
  const ours = /^([a-z0-9]{4})\.([A-Za-z0-9_-]{16})\./.exec(presented);
  if (ours) return `${ours[1]}.${ours[2]}`;
  const legacy = parseLegacyToken(presented);
  return legacy !== undefined && SITE_ID_PATTERN.test(legacy.siteId) ? `legacy.${legacy.siteId}` : undefined;
}
