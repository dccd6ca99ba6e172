import { createExpiringCache } from '../cache/expiring-cache';
import type { Clock } from '../crypto/random';
import type { PolicyService } from './policy-service';
import type { ContentPolicy } from './ports';

/** Contents whose policy a process keeps at a time (a few hundred bytes each). */
const POLICY_CACHE_MAX_ENTRIES = 10_000;
/** Only bounds how long an entry of a site revision that is no longer current takes up memory. */
const POLICY_CACHE_TTL_MS = 10 * 60_000;

/** A content's policy as of a site revision. */
export interface PoliciesByRevision {
  policyAt(siteId: string, siteRevision: number, contentId: string): Promise<ContentPolicy | undefined>;
}

/**
 * The policy of a content per site revision, read once per process: every change of a site's
 * policies, rules or assignments counts in its revision (`SiteRecord.revision`), so an entry can only
 * be stale for a revision that is no longer current, and a key request that acted on one is refused
 * by its store step (`IssueContext`) and answered again under the current revision.
 */
export function createPolicyCache(policies: Pick<PolicyService, 'policyOf'>, clock: Clock): PoliciesByRevision {
  const cache = createExpiringCache<{ readonly policy: ContentPolicy | undefined }>({ clock, ttlMs: POLICY_CACHE_TTL_MS, maxEntries: POLICY_CACHE_MAX_ENTRIES });
  return {
    async policyAt(siteId, siteRevision, contentId) {
      const key = `${siteId}\n${siteRevision}\n${contentId}`;
      return (await cache.getOrLoad(key, async () => ({ policy: await policies.policyOf(siteId, contentId) }))).policy;
    },
  };
}
