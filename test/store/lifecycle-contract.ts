import { randomBytes, randomUUID } from 'node:crypto';
import type { ContentPolicy } from '../../src/content-policy/ports';
import { ContentRevoked, KeyConflict } from '../../src/errors';
import { parseKeyId, type KeyId } from '../../src/keys/key-id';
import type { Store } from '../../src/store/store';
import { buildServices } from '../support/services';
import type { StoreHarness } from './store-contract';

/**
 * Key import, revocation and content policies (docs/content-policies.md) on one backend: what every store must do
 * the same, including the race of an import with a first key request for the same KID.
 */

export interface LifecycleContext {
  readonly harness: StoreHarness;
  readonly store: Store;
  readonly services: ReturnType<typeof buildServices>;
  readonly masterKey: Parameters<typeof buildServices>[1];
}

const newKid = (): KeyId => parseKeyId(randomUUID());
const REASON = { reason: 'leaked on a forum', credentialId: 'admin' } as const;

function policy(name: string, overrides: Partial<ContentPolicy> = {}): ContentPolicy {
  return { name, securityLevel: 'HIGH', persistentLicense: false, licenseDurationSeconds: 86_400, rotationIntervalMinutes: 0, ...overrides };
}

/** The audit record of a key request for `keys` (what the key exchange hands to `issue`). */
export function issueAudit(siteId: string, contentId: string, keys: readonly { readonly kid: KeyId }[]) {
  return {
    at: new Date(0).toISOString(),
    siteId,
    action: 'issue',
    credentialId: 'test',
    clientAddress: '127.0.0.1',
    dialect: 'cpix-api-v2',
    contentId,
    kids: keys.map((key) => key.kid),
    periodIndexes: [],
    requestId: randomUUID(),
  } as const;
}

export function describeLifecycleContract(context: () => LifecycleContext): void {
  let siteId: string;
  let tokenId: string;
  let services: LifecycleContext['services'];
  beforeAll(async () => {
    ({ services } = context());
    ({ site: { id: siteId }, token: { id: tokenId } } = await services.sites.createSite({ name: 'lifecycle' }));
  });
  const keyCount = async (contentId: string) => (await services.contentKeys.listMetadata(siteId, contentId)).length;

  describe('key import', () => {
    it('stores imported keys with their IV and slot; a key request answers them; a repeat creates nothing', async () => {
      const [kid, audioKid] = [newKid(), newKid()];
      const [key, iv, audioKey] = [randomBytes(16), randomBytes(16), randomBytes(16)];
      const imported = await services.contentKeys.importKeys(siteId, 'import-1', [
        { kid, key, iv, trackType: 'HD' },
        { kid: audioKid, key: audioKey, trackType: 'AUDIO', periodIndex: 3 },
      ]);
      expect(imported.map((k) => [k.kid, k.created, k.trackType, k.periodIndex])).toEqual([
        [kid, true, 'HD', undefined],
        [audioKid, true, 'AUDIO', 3],
      ]);
      const issued = await services.contentKeys.getOrCreate(siteId, { contentId: 'import-1', kid });
      expect([issued.created, issued.key.equals(key), issued.iv?.equals(iv)]).toEqual([false, true, true]);
      expect(imported[1]?.iv).toHaveLength(16);

      // A key request whose KIDs were assigned per slot is told the imported ones, and creates nothing.
      const assigned = [{ trackType: 'HD' }, { trackType: 'AUDIO', periodIndex: 3 }, { trackType: 'SD' }, {}].map((slot) => ({
        contentId: 'import-1',
        kid: newKid(),
        slotAssigned: true,
        ...slot,
      }));
      const issue = { credentialId: tokenId, siteRevision: 0, audit: issueAudit(siteId, 'import-1', assigned) };
      expect(await services.contentKeys.issue(siteId, 1, assigned, issue)).toEqual({ kind: 'slot-imported', kids: [kid, audioKid, undefined, undefined] });
      expect(await keyCount('import-1')).toBe(2);

      const again = await services.contentKeys.importKeys(siteId, 'import-1', [{ kid, key, iv, trackType: 'HD' }]);
      expect(again.map((k) => k.created)).toEqual([false]);
      // Without an IV, a repeat matches whatever IV the key was given.
      expect((await services.contentKeys.importKeys(siteId, 'import-1', [{ kid: audioKid, key: audioKey }])).map((k) => k.created)).toEqual([false]);
      expect(await keyCount('import-1')).toBe(2);
    });

    it.each([
      ['other key bytes', (_key: Buffer, iv: Buffer) => ({ key: randomBytes(16), iv })],
      ['another IV', (key: Buffer) => ({ key, iv: randomBytes(16) })],
    ])('refuses %s for a stored KID with KeyConflict, and imports none of the batch', async (_name, change) => {
      const kid = newKid();
      const [key, iv] = [randomBytes(16), randomBytes(16)];
      const contentId = `conflict-${randomUUID()}`;
      await services.contentKeys.importKeys(siteId, contentId, [{ kid, key, iv }]);
      const fresh = newKid();
      await expect(
        services.contentKeys.importKeys(siteId, contentId, [{ kid: fresh, key: randomBytes(16) }, { kid, ...change(key, iv) }]),
      ).rejects.toBeInstanceOf(KeyConflict);
      expect((await services.contentKeys.listMetadata(siteId, contentId)).map((k) => k.kid)).toEqual([kid]);
      const kept = await services.contentKeys.get(siteId, contentId, kid);
      expect([kept?.key.equals(key), kept?.iv?.equals(iv)]).toEqual([true, true]);
    });

    it('refuses to import over a generated key', async () => {
      const kid = newKid();
      const generated = await services.contentKeys.getOrCreate(siteId, { contentId: 'generated', kid });
      await expect(services.contentKeys.importKeys(siteId, 'generated', [{ kid, key: randomBytes(16) }])).rejects.toBeInstanceOf(KeyConflict);
      expect((await services.contentKeys.get(siteId, 'generated', kid))?.key.equals(generated.key)).toBe(true);
    });

    it('races an import with first key requests for the same KID over two connections: one key, the loser told', async () => {
      const { harness, masterKey } = context();
      const second = await harness.open();
      const other = buildServices(second, masterKey);
      try {
        const outcomes = { imported: 0, conflicts: 0 };
        for (let round = 0; round < 20; round += 1) {
          const kid = newKid();
          const key = randomBytes(16);
          const contentId = `race-${round}`;
          const [imported, ...requested] = await Promise.allSettled([
            services.contentKeys.importKeys(siteId, contentId, [{ kid, key }]),
            ...Array.from({ length: 4 }, (_, i) => (i % 2 === 0 ? other : services).contentKeys.getOrCreate(siteId, { contentId, kid })),
          ]);
          const keys = requested.map((r) => (r.status === 'fulfilled' ? r.value.key.toString('hex') : 'failed'));
          expect(new Set(keys).size).toBe(1);
          if (imported?.status === 'fulfilled') {
            outcomes.imported += 1;
            expect(keys[0]).toBe(key.toString('hex'));
          } else {
            outcomes.conflicts += 1;
            expect(imported?.reason).toBeInstanceOf(KeyConflict);
            expect(keys[0]).not.toBe(key.toString('hex'));
          }
          expect(await keyCount(contentId)).toBe(1);
        }
        expect(outcomes.imported + outcomes.conflicts).toBe(20);
      } finally {
        await second.close();
      }
    });
  });

  describe('revocation', () => {
    it('revokes a whole content: its keys now and later are refused, and nothing is created', async () => {
      const contentId = `revoked-${randomUUID()}`;
      const kid = newKid();
      await services.contentKeys.getOrCreate(siteId, { contentId, kid });
      const first = await services.revocations.revoke(siteId, contentId, REASON);
      expect(first.recorded).toBe(true);
      await expect(services.contentKeys.getOrCreate(siteId, { contentId, kid })).rejects.toBeInstanceOf(ContentRevoked);
      await expect(services.contentKeys.getOrCreate(siteId, { contentId, kid: newKid() })).rejects.toBeInstanceOf(ContentRevoked);
      await expect(services.contentKeys.importKeys(siteId, contentId, [{ kid: newKid(), key: randomBytes(16) }])).rejects.toBeInstanceOf(ContentRevoked);
      expect(await keyCount(contentId)).toBe(1);

      // Final: a second revocation records nothing and the first one stands.
      const second = await services.revocations.revoke(siteId, contentId, { reason: 'again', credentialId: 'admin' });
      expect(second.recorded).toBe(false);
      const state = await services.revocations.state(siteId, contentId);
      expect(state.content).toEqual(first.revocation);
      // Other contents of the site are untouched.
      expect((await services.contentKeys.getOrCreate(siteId, { contentId: `${contentId}-other`, kid })).created).toBe(true);
    });

    it('revokes single keys: those KIDs are refused, the content\'s other keys are served', async () => {
      const contentId = `kids-${randomUUID()}`;
      const [revoked, kept] = [newKid(), newKid()];
      await services.contentKeys.getOrCreate(siteId, { contentId, kid: revoked });
      await services.contentKeys.getOrCreate(siteId, { contentId, kid: kept });
      const { recorded, revocation } = await services.revocations.revoke(siteId, contentId, { ...REASON, kids: [revoked, revoked] });
      expect(recorded).toBe(true);
      expect(revocation.kids).toEqual([revoked]);
      await expect(services.contentKeys.getOrCreate(siteId, { contentId, kid: revoked })).rejects.toBeInstanceOf(ContentRevoked);
      // A batch holding a revoked KID creates none of its new keys.
      await expect(
        services.contentKeys.getOrCreateAll(siteId, 1, [
          { contentId, kid: newKid() },
          { contentId, kid: revoked },
        ]),
      ).rejects.toBeInstanceOf(ContentRevoked);
      expect((await services.contentKeys.getOrCreate(siteId, { contentId, kid: kept })).created).toBe(false);
      expect(await keyCount(contentId)).toBe(2);
      expect((await services.revocations.revoke(siteId, contentId, { ...REASON, kids: [revoked] })).recorded).toBe(false);
      // Revoking the whole content later still records.
      expect((await services.revocations.revoke(siteId, contentId, REASON)).recorded).toBe(true);
      await expect(services.contentKeys.getOrCreate(siteId, { contentId, kid: kept })).rejects.toBeInstanceOf(ContentRevoked);
    });

    it('lists a site\'s revocations since a time, oldest first, and no other site\'s', async () => {
      const { site: other } = await services.sites.createSite({ name: 'revocation listing' });
      const { site } = await services.sites.createSite({ name: 'revocation listing 2' });
      const made = [];
      for (const contentId of ['a', 'b', 'c']) made.push((await services.revocations.revoke(site.id, contentId, REASON)).revocation);
      await services.revocations.revoke(other.id, 'a', REASON);
      expect(await services.revocations.listSince(site.id, undefined)).toEqual(made);
      const last = made[2];
      if (!last) throw new Error('no revocation');
      const since = await services.revocations.listSince(site.id, last.revokedAt);
      expect(since[since.length - 1]).toEqual(last);
      expect(await services.revocations.listSince(site.id, new Date(Date.parse(last.revokedAt) + 1).toISOString())).toEqual([]);
    });
  });

  describe('content policies', () => {
    let policySite: string;
    beforeAll(async () => {
      ({ site: { id: policySite } } = await services.sites.createSite({ name: 'policies' }));
    });

    it('counts every change of a site\'s policies, rules and assignments in its revision (a key request\'s cached policy is checked by it)', async () => {
      const { site } = await services.sites.createSite({ name: 'policy revisions' });
      const { policies } = services;
      const revision = async () => (await context().store.sites.getSite(site.id))?.revision;
      const steps: [string, () => Promise<unknown>][] = [
        ['create', () => policies.create(site.id, policy('gold'))],
        ['update', () => policies.update(site.id, 'gold', { rotationIntervalMinutes: 5 })],
        ['rules', () => policies.setRules(site.id, [{ contentIdPrefix: 'live-', policy: 'gold' }])],
        ['assign', () => policies.assign(site.id, 'movie', 'gold')],
        ['unassign', () => policies.assign(site.id, 'movie', undefined)],
        ['rules cleared', () => policies.setRules(site.id, [])],
        ['delete', () => policies.delete(site.id, 'gold')],
      ];
      const seen: [string, boolean][] = [];
      for (const [name, step] of steps) {
        const before = (await revision()) ?? 0;
        await step();
        seen.push([name, ((await revision()) ?? 0) > before]);
      }
      expect(seen).toEqual(steps.map(([name]) => [name, true]));
    });

    it('creates, lists, changes and deletes policies; names are unique per site', async () => {
      const { policies } = services;
      await policies.create(policySite, policy('premium'));
      await expect(policies.create(policySite, policy('premium', { securityLevel: 'LOW' }))).rejects.toMatchObject({ code: 'ERR_ALREADY_EXISTS' });
      await policies.create(policySite, policy('basic', { securityLevel: 'LOW', persistentLicense: true }));
      expect((await policies.list(policySite)).map((p) => p.name)).toEqual(['basic', 'premium']);
      expect(await policies.update(policySite, 'premium', { rotationIntervalMinutes: 60 })).toEqual(policy('premium', { rotationIntervalMinutes: 60 }));
      expect(await policies.get(policySite, 'premium')).toEqual(policy('premium', { rotationIntervalMinutes: 60 }));
      await expect(policies.update(policySite, 'missing', { securityLevel: 'LOW' })).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
      await policies.delete(policySite, 'basic');
      await expect(policies.delete(policySite, 'basic')).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
      expect((await policies.list(policySite)).map((p) => p.name)).toEqual(['premium']);
      // Another site has its own names.
      const { site } = await services.sites.createSite({ name: 'other policies' });
      await policies.create(site.id, policy('premium', { securityLevel: 'MEDIUM' }));
      expect((await policies.get(policySite, 'premium')).securityLevel).toBe('HIGH');
    });

    it('decides a content\'s policy: assignment, else the longest matching rule, else the default rule, else none', async () => {
      const { policies } = services;
      const { site } = await services.sites.createSite({ name: 'policy choice' });
      for (const name of ['live', 'live-sports', 'default', 'vip']) await policies.create(site.id, policy(name));
      expect(await policies.policyOf(site.id, 'live/x')).toBeUndefined();
      await policies.setRules(site.id, [
        { contentIdPrefix: 'live/', policy: 'live' },
        { contentIdPrefix: 'live/sports/', policy: 'live-sports' },
      ]);
      expect((await policies.policyOf(site.id, 'live/sports/final'))?.name).toBe('live-sports');
      expect((await policies.policyOf(site.id, 'live/news'))?.name).toBe('live');
      expect(await policies.policyOf(site.id, 'vod/movie')).toBeUndefined();
      await policies.setRules(site.id, [...(await policies.rules(site.id)), { contentIdPrefix: '', policy: 'default' }]);
      expect((await policies.policyOf(site.id, 'vod/movie'))?.name).toBe('default');
      await policies.assign(site.id, 'live/sports/final', 'vip');
      expect((await policies.policyOf(site.id, 'live/sports/final'))?.name).toBe('vip');
      await policies.assign(site.id, 'live/sports/final', undefined);
      expect((await policies.policyOf(site.id, 'live/sports/final'))?.name).toBe('live-sports');
    });

    it('refuses to delete a policy in use, and to name a policy that does not exist', async () => {
      const { policies } = services;
      const { site } = await services.sites.createSite({ name: 'policy use' });
      await policies.create(site.id, policy('assigned'));
      await policies.create(site.id, policy('ruled'));
      await policies.assign(site.id, 'movie', 'assigned');
      await policies.setRules(site.id, [{ contentIdPrefix: 'm', policy: 'ruled' }]);
      await expect(policies.delete(site.id, 'assigned')).rejects.toMatchObject({ code: 'ERR_IN_USE' });
      await expect(policies.delete(site.id, 'ruled')).rejects.toMatchObject({ code: 'ERR_IN_USE' });
      await expect(policies.assign(site.id, 'movie', 'nope')).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
      await expect(policies.setRules(site.id, [{ contentIdPrefix: 'x', policy: 'nope' }])).rejects.toMatchObject({ code: 'ERR_REQUEST_INVALID' });
      await expect(
        policies.setRules(site.id, [
          { contentIdPrefix: 'x', policy: 'ruled' },
          { contentIdPrefix: 'x', policy: 'assigned' },
        ]),
      ).rejects.toMatchObject({ code: 'ERR_REQUEST_INVALID' });
      // Refused changes changed nothing.
      expect((await policies.policyOf(site.id, 'movie'))?.name).toBe('assigned');
      expect(await policies.rules(site.id)).toEqual([{ contentIdPrefix: 'm', policy: 'ruled' }]);
      // Once unused, both can go.
      await policies.assign(site.id, 'movie', undefined);
      await policies.setRules(site.id, []);
      await policies.delete(site.id, 'assigned');
      await policies.delete(site.id, 'ruled');
      expect(await policies.list(site.id)).toEqual([]);
    });

    it('moves a content between groups under concurrent reassignment without leaving it counted in two', async () => {
      const { policies } = services;
      const { site } = await services.sites.createSite({ name: 'policy moves' });
      for (const name of ['a', 'b', 'c']) await policies.create(site.id, policy(name));
      await Promise.all(['a', 'b', 'c', 'a', 'b', 'c'].map((name) => policies.assign(site.id, 'movie', name)));
      const final = (await policies.policyOf(site.id, 'movie'))?.name;
      const deletable = ['a', 'b', 'c'].filter((name) => name !== final);
      for (const name of deletable) await policies.delete(site.id, name);
      await expect(policies.delete(site.id, final ?? '')).rejects.toMatchObject({ code: 'ERR_IN_USE' });
    });
  });

  describe('a key request in one step (issue): checks, keys and audit record', () => {
    let site: { readonly id: string; readonly tokenId: string };
    beforeAll(async () => {
      const created = await services.sites.createSite({ name: 'one step' });
      site = { id: created.site.id, tokenId: created.token.id };
    });
    const keysOf = (contentId: string) => [{ contentId, kid: newKid(), trackType: 'HD' }, { contentId, kid: newKid(), trackType: 'AUDIO' }];
    const issueContext = (contentId: string, keys: readonly { readonly kid: KeyId }[], overrides: { siteRevision?: number; credentialId?: string } = {}) => ({
      credentialId: site.tokenId,
      siteRevision: 0,
      ...overrides,
      audit: issueAudit(site.id, contentId, keys),
    });
    const auditsOf = async (contentId: string) =>
      (await services.audit.list(site.id, { limit: 500 })).records.filter((record) => record.contentId === contentId);
    const revision = async () => (await context().store.sites.getSite(site.id))?.revision;

    it('stores the keys and the audit record with the number of keys it created; a repeat records 0', async () => {
      const contentId = `one-step-${randomUUID()}`;
      const keys = keysOf(contentId);
      const first = await services.contentKeys.issue(site.id, 1, keys, issueContext(contentId, keys));
      expect(first.kind === 'issued' && first.keys.map((key) => [key.kid, key.created])).toEqual(keys.map((key) => [key.kid, true]));
      const repeat = await services.contentKeys.issue(site.id, 1, keys, issueContext(contentId, keys));
      expect(repeat.kind === 'issued' && repeat.keys.map((key) => key.created)).toEqual([false, false]);
      const records = await auditsOf(contentId);
      expect(records.map((record) => [record.keysCreated, record.kids, record.kidCount, record.credentialId])).toEqual([
        [0, keys.map((key) => key.kid), 2, 'test'],
        [2, keys.map((key) => key.kid), 2, 'test'],
      ]);
      // Newest first, IDs from the site's one sequence.
      expect(Number(records[0]?.id)).toBeGreaterThan(Number(records[1]?.id));
    });

    it('stores the audit record as written whatever the content ID holds (the store splices keysCreated in)', async () => {
      const contentId = `hostile","keysCreated":9,"id":"1","x":"${randomUUID()}\\"}`;
      const keys = keysOf(contentId);
      await services.contentKeys.issue(site.id, 1, keys, issueContext(contentId, keys, { siteRevision: (await revision()) ?? 0 }));
      const [record] = await auditsOf(contentId);
      expect([record?.contentId, record?.keysCreated, record?.kidCount]).toEqual([contentId, 2, 2]);
    });

    it.each([
      ['a site changed since it was read (its revision)', async () => ({ siteRevision: 1 + ((await revision()) ?? 0) })],
      ['a revoked token', async () => {
        const issued = await services.sites.issueToken(site.id, 'to revoke');
        await services.sites.revokeToken(site.id, issued.id);
        return { credentialId: issued.id };
      }],
    ])('is stale for %s: nothing created, nothing audited', async (_name, overrides) => {
      const contentId = `stale-${randomUUID()}`;
      const keys = keysOf(contentId);
      await expect(services.contentKeys.issue(site.id, 1, keys, issueContext(contentId, keys, { siteRevision: (await revision()) ?? 0, ...(await overrides()) })))
        .rejects.toMatchObject({ name: 'StaleAuthentication' });
      expect(await keyCount(contentId)).toBe(0);
      expect(await auditsOf(contentId)).toEqual([]);
    });

    it('every change of a site counts in its revision (options, status, site keys), and a disabled site is stale', async () => {
      const { site: other, token } = await services.sites.createSite({ name: 'revisions' });
      const revisionOf = async () => (await context().store.sites.getSite(other.id))?.revision;
      expect(await revisionOf()).toBe(0);
      await services.sites.updateSite(other.id, { options: { signSpekeResponses: true } });
      expect(await revisionOf()).toBe(1);
      await services.contentKeys.rotateSiteKey(other.id);
      expect(await revisionOf()).toBe(2);
      await services.sites.updateSite(other.id, { status: 'disabled' });
      const contentId = `disabled-${randomUUID()}`;
      const keys = keysOf(contentId);
      const current = { credentialId: token.id, siteRevision: (await revisionOf()) ?? -1, audit: { ...issueAudit(other.id, contentId, keys) } };
      expect(current.siteRevision).toBe(3);
      await expect(services.contentKeys.issue(other.id, 2, keys, current)).rejects.toMatchObject({ name: 'StaleAuthentication' });
      expect((await services.contentKeys.listMetadata(other.id, contentId)).length).toBe(0);
    });

    it('writes no audit record when a check refuses (a revoked content)', async () => {
      const contentId = `refused-${randomUUID()}`;
      await services.revocations.revoke(site.id, contentId, REASON);
      const keys = keysOf(contentId);
      await expect(services.contentKeys.issue(site.id, 1, keys, issueContext(contentId, keys, { siteRevision: (await revision()) ?? 0 }))).rejects.toBeInstanceOf(ContentRevoked);
      expect(await auditsOf(contentId)).toEqual([]);
    });
  });
}
