import type { AuditAction, AuditDialect, AuditRecord, NewAuditRecord } from '../../audit/ports';
import type { MasterKeyProviderName } from '../../crypto/kms/master-key';
import type { KeyId } from '../../keys/key-id';
import type { ContentKeyRecord } from '../../keys/ports';
import type { LicenseServerRecord } from '../../license-servers/ports';
import type { StoredMasterKeyCheck } from '../../master-key-check/ports';
import type { KmsTokenRecord } from '../../sites/ports';
import type { SiteOptions, SiteRecord, SiteStatus, StoredSiteKey } from '../../sites/site';
import { auditSummary } from '../../audit/summary';

/**
 * Records as flat Redis hash fields. Binary fields (wrapped keys, hashes, IVs) are standard base64,
 * so every reply is text and `redis-cli` output stays readable. Nothing here is secret in the
 * clear: keys are only ever stored wrapped and secrets only hashed.
 */

/** Field/value pairs in the order `HSET` takes them. */
export type HashFields = string[];
type StoredHash = Readonly<Record<string, string | undefined>>;

function pairs(record: Record<string, string | undefined>): HashFields {
  const fields: HashFields = [];
  for (const field in record) {
    const value = record[field];
    if (value !== undefined) fields.push(field, value);
  }
  return fields;
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

/** The `iv` field exactly as `encodeContentKey` writes it, for the get-or-create script's comparison. */
export const encodeIv = base64;

/** The site record without its site keys (those live in their own hash). */
export function encodeSite(site: Omit<SiteRecord, 'siteKeys' | 'revision'>): HashFields {
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

export function encodeMasterKeyCheck(check: StoredMasterKeyCheck): string {
  return JSON.stringify({
    provider: check.provider,
    masterKeyId: check.masterKeyId,
    blob: base64(check.blob),
    createdAt: check.createdAt,
  });
}

/** Undefined for a missing key (GET of nothing). */
export function decodeMasterKeyCheck(json: string | null): StoredMasterKeyCheck | undefined {
  if (json === null) return undefined;
  const what = 'master key check value';
  const parsed = JSON.parse(json) as Partial<Record<'provider' | 'masterKeyId' | 'blob' | 'createdAt', string>>;
  return {
    provider: required(parsed, 'provider', what) as MasterKeyProviderName,
    masterKeyId: required(parsed, 'masterKeyId', what),
    blob: bytes(required(parsed, 'blob', what)),
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
    // Written by the update scripts only; a site never changed has none.
    revision: Number(siteHash.revision ?? '0'),
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

export function encodeLicenseServer(server: LicenseServerRecord): HashFields {
  return pairs({
    id: server.id,
    siteId: server.siteId,
    name: server.name,
    certificate: base64(server.certificate),
    secretHash: base64(server.secretHash),
    createdAt: server.createdAt,
    lastUsedAt: server.lastUsedAt,
    revokedAt: server.revokedAt,
  });
}

export function decodeLicenseServer(hash: StoredHash): LicenseServerRecord | undefined {
  if (isEmpty(hash)) return undefined;
  const what = 'license server';
  const { lastUsedAt, revokedAt } = hash;
  return {
    id: required(hash, 'id', what),
    siteId: required(hash, 'siteId', what),
    name: required(hash, 'name', what),
    certificate: bytes(required(hash, 'certificate', what)),
    secretHash: bytes(required(hash, 'secretHash', what)),
    createdAt: required(hash, 'createdAt', what),
    ...(lastUsedAt !== undefined && { lastUsedAt }),
    ...(revokedAt !== undefined && { revokedAt }),
  };
}

/**
 * An audit record as one JSON object without its ID (the append script splices the ID in first):
 * `auditSummary`'s fields, in its order, whatever else `record` carries. With the ID first this is
 * the record's JSON as `decodeAuditRecord` gives it back and the admin API sends it, so the list
 * script's byte budget counts what the API sends.
 */
export function encodeAuditRecord(record: NewAuditRecord): string {
  return JSON.stringify(auditSummary(record));
}

/**
 * `encodeAuditRecord` of a record whose `keysCreated` only the store learns (a key request's
 * get-or-create counts them in the same script): the JSON before and after that number. The cut is
 * unambiguous: `,"keysCreated":` with a bare quote after the comma can only be a property name, as
 * every quote inside a JSON string is escaped.
 */
export function encodeAuditRecordAroundKeysCreated(record: Omit<NewAuditRecord, 'keysCreated'>): [head: string, tail: string] {
  const json = encodeAuditRecord({ ...record, keysCreated: 0 });
  const name = ',"keysCreated":';
  const at = json.indexOf(name);
  if (at === -1 || json.indexOf(name, at + 1) !== -1 || json.slice(at + name.length, at + name.length + 2) !== '0,') {
    throw new Error('audit record JSON without exactly one keysCreated property');
  }
  // Without the opening brace: the script puts the ID first (as `cpixAppendAudit` does).
  return [json.slice(1, at + name.length), json.slice(at + name.length + 1)];
}

type JsonObject = Readonly<Record<string, unknown>>;
const isString = (value: unknown): value is string => typeof value === 'string';
const isInteger = (value: unknown): value is number => Number.isSafeInteger(value);

function field<T>(object: JsonObject, name: string, isValid: (value: unknown) => value is T): T {
  const value = object[name];
  if (!isValid(value)) throw new Error(`stored audit record has a missing or malformed ${name}`);
  return value;
}

function arrayField<T>(object: JsonObject, name: string, isItem: (value: unknown) => value is T): T[] {
  return field(object, name, (value): value is T[] => Array.isArray(value) && value.every(isItem));
}

/** A field records written before the audit bound lack: absent stays absent, present must be valid. */
function optionalField<T>(object: JsonObject, name: string, isValid: (value: unknown) => value is T): T | undefined {
  return object[name] === undefined ? undefined : field(object, name, isValid);
}

/**
 * A member of a site's audit zset back into a record: the port's fields only, each type-checked, in
 * the stored order.
 */
export function decodeAuditRecord(member: string): AuditRecord {
  const parsed: unknown = JSON.parse(member);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error('stored audit record is not an object');
  }
  const object = parsed as JsonObject;
  const kidCount = optionalField(object, 'kidCount', isInteger);
  const kidsSha256 = optionalField(object, 'kidsSha256', isString);
  const periodIndexCount = optionalField(object, 'periodIndexCount', isInteger);
  const reason = optionalField(object, 'reason', isString);
  const policy = optionalField(object, 'policy', isString);
  return {
    id: field(object, 'id', isString),
    at: field(object, 'at', isString),
    siteId: field(object, 'siteId', isString),
    action: field(object, 'action', isString) as AuditAction,
    credentialId: field(object, 'credentialId', isString),
    clientAddress: field(object, 'clientAddress', isString),
    dialect: field(object, 'dialect', isString) as AuditDialect,
    contentId: field(object, 'contentId', isString),
    kids: arrayField(object, 'kids', isString),
    ...(kidCount !== undefined && { kidCount }),
    ...(kidsSha256 !== undefined && { kidsSha256 }),
    periodIndexes: arrayField(object, 'periodIndexes', isInteger),
    ...(periodIndexCount !== undefined && { periodIndexCount }),
    keysCreated: field(object, 'keysCreated', isInteger),
    requestId: field(object, 'requestId', isString),
    ...(reason !== undefined && { reason }),
    ...(policy !== undefined && { policy }),
  };
}
