import { KeyIntegrityError, MasterKeyMismatch } from '../../src/errors';
import { createMasterKeyCheck, storeHoldsKeys, type MasterKeyCheckOptions } from '../../src/master-key-check/master-key-check';
import type { MasterKeyCheckRepository, StoredMasterKeyCheck } from '../../src/master-key-check/ports';
import type { MasterKeyProvider } from '../../src/crypto/kms/master-key';
import { systemClock } from '../../src/crypto/random';
import type { Store } from '../../src/store/store';
import { buildServices, testMasterKey } from '../support/services';
import type { StoreHarness } from './store-contract';

/** The rejection of `promise`; fails the test if it resolves. */
async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('resolved but should have been refused');
    },
    (error: unknown) => error,
  );
}

/**
 * The master key's check value on a store (decision 58): the repository (written once, first claim
 * wins, also over two connections, kept across a restart) and the start-up and readiness check built
 * on it, over the real backend. Each test gets a new, empty store from `makeHarness`.
 */
export function describeMasterKeyCheckContract(makeHarness: () => Promise<StoreHarness>): void {
  describe('master key check value', () => {
    const harnesses: StoreHarness[] = [];
    const stores: Store[] = [];

    /** A new, empty store (and its harness, to open it again). */
    async function emptyStore(): Promise<{ harness: StoreHarness; store: Store }> {
      const harness = await makeHarness();
      harnesses.push(harness);
      return { harness, store: await open(harness) };
    }
    async function open(harness: StoreHarness): Promise<Store> {
      const store = await harness.open();
      stores.push(store);
      return store;
    }
    const checkOn = (store: Store, masterKey: MasterKeyProvider, extra: Partial<MasterKeyCheckOptions> = {}) =>
      createMasterKeyCheck({
        repository: store.masterKeyCheck,
        sites: store.sites,
        masterKey,
        configuredAs: 'MASTER_KEY',
        clock: systemClock,
        ...extra,
      });
    const sample = (masterKeyId: string): StoredMasterKeyCheck => ({
      provider: 'local',
      masterKeyId,
      blob: Buffer.from(masterKeyId),
      createdAt: new Date().toISOString(),
    });

    afterAll(async () => {
      for (const store of stores) await store.close();
      for (const harness of harnesses) await harness.destroy();
    });

    describe('repository', () => {
      it('holds nothing in a new store, and keeps the first claim against later ones', async () => {
        const { store } = await emptyStore();
        expect(await store.masterKeyCheck.get()).toBeUndefined();
        expect(await store.masterKeyCheck.holdsSites()).toBe(false);
        expect(await storeHoldsKeys(store.masterKeyCheck)).toBe(false);
        const first = sample('local:first');
        expect(await store.masterKeyCheck.claim(first)).toEqual(first);
        expect(await store.masterKeyCheck.claim(sample('local:second'))).toEqual(first);
        expect(await store.masterKeyCheck.get()).toEqual(first);
        expect(await storeHoldsKeys(store.masterKeyCheck)).toBe(true);
      });

      it('lets exactly one of many concurrent claims over two connections win, and keeps it across a restart', async () => {
        const { harness, store } = await emptyStore();
        const second = await open(harness);
        const repositories: MasterKeyCheckRepository[] = [store.masterKeyCheck, second.masterKeyCheck];
        const claims = await Promise.all(
          Array.from({ length: 20 }, (_, i) => repositories[i % 2]?.claim(sample(`local:claim-${i}`))),
        );
        const winner = claims[0];
        expect(winner).toBeDefined();
        for (const claim of claims) expect(claim).toEqual(winner);
        const restarted = await open(harness);
        expect(await restarted.masterKeyCheck.get()).toEqual(winner);
      });

      it('says whether the store holds a site', async () => {
        const { store } = await emptyStore();
        await buildServices(store, testMasterKey()).sites.createSite({ name: 'holds' });
        expect(await store.masterKeyCheck.holdsSites()).toBe(true);
        expect(await storeHoldsKeys(store.masterKeyCheck)).toBe(true);
      });
    });

    describe('at start', () => {
      it('writes a check value into a new store, which the same key verifies on every later start', async () => {
        const { harness, store } = await emptyStore();
        const masterKey = testMasterKey();
        expect(await checkOn(store, masterKey).verifyAtStart()).toBe('created');
        const written = await store.masterKeyCheck.get();
        expect(written).toMatchObject({ provider: 'local' });
        await expect(masterKey.verifyCheckValue(written as StoredMasterKeyCheck)).resolves.toBeUndefined();
        for (let restart = 0; restart < 2; restart += 1) {
          expect(await checkOn(await open(harness), masterKey).verifyAtStart()).toBe('verified');
        }
        expect(await store.masterKeyCheck.get()).toEqual(written);
      });

      it('refuses another master key with a message that names the setting and no key material', async () => {
        const { harness, store } = await emptyStore();
        const masterKey = testMasterKey();
        await checkOn(store, masterKey).verifyAtStart();
        const written = await store.masterKeyCheck.get();
        const error = await rejectionOf(checkOn(await open(harness), testMasterKey()).verifyAtStart());
        expect(error).toBeInstanceOf(MasterKeyMismatch);
        expect(error).toMatchObject({
          code: 'ERR_MASTER_KEY_MISMATCH',
          detail: 'MASTER_KEY does not match the key this store was created with (check value mismatch); refusing to start',
        });
        // The refused start wrote nothing: the store still belongs to its own key.
        expect(await store.masterKeyCheck.get()).toEqual(written);
      });

      it('refuses a master key of another provider', async () => {
        const { store } = await emptyStore();
        await checkOn(store, testMasterKey()).verifyAtStart();
        const kms: MasterKeyProvider = { ...testMasterKey(), name: 'aws-kms' };
        const error = await rejectionOf(checkOn(store, kms, { configuredAs: 'AWS_KMS_KEY_ID alias/x' }).verifyAtStart());
        expect(error).toMatchObject({
          code: 'ERR_MASTER_KEY_MISMATCH',
          detail:
            'AWS_KMS_KEY_ID alias/x does not match the key this store was created with (check value mismatch: the ' +
            'store was created with MASTER_KEY_PROVIDER=local, this one is aws-kms); refusing to start',
        });
      });

      it('gives a store made before check values one, after one of its site keys unwrapped under the key', async () => {
        const { harness, store } = await emptyStore();
        const masterKey = testMasterKey();
        const { site } = await buildServices(store, masterKey).sites.createSite({ name: 'older store' });
        const refused = await rejectionOf(checkOn(store, testMasterKey()).verifyAtStart());
        expect(refused).toMatchObject({
          code: 'ERR_MASTER_KEY_MISMATCH',
          detail: `MASTER_KEY does not match the key this store was created with (the store has no check value yet and the site key of site ${site.id} does not unwrap under it); refusing to start`,
        });
        expect(await store.masterKeyCheck.get()).toBeUndefined();
        expect(await checkOn(await open(harness), masterKey).verifyAtStart()).toBe('adopted');
        expect(await checkOn(await open(harness), masterKey).verifyAtStart()).toBe('verified');
      });

      it('lets processes of one key start together on a new store: one check value, all verified', async () => {
        const { harness } = await emptyStore();
        const masterKey = testMasterKey();
        const starts = await Promise.all(
          Array.from({ length: 4 }, async () => checkOn(await open(harness), masterKey).verifyAtStart()),
        );
        expect(starts.filter((outcome) => outcome === 'created').length).toBeGreaterThanOrEqual(1);
        expect(starts.every((outcome) => outcome === 'created' || outcome === 'verified')).toBe(true);
      });
    });

    describe('while running', () => {
      it('reports another store behind the same connection as a mismatch, refuses site-key operations, and recovers', async () => {
        const ours = await emptyStore();
        const theirs = await emptyStore();
        const masterKey = testMasterKey();
        await checkOn(theirs.store, testMasterKey()).verifyAtStart();
        // The repository the check reads, pointed at one store or the other: a Redis swapped under the pod.
        let current = ours.store;
        const swappable: MasterKeyCheckRepository = {
          get: () => current.masterKeyCheck.get(),
          claim: (check) => current.masterKeyCheck.claim(check),
          holdsSites: () => current.masterKeyCheck.holdsSites(),
        };
        const mismatches: MasterKeyMismatch[] = [];
        const check = checkOn(ours.store, masterKey, { repository: swappable, onMismatch: (error) => mismatches.push(error) });
        const guarded = check.guard(masterKey);
        await check.verifyAtStart();
        await check.checkReady();
        const { wrapped } = await guarded.generateSiteKey({ siteId: 'SWAP', version: 1 });

        current = theirs.store;
        // Refused before any readiness probe has looked: each site-key operation checks first.
        expect(await rejectionOf(guarded.generateSiteKey({ siteId: 'SWAP', version: 2 }))).toBeInstanceOf(MasterKeyMismatch);
        expect(await rejectionOf(guarded.unwrapSiteKey(wrapped, { siteId: 'SWAP', version: 1 }))).toBeInstanceOf(MasterKeyMismatch);
        for (let probe = 0; probe < 2; probe += 1) {
          expect(await rejectionOf(check.checkReady())).toMatchObject({ code: 'ERR_MASTER_KEY_MISMATCH' });
        }
        expect(mismatches).toHaveLength(1); // reported once, not on every probe or operation
        expect(mismatches[0]?.detail).toBe('MASTER_KEY does not match the key this store was created with (check value mismatch)');
        // Nothing was written into the other store.
        expect(await theirs.store.masterKeyCheck.holdsSites()).toBe(false);

        current = ours.store;
        await check.checkReady();
        await expect(guarded.unwrapSiteKey(wrapped, { siteId: 'SWAP', version: 1 })).resolves.toHaveLength(32);
      });

      it('passes store and master-key failures through as they are, not as a mismatch', async () => {
        const { store } = await emptyStore();
        const masterKey = testMasterKey();
        await checkOn(store, masterKey).verifyAtStart();
        const failing: MasterKeyProvider = {
          ...masterKey,
          verifyCheckValue: async () => {
            throw new KeyIntegrityError();
          },
        };
        // A KeyIntegrityError from the provider is a mismatch; anything else is not.
        expect(await rejectionOf(checkOn(store, failing).verifyAtStart())).toBeInstanceOf(MasterKeyMismatch);
        const unavailable = new Error('KMS down');
        const down: MasterKeyProvider = { ...masterKey, verifyCheckValue: async () => Promise.reject(unavailable) };
        expect(await rejectionOf(checkOn(store, down).verifyAtStart())).toBe(unavailable);
      });
    });
  });
}
