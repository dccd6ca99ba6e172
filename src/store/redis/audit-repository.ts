import type { AuditRepository } from '../../audit/ports';
import { assertAuditLimit, auditFields, parseAuditCursor, toAuditPage } from '../audit-records';
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
      return { id: String(id), ...auditFields(record) };
    },

    async list(siteId, { limit, before }) {
      assertAuditLimit(limit);
      const max = before === undefined ? '+inf' : `(${parseAuditCursor(before)}`;
      const members = await call('listAudit', () =>
        client.zrevrangebyscore(names.site(siteId).audit, max, '-inf', 'LIMIT', 0, limit + 1),
      );
      return toAuditPage(members.map(decodeAuditRecord), limit);
    },
  };
}
