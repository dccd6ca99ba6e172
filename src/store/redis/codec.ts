import type { MasterKeyProviderName } from '../../crypto/kms/master-key';
import type { KeyId } from '../../keys/key-id';
import type { ContentKeyRecord } from '../../keys/ports';
import type { KmsTokenRecord } from '../../sites/ports';
import type { SiteOptions, SiteRecord, SiteStatus, StoredSiteKey } from '../../sites/site';

/**
 * Records as flat Redis hash fields. Binary fields (wrapped keys, hashes, IVs) are standard base64,
 * so every reply is text and `redis-cli` output stays readable. Nothing here is secret in the
 * clear: keys are only ever stored wrapped and secrets only hashed.
 */

/** Field/value pairs in the order `HSET` takes them. */
export type HashFields = string[];
type StoredHash = Readonly<Record<string, string | undefined>>;

function pairs(record: Record<string, string | undefined>): HashFields {
  return Object.entries(record).flatMap(([field, value]) => (value === undefined ? [] : [field, value]));
}

/** A stored hash lacking a field the writer always sets: damaged data, not a store outage. */
function required(hash: StoredHash, field: string, what: string): string {
  const value = hash[field];
  if (value === undefined) throw new Error(`stored ${what} lacks field ${field}`);
  return value;
}

function integer(text: string, field: string, what: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new Error(`stored ${what} has a non-integer ${field}`);
  return value;
}

const isEmpty = (hash: StoredHash) => Object.keys(hash).length === 0;
const base64 = (bytes: Buffer) => bytes.toString('base64');
const bytes = (text: string) => Buffer.from(text, 'base64');

export function encodeContentKey(record: ContentKeyRecord): HashFields {
  return pairs({
    siteId: record.siteId,
    contentId: record.contentId,
    kid: record.kid,
    siteKeyVersion: String(record.siteKeyVersion),
    wrappedKey: base64(record.wrappedKey),
    createdAt: record.createdAt,
    iv: record.iv && base64(record.iv),
    trackType: record.trackType,
    periodIndex: record.periodIndex?.toString(),
    scheme: record.scheme,
  });
}

/** Undefined for an empty hash (HGETALL of a missing key). */
export function decodeContentKey(hash: StoredHash): ContentKeyRecord | undefined {
  if (isEmpty(hash)) return undefined;
  const what = 'content key';
  const { iv, trackType, periodIndex, scheme } = hash;
  return {
    siteId: required(hash, 'siteId', what),
    contentId: required(hash, 'contentId', what),
    kid: required(hash, 'kid', what) as KeyId,
    siteKeyVersion: integer(required(hash, 'siteKeyVersion', what), 'siteKeyVersion', what),
    wrappedKey: bytes(required(hash, 'wrappedKey', what)),
    createdAt: required(hash, 'createdAt', what),
    ...(iv !== undefined && { iv: bytes(iv) }),
    ...(trackType !== undefined && { trackType }),
    ...(periodIndex !== undefined && { periodIndex: integer(periodIndex, 'periodIndex', what) }),
    ...(scheme !== undefined && { scheme }),
  };
}

/** Compare-and-set operand of `replaceWrappedKey`: the field exactly as `encodeContentKey` writes it. */
export const encodeWrappedKey = base64;

/** The site record without its site keys (those live in their own hash). */
export function encodeSite(site: Omit<SiteRecord, 'siteKeys'>): HashFields {
  return pairs({
    id: site.id,
    name: site.name,
    status: site.status,
    options: JSON.stringify(site.options),
    accessKeyHash: base64(site.accessKeyHash),
    createdAt: site.createdAt,
    updatedAt: site.updatedAt,
  });
}

export function encodeSitePatch(patch: {
  readonly name?: string;
  readonly status?: SiteStatus;
  readonly options?: SiteOptions;
  readonly updatedAt: string;
}): HashFields {
  return pairs({
    name: patch.name,
    status: patch.status,
    options: patch.options && JSON.stringify(patch.options),
    updatedAt: patch.updatedAt,
  });
}

export function encodeSiteAccessKeyHash(site: Pick<SiteRecord, 'accessKeyHash'>): string {
  return base64(site.accessKeyHash);
}

/** A site-key hash value: the wrapped key and its metadata as one JSON document. */
export function encodeSiteKey(key: StoredSiteKey): string {
  return JSON.stringify({
    provider: key.wrapped.provider,
    masterKeyId: key.wrapped.masterKeyId,
    blob: base64(key.wrapped.blob),
    createdAt: key.createdAt,
  });
}

function decodeSiteKey(version: string, json: string): StoredSiteKey {
  const what = 'site key';
  const parsed = JSON.parse(json) as Partial<Record<'provider' | 'masterKeyId' | 'blob' | 'createdAt', string>>;
  return {
    version: integer(version, 'version', what),
    wrapped: {
      provider: required(parsed, 'provider', what) as MasterKeyProviderName,
      masterKeyId: required(parsed, 'masterKeyId', what),
      blob: bytes(required(parsed, 'blob', what)),
    },
    createdAt: required(parsed, 'createdAt', what),
  };
}

/** Undefined for an empty site hash; site keys ordered by version, oldest first. */
export function decodeSite(siteHash: StoredHash, siteKeysHash: StoredHash): SiteRecord | undefined {
  if (isEmpty(siteHash)) return undefined;
  const what = 'site';
  const siteKeys = Object.entries(siteKeysHash)
    .flatMap(([version, json]) => (json === undefined ? [] : [decodeSiteKey(version, json)]))
    .sort((a, b) => a.version - b.version);
  return {
    id: required(siteHash, 'id', what),
    name: required(siteHash, 'name', what),
    status: required(siteHash, 'status', what) as SiteStatus,
    options: JSON.parse(required(siteHash, 'options', what)) as SiteOptions,
    accessKeyHash: bytes(required(siteHash, 'accessKeyHash', what)),
    siteKeys,
    createdAt: required(siteHash, 'createdAt', what),
    updatedAt: required(siteHash, 'updatedAt', what),
  };
}

export function encodeToken(token: KmsTokenRecord): HashFields {
  return pairs({
    id: token.id,
    siteId: token.siteId,
    name: token.name,
    secretHash: base64(token.secretHash),
    createdAt: token.createdAt,
    lastUsedAt: token.lastUsedAt,
    revokedAt: token.revokedAt,
  });
}

export function decodeToken(hash: StoredHash): KmsTokenRecord | undefined {
  if (isEmpty(hash)) return undefined;
  const what = 'KMS token';
  const { lastUsedAt, revokedAt } = hash;
  return {
    id: required(hash, 'id', what),
    siteId: required(hash, 'siteId', what),
    name: required(hash, 'name', what),
    secretHash: bytes(required(hash, 'secretHash', what)),
    createdAt: required(hash, 'createdAt', what),
    ...(lastUsedAt !== undefined && { lastUsedAt }),
    ...(revokedAt !== undefined && { revokedAt }),
  };
}
