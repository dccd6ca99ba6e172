import type { Database } from 'better-sqlite3';
import type { ContentPolicy, PolicyRepository, PolicyRule } from '../../content-policy/ports';
import { decodePolicy, decodeRules, encodePolicy, encodeRules } from '../lifecycle-records';
import { guarded } from './guarded';

/** Content policies in the `policies`, `policy_rules` and `content_policies` tables (schema version 5). */
export function createSqlitePolicyRepository(db: Database): PolicyRepository {
  const stmt = {
    insert: db.prepare('INSERT OR IGNORE INTO policies (site_id, name, policy) VALUES (?, ?, ?)'),
    update: db.prepare('UPDATE policies SET policy = ? WHERE site_id = ? AND name = ?'),
    list: db.prepare<[string], { policy: string }>('SELECT policy FROM policies WHERE site_id = ? ORDER BY name'),
    exists: db.prepare<[string, string], { name: string }>('SELECT name FROM policies WHERE site_id = ? AND name = ?'),
    remove: db.prepare('DELETE FROM policies WHERE site_id = ? AND name = ?'),
    assignedTo: db.prepare<[string, string], { content_id: string }>('SELECT content_id FROM content_policies WHERE site_id = ? AND policy = ? LIMIT 1'),
    rules: db.prepare<[string], { rules: string }>('SELECT rules FROM policy_rules WHERE site_id = ?'),
    setRules: db.prepare(
      'INSERT INTO policy_rules (site_id, rules) VALUES (?, ?) ON CONFLICT (site_id) DO UPDATE SET rules = excluded.rules',
    ),
    assigned: db.prepare<[string, string], { policy: string }>('SELECT policy FROM content_policies WHERE site_id = ? AND content_id = ?'),
    assign: db.prepare(
      'INSERT INTO content_policies (site_id, content_id, policy) VALUES (?, ?, ?) ON CONFLICT (site_id, content_id) DO UPDATE SET policy = excluded.policy',
    ),
    unassign: db.prepare('DELETE FROM content_policies WHERE site_id = ? AND content_id = ?'),
  };
  const rulesOf = (siteId: string): PolicyRule[] => decodeRules(stmt.rules.get(siteId)?.rules);

  const remove = db.transaction((siteId: string, name: string): 'deleted' | 'missing' | 'in-use' => {
    if (stmt.exists.get(siteId, name) === undefined) return 'missing';
    if (stmt.assignedTo.get(siteId, name) !== undefined || rulesOf(siteId).some((rule) => rule.policy === name)) return 'in-use';
    stmt.remove.run(siteId, name);
    return 'deleted';
  });
  const setRules = db.transaction((siteId: string, rules: readonly PolicyRule[]): { readonly missing?: string } => {
    const missing = rules.find((rule) => stmt.exists.get(siteId, rule.policy) === undefined);
    if (missing !== undefined) return { missing: missing.policy };
    stmt.setRules.run(siteId, encodeRules(rules));
    return {};
  });
  const assign = db.transaction((siteId: string, contentId: string, policy: string | undefined): { readonly missing?: string } => {
    if (policy === undefined) {
      stmt.unassign.run(siteId, contentId);
      return {};
    }
    if (stmt.exists.get(siteId, policy) === undefined) return { missing: policy };
    stmt.assign.run(siteId, contentId, policy);
    return {};
  });

  return {
    async create(siteId, policy: ContentPolicy) {
      return guarded(() => stmt.insert.run(siteId, policy.name, encodePolicy(policy)).changes === 1);
    },
    async replace(siteId, policy) {
      return guarded(() => stmt.update.run(encodePolicy(policy), siteId, policy.name).changes === 1);
    },
    async list(siteId) {
      return guarded(() => stmt.list.all(siteId).map((row) => decodePolicy(row.policy)));
    },
    async delete(siteId, name) {
      return guarded(() => remove.immediate(siteId, name));
    },
    async setRules(siteId, rules) {
      return guarded(() => setRules.immediate(siteId, rules));
    },
    async assign(siteId, contentId, policy) {
      return guarded(() => assign.immediate(siteId, contentId, policy));
    },
    async sources(siteId, contentId) {
      return guarded(() => {
        const assigned = stmt.assigned.get(siteId, contentId)?.policy;
        return {
          ...(assigned !== undefined && { assigned }),
          rules: rulesOf(siteId),
          policies: new Map(stmt.list.all(siteId).map((row) => {
            const policy = decodePolicy(row.policy);
            return [policy.name, policy] as const;
          })),
        };
      });
    },
  };
}
