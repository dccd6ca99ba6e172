import type { ContentLicencePolicy } from './ports';

/**
 * What issue 15's content lifecycle offers, by shape only, so this adapter compiles before and after
 * it lands: the revocation state of a content (`RevocationService.state`: the whole-content
 * revocation, and single revoked KIDs) and the policy a content is under (`PolicyService.policyOf`).
 */
export interface ContentLifecycleQueries {
  revocationState(siteId: string, contentId: string): Promise<{ readonly content?: unknown; readonly kids: ReadonlyMap<string, unknown> }>;
  policyOf(siteId: string, contentId: string): Promise<{ readonly persistentLicense: boolean } | undefined>;
}

/**
 * The licence endpoint's `ContentLicencePolicy` from issue 15's revocations and content policies: a
 * content is revoked for a licence when it is revoked as a whole or any requested key is; a persistent
 * licence needs a policy that allows it (no policy: not allowed). Wire it in src/service.ts as
 * `contentLicencePolicyOf({ revocationState: (s, c) => revocations.state(s, c), policyOf: (s, c) => policies.policyOf(s, c) })`.
 */
export function contentLicencePolicyOf(queries: ContentLifecycleQueries): ContentLicencePolicy {
  return {
    async isRevoked(siteId, contentId, kids) {
      const state = await queries.revocationState(siteId, contentId);
      return state.content !== undefined || kids.some((kid) => state.kids.has(kid));
    },
    async allowsPersistent(siteId, contentId) {
      return (await queries.policyOf(siteId, contentId))?.persistentLicense === true;
    },
  };
}
