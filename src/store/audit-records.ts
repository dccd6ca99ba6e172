import type { AuditPage, AuditRecord } from '../audit/ports';
import { auditRecordBytes } from '../audit/summary';
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

/**
 * @throws RangeError for a limit or byte budget that is not a positive integer (the service
 * validates the limit first and sets the budget itself).
 */
export function assertAuditPageBounds(limit: number, maxBytes: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError('audit page limit must be a positive integer');
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new RangeError('audit page byte budget must be a positive integer');
}

/**
 * A page from records read newest first, taken lazily: stops at `limit` records or before the
 * first record that would take the page past `maxBytes` (never before the page's first record),
 * reading one record beyond the page only to learn that older ones remain.
 */
export function takeAuditPage(newestFirst: Iterable<AuditRecord>, limit: number, maxBytes: number): AuditPage {
  const records: AuditRecord[] = [];
  let bytes = 0;
  for (const record of newestFirst) {
    const size = auditRecordBytes(record);
    const last = records[records.length - 1];
    if (last !== undefined && (records.length === limit || bytes + size > maxBytes)) return { records, next: last.id };
    records.push(record);
    bytes += size;
  }
  return { records };
}
