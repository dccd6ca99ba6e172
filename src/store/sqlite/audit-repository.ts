import type { Database } from 'better-sqlite3';
import type { AuditAction, AuditDialect, AuditRecord, AuditRepository, NewAuditRecord } from '../../audit/ports';
import { auditSummary } from '../../audit/summary';
import { assertAuditPageBounds, parseAuditCursor, takeAuditPage } from '../audit-records';
import { guarded } from './guarded';

interface AuditRow {
  id: number;
  site_id: string;
  at: string;
  action: AuditAction;
  credential_id: string;
  client_address: string;
  dialect: AuditDialect;
  content_id: string;
  kids: string;
  period_indexes: string;
  keys_created: number;
  request_id: string;
  /** NULL in rows written before schema 6, whose `kids` and `period_indexes` hold the complete lists. */
  kid_count: number | null;
  kids_sha256: string | null;
  period_index_count: number | null;
  /** Schema 7; NULL where the record has none. */
  reason: string | null;
  policy: string | null;
}

/** The row as the port's record, in the field order `auditSummary` writes (the Redis store keeps it too). */
function toRecord(row: AuditRow): AuditRecord {
  return {
    id: String(row.id),
    at: row.at,
    siteId: row.site_id,
    action: row.action,
    credentialId: row.credential_id,
    clientAddress: row.client_address,
    dialect: row.dialect,
    contentId: row.content_id,
    kids: JSON.parse(row.kids) as string[],
    ...(row.kid_count !== null && { kidCount: row.kid_count }),
    ...(row.kids_sha256 !== null && { kidsSha256: row.kids_sha256 }),
    periodIndexes: JSON.parse(row.period_indexes) as number[],
    ...(row.period_index_count !== null && { periodIndexCount: row.period_index_count }),
    keysCreated: row.keys_created,
    requestId: row.request_id,
    ...(row.reason !== null && { reason: row.reason }),
    ...(row.policy !== null && { policy: row.policy }),
  };
}

/**
 * Inserts `auditSummary(record)` and answers the stored record: one statement, so a caller's
 * transaction (a key request's get-or-create) can hold it.
 */
export function prepareAuditInsert(db: Database): (record: NewAuditRecord) => AuditRecord {
  const insert = db.prepare(
    `INSERT INTO audit_records (site_id, at, action, credential_id, client_address, dialect, content_id, kids,
       kid_count, kids_sha256, period_indexes, period_index_count, keys_created, request_id, reason, policy)
     VALUES (@siteId, @at, @action, @credentialId, @clientAddress, @dialect, @contentId, @kids, @kidCount,
       @kidsSha256, @periodIndexes, @periodIndexCount, @keysCreated, @requestId, @reason, @policy)`,
  );
  return (record) => {
    const fields = auditSummary(record);
    const { lastInsertRowid } = insert.run({
      ...fields,
      kids: JSON.stringify(fields.kids),
      periodIndexes: JSON.stringify(fields.periodIndexes),
      reason: fields.reason ?? null,
      policy: fields.policy ?? null,
    });
    return { id: String(lastInsertRowid), ...fields };
  };
}

/**
 * The audit trail in the `audit_records` table (schema version 2; 6 adds the KID count and digest, 7 an operator change's reason and policy).
 * Each append is its own committed transaction, so with `synchronous=FULL` it is on disk before
 * `append` resolves. The row ID is the record ID and the paging cursor.
 */
export function createSqliteAuditRepository(db: Database): AuditRepository {
  const insert = prepareAuditInsert(db);
  const stmt = {
    newest: db.prepare<[string, number], AuditRow>(
      'SELECT * FROM audit_records WHERE site_id = ? ORDER BY id DESC LIMIT ?',
    ),
    before: db.prepare<[string, number, number], AuditRow>(
      'SELECT * FROM audit_records WHERE site_id = ? AND id < ? ORDER BY id DESC LIMIT ?',
    ),
  };

  return {
    async append(record) {
      return guarded(() => insert(record));
    },

    async list(siteId, { limit, before, maxBytes }) {
      assertAuditPageBounds(limit, maxBytes);
      const cursor = before === undefined ? undefined : parseAuditCursor(before);
      // Rows are read one at a time and reading stops at the page's end, so a page costs its byte
      // budget plus one record, however large the records written before the bound are. Nothing
      // awaits while the statement is open.
      return guarded(() => {
        const rows = cursor === undefined ? stmt.newest.iterate(siteId, limit + 1) : stmt.before.iterate(siteId, cursor, limit + 1);
        return takeAuditPage(mapIterable(rows, toRecord), limit, maxBytes);
      });
    },
  };
}

function* mapIterable<T, U>(items: Iterable<T>, map: (item: T) => U): Generator<U> {
  for (const item of items) yield map(item);
}
