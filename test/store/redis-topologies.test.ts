import { randomUUID } from 'node:crypto';
import { Cluster } from 'ioredis';
import { parseStoreUrl, type RedisStoreConfig } from '../../src/config/store-url';
import { parseKeyId } from '../../src/keys/key-id';
import { closeRedisClient } from '../../src/store/redis/client';
import { checkRedisDurability } from '../../src/store/redis/durability';
import { openRedisStore, type RedisStore } from '../../src/store/redis/redis-store';
import {
  keysWithPrefix,
  openAdminClient,
  redisHarness,
  startRedisCluster,
  startRedisServer,
  startSentinel,
  stopAllRedisServers,
  uniqueKeyPrefix,
  type RedisServer,
} from '../support/redis-server';
import { buildServices, testCertificate, testMasterKey } from '../support/services';
import { describeStoreContract } from './store-contract';

// Private redis-server processes only; nothing here touches the shared Redis.
jest.setTimeout(30_000);
afterAll(stopAllRedisServers);

const urlOf = (scheme: string, servers: readonly RedisServer[], path = '') =>
  `${scheme}://${servers.map((s) => `${s.host}:${s.port}`).join(',')}${path}`;

function redisConfig(url: string): RedisStoreConfig {
  const config = parseStoreUrl(url);
  if (config.kind !== 'redis') throw new Error('expected a redis URL');
  return config;
}

const newKid = () => parseKeyId(randomUUID());

describe('Redis Cluster (3 private masters)', () => {
  let config: RedisStoreConfig;
  beforeAll(async () => {
    config = redisConfig(urlOf('redis+cluster', await startRedisCluster(3)));
  });

  describeStoreContract('redis cluster', () => redisHarness(config));

  it('keeps every key of a site in one slot, whatever characters its content IDs hold', async () => {
    const keyPrefix = uniqueKeyPrefix();
    const store = await openRedisStore(config, { keyPrefix });
    const admin = await openAdminClient(config);
    try {
      const services = buildServices(store, testMasterKey());
      const siteIds: string[] = [];
      for (let i = 0; i < 4; i += 1) {
        const { site } = await services.sites.createSite({ name: `slots ${i}` });
        siteIds.push(site.id);
        for (const contentId of ['plain', 'a:b', '{tag}', '}{', 'x}:ck:y', 'ü/ß %41']) {
          const kid = newKid();
          await services.contentKeys.getOrCreate(site.id, { contentId, kid });
          expect((await store.contentKeys.listByContent(site.id, contentId)).map((k) => k.kid)).toEqual([kid]);
        }
        await services.contentKeys.rotateSiteKey(site.id);
      }

      const keys = await keysWithPrefix(admin, keyPrefix);
      const slotsBySite = new Map<string, Set<number>>();
      for (const key of keys.filter((k) => k.startsWith('{'))) {
        const tag = key.slice(0, key.indexOf('}') + 1);
        const slot = Number(await (admin as Cluster).cluster('KEYSLOT', key));
        slotsBySite.set(tag, (slotsBySite.get(tag) ?? new Set()).add(slot));
      }
      expect([...slotsBySite.keys()].sort()).toEqual(siteIds.map((id) => `{${keyPrefix}:${id}}`).sort());
      for (const slots of slotsBySite.values()) expect(slots.size).toBe(1);
    } finally {
      await store.close();
      await closeRedisClient(admin);
    }
  });

  it('reports durability per master', async () => {
    const store = await openRedisStore(config, { keyPrefix: uniqueKeyPrefix() });
    try {
      const findings = await checkRedisDurability(store, 0);
      const aofWarnings = findings.filter((f) => f.level === 'warn' && f.message.includes('AOF is off'));
      expect(aofWarnings).toHaveLength(3);
      for (const finding of aofWarnings) expect(finding.message).toMatch(/^node 127\.0\.0\.1:\d+: /);
    } finally {
      await store.close();
    }
  });
});

describe('Redis Sentinel (private master and sentinel)', () => {
  let master: RedisServer;
  let config: RedisStoreConfig;
  beforeAll(async () => {
    master = await startRedisServer({ appendonly: true, appendfsync: 'always' });
    const sentinel = await startSentinel(master, 'mymaster');
    config = redisConfig(urlOf('redis+sentinel', [sentinel], '/mymaster'));
  });

  it('gets or creates a key through the Sentinel-resolved master and reads it back on a new connection', async () => {
    const keyPrefix = uniqueKeyPrefix();
    const harness = await redisHarness(config, { keyPrefix });
    const masterKey = testMasterKey();
    const store = (await harness.open()) as RedisStore;
    try {
      const services = buildServices(store, masterKey);
      const { site } = await services.sites.createSite({ name: 'sentinel' });
      const kid = newKid();
      const created = await services.contentKeys.getOrCreate(site.id, { contentId: 'via-sentinel', kid });
      expect(created.created).toBe(true);

      const reopened = await harness.open();
      try {
        const again = await buildServices(reopened, masterKey).contentKeys.getOrCreate(site.id, { contentId: 'via-sentinel', kid });
        expect(again.created).toBe(false);
        expect(again.key.equals(created.key)).toBe(true);
      } finally {
        await reopened.close();
      }
      // The Sentinel resolved the private master: the data is there, and durable on that node alone.
      const direct = await openAdminClient(redisConfig(urlOf('redis', [master])));
      try {
        expect(await keysWithPrefix(direct, keyPrefix)).toContain(`{${keyPrefix}:${site.id}}:site`);
      } finally {
        await closeRedisClient(direct);
      }
      expect((await store.checkDurability()).filter((f) => f.level === 'warn')).toEqual([]);
    } finally {
      await store.close();
      await harness.destroy();
    }
  });
});

describe('durability', () => {
  async function findingsFor(options: Parameters<typeof startRedisServer>[0], waitReplicas = 0) {
    const server = await startRedisServer(options);
    const store = await openRedisStore(redisConfig(urlOf('redis', [server])), { keyPrefix: uniqueKeyPrefix() });
    try {
      return await store.checkDurability(waitReplicas);
    } finally {
      await store.close();
      await server.stop();
    }
  }

  it('warns when AOF is off and writes do not wait for replicas', async () => {
    const findings = await findingsFor({ appendonly: false });
    expect(findings).toContainEqual({ level: 'warn', message: expect.stringContaining('AOF is off (appendonly no)') });
  });

  it('finds nothing to warn about with appendonly yes and appendfsync always', async () => {
    const findings = await findingsFor({ appendonly: true, appendfsync: 'always' });
    expect(findings).toEqual([{ level: 'ok', message: expect.stringContaining('AOF on with appendfsync always') }]);
  });

  it('warns when appendfsync is everysec and writes do not wait for replicas', async () => {
    const findings = await findingsFor({ appendonly: true, appendfsync: 'everysec' });
    expect(findings).toContainEqual({ level: 'warn', message: expect.stringContaining('appendfsync is everysec') });
  });

  it('says appendfsync could not be checked where CONFIG is refused (managed Redis)', async () => {
    const findings = await findingsFor({ appendonly: true, appendfsync: 'always', args: ['--rename-command', 'CONFIG', ''] });
    expect(findings).toContainEqual({ level: 'warn', message: expect.stringContaining('appendfsync could not be checked') });
  });

  it('warns when more WAIT replicas are required than are connected', async () => {
    const findings = await findingsFor({ appendonly: true, appendfsync: 'always' }, 1);
    expect(findings).toContainEqual({
      level: 'warn',
      message: expect.stringContaining('writes WAIT for 1 replica(s) but 0 are connected and in sync'),
    });
  });
});

describe('WAIT for replicas', () => {
  let master: RedisServer;
  let config: RedisStoreConfig;
  beforeAll(async () => {
    // Redis 7 delays a replica's first (diskless) sync by 5 s by default.
    master = await startRedisServer({ appendonly: false, args: ['--repl-diskless-sync-delay', '0'] });
    config = redisConfig(urlOf('redis', [master]));
  });

  it('fails fast with ERR_DURABILITY_NOT_CONFIRMED when no replica acknowledges, leaving the record for a retry', async () => {
    const keyPrefix = uniqueKeyPrefix();
    const masterKey = testMasterKey();
    const plain = await openRedisStore(config, { keyPrefix });
    const waiting = await openRedisStore(config, { keyPrefix, waitReplicas: 1, waitTimeoutMs: 100 });
    try {
      const { site } = await buildServices(plain, masterKey).sites.createSite({ name: 'wait' });
      const kid = newKid();
      const started = Date.now();
      await expect(
        buildServices(waiting, masterKey).contentKeys.getOrCreate(site.id, { contentId: 'unconfirmed', kid }),
      ).rejects.toMatchObject({ code: 'ERR_DURABILITY_NOT_CONFIRMED' });
      expect(Date.now() - started).toBeLessThan(1000);

      const stored = await plain.contentKeys.get(site.id, 'unconfirmed', kid);
      expect(stored).toBeDefined();
      const retried = await buildServices(plain, masterKey).contentKeys.getOrCreate(site.id, { contentId: 'unconfirmed', kid });
      expect(retried.created).toBe(false);
      expect((await plain.contentKeys.get(site.id, 'unconfirmed', kid))?.wrappedKey).toEqual(stored?.wrappedKey);
    } finally {
      await waiting.close();
      await plain.close();
    }
  });

  it('fails audit appends and license-server writes the same way when no replica acknowledges', async () => {
    const keyPrefix = uniqueKeyPrefix();
    const masterKey = testMasterKey();
    const plain = await openRedisStore(config, { keyPrefix });
    const waiting = await openRedisStore(config, { keyPrefix, waitReplicas: 1, waitTimeoutMs: 100 });
    try {
      const { site } = await buildServices(plain, masterKey).sites.createSite({ name: 'wait audit' });
      const record = {
        at: new Date().toISOString(),
        siteId: site.id,
        action: 'issue',
        credentialId: 'AAAAAAAAAAAAAAAA',
        clientAddress: '127.0.0.1',
        dialect: 'speke-v2.1',
        contentId: 'unconfirmed',
        kids: [],
        periodIndexes: [],
        keysCreated: 0,
        requestId: 'r-1',
      } as const;
      await expect(buildServices(waiting, masterKey).audit.record(record)).rejects.toMatchObject({
        code: 'ERR_DURABILITY_NOT_CONFIRMED',
      });
      await expect(
        buildServices(waiting, masterKey).licenseServers.register(site.id, {
          name: 'unconfirmed',
          certificate: testCertificate('rsa2048'),
        }),
      ).rejects.toMatchObject({ code: 'ERR_DURABILITY_NOT_CONFIRMED' });
    } finally {
      await waiting.close();
      await plain.close();
    }
  });

  it('resolves once a connected replica acknowledges', async () => {
    const replica = await startRedisServer({ args: ['--replicaof', master.host, String(master.port)] });
    const store = await openRedisStore(config, {
      keyPrefix: uniqueKeyPrefix(),
      waitReplicas: 1,
      waitTimeoutMs: 2000,
      commandTimeoutMs: 3000,
    });
    try {
      // The replica may still be syncing; the check counts it once it is online.
      const deadline = Date.now() + 5000;
      while ((await store.checkDurability()).some((f) => f.level === 'warn' && f.message.includes('in sync'))) {
        if (Date.now() > deadline) throw new Error('replica did not connect');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const services = buildServices(store, testMasterKey());
      const { site } = await services.sites.createSite({ name: 'replicated' });
      await expect(services.contentKeys.getOrCreate(site.id, { contentId: 'confirmed', kid: newKid() })).resolves.toMatchObject({
        created: true,
      });
    } finally {
      await store.close();
      await replica.stop();
    }
  });
});
