import { createHash } from 'node:crypto';
import type { AuditRecord, NewAuditRecord, StoredAuditFields } from './ports';

/**
 * KIDs a record lists by name. A request for one piece of content names a key per track type
 * (audio, SD, HD, UHD…) and, with key rotation, per period it asks for; that is a handful of keys,
 * so records of ordinary requests still list every KID, while a 1,000-key request (the
 * MAX_KEYS_PER_REQUEST default) costs 16 × 39 bytes instead of 39 KB per record.
 */
export const AUDIT_LISTED_KIDS = 16;

/** Period indexes a record lists; same reasoning as `AUDIT_LISTED_KIDS` (one index per key at most). */
export const AUDIT_LISTED_PERIOD_INDEXES = 16;

/**
 * The digest a record keeps of all the KIDs of its response: SHA-256 over the KIDs sorted in
 * ascending code-unit order (for lowercase UUIDs that is byte order, as `LC_ALL=C sort` sorts), each
 * followed by a line feed, as lowercase hex. Sorted rather than in response order because the
 * digest stands for which keys left, not how a dialect happened to order them: it can be recomputed
 * from any list of those KIDs (a packager's log, the admin key listing, which is ordered by
 * creation) with `printf '%s\n' … | LC_ALL=C sort | sha256sum`. Sorting loses nothing but the order:
 * a response does not name a KID twice (the CPIX intake refuses a request that does,
 * `cpix/parse-references.ts`; an export names each key of a content once), and a list that did
 * would be digested, and counted, with its repeats.
 */
export function auditKidsDigest(kids: readonly string[]): string {
  const hash = createHash('sha256');
  for (const kid of [...kids].sort()) hash.update(`${kid}\n`, 'utf8');
  return hash.digest('hex');
}

/**
 * The record the store writes for `record`: the port's fields copied one by one (whatever else a
 * caller's object carries — a key, a token, the request — is never written), the KID and period
 * lists cut to their first entries and the KIDs summarised by count and digest, so a record's size
 * does not depend on how many keys its request held.
 */
export function auditSummary(record: NewAuditRecord): StoredAuditFields {
  return {
    at: record.at,
    siteId: record.siteId,
    action: record.action,
    credentialId: record.credentialId,
    clientAddress: record.clientAddress,
    dialect: record.dialect,
    contentId: record.contentId,
    kids: record.kids.slice(0, AUDIT_LISTED_KIDS),
    kidCount: record.kids.length,
    kidsSha256: auditKidsDigest(record.kids),
    periodIndexes: record.periodIndexes.slice(0, AUDIT_LISTED_PERIOD_INDEXES),
    periodIndexCount: record.periodIndexes.length,
    keysCreated: record.keysCreated,
    requestId: record.requestId,
    ...(record.reason !== undefined && { reason: record.reason }),
    ...(record.policy !== undefined && { policy: record.policy }),
  };
}

/** What a record counts against a page's byte budget: the UTF-8 length of its JSON, as the admin API sends it. */
export function auditRecordBytes(record: AuditRecord): number {
  return Buffer.byteLength(JSON.stringify(record), 'utf8');
}
