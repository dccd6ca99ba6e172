import { randomBytes } from 'node:crypto';
import { createLocalMasterKey } from '../../src/crypto/kms/local-master-key';
import type { MasterKeyProvider } from '../../src/crypto/kms/master-key';
import { cryptoRandom, systemClock } from '../../src/crypto/random';
import { createContentKeyService } from '../../src/keys/content-key-service';
import { createSiteKeyRing } from '../../src/sites/site-key-ring';
import { createSiteService } from '../../src/sites/site-service';
import type { Store } from '../../src/store/store';

/** A fresh random local master key for one test file. */
export function testMasterKey(): MasterKeyProvider {
  return createLocalMasterKey(randomBytes(32), cryptoRandom);
}

/** The domain services wired on a store, as main.ts wires them (fresh caches each call). */
export function buildServices(store: Store, masterKey: MasterKeyProvider) {
  const siteKeys = createSiteKeyRing({
    repository: store.sites,
    masterKey,
    clock: systemClock,
    cacheTtlMs: 60_000,
    cacheMaxEntries: 100,
  });
  return {
    siteKeys,
    sites: createSiteService({ repository: store.sites, masterKey, random: cryptoRandom, clock: systemClock }),
    contentKeys: createContentKeyService({
      repository: store.contentKeys,
      siteKeys,
      random: cryptoRandom,
      clock: systemClock,
    }),
  };
}

/** A random site ID that tests on a shared Redis will not collide on. */
export function uniqueSiteId(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  return Array.from(randomBytes(4), (b) => alphabet[b % 36]).join('');
}
