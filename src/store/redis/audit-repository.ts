import type { AuditRepository } from '../../audit/ports';
import { auditSummary } from '../../audit/summary';
import { assertAuditPageBounds, parseAuditCursor } from '../audit-records';
import { decodeAuditRecord, encodeAuditRecord } from './codec';
import type { RedisContext } from './context';

/**
 * The audit trail in Redis (layout in `key-names.ts`): one sorted set per site, under the site's
 * hash tag, whose members are the records as JSON and whose scores are their IDs. The append
 * script numbers and inserts in one step, and the write is confirmed like a content key's
 * (`WAIT` when configured) before `append` resolves.
 */
export function createRedisAuditRepository(context: RedisContext): AuditRepository {
  const { client, names, call, confirmDurable } = context;

  return {
    async append(record) {
      const site = names.site(record.siteId);
      const id = await call('appendAudit', () =>
        client.cpixAppendAudit(site.audit, site.sequence, encodeAuditRecord(record)),
      );
      await confirmDurable('appendAudit', site.audit);
      return { id: String(id), ...auditSummary(record) };
    },

    async list(siteId, { limit, before, maxBytes }) {
      assertAuditPageBounds(limit, maxBytes);
      const max = before === undefined ? '+inf' : `(${parseAuditCursor(before)}`;
      // The script applies the budget to the stored members, which are the records' JSON as the API
      // sends them (`encodeAuditRecord`), so it cuts pages where `takeAuditPage` would.
      const [members, more] = await call('listAudit', () => client.cpixListAudit(names.site(siteId).audit, max, limit, maxBytes));
      const records = members.map(decodeAuditRecord);
      const last = records[records.length - 1];
      return more === 1 && last !== undefined ? { records, next: last.id } : { records };
    },
  };
}
