import { randomUUID } from 'node:crypto';
import type { AuditRecord, NewAuditRecord } from '../../src/audit/ports';
import { KeyIntegrityError } from '../../src/errors';
import { parseKeyId, type KeyId } from '../../src/keys/key-id';
import type { Store } from '../../src/store/store';
import { MAX_KEY_LIST_PAGE_SIZE, ROTATION_BATCH_SIZE } from '../../src/keys/content-key-service';
import { allSiteRecords, buildServices, testMasterKey } from '../support/services';
import { describeAuditAndLicenseServerContract } from './audit-license-server-contract';
import { describeAuthFailureContract } from './auth-failure-contract';
import { describeLifecycleContract } from './lifecycle-contract';
import { describeLicenceTokenKeyContract } from './licence-token-key-contract';
import { describeMasterKeyCheckContract } from './master-key-check-contract';

/**
 * What a backend under test provides. `open` may be called several times and must return a new
 * connection to the same data (a restart); `rawDump` returns every stored byte as the backend holds it.
 */
export interface StoreHarness {
  open(): Promise<Store>;
  rawDump(): Promise<Buffer>;
  /**
   * Writes an audit record as the store did before records were bounded (every KID and period
   * index, no count or digest), bypassing the repository; answers it with the ID it got.
   */
  appendLegacyAuditRecord(record: NewAuditRecord): Promise<AuditRecord>;
  destroy(): Promise<void>;
}

const newKid = (): KeyId => parseKeyId(randomUUID());

/** The contract every `Store` implementation passes; run once per backend. */
export function describeStoreContract(name: string, makeHarness: () => Promise<StoreHarness>): void {
  describe(`store contract: ${name}`, () => {
    const masterKey = testMasterKey();
    let harness: StoreHarness;
    let store: Store;
    let services: ReturnType<typeof buildServices>;
    let siteId: string;

    beforeAll(async () => {
      harness = await makeHarness();
      store = await harness.open();
      services = buildServices(store, masterKey);
      ({ site: { id: siteId } } = await services.sites.createSite({ name: 'contract' }));
    });
    afterAll(async () => {
      // Optional: when beforeAll failed, its own error is the one worth reading.
      await (store as Store | undefined)?.close();
      await (harness as StoreHarness | undefined)?.destroy();
    });

    describe('content keys', () => {
      it('returns the same key for the same (site, content, KID) and creates it once', async () => {
        const kid = newKid();
        const first = await services.contentKeys.getOrCreate(siteId, { contentId: 'movie-1', kid });
        const second = await services.contentKeys.getOrCreate(siteId, { contentId: 'movie-1', kid });
        expect(first.created).toBe(true);
        expect(second.created).toBe(false);
        expect(first.key).toHaveLength(16);
        expect(second.key.equals(first.key)).toBe(true);
        const other = await services.contentKeys.getOrCreate(siteId, { contentId: 'movie-1', kid: newKid() });
        expect(other.key.equals(first.key)).toBe(false);
      });

      it('keeps the attributes a key was created with', async () => {
        const kid = newKid();
        const iv = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
        await services.contentKeys.getOrCreate(siteId, {
          contentId: 'live-1',
          kid,
          iv,
          trackType: 'HD',
          periodIndex: 7,
          scheme: 'cbcs',
        });
        const again = await services.contentKeys.getOrCreate(siteId, { contentId: 'live-1', kid, trackType: 'SD' });
        expect(again).toMatchObject({ trackType: 'HD', periodIndex: 7, scheme: 'cbcs', created: false });
        expect(again.iv?.equals(iv)).toBe(true);
      });

      it('yields exactly one key for 100 concurrent first requests over two connections', async () => {
        const second = await harness.open();
        const otherServices = buildServices(second, masterKey);
        try {
          const kid = newKid();
          const results = await Promise.all(
            Array.from({ length: 100 }, (_, i) =>
              (i % 2 === 0 ? services : otherServices).contentKeys.getOrCreate(siteId, { contentId: 'race', kid }),
            ),
          );
          expect(new Set(results.map((r) => r.key.toString('hex'))).size).toBe(1);
          expect(results.filter((r) => r.created)).toHaveLength(1);
          expect(await store.contentKeys.listByContent(siteId, 'race')).toHaveLength(1);
        } finally {
          await second.close();
        }
      });

      it('gets or creates a request’s keys in one call: stored ones kept, new ones created, in the order asked', async () => {
        const [a, b, c] = [newKid(), newKid(), newKid()];
        const [existing] = await services.contentKeys.getOrCreateAll(siteId, 1, [{ contentId: 'batch', kid: b, trackType: 'HD' }]);
        const all = await services.contentKeys.getOrCreateAll(siteId, 1, [
          { contentId: 'batch', kid: a, trackType: 'SD' },
          { contentId: 'batch', kid: b, trackType: 'AUDIO' },
          { contentId: 'batch-other', kid: c },
        ]);
        expect(all.map((key) => [key.contentId, key.kid, key.created, key.trackType])).toEqual([
          ['batch', a, true, 'SD'],
          ['batch', b, false, 'HD'],
          ['batch-other', c, true, undefined],
        ]);
        expect(all[1]?.key.equals(existing?.key ?? Buffer.alloc(0))).toBe(true);
        expect(new Set(all.map((key) => key.key.toString('hex'))).size).toBe(3);
        // What a later request reads is what this one answered.
        for (const key of all) expect((await services.contentKeys.get(siteId, key.contentId, key.kid))?.key.equals(key.key)).toBe(true);
        expect((await services.contentKeys.listMatching(siteId, 'batch', () => true, 1000)).map((key) => key.kid)).toEqual([b, a]);
      });

      // Content IDs and track types are the client's text: whatever each store escapes or encodes
      // must come back as it was.
      it.each([
        ['quotes, backslashes and JSON escapes', 'a"b\\c\\u0041\\"/', 'tab\there'],
        ['control characters and NUL', 'x\u0000y\u001fz\n', 'line\r\n'],
        ['non-ASCII and astral characters', 'żółw-𝄞-\uFFFF', 'ÉCRAN'],
      ])('stores a batch whose content ID and track type hold %s, and reads the same keys back', async (_name, contentId, trackType) => {
        const kids = [newKid(), newKid()];
        const created = await services.contentKeys.getOrCreateAll(siteId, 1, kids.map((kid) => ({ contentId, kid, trackType })));
        expect(created.map((key) => key.created)).toEqual([true, true]);
        const again = await services.contentKeys.getOrCreateAll(siteId, 1, kids.map((kid) => ({ contentId, kid, trackType })));
        expect(again.map((key) => [key.created, key.contentId, key.trackType])).toEqual(kids.map(() => [false, contentId, trackType]));
        again.forEach((key, i) => expect(key.key.equals(created[i]?.key ?? Buffer.alloc(0))).toBe(true));
      });

      // No route lets one through (XML refuses it, URLs and the import schema cannot carry it); the
      // key service refuses it too: SQLite stored a replacement, and the key could not be unwrapped.
      it.each([
        ['content ID', { contentId: 'lone-\uD800-surrogate' }],
        ['track type', { contentId: 'surrogate-track', trackType: 'half\uDC00' }],
        ['encryption scheme', { contentId: 'surrogate-scheme', scheme: 'cb\uD800' }],
      ])('refuses, creating nothing, a %s with a lone surrogate', async (what, request) => {
        await expect(services.contentKeys.getOrCreateAll(siteId, 1, [{ kid: newKid(), ...request }])).rejects.toMatchObject({
          code: 'ERR_REQUEST_INVALID',
          message: `${what} must be well-formed Unicode text`,
        });
        expect(await store.contentKeys.listByContent(siteId, request.contentId)).toEqual([]);
      });

      it('refuses, creating nothing, a request that insists on an IV an existing key does not have', async () => {
        const [stored, fresh] = [newKid(), newKid()];
        const iv = Buffer.alloc(16, 1);
        const [first] = await services.contentKeys.getOrCreateAll(siteId, 1, [{ contentId: 'iv-check', kid: stored, iv, ivMustMatch: true }]);
        const conflicting = [
          { contentId: 'iv-check', kid: fresh, iv: Buffer.alloc(16, 3), ivMustMatch: true },
          { contentId: 'iv-check', kid: stored, iv: Buffer.alloc(16, 2), ivMustMatch: true },
        ];
        await expect(services.contentKeys.getOrCreateAll(siteId, 1, conflicting)).rejects.toMatchObject({
          code: 'ERR_KEY_CONFLICT',
          message: `ContentKey[kid=${stored}]@explicitIV differs from the IV this key was created with`,
        });
        expect((await services.contentKeys.listMatching(siteId, 'iv-check', () => true, 1000)).map((key) => key.kid)).toEqual([stored]);
        // The same IV, or a request that does not insist on one (its IV is a random candidate), gets the stored key.
        for (const request of [{ iv, ivMustMatch: true }, { iv: Buffer.alloc(16, 4), ivMustMatch: false }]) {
          const [again] = await services.contentKeys.getOrCreateAll(siteId, 1, [{ contentId: 'iv-check', kid: stored, ...request }]);
          expect({ created: again?.created, iv: again?.iv, key: again?.key }).toEqual({ created: false, iv, key: first?.key });
        }
      });

      it("keeps a site's keys created per window under its limit, all or nothing per request; repeats always pass", async () => {
        const { site } = await services.sites.createSite({ name: 'creation limit' });
        const record = (contentId: string) => ({
          record: { siteId: site.id, contentId, kid: newKid(), siteKeyVersion: 1, wrappedKey: Buffer.alloc(44, 7), createdAt: new Date(0).toISOString() },
          ivMustMatch: false,
        });
        const t0 = Date.UTC(2026, 11, 7);
        const limit = (nowMs: number) => ({ perWindow: 3, windowMs: 60_000, nowMs });
        const first = [record('a'), record('a')];
        expect((await store.contentKeys.getOrCreateAll(first, { limit: limit(t0) })).kind).toBe('obtained');
        const tooMany = [record('b'), record('b')];
        expect(await store.contentKeys.getOrCreateAll(tooMany, { limit: limit(t0 + 1_000) })).toEqual({ kind: 'over-limit', retryAfterMs: 59_000 });
        expect(await store.contentKeys.listByContent(site.id, 'b')).toEqual([]);
        const repeat = await store.contentKeys.getOrCreateAll(first, { limit: limit(t0 + 2_000) });
        expect(repeat.kind === 'obtained' && repeat.results.map((result) => result.created)).toEqual([false, false]);
        expect((await store.contentKeys.getOrCreateAll([record('c')], { limit: limit(t0 + 3_000) })).kind).toBe('obtained');
        expect((await store.contentKeys.getOrCreateAll([record('d')], { limit: limit(t0 + 4_000) })).kind).toBe('over-limit');
        // The next window.
        expect((await store.contentKeys.getOrCreateAll(tooMany, { limit: limit(t0 + 60_000) })).kind).toBe('obtained');
        expect(await store.contentKeys.listByContent(site.id, 'b')).toHaveLength(2);
      });

      it('gets or creates 600 keys of one request (one atomic script on Redis), in order, once', async () => {
        const requests = Array.from({ length: 600 }, (_, i) => ({ contentId: `many-${i % 3}`, kid: newKid() }));
        const first = await services.contentKeys.getOrCreateAll(siteId, 1, requests);
        const again = await services.contentKeys.getOrCreateAll(siteId, 1, [...requests].reverse());
        expect(first.map((key) => [key.contentId, key.kid, key.created])).toEqual(requests.map((r) => [r.contentId, r.kid, true]));
        expect(again.map((key) => key.created).filter(Boolean)).toEqual([]);
        expect([...again].reverse().map((key) => key.key.toString('hex'))).toEqual(first.map((key) => key.key.toString('hex')));
        expect(await store.contentKeys.listByContent(siteId, 'many-0')).toHaveLength(200);
      });

      it('yields exactly one key per KID for 50 concurrent multi-key first requests over two connections', async () => {
        const second = await harness.open();
        const otherServices = buildServices(second, masterKey);
        try {
          const kids = [newKid(), newKid(), newKid(), newKid(), newKid()];
          const results = await Promise.all(
            Array.from({ length: 50 }, (_, i) =>
              (i % 2 === 0 ? services : otherServices).contentKeys.getOrCreateAll(
                siteId,
                1,
                // Each request lists the keys in another order: overlapping batches must not deadlock or duplicate.
                kids.map((_, k) => ({ contentId: 'race-all', kid: kids[(k + i) % kids.length] as KeyId })),
              ),
            ),
          );
          const byKid = new Map<string, Set<string>>();
          for (const key of results.flat()) byKid.set(key.kid, (byKid.get(key.kid) ?? new Set()).add(key.key.toString('hex')));
          expect([...byKid.values()].map((keys) => keys.size)).toEqual([1, 1, 1, 1, 1]);
          expect(results.flat().filter((key) => key.created)).toHaveLength(5);
          expect(await store.contentKeys.listByContent(siteId, 'race-all')).toHaveLength(5);
        } finally {
          await second.close();
        }
      });

      // A license export with a filter scans the whole content: SQLite reads synchronously, so without
      // a turn of the event loop between pages one scan held every other request of the process.
      it('lets the event loop run between the pages of a scan, and reads the keys of every page', async () => {
        const count = MAX_KEY_LIST_PAGE_SIZE + 1;
        const created = await services.contentKeys.getOrCreateAll(siteId, 1, Array.from({ length: count }, () => ({ contentId: 'pages', kid: newKid() })));
        let turned = false;
        const turnedWhenRead: boolean[] = [];
        const scan = services.contentKeys.listMatching(siteId, 'pages', (key) => (turnedWhenRead.push(turned), key.kid === created[count - 1]?.kid), 1);
        setImmediate(() => (turned = true));
        expect((await scan).map((key) => key.kid)).toEqual([created[count - 1]?.kid]);
        expect(turnedWhenRead).toHaveLength(count);
        // Redis's reads go through the network and let it run anyway; SQLite's alone would not.
        expect(turnedWhenRead[MAX_KEY_LIST_PAGE_SIZE]).toBe(true);
      });

      it('looks keys up by (site, content) oldest first; one KID in two contents is two keys', async () => {
        const kids = [newKid(), newKid(), newKid()];
        for (const kid of kids) await services.contentKeys.getOrCreate(siteId, { contentId: 'lookup', kid });
        const shared = kids[1] as KeyId;
        await services.contentKeys.getOrCreate(siteId, { contentId: 'lookup-other', kid: shared });

        expect((await services.contentKeys.listMatching(siteId, 'lookup', () => true, 1000)).map((k) => k.kid)).toEqual(kids);
        expect((await services.contentKeys.listMatching(siteId, 'lookup-other', () => true, 1000)).map((k) => k.kid)).toEqual([shared]);
        const [a, b] = [await services.contentKeys.get(siteId, 'lookup', shared), await services.contentKeys.get(siteId, 'lookup-other', shared)];
        expect(a?.key.equals(b?.key ?? Buffer.alloc(16))).toBe(false);
        expect(await services.contentKeys.get(siteId, 'lookup', newKid())).toBeUndefined();
        expect(await services.contentKeys.listMatching(siteId, 'no-such-content', () => true, 1000)).toEqual([]);
      });

      it.each([
        ['separators', 'a:b{c}d/e|f'],
        ['a hash-tag lookalike', '{ABCD}:ck:x'],
        ['non-ASCII text', 'Fußball-Übertragung-日本'],
        ['spaces and percent signs', 'movie 100% final'],
      ])('keeps content IDs with %s apart from their neighbours', async (_name, contentId) => {
        const kid = newKid();
        const key = await services.contentKeys.getOrCreate(siteId, { contentId, kid });
        const neighbour = await services.contentKeys.getOrCreate(siteId, { contentId: `${contentId}x`, kid });
        expect(neighbour.key.equals(key.key)).toBe(false);
        expect((await services.contentKeys.listMatching(siteId, contentId, () => true, 1000)).map((k) => k.kid)).toEqual([kid]);
        expect((await services.contentKeys.get(siteId, contentId, kid))?.key.equals(key.key)).toBe(true);
      });

      it('pages a content\'s keys oldest first by key, also among keys of one request (one created-at), new keys last', async () => {
        const { site } = await services.sites.createSite({ name: 'content pages' });
        const create = async (count: number) =>
          services.contentKeys.getOrCreateAll(site.id, 1, Array.from({ length: count }, () => ({ contentId: 'live', kid: newKid() })));
        await create(40);
        await create(3);
        await services.contentKeys.getOrCreate(site.id, { contentId: 'other', kid: newKid() });
        const all = (await store.contentKeys.listByContent(site.id, 'live')).map((record) => record.kid);
        expect(all).toHaveLength(43);

        const walked: KeyId[] = [];
        const sizes: number[] = [];
        let added: KeyId[] = [];
        let after: string | undefined;
        do {
          const page = await store.contentKeys.pageByContent(site.id, 'live', { limit: 7, ...(after !== undefined && { after }) });
          walked.push(...page.records.map((record) => record.kid));
          sizes.push(page.records.length);
          after = page.next;
          // Keys created while the walk is under way come after every older one, once.
          if (added.length === 0) added = (await create(2)).map((key) => key.kid);
        } while (after !== undefined);
        expect(walked).toEqual([...all, ...added]);
        expect(sizes.every((size) => size <= 7)).toBe(true);
        expect(await store.contentKeys.pageByContent(site.id, 'none', { limit: 7 })).toEqual({ records: [] });
      });

      it.each(['x', 'Zm9v', '0', 'WyJhIl0', '1.5', 'a'.repeat(200)])('refuses the content-key page cursor %j', async (after) => {
        await expect(store.contentKeys.pageByContent(siteId, 'live', { limit: 1, after })).rejects.toMatchObject({ code: 'ERR_REQUEST_INVALID' });
      });

      it('walks every record of a site and only of that site, page by page, each page at most its limit', async () => {
        const { site } = await services.sites.createSite({ name: 'walk' });
        const { site: other } = await services.sites.createSite({ name: 'walk other' });
        const written = new Set<string>();
        for (const contentId of ['w1', 'w2', 'w2', 'w:3', 'w2', 'w4']) {
          const key = await services.contentKeys.getOrCreate(site.id, { contentId, kid: newKid() });
          written.add(`${key.contentId}/${key.kid}`);
          await services.contentKeys.getOrCreate(other.id, { contentId, kid: newKid() });
        }
        for (const limit of [1, 2, 4, 6, 100]) {
          const pages = [];
          let after: string | undefined;
          do {
            const page = await store.contentKeys.pageBySite(site.id, { limit, ...(after !== undefined && { after }) });
            pages.push(page.records);
            after = page.next;
          } while (after !== undefined);
          const walked = pages.flat();
          expect(pages.every((records) => records.length <= limit)).toBe(true);
          expect(walked.every((record) => record.siteId === site.id)).toBe(true);
          expect(walked.map((record) => `${record.contentId}/${record.kid}`).sort()).toEqual([...written].sort());
        }
        expect(await store.contentKeys.pageBySite('ZZZZ', { limit: 10 })).toEqual({ records: [] });
      });

      it('pages by key: keys created between two pages never make the walk skip or repeat a key', async () => {
        const { site } = await services.sites.createSite({ name: 'walk while writing' });
        const kidsOf = async (contentId: string, count: number) =>
          (await services.contentKeys.getOrCreateAll(site.id, 1, Array.from({ length: count }, () => ({ contentId, kid: newKid() })))).map(
            (key) => `${key.contentId}/${key.kid}`,
          );
        const before = [...(await kidsOf('a', 5)), ...(await kidsOf('b', 5)), ...(await kidsOf('c', 5))];
        const walked: string[] = [];
        let after: string | undefined;
        let round = 0;
        do {
          const page = await store.contentKeys.pageBySite(site.id, { limit: 4, ...(after !== undefined && { after }) });
          walked.push(...page.records.map((record) => `${record.contentId}/${record.kid}`));
          after = page.next;
          // New keys in contents already walked, being walked and not yet walked.
          round += 1;
          await kidsOf(['a', 'b', 'c', 'd'][round % 4] as string, 2);
        } while (after !== undefined);
        expect(new Set(walked).size).toBe(walked.length);
        expect(before.filter((key) => !walked.includes(key))).toEqual([]);
      });

      it('rotates a site whose keys, and one content\'s keys, outnumber a batch, asking the store for one bounded batch at a time', async () => {
        const { site } = await services.sites.createSite({ name: 'rotation in batches' });
        const batch = ROTATION_BATCH_SIZE;
        const requests = (contentId: string, count: number) => Array.from({ length: count }, () => ({ contentId, kid: newKid() }));
        const keys = [
          // One content with more keys than two batches (on Redis, one content's own index is paged too) …
          ...(await services.contentKeys.getOrCreateAll(site.id, 1, requests('live-channel', batch * 2 + 50))),
          // … and many small ones.
          ...(
            await Promise.all(Array.from({ length: 30 }, (_, i) => services.contentKeys.getOrCreateAll(site.id, 1, requests(`vod-${i}`, 3))))
          ).flat(),
        ];
        const asked: { readonly limit: number; readonly answered: number }[] = [];
        const counted: Store = {
          ...store,
          contentKeys: {
            ...store.contentKeys,
            async pageBySite(siteIdAsked, query) {
              const page = await store.contentKeys.pageBySite(siteIdAsked, query);
              asked.push({ limit: query.limit, answered: page.records.length });
              return page;
            },
          },
        };

        expect(await buildServices(counted, masterKey).contentKeys.rotateSiteKey(site.id)).toEqual({ version: 2, rewrapped: keys.length });
        expect(asked.length).toBeGreaterThanOrEqual(Math.ceil(keys.length / batch));
        expect(asked.every(({ limit, answered }) => limit === batch && answered <= batch)).toBe(true);
        expect(asked.reduce((sum, { answered }) => sum + answered, 0)).toBe(keys.length);
        const rotated = await allSiteRecords(store, site.id);
        expect(rotated.every((record) => record.siteKeyVersion === 2)).toBe(true);
        for (const key of [keys[0], keys[batch + 1], keys[keys.length - 1]]) {
          if (key === undefined) throw new Error('missing key');
          expect((await services.contentKeys.get(site.id, key.contentId, key.kid))?.key.equals(key.key)).toBe(true);
        }
      });

      it('gives two sites different keys for the same content ID and KID', async () => {
        const { site: other } = await services.sites.createSite({ name: 'other tenant' });
        const kid = newKid();
        const mine = await services.contentKeys.getOrCreate(siteId, { contentId: 'shared-name', kid });
        const theirs = await services.contentKeys.getOrCreate(other.id, { contentId: 'shared-name', kid });
        expect(theirs.key.equals(mine.key)).toBe(false);
        expect(await services.contentKeys.listMatching(other.id, 'shared-name', () => true, 1000)).toHaveLength(1);
      });

      it('never stores key bytes or site-key bytes in the clear', async () => {
        const key = await services.contentKeys.getOrCreate(siteId, { contentId: 'raw-check', kid: newKid() });
        const { key: siteKey } = await services.siteKeys.currentSiteKey(siteId);
        const raw = await harness.rawDump();
        expect(raw.length).toBeGreaterThan(0);
        for (const secret of [key.key, siteKey]) {
          expect(raw.includes(secret)).toBe(false);
          for (const encoding of ['hex', 'base64', 'base64url'] as const) {
            expect(raw.includes(Buffer.from(secret.toString(encoding)))).toBe(false);
            expect(raw.includes(Buffer.from(secret.toString(encoding).toUpperCase()))).toBe(false);
          }
        }
        // The dump is real: it does hold the record's identity.
        expect(raw.includes(Buffer.from('raw-check'))).toBe(true);
      });

      it('fails with one opaque integrity error for a tampered blob or a blob moved to another record', async () => {
        const a = { siteId, contentId: 'tamper-a', kid: newKid() };
        const b = { siteId, contentId: 'tamper-b', kid: newKid() };
        await services.contentKeys.getOrCreate(siteId, a);
        await services.contentKeys.getOrCreate(siteId, b);
        const recordA = await store.contentKeys.get(siteId, a.contentId, a.kid);
        const recordB = await store.contentKeys.get(siteId, b.contentId, b.kid);
        if (!recordA || !recordB) throw new Error('records missing');

        const flipped = Buffer.from(recordA.wrappedKey);
        flipped[flipped.length - 20] = (flipped[flipped.length - 20] as number) ^ 0x01;
        expect(await store.contentKeys.replaceWrappedKey(a, recordA.wrappedKey, { ...recordA, wrappedKey: flipped })).toBe(true);
        expect(await store.contentKeys.replaceWrappedKey(b, recordB.wrappedKey, recordA)).toBe(true);

        const errors = await Promise.all([
          services.contentKeys.get(siteId, a.contentId, a.kid).catch((e: unknown) => e),
          services.contentKeys.get(siteId, b.contentId, b.kid).catch((e: unknown) => e),
        ]);
        for (const error of errors) {
          expect(error).toBeInstanceOf(KeyIntegrityError);
          expect(error).toMatchObject({ code: 'ERR_KEY_UNWRAP_FAILED', message: 'stored key failed its integrity check' });
          expect((error as Error).cause).toBeUndefined();
        }
        // get-or-create on a damaged record fails too; it never silently replaces the key.
        await expect(services.contentKeys.getOrCreate(siteId, a)).rejects.toBeInstanceOf(KeyIntegrityError);
      });

      it('keeps every key readable with identical bytes across site-key rotations', async () => {
        const { site } = await services.sites.createSite({ name: 'rotation' });
        const before = [];
        for (let i = 0; i < 5; i += 1) {
          before.push(await services.contentKeys.getOrCreate(site.id, { contentId: `rot-${i % 2}`, kid: newKid() }));
        }
        const first = await services.contentKeys.rotateSiteKey(site.id);
        expect(first).toEqual({ version: 2, rewrapped: 5 });
        const later = await services.contentKeys.getOrCreate(site.id, { contentId: 'rot-0', kid: newKid() });
        expect(await services.contentKeys.rotateSiteKey(site.id)).toEqual({ version: 3, rewrapped: 6 });

        for (const key of [...before, later]) {
          const record = await store.contentKeys.get(site.id, key.contentId, key.kid);
          expect(record?.siteKeyVersion).toBe(3);
          const now = await services.contentKeys.get(site.id, key.contentId, key.kid);
          expect(now?.key.equals(key.key)).toBe(true);
        }
        expect((await services.sites.getSite(site.id)).siteKeyVersion).toBe(3);
      });

      it('returns identical keys after a restart (new connection, empty caches)', async () => {
        const written = await Promise.all(
          ['restart-a', 'restart-b'].map((contentId) =>
            services.contentKeys.getOrCreate(siteId, { contentId, kid: newKid() }),
          ),
        );
        const reopened = await harness.open();
        try {
          const fresh = buildServices(reopened, masterKey);
          for (const key of written) {
            const read = await fresh.contentKeys.getOrCreate(siteId, { contentId: key.contentId, kid: key.kid });
            expect(read.created).toBe(false);
            expect(read.key.equals(key.key)).toBe(true);
          }
        } finally {
          await reopened.close();
        }
      });
    });

    describe('sites and tokens', () => {
      it('refuses a taken site ID with a conflict', async () => {
        await expect(services.sites.createSite({ id: siteId, name: 'dup' })).rejects.toMatchObject({
          code: 'ERR_ALREADY_EXISTS',
        });
      });

      it('lists, updates and disables sites', async () => {
        const { site } = await services.sites.createSite({ name: 'to update' });
        expect((await services.sites.listSites()).map((s) => s.id)).toContain(site.id);
        const updated = await services.sites.updateSite(site.id, {
          name: 'renamed',
          status: 'disabled',
          options: { playReadyLaUrl: 'https://pr.example/rightsmanager.asmx' },
        });
        expect(updated).toMatchObject({ name: 'renamed', status: 'disabled' });
        expect(updated.options).toMatchObject({ playReadyLaUrl: 'https://pr.example/rightsmanager.asmx', signSpekeResponses: false });
        expect(await services.sites.getSite(site.id)).toEqual(updated);
      });

      it('stores tokens hashed, authenticates them, records use and refuses them once revoked', async () => {
        const { site, token } = await services.sites.createSite({ name: 'tokens' });
        const second = await services.sites.issueToken(site.id, 'rotation');
        expect(await services.sites.authenticate(token.token)).toMatchObject({ site: { id: site.id }, credentialId: token.id });
        await services.sites.authenticate(second.token);
        const raw = await harness.rawDump();
        expect(raw.includes(Buffer.from(token.token.split('.')[2] as string))).toBe(false);

        const listed = await services.sites.listTokens(site.id);
        expect(listed.map((t) => t.id)).toEqual([token.id, second.id]);
        expect(listed[0]?.lastUsedAt).toBeDefined();
        expect(JSON.stringify(listed)).not.toContain(token.token.split('.')[2]);

        await services.sites.revokeToken(site.id, token.id);
        await services.sites.revokeToken(site.id, token.id);
        await expect(services.sites.authenticate(token.token)).rejects.toMatchObject({ code: 'ERR_AUTH_REQUIRED' });
        await expect(services.sites.authenticate(second.token)).resolves.toMatchObject({ credentialId: second.id });
        await expect(services.sites.revokeToken(siteId, second.id)).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
      });

      it('lets only one of two concurrent rotations win (compare-and-set on the site-key version)', async () => {
        const { site } = await services.sites.createSite({ name: 'cas' });
        const stored = (await store.sites.getSite(site.id))?.siteKeys[0];
        if (!stored) throw new Error('no site key');
        const results = await Promise.all(
          [0, 1].map(() => store.sites.addSiteKey(site.id, 1, { ...stored, version: 2 })),
        );
        expect(results.sort()).toEqual([false, true]);
      });
    });

    describeAuditAndLicenseServerContract(() => ({ harness, store, services }));
    describeAuthFailureContract(() => ({ harness, store }));
    describe('key lifecycle', () => describeLifecycleContract(() => ({ harness, store, services, masterKey })));
    describeLicenceTokenKeyContract(() => ({ harness, store, services }));
    describeMasterKeyCheckContract(makeHarness);
  });
}
