import type { Database } from 'better-sqlite3';
import type { AuditAction, AuditDialect, AuditRecord, AuditRepository } from '../../audit/ports';
import { assertAuditLimit, auditFields, parseAuditCursor, toAuditPage } from '../audit-records';
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
}

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
    periodIndexes: JSON.parse(row.period_indexes) as number[],
    keysCreated: row.keys_created,
    requestId: row.request_id,
  };
}

/**
 * The audit trail in the `audit_records` table (schema version 2). Each append is its own committed
 * transaction, so with `synchronous=FULL` it is on disk before `append` resolves. The row ID is the
 * record ID and the paging cursor.
 */
export function createSqliteAuditRepository(db: Database): AuditRepository {
  const stmt = {
    insert: db.prepare(
      `INSERT INTO audit_records (site_id, at, action, credential_id, client_address, dialect, content_id, kids,
         period_indexes, keys_created, request_id)
       VALUES (@siteId, @at, @action, @credentialId, @clientAddress, @dialect, @contentId, @kids, @periodIndexes,
         @keysCreated, @requestId)`,
    ),
    newest: db.prepare<[string, number], AuditRow>(
      'SELECT * FROM audit_records WHERE site_id = ? ORDER BY id DESC LIMIT ?',
    ),
    before: db.prepare<[string, number, number], AuditRow>(
      'SELECT * FROM audit_records WHERE site_id = ? AND id < ? ORDER BY id DESC LIMIT ?',
    ),
  };

  return {
    async append(record) {
      const fields = auditFields(record);
      const { lastInsertRowid } = guarded(() =>
        stmt.insert.run({ ...fields, kids: JSON.stringify(fields.kids), periodIndexes: JSON.stringify(fields.periodIndexes) }),
      );
      return { id: String(lastInsertRowid), ...fields };
    },

    async list(siteId, { limit, before }) {
      assertAuditLimit(limit);
      const cursor = before === undefined ? undefined : parseAuditCursor(before);
      const rows = guarded(() =>
        cursor === undefined ? stmt.newest.all(siteId, limit + 1) : stmt.before.all(siteId, cursor, limit + 1),
      );
      return toAuditPage(rows.map(toRecord), limit);
    },
  };
}
