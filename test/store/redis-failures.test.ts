import { randomUUID } from 'node:crypto';
import { parseStoreUrl, type RedisStoreConfig } from '../../src/config/store-url';
import { ConfigError, DependencyUnavailable } from '../../src/errors';
import { parseKeyId } from '../../src/keys/key-id';
import {
  reconnectDelayMs,
  resolveRedisStoreOptions,
  storeUnavailable,
  RECONNECT_DELAY_MAX_MS,
} from '../../src/store/redis/client';
import { openRedisStore } from '../../src/store/redis/redis-store';
import { freePort, startRedisServer, stopAllRedisServers, uniqueKeyPrefix, type RedisServer } from '../support/redis-server';
import { buildServices, testMasterKey } from '../support/services';

jest.setTimeout(20_000);
afterAll(stopAllRedisServers);

function redisConfig(port: number): RedisStoreConfig {
  const config = parseStoreUrl(`redis://127.0.0.1:${port}`);
  if (config.kind !== 'redis') throw new Error('expected a redis URL');
  return config;
}

async function elapsedMs(run: () => Promise<unknown>): Promise<{ ms: number; error: unknown }> {
  const started = Date.now();
  const error = await run().then(
    () => undefined,
    (e: unknown) => e,
  );
  return { ms: Date.now() - started, error };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('Redis store failures', () => {
  it('refuses to open, quickly, when nothing listens', async () => {
    const port = await freePort();
    const { ms, error } = await elapsedMs(() => openRedisStore(redisConfig(port), { connectTimeoutMs: 500 }));
    expect(error).toBeInstanceOf(DependencyUnavailable);
    expect(error).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE', message: 'key store unavailable' });
    expect(ms).toBeLessThan(1500);
  });

  describe('against a private server', () => {
    let server: RedisServer;
    beforeAll(async () => {
      server = await startRedisServer({ appendonly: true, appendfsync: 'always' });
    });

    it('fails fast while Redis is down, then recovers by itself within about a second of its return', async () => {
      const reported: Error[] = [];
      const store = await openRedisStore(redisConfig(server.port), {
        keyPrefix: uniqueKeyPrefix(),
        onError: (error) => reported.push(error),
      });
      const masterKey = testMasterKey();
      try {
        const services = buildServices(store, masterKey);
        const { site } = await services.sites.createSite({ name: 'outage' });
        const kid = parseKeyId(randomUUID());
        const before = await services.contentKeys.getOrCreate(site.id, { contentId: 'outage', kid });

        await server.kill();
        await sleep(50); // let the client see the connection drop
        for (const call of [
          () => store.ping(),
          () => store.contentKeys.get(site.id, 'outage', kid),
          () => store.contentKeys.getOrCreateAll([{ record: { ...before, siteKeyVersion: 1, wrappedKey: Buffer.alloc(44) }, ivMustMatch: false }]),
          () => store.sites.getToken('no-such-token'),
        ]) {
          const { ms, error } = await elapsedMs(call);
          expect(error).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
          // Rejected without waiting for anything: far below the 2 s command timeout.
          expect(ms).toBeLessThan(250);
        }

        // Down long enough for the reconnection backoff to reach its cap.
        await sleep(1500);
        await server.restart();
        const restarted = Date.now();
        while ((await elapsedMs(() => store.ping())).error !== undefined) {
          if (Date.now() - restarted > 3000) throw new Error('store did not recover');
          await sleep(10);
        }
        // One backoff interval plus a connect; generous for a loaded CI machine.
        expect(Date.now() - restarted).toBeLessThan(RECONNECT_DELAY_MAX_MS + 1000);

        // appendfsync always: the key written before the crash (SIGKILL) is still there, unchanged.
        const after = await buildServices(store, masterKey).contentKeys.get(site.id, 'outage', kid);
        expect(after?.key.equals(before.key)).toBe(true);
        expect(reported.length).toBeGreaterThan(0);
        for (const error of reported) expect(error).not.toHaveProperty('command');
      } finally {
        await store.close();
      }
    });

    it('times out instead of hanging when Redis stops answering', async () => {
      const store = await openRedisStore(redisConfig(server.port), { keyPrefix: uniqueKeyPrefix(), commandTimeoutMs: 300 });
      try {
        server.pause();
        const { ms, error } = await elapsedMs(() => store.sites.getSite('HUNG'));
        expect(error).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
        expect(ms).toBeGreaterThanOrEqual(250);
        expect(ms).toBeLessThan(1000);
      } finally {
        server.resume();
        await store.close();
      }
    });

    it('closes cleanly even when Redis is gone', async () => {
      const store = await openRedisStore(redisConfig(server.port), { keyPrefix: uniqueKeyPrefix() });
      await server.kill();
      const { ms, error } = await elapsedMs(() => store.close());
      expect(error).toBeUndefined();
      expect(ms).toBeLessThan(500);
      await server.restart();
    });
  });

  it('never lets command arguments reach the error it throws', () => {
    const secretArgument = 'c2VjcmV0LXdyYXBwZWQta2V5LWJsb2I=';
    const raw = Object.assign(new Error(`ERR unknown command 'evalsha', with args beginning with: '${secretArgument}' `), {
      name: 'ReplyError',
      command: { name: 'evalsha', args: [secretArgument] },
    });
    const error = storeUnavailable('getOrCreate', raw);
    expect(error).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE', message: 'key store unavailable' });
    expect(error.detail).toBe("redis getOrCreate: ReplyError: ERR unknown command 'evalsha'");
    expect(error.cause).not.toHaveProperty('command');
    expect(JSON.stringify(error)).not.toContain(secretArgument);
    expect(String((error.cause as Error).stack)).not.toContain(secretArgument);
  });

  describe('options', () => {
    it.each([
      ['a prefix with a brace', { keyPrefix: 'a{b}' }, /key prefix/],
      ['a prefix with a glob character', { keyPrefix: 'a*' }, /key prefix/],
      ['an empty prefix', { keyPrefix: '' }, /key prefix/],
      ['negative waitReplicas', { waitReplicas: -1 }, /waitReplicas/],
      ['fractional waitReplicas', { waitReplicas: 1.5 }, /waitReplicas/],
      ['a zero WAIT timeout (would block forever)', { waitTimeoutMs: 0 }, /waitTimeoutMs/],
      ['a zero command timeout', { commandTimeoutMs: 0 }, /commandTimeoutMs/],
      ['a command timeout not above the WAIT timeout', { waitReplicas: 1, waitTimeoutMs: 2000, commandTimeoutMs: 2000 }, /exceed/],
    ])('rejects %s', (_name, options, message) => {
      expect(() => resolveRedisStoreOptions(options)).toThrow(ConfigError);
      expect(() => resolveRedisStoreOptions(options)).toThrow(message);
    });

    it('fills in defaults and keeps given values', () => {
      expect(resolveRedisStoreOptions({ waitReplicas: 1, keyPrefix: undefined })).toMatchObject({
        keyPrefix: 'cpixkms',
        waitReplicas: 1,
        waitTimeoutMs: 1000,
        commandTimeoutMs: 2000,
      });
    });

    it('backs off exponentially to a cap and never gives up', () => {
      expect([1, 2, 3, 4, 5, 50].map(reconnectDelayMs)).toEqual([50, 100, 200, 250, 250, 250]);
    });
  });
});
