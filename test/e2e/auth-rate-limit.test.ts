import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openAdminClient, startRedisServer, stopAllRedisServers, type RedisServer } from '../support/redis-server';
import { parseStoreUrl } from '../../src/config/store-url';
import type { RedisClient } from '../../src/store/redis/client';
import { productionEnv, requireBuiltService, spawnService, type ServiceProcess } from '../support/service-process';

/**
 * Failed authentications are limited per client address and per credential ID, with the counters in
 * the shared store: two service processes ("pods") on one Redis, where failures on one pod count on
 * the other. Only failures are limited: a valid credential is answered on both pods whatever the
 * counters say (decision 53). X-Forwarded-For (one trusted proxy hop) stands in for distinct client
 * addresses, as an ingress would set it (or an attacker forge it, where the ingress passes it on).
 */
describe('authentication-failure limits shared across pods', () => {
  const PER_ADDRESS = 5;
  const PER_CREDENTIAL = 8;
  // Long enough that no window closes while a test runs: the window closing is tested on an injected clock (unit tests).
  const WINDOW_SECONDS = 60;
  const adminToken = randomBytes(32).toString('base64url');
  const keyPrefix = `ratelimit${randomBytes(4).toString('hex')}`;
  let cwd: string;
  let redis: RedisServer;
  let raw: RedisClient;
  const pods: ServiceProcess[] = [];
  const urls: string[] = [];
  let siteId: string;
  let token: string;
  let otherToken: string;
  let addressCounter = 0;
  /** A client address no earlier request used (TEST-NET-3, RFC 5737). */
  const freshAddress = () => `203.0.113.${(addressCounter += 1)}`;

  const admin = (pod: number, path: string, init: RequestInit = {}, address = '198.51.100.1') =>
    fetch(`${urls[pod]}/admin/v1${path}`, {
      ...init,
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json', 'x-forwarded-for': address, ...init.headers },
    });
  /** A SPEKE request with an empty body: past authentication it is refused with 400, so 400 means "let in". */
  const speke = (pod: number, credential: string, address: string) =>
    fetch(`${urls[pod]}/speke/copyProtection`, {
      method: 'POST',
      headers: { authorization: `Bearer ${credential}`, 'content-type': 'application/xml', 'x-forwarded-for': address },
      body: '',
    });
  const unknownToken = () => `kms1.${randomBytes(12).toString('base64url')}.${randomBytes(32).toString('base64url')}`;
  const wrongSecret = (credential: string) => `${credential.slice(0, credential.lastIndexOf('.'))}.${randomBytes(32).toString('base64url')}`;

  beforeAll(async () => {
    requireBuiltService();
    cwd = mkdtempSync(join(tmpdir(), 'cpix-kms-rate-limit-'));
    redis = await startRedisServer({ appendonly: false });
    // One master key for both pods (productionEnv draws it once): they share the sites in Redis.
    const env = productionEnv(cwd, adminToken, {
      STORE: `redis://127.0.0.1:${redis.port}`,
      REDIS_KEY_PREFIX: keyPrefix,
      TRUST_PROXY_HOPS: '1',
      AUTH_FAILURES_PER_ADDRESS: String(PER_ADDRESS),
      AUTH_FAILURES_PER_CREDENTIAL: String(PER_CREDENTIAL),
      AUTH_FAILURE_WINDOW_SECONDS: String(WINDOW_SECONDS),
    });
    for (let i = 0; i < 2; i += 1) {
      const pod = spawnService(cwd, env);
      pods.push(pod);
      const url = await pod.serving();
      urls.push(url);
    }
    const store = parseStoreUrl(`redis://127.0.0.1:${redis.port}`);
    if (store.kind !== 'redis') throw new Error('not a redis URL');
    raw = await openAdminClient(store);
    const created = (await (await admin(0, '/sites', { method: 'POST', body: JSON.stringify({ name: 'rate-limited' }) })).json()) as {
      site: { id: string };
      token: { token: string };
    };
    siteId = created.site.id;
    token = created.token.token;
    const second = (await (await admin(1, `/sites/${siteId}/tokens`, { method: 'POST', body: '{}' })).json()) as { token: string };
    otherToken = second.token;
  });
  afterAll(async () => {
    await raw?.quit();
    for (const pod of pods) if (pod.child.exitCode === null) pod.child.kill('SIGKILL');
    await stopAllRedisServers();
    rmSync(cwd, { recursive: true, force: true });
  });

  it('refuses failures from an address past its limit on both pods, and answers a valid token from it on both', async () => {
    // Every client behind one ingress shares an address: a flood of bad tokens from it…
    const address = freshAddress();
    for (let i = 0; i < PER_ADDRESS; i += 1) {
      // A different unknown credential each time: the address limit, not the credential one, is what bites.
      expect((await speke(i % 2, unknownToken(), address)).status).toBe(401);
    }
    for (const pod of [0, 1]) {
      const refused = await speke(pod, unknownToken(), address);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(WINDOW_SECONDS);
      // SPEKE routes answer errors as plain text; the message names no token.
      expect(await refused.text()).toBe('too many failed authentications; retry later');
      // …does not refuse the valid token of another client behind the same ingress.
      expect((await speke(pod, token, address)).status).toBe(400);
    }
  });

  it('refuses failures for a token ID past its limit from many (forged) addresses, and answers the token itself', async () => {
    for (let i = 0; i < PER_CREDENTIAL; i += 1) {
      expect((await speke(i % 2, wrongSecret(otherToken), freshAddress())).status).toBe(401);
    }
    expect((await speke(1, wrongSecret(otherToken), freshAddress())).status).toBe(429);
    for (const pod of [0, 1]) expect((await speke(pod, otherToken, freshAddress())).status).toBe(400);
  });

  it('counts admin failures apart from the key routes, and answers the admin token past its own limit', async () => {
    const address = freshAddress();
    const licenseFailure = await fetch(`${urls[0]}/license/v1/sites/${siteId}/contents/movie`, {
      headers: { authorization: `Bearer lsc1.${randomBytes(12).toString('base64url')}.${randomBytes(32).toString('base64url')}`, 'x-forwarded-for': address },
    });
    expect(licenseFailure.status).toBe(401);
    for (let i = 1; i <= PER_ADDRESS; i += 1) expect((await speke(i % 2, unknownToken(), address)).status).toBe(i < PER_ADDRESS ? 401 : 429);
    // The key routes' failures left the admin counter of this address untouched.
    for (let i = 0; i < PER_ADDRESS; i += 1) {
      expect((await admin(i % 2, '/sites', { headers: { authorization: `Bearer ${randomBytes(32).toString('base64url')}` } }, address)).status).toBe(401);
    }
    const refused = await admin(1, '/sites', { headers: { authorization: `Bearer ${randomBytes(32).toString('base64url')}` } }, address);
    expect(refused.status).toBe(429);
    expect(await refused.json()).toEqual({
      error: { code: 'ERR_RATE_LIMITED', message: 'too many failed authentications; retry later', requestId: expect.any(String) },
    });
    for (const pod of [0, 1]) expect((await admin(pod, '/sites', {}, address)).status).toBe(200);
  });

  it('keeps the counters in Redis, self-expiring, named by address and token ID only', async () => {
    const address = freshAddress();
    await speke(0, wrongSecret(token), address);
    const keys = await raw.keys(`${keyPrefix}:auth-failures:*`);
    const tokenId = token.split('.')[1] ?? '';
    expect(keys).toEqual(expect.arrayContaining([`${keyPrefix}:auth-failures:addr%3Akey%3A${address}`, `${keyPrefix}:auth-failures:cred%3Akms1.${tokenId}`]));
    for (const key of keys) {
      expect(key).not.toContain(token.split('.')[2]);
      expect(await raw.pttl(key)).toBeGreaterThan(0);
    }
  });
});
