import request from 'supertest';
import type { Store } from '../../src/store/store';
import { AUTHENTICATION_CACHE_TTL_MS } from '../../src/sites/site-service';
import { createTestApp, type TestApp } from '../support/app';
import { captureLogs } from '../support/log-capture';
import { redisAnswers, redisHarness, sharedRedisConfig } from '../support/redis-server';
import type { StoreHarness } from '../store/store-contract';
import { testMasterKey } from '../support/services';
import { buildDoveRunnerRequest } from '../support/doverunner-clients';
import { freshContentId } from '../support/speke-http';

/**
 * Two service processes on one Redis (two pods): B authenticates key requests from what it read of
 * a token and its site within a second, so a repeat request costs B one store call, its key step;
 * yet a token revoked, a site disabled or an option changed through A takes effect on B's very next
 * request, because that step checks the site's revision and the token's revocation itself.
 */
const config = sharedRedisConfig();
const redisHere = redisAnswers(config) || process.env.CI === 'true';
if (!redisHere) console.warn('authentication cache across processes skipped: no Redis answers (start one, or set REDIS_URL)');
const describeOnRedis = redisHere ? describe : describe.skip;

/** Store calls B makes, by repository method. */
type Calls = Map<string, number>;

function counting(store: Store, calls: Calls): Store {
  const count = <T extends object>(name: string, repository: T): T =>
    new Proxy(repository, {
      get(target, property, receiver) {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          const key = `${name}.${String(property)}`;
          calls.set(key, (calls.get(key) ?? 0) + 1);
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  return { ...store, sites: count('sites', store.sites), contentKeys: count('contentKeys', store.contentKeys), audit: count('audit', store.audit) };
}

describeOnRedis('authentication cache across processes (Redis)', () => {
  const logs = captureLogs();
  const masterKey = testMasterKey();
  let harness: StoreHarness;
  let storeA: Store;
  let storeB: Store;
  let a: TestApp;
  let b: TestApp;
  let now = Date.UTC(2026, 11, 7, 12);
  const calls: Calls = new Map();
  let siteId: string;
  let token: string;
  let tokenId: string;

  beforeAll(async () => {
    harness = await redisHarness(config);
    [storeA, storeB] = [await harness.open(), await harness.open()];
    a = createTestApp(logs.logger, masterKey, { store: storeA });
    b = createTestApp(logs.logger, masterKey, { store: storeB, wrapStore: (store) => counting(store, calls), authenticationClock: () => new Date(now) });
    const created = await a.services.sites.createSite({ name: 'two pods' });
    ({ id: siteId } = created.site);
    ({ token, id: tokenId } = created.token);
  });
  afterAll(async () => {
    await Promise.all([a.close(), b.close()]);
    await Promise.all([storeA.close(), storeB.close()]);
    await harness.destroy();
  });

  const adminA = () => ({ Authorization: `Bearer ${a.adminToken}` });
  const keyRequest = (contentId = freshContentId('pods')) =>
    request(b.app).post(`/v2/cpix/pallycon/getKey/${token}`).set('Content-Type', 'application/xml').send(buildDoveRunnerRequest(contentId, ['HD']).xml);
  const keysOf = async (contentId: string) => (await a.services.contentKeys.listMetadataPage(siteId, contentId)).keys;
  const delta = async (send: () => PromiseLike<{ status: number }>, status: number) => {
    const before = new Map(calls);
    expect((await send()).status).toBe(status);
    return Object.fromEntries([...calls].flatMap(([name, n]) => (n === (before.get(name) ?? 0) ? [] : [[name, n - (before.get(name) ?? 0)]])));
  };

  it('answers a repeat key request with one store call, its key step, until the cache expires', async () => {
    // The first request reads the token and the site (and the site key, and records the token's use).
    expect(await delta(() => keyRequest(), 200)).toMatchObject({ 'sites.getToken': 1, 'contentKeys.getOrCreateAll': 1 });
    expect(await delta(() => keyRequest(), 200)).toEqual({ 'contentKeys.getOrCreateAll': 1 });
    now += AUTHENTICATION_CACHE_TTL_MS;
    expect(await delta(() => keyRequest(), 200)).toEqual({ 'sites.getToken': 1, 'sites.getSite': 1, 'contentKeys.getOrCreateAll': 1 });
  });

  it('refuses a token revoked through the other process at once, creating nothing', async () => {
    const extra = await request(a.app).post(`/admin/v1/sites/${siteId}/tokens`).set(adminA()).send({ name: 'soon revoked' }).expect(201);
    const send = (contentId: string) =>
      request(b.app).post(`/v2/cpix/pallycon/getKey/${extra.body.token as string}`).set('Content-Type', 'application/xml').send(buildDoveRunnerRequest(contentId, ['HD']).xml);
    expect((await send(freshContentId('revoked'))).status).toBe(200);
    await request(a.app).delete(`/admin/v1/sites/${siteId}/tokens/${extra.body.id as string}`).set(adminA()).expect(204);
    const contentId = freshContentId('revoked');
    const refused = await send(contentId);
    expect([refused.status, refused.body.error?.code]).toEqual([401, 'ERR_AUTH_REQUIRED']);
    expect(await keysOf(contentId)).toEqual([]);
  });

  it('refuses a site disabled through the other process at once (403), and answers again once it is enabled', async () => {
    expect((await keyRequest()).status).toBe(200);
    await request(a.app).patch(`/admin/v1/sites/${siteId}`).set(adminA()).send({ status: 'disabled' }).expect(200);
    const contentId = freshContentId('disabled');
    expect((await keyRequest(contentId)).status).toBe(403);
    expect(await keysOf(contentId)).toEqual([]);
    await request(a.app).patch(`/admin/v1/sites/${siteId}`).set(adminA()).send({ status: 'active' }).expect(200);
    expect((await keyRequest(contentId)).status).toBe(200);
  });

  it('answers under options changed through the other process at once', async () => {
    const signed = (xml: string) => /<(\w+:)?Signature\b/.test(xml);
    const text = async (res: PromiseLike<request.Response>) => String((await res).text);
    await request(a.app).patch(`/admin/v1/sites/${siteId}`).set(adminA()).send({ options: { signCpixApiResponses: false } }).expect(200);
    expect(signed(await text(keyRequest()))).toBe(false);
    await request(a.app).patch(`/admin/v1/sites/${siteId}`).set(adminA()).send({ options: { signCpixApiResponses: true } }).expect(200);
    expect(signed(await text(keyRequest()))).toBe(true);
  });

  it("checks a rotating request against a content policy changed through the other process at once (B's policy cache is keyed by the site revision)", async () => {
    const contentId = freshContentId('rotating');
    // Periods count from 1970: with a 1-minute interval, 40,000,000 starts in 2046, far more than two
    // periods ahead; without a policy any period is taken.
    const rotate = (period: number) =>
      request(b.app)
        .post(`/v2/cpix/pallycon/getKey/${token}`)
        .query({ 'key-rotation': 'true' })
        .set('Content-Type', 'application/xml')
        .send(buildDoveRunnerRequest(contentId, ['HD'], { periodIndex: period }).xml);
    expect((await rotate(40_000_000)).status).toBe(200);
    await request(a.app).post(`/admin/v1/sites/${siteId}/policies`).set(adminA())
      .send({ name: 'every-minute', securityLevel: 'LOW', persistentLicense: false, licenseDurationSeconds: 3600, rotationIntervalMinutes: 1 }).expect(201);
    await request(a.app).put(`/admin/v1/sites/${siteId}/contents/${contentId}/policy`).set(adminA()).send({ policy: 'every-minute' }).expect(200);
    const refused = await rotate(40_000_001);
    expect([refused.status, refused.body.error?.code]).toEqual([400, 'ERR_CPIX_UNSUPPORTED']);
    expect(await keysOf(contentId)).toHaveLength(1);
  });

  it('never lets a token ID with another secret through the cache', async () => {
    expect((await keyRequest()).status).toBe(200);
    const forged = token.replace(/.$/, (last) => (last === 'A' ? 'B' : 'A'));
    const res = await request(b.app).post(`/v2/cpix/pallycon/getKey/${forged}`).set('Content-Type', 'application/xml').send(buildDoveRunnerRequest(freshContentId('forged'), ['HD']).xml);
    expect(res.status).toBe(401);
  });

  it('records the audit trail in the key step: one record per answered request, none for refusals', async () => {
    const contentId = freshContentId('audited');
    expect(await delta(() => keyRequest(contentId), 200)).not.toHaveProperty('audit.append');
    const records = (await a.services.audit.list(siteId, { limit: 500 })).records.filter((record) => record.contentId === contentId);
    expect(records.map((record) => [record.action, record.credentialId, record.keysCreated])).toEqual([['issue', tokenId, 1]]);
  });
});
