import type { AuditPage, AuditRecord, NewAuditRecord } from '../audit/ports';
import { RequestInvalid } from '../errors';

/**
 * What both stores share about audit records. Each store numbers a site's records with increasing
 * integers (SQLite: the table's AUTOINCREMENT id; Redis: the site's sequence) and hands out the
 * decimal ID as the paging cursor, which clients treat as opaque.
 */

const CURSOR_PATTERN = /^[1-9][0-9]{0,15}$/;

/** The numeric ID behind a `before` cursor. @throws RequestInvalid for anything we could not have issued. */
export function parseAuditCursor(cursor: string): number {
  const id = CURSOR_PATTERN.test(cursor) ? Number(cursor) : Number.NaN;
  if (!Number.isSafeInteger(id)) throw new RequestInvalid('audit cursor is not valid');
  return id;
}

/** @throws RangeError for a limit that is not a positive integer (the service validates it first). */
export function assertAuditLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError('audit page limit must be a positive integer');
}

/**
 * Exactly the port's fields, copied one by one: whatever else a caller's object carries (a key, a
 * token, the request) is never written.
 */
export function auditFields(record: NewAuditRecord): NewAuditRecord {
  return {
    at: record.at,
    siteId: record.siteId,
    action: record.action,
    credentialId: record.credentialId,
    clientAddress: record.clientAddress,
    dialect: record.dialect,
    contentId: record.contentId,
    kids: [...record.kids],
    periodIndexes: [...record.periodIndexes],
    keysCreated: record.keysCreated,
    requestId: record.requestId,
    ...(record.reason !== undefined && { reason: record.reason }),
    ...(record.policy !== undefined && { policy: record.policy }),
  };
}

/** A page from up to `limit + 1` records read newest first: the extra one only says there is more. */
export function toAuditPage(newestFirst: readonly AuditRecord[], limit: number): AuditPage {
  if (newestFirst.length <= limit) return { records: newestFirst };
  const records = newestFirst.slice(0, limit);
  return { records, next: (records[records.length - 1] as AuditRecord).id };
}
