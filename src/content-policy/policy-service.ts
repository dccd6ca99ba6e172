import { Conflict, InUse, NotFound, RequestInvalid } from '../errors';
import type { ContentPolicy, PolicyRepository, PolicyRule, PolicySources } from './ports';

/**
 * The policy of a content: its assigned one, else the longest matching prefix rule's (the empty
 * prefix is the site's default), else none. The only place this choice is made.
 */
export function policyOf(contentId: string, sources: PolicySources): ContentPolicy | undefined {
  let name = sources.assigned;
  if (name === undefined) {
    let longest = -1;
    for (const rule of sources.rules) {
      if (contentId.startsWith(rule.contentIdPrefix) && rule.contentIdPrefix.length > longest) {
        longest = rule.contentIdPrefix.length;
        name = rule.policy;
      }
    }
  }
  return name === undefined ? undefined : sources.policies.get(name);
}

/** Site policies (DRM groups), their rules, and which content they apply to. */
export function createPolicyService(deps: { readonly repository: PolicyRepository }) {
  const { repository } = deps;

  async function get(siteId: string, name: string): Promise<ContentPolicy> {
    const found = (await repository.list(siteId)).find((policy) => policy.name === name);
    if (!found) throw new NotFound(`policy ${name} not found`);
    return found;
  }

  return {
    async create(siteId: string, policy: ContentPolicy): Promise<ContentPolicy> {
      if (!(await repository.create(siteId, policy))) throw new Conflict(`policy ${policy.name} already exists`);
      return policy;
    },

    get,

    list: (siteId: string) => repository.list(siteId),

    /** Changes some fields of a policy; its name stays. */
    async update(siteId: string, name: string, patch: Partial<Omit<ContentPolicy, 'name'>>): Promise<ContentPolicy> {
      const updated: ContentPolicy = { ...(await get(siteId, name)), ...patch, name };
      if (!(await repository.replace(siteId, updated))) throw new NotFound(`policy ${name} not found`);
      return updated;
    },

    async delete(siteId: string, name: string): Promise<void> {
      const outcome = await repository.delete(siteId, name);
      if (outcome === 'missing') throw new NotFound(`policy ${name} not found`);
      if (outcome === 'in-use') throw new InUse(`policy ${name} is assigned to a content or named by a rule`);
    },

    /** Replaces the site's prefix rules; two rules for one prefix are refused. */
    async setRules(siteId: string, rules: readonly PolicyRule[]): Promise<readonly PolicyRule[]> {
      const prefixes = new Set<string>();
      for (const rule of rules) {
        if (prefixes.has(rule.contentIdPrefix)) throw new RequestInvalid('two rules for one contentIdPrefix');
        prefixes.add(rule.contentIdPrefix);
      }
      const { missing } = await repository.setRules(siteId, rules);
      if (missing !== undefined) throw new RequestInvalid(`rule names policy ${missing}, which does not exist`);
      return rules;
    },

    async rules(siteId: string): Promise<readonly PolicyRule[]> {
      return (await repository.sources(siteId, '')).rules;
    },

    /** Puts a content in a policy's group, or (undefined) takes it out. */
    async assign(siteId: string, contentId: string, policy: string | undefined): Promise<void> {
      const { missing } = await repository.assign(siteId, contentId, policy);
      if (missing !== undefined) throw new NotFound(`policy ${missing} not found`);
    },

    /** The policy a content is under, and why; undefined when none applies. */
    async policyOf(siteId: string, contentId: string): Promise<ContentPolicy | undefined> {
      return policyOf(contentId, await repository.sources(siteId, contentId));
    },
  };
}

export type PolicyService = ReturnType<typeof createPolicyService>;
