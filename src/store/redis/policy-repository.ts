import type { ChainableCommander } from 'ioredis';
import type { PolicyRepository } from '../../content-policy/ports';
import { decodePolicy, decodeRules, encodePolicy, encodeRules } from '../lifecycle-records';
import { repliesOf, type RedisContext } from './context';

/**
 * Content policies in Redis (layout in `key-names.ts`): a hash of the site's policies, its rules as
 * one JSON value, the content assignments and, per policy, the set of contents assigned to it, so
 * that "in use" is one check. Writes that name a policy are scripts that check it exists.
 */
export function createRedisPolicyRepository(context: RedisContext): PolicyRepository {
  const { client, names, call, confirmDurable } = context;

  /**
   * A policy write and the count of a site change (`SiteRecord.revision`) in one MULTI on the site's
   * hash tag: key requests cache a content's policy by the site's revision, and their store step
   * refuses a revision that moved. Counted also when the write changed nothing (a harmless refresh).
   */
  async function counted<T>(operation: string, siteId: string, write: (queue: ChainableCommander) => ChainableCommander): Promise<T> {
    const queue = write(client.multi());
    queue.cpixCountSiteChange(names.site(siteId).record);
    const [result] = repliesOf(operation, await call(operation, () => queue.exec()), 2);
    return result as T;
  }

  return {
    async create(siteId, policy) {
      const { policies } = names.site(siteId);
      const created = await counted<number>('createPolicy', siteId, (queue) => queue.hsetnx(policies, policy.name, encodePolicy(policy)));
      if (created === 1) await confirmDurable('createPolicy', policies);
      return created === 1;
    },

    async replace(siteId, policy) {
      const { policies } = names.site(siteId);
      const replaced = await counted<number>('replacePolicy', siteId, (queue) => queue.cpixReplacePolicy(policies, policy.name, encodePolicy(policy)));
      if (replaced === 1) await confirmDurable('replacePolicy', policies);
      return replaced === 1;
    },

    async list(siteId) {
      const hash = await call('listPolicies', () => client.hgetall(names.site(siteId).policies));
      return Object.values(hash)
        .map(decodePolicy)
        .sort((a, b) => a.name.localeCompare(b.name));
    },

    async delete(siteId, name) {
      const site = names.site(siteId);
      const outcome = await counted<'missing' | 'in-use' | 'deleted'>('deletePolicy', siteId, (queue) =>
        queue.cpixDeletePolicy(site.policies, site.policyRules, site.policyUsers(name), name),
      );
      if (outcome === 'deleted') await confirmDurable('deletePolicy', site.policies);
      return outcome;
    },

    async setRules(siteId, rules) {
      const site = names.site(siteId);
      const used = [...new Set(rules.map((rule) => rule.policy))];
      const missing = await counted<string>('setPolicyRules', siteId, (queue) => queue.cpixSetPolicyRules(site.policies, site.policyRules, encodeRules(rules), ...used));
      if (missing !== '') return { missing };
      await confirmDurable('setPolicyRules', site.policyRules);
      return {};
    },

    async assign(siteId, contentId, policy) {
      const site = names.site(siteId);
      // Compare-and-set on the current assignment: the script moves the content between the two
      // policies' user sets only if nobody reassigned it since it was read.
      for (;;) {
        const current = (await call('assignPolicy', () => client.hget(site.contentPolicies, contentId))) ?? '';
        const target = policy ?? '';
        const outcome = await counted<string>('assignPolicy', siteId, (queue) =>
          queue.cpixAssignPolicy(
            site.policies,
            site.contentPolicies,
            site.policyUsers(current),
            site.policyUsers(target === '' ? current : target),
            contentId,
            target,
            current,
          ),
        );
        if (outcome === 'moved') continue;
        if (outcome !== '') return { missing: outcome };
        await confirmDurable('assignPolicy', site.contentPolicies);
        return {};
      }
    },

    async sources(siteId, contentId) {
      const site = names.site(siteId);
      const replies = await call('policySources', () =>
        client.pipeline().hget(site.contentPolicies, contentId).get(site.policyRules).hgetall(site.policies).exec(),
      );
      const [assigned, rules, policies] = repliesOf('policySources', replies, 3) as [string | null, string | null, Record<string, string>];
      return {
        ...(assigned !== null && { assigned }),
        rules: decodeRules(rules),
        policies: new Map(Object.entries(policies).map(([name, text]) => [name, decodePolicy(text)])),
      };
    },
  };
}
