import type { MasterKeyProvider } from '../crypto/kms/master-key';
import { createExpiringCache } from '../cache/expiring-cache';
import type { Clock } from '../crypto/random';
import { ConcurrentChange, NotFound } from '../errors';
import type { SiteKeyProvider } from '../keys/ports';
import type { SiteRepository } from './ports';
import { currentSiteKey } from './site';

export interface SiteKeyRingOptions {
  readonly repository: SiteRepository;
  readonly masterKey: MasterKeyProvider;
  readonly clock: Clock;
  /** How long an unwrapped site key may stay in memory. */
  readonly cacheTtlMs: number;
  /** Upper bound on cached site keys (one entry per site and version). */
  readonly cacheMaxEntries: number;
}

/**
 * Unwraps site keys through the master key and keeps them in memory for a bounded time, so that a
 * KMS round trip is not paid per request, while a key disabled or rotated in KMS stops working
 * within `cacheTtlMs`.
 */
export function createSiteKeyRing(options: SiteKeyRingOptions): SiteKeyProvider & { clear(): void } {
  const { repository, masterKey, clock, cacheTtlMs, cacheMaxEntries } = options;
  // Evicted keys are not zeroed: a caller may still hold the buffer (e.g. a re-wrap loop in progress).
  const cache = createExpiringCache<Buffer>({ clock, ttlMs: cacheTtlMs, maxEntries: cacheMaxEntries });

  async function site(siteId: string) {
    const record = await repository.getSite(siteId);
    if (!record) throw new NotFound(`site ${siteId} not found`);
    return record;
  }

  async function siteKey(siteId: string, version: number): Promise<Buffer> {
    // One master-key unwrap (a KMS call with AWS KMS) per site key and process when an entry expires.
    return cache.getOrLoad(`${siteId}/${version}`, async () => {
      const stored = (await site(siteId)).siteKeys.find((k) => k.version === version);
      if (!stored) throw new NotFound(`site ${siteId} has no site key version ${version}`);
      return masterKey.unwrapSiteKey(stored.wrapped, { siteId, version });
    });
  }

  return {
    siteKey,
    async currentSiteKey(siteId) {
      const { version } = currentSiteKey(await site(siteId));
      return { version, key: await siteKey(siteId, version) };
    },
    async rotateSiteKey(siteId) {
      const current = currentSiteKey(await site(siteId));
      const version = current.version + 1;
      const { wrapped } = await masterKey.generateSiteKey({ siteId, version });
      const added = await repository.addSiteKey(siteId, current.version, {
        version,
        wrapped,
        createdAt: clock().toISOString(),
      });
      if (!added) throw new ConcurrentChange(`site ${siteId} key was rotated concurrently; retry`);
      return version;
    },
    clear() {
      cache.clear();
    },
  };
}
