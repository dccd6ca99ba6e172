/**
 * When a process's cache entry expires while many requests are in flight, they share one store read
 * (and one master-key unwrap), and a token's last use is written once: before, every request that
 * missed at that moment read the token, its site and the site's keys again (the bench counted up to
 * eight of each per expiry at 16 connections), and with AWS KMS every one of them was a Decrypt call.
 * The store is real (SQLite); the wrapper only counts calls and holds them until the test lets go,
 * so that the requests are certainly in flight together.
 */

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MasterKeyProvider } from '../../src/crypto/kms/master-key';
import { Unauthenticated } from '../../src/errors';
import { createPolicyCache } from '../../src/content-policy/policy-cache';
import { createPolicyService } from '../../src/content-policy/policy-service';
import { AUTHENTICATION_CACHE_TTL_MS } from '../../src/sites/site-service';
import { TOKEN_TOUCH_INTERVAL_MS } from '../../src/sites/kms-token';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store';
import type { Store } from '../../src/store/store';
import { buildServices, testMasterKey } from '../support/services';

/** Calls by name; while `held`, each counted call waits for `release()` before it runs. */
function gate() {
  const calls = new Map<string, number>();
  let held = false;
  let waiting: (() => void)[] = [];
  const pass = async (name: string) => {
    calls.set(name, (calls.get(name) ?? 0) + 1);
    if (held) await new Promise<void>((go) => waiting.push(go));
  };
  return {
    calls,
    pass,
    hold: () => {
      held = true;
      calls.clear();
    },
    release: () => {
      held = false;
      for (const go of waiting) go();
      waiting = [];
    },
  };
}

/** Starts `count` calls of `call`, each from a macrotask of its own, as HTTP requests arrive. */
async function inFlightTogether<T>(count: number, call: (i: number) => Promise<T>): Promise<Promise<T>[]> {
  const started: Promise<T>[] = [];
  for (let i = 0; i < count; i += 1) {
    await new Promise((next) => setImmediate(next));
    started.push(call(i));
  }
  await new Promise((next) => setImmediate(next));
  return started;
}

describe('an expired cache entry under concurrent requests', () => {
  const g = gate();
  let now = Date.UTC(2026, 11, 7, 12);
  let store: Store;
  let services: ReturnType<typeof buildServices>;
  let siteId: string;
  let token: string;

  beforeAll(async () => {
    const base = openSqliteStore(join(mkdtempSync(join(tmpdir(), 'cpix-kms-single-flight-')), 'store.db'));
    const held = <F extends (...args: never[]) => Promise<unknown>>(name: string, method: F): F =>
      (async (...args: Parameters<F>) => {
        await g.pass(name);
        return method(...args);
      }) as F;
    const { sites, policies } = base;
    store = {
      ...base,
      policies: { ...policies, sources: held('sources', policies.sources.bind(policies)) },
      sites: {
        ...sites,
        getToken: held('getToken', sites.getToken.bind(sites)),
        getSite: held('getSite', sites.getSite.bind(sites)),
        touchToken: held('touchToken', sites.touchToken.bind(sites)),
      },
    };
    const masterKey = testMasterKey();
    const counted: MasterKeyProvider = { ...masterKey, unwrapSiteKey: held('unwrapSiteKey', masterKey.unwrapSiteKey.bind(masterKey)) };
    services = buildServices(store, counted, { authenticationClock: () => new Date(now) });
    const created = await services.sites.createSite({ name: 'single flight' });
    siteId = created.site.id;
    token = created.token.token;
    await services.sites.authenticate(token);
  });
  afterAll(() => store.close());
  afterEach(() => g.release());

  it('reads the token and its site once for all the requests that missed together, each checked against its own secret', async () => {
    now += AUTHENTICATION_CACHE_TTL_MS;
    g.hold();
    const wrongSecret = `${token.slice(0, -4)}${token.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
    const started = await inFlightTogether(8, (i) => services.sites.authenticate(i === 3 ? wrongSecret : token));
    g.release();
    const outcomes = await Promise.allSettled(started);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
    expect((outcomes[3] as PromiseRejectedResult).reason).toBeInstanceOf(Unauthenticated);
    expect([g.calls.get('getToken'), g.calls.get('getSite')]).toEqual([1, 1]);
  });

  it('gives a fresh authentication (after its key step found the site changed) a read of its own', async () => {
    now += AUTHENTICATION_CACHE_TTL_MS;
    g.hold();
    const started = await inFlightTogether(2, (i) => services.sites.authenticate(token, { fresh: i === 1 }));
    g.release();
    await Promise.all(started);
    expect(g.calls.get('getToken')).toBe(2);
  });

  it("writes a token's last use once, not once per request in flight while it is written", async () => {
    now += TOKEN_TOUCH_INTERVAL_MS;
    await services.sites.authenticate(token);
    now += TOKEN_TOUCH_INTERVAL_MS;
    g.hold();
    const started = await inFlightTogether(8, () => services.sites.authenticate(token));
    g.release();
    await Promise.all(started);
    expect(g.calls.get('touchToken')).toBe(1);
  });

  it('unwraps an expired site key once for all the requests that need it together', async () => {
    now += 60_000;
    g.hold();
    const started = await inFlightTogether(8, () => services.siteKeys.currentSiteKey(siteId));
    g.release();
    const keys = await Promise.all(started);
    expect(new Set(keys.map(({ key }) => key.toString('hex'))).size).toBe(1);
    expect(g.calls.get('unwrapSiteKey')).toBe(1);
  });

  it("reads a content's policy once for the rotating requests that ask for it together", async () => {
    const cache = createPolicyCache(createPolicyService({ repository: store.policies }), () => new Date(now));
    g.hold();
    const started = await inFlightTogether(8, () => cache.policyAt(siteId, 0, 'live-channel'));
    g.release();
    expect(await Promise.all(started)).toEqual(Array(8).fill(undefined));
    expect(g.calls.get('sources')).toBe(1);
  });

  it('lets the next request read again when the shared read failed, and gives every waiter the failure', async () => {
    now += AUTHENTICATION_CACHE_TTL_MS;
    const failing = services.sites;
    const original = store.sites.getToken;
    let failOnce = true;
    (store.sites as { getToken: typeof original }).getToken = async (id) => {
      if (failOnce) {
        failOnce = false;
        await g.pass('getToken');
        throw new Error('store unavailable');
      }
      return original(id);
    };
    try {
      g.hold();
      const started = await inFlightTogether(4, () => failing.authenticate(token));
      g.release();
      const outcomes = await Promise.allSettled(started);
      expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected', 'rejected']);
      expect(g.calls.get('getToken')).toBe(1);
      await expect(failing.authenticate(token)).resolves.toMatchObject({ site: { id: siteId } });
    } finally {
      (store.sites as { getToken: typeof original }).getToken = original;
    }
  });
});
