import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request as httpRequest } from 'node:http';
import { parseStoreUrl } from '../../src/config/store-url';
import { closeRedisClient } from '../../src/store/redis/client';
import { createKeyNames } from '../../src/store/redis/key-names';
import { readCpix } from '../support/pallycon-cpix';
import { keysWithPrefix, openAdminClient, startRedisServer, stopAllRedisServers, type RedisServer } from '../support/redis-server';
import { createSiteOverHttp, requireBuiltService, productionEnv, type ServiceProcess, spawnService } from '../support/service-process';
import { describeWithVectors } from '../support/shared-vectors';
import { freshContentId, readAwslabs, withContentId } from '../support/speke-http';

/**
 * 200 concurrent first requests (docs/testing.md, Reliability and security suite) for one content,
 * spread over two service processes ("pods") sharing one Redis, all asking for the same five KIDs.
 * Exactly one key per KID may exist: every answer carries the same five keys, and the raw store holds
 * one record per KID.
 */
const REQUESTS = 200;
const KEY_PREFIX = 'pods';
const FIVE_KEYS = 'generated/live/test_case_2_p_v_3_a_2/7_widevine_playready_fairplay.xml';

/** A POST on a connection of its own, so all requests are in flight at once (no pool queues them). */
function post(url: string, headers: Record<string, string>, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', agent: false, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describeWithVectors('concurrent first requests over two pods on one Redis', () => {
  const adminToken = randomBytes(32).toString('base64url');
  let cwd: string;
  let redis: RedisServer;
  const pods: ServiceProcess[] = [];
  const urls: string[] = [];

  beforeAll(async () => {
    requireBuiltService();
    cwd = mkdtempSync(join(tmpdir(), 'cpix-kms-pods-'));
    redis = await startRedisServer({ appendonly: true, appendfsync: 'always' });
    // One master key for both pods (productionEnv draws it once): they share the keys in Redis.
    const env = productionEnv(cwd, adminToken, {
      STORE: `redis://127.0.0.1:${redis.port}`,
      REDIS_KEY_PREFIX: KEY_PREFIX,
      // One process per pod: the race is between the pods (WORKERS has its own test).
      WORKERS: '1',
    });
    for (let i = 0; i < 2; i += 1) {
      const pod = spawnService(cwd, env);
      pods.push(pod);
      urls.push(await pod.serving());
    }
  }, 30_000);
  afterAll(async () => {
    for (const pod of pods) if (pod.child.exitCode === null) pod.child.kill('SIGKILL');
    await stopAllRedisServers();
    rmSync(cwd, { recursive: true, force: true });
  });

  it(`gives all ${REQUESTS} first requests the same one key per KID, and stores one record per KID`, async () => {
    const { id: siteId, token } = await createSiteOverHttp(urls[0] ?? '', adminToken, 'two pods');
    const contentId = freshContentId('race');
    const body = withContentId(readAwslabs(FIVE_KEYS), contentId);
    const requestedKids = readCpix(body).contentKeys.map((key) => key.kid);
    expect(requestedKids).toHaveLength(5);

    const answers = await Promise.all(
      Array.from({ length: REQUESTS }, (_, i) =>
        post(`${urls[i % 2]}/speke/copyProtection`, { authorization: `Bearer ${token}`, 'x-speke-version': '2.0', 'content-type': 'application/xml' }, body),
      ),
    );
    // Statuses only, so a failure never prints a body with keys in it.
    expect(answers.map((answer) => answer.status)).toEqual(Array.from({ length: REQUESTS }, () => 200));

    const keysOf = (text: string) => Object.fromEntries(readCpix(text).contentKeys.map((key) => [key.kid, key.key?.toString('hex')]));
    const first = keysOf(answers[0]?.text ?? '');
    expect(Object.keys(first).sort()).toEqual([...requestedKids].sort());
    for (const hex of Object.values(first)) expect(hex).toMatch(/^[0-9a-f]{32}$/);
    const differing = answers.filter((answer) => JSON.stringify(keysOf(answer.text)) !== JSON.stringify(first)).length;
    expect({ answersWithOtherKeys: differing }).toEqual({ answersWithOtherKeys: 0 });
    expect(new Set(Object.values(first)).size).toBe(5);

    // The raw store: exactly one content-key record per KID for this content, nothing else created for it.
    const config = parseStoreUrl(`redis://127.0.0.1:${redis.port}`);
    if (config.kind !== 'redis') throw new Error('not a Redis URL');
    const client = await openAdminClient(config);
    try {
      const names = createKeyNames(KEY_PREFIX).site(siteId);
      const stored = (await keysWithPrefix(client, KEY_PREFIX)).filter((key) => key.startsWith(`${names.tag}:ck:`));
      expect(stored.sort()).toEqual(requestedKids.map((kid) => names.contentKey(contentId, kid)).sort());
    } finally {
      await closeRedisClient(client);
    }
  }, 60_000);
});
