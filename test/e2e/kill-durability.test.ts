import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCpix } from '../support/pallycon-cpix';
import { startRedisServer, stopAllRedisServers, type RedisServer } from '../support/redis-server';
import { createSiteOverHttp, killServiceTree, requireBuiltService, productionEnv, type ServiceProcess, spawnService } from '../support/service-process';
import { describeWithVectors } from '../support/shared-vectors';
import { freshContentId, readAwslabs, withContentId } from '../support/speke-http';

/**
 * Durability (docs/testing.md, Reliability and security suite): under load, SIGKILL Redis (with the
 * documented settings: appendonly yes, appendfsync always), SIGKILL every process of the service on
 * Redis, and SIGKILL the service on SQLite; after the restart every key that was answered with 200 is
 * served again byte for byte. The test records every 200 (content → KID → key) and re-requests each
 * content afterwards: the same request must return the same keys, not new ones. (A SIGKILL of Redis
 * leaves the page cache intact, so it proves AOF persistence and that no key is answered before Redis
 * has it; `appendfsync always` is what covers power loss, which no test here can cause. With
 * `appendonly no` this test fails.)
 */
const FIVE_KEYS = 'generated/live/test_case_2_p_v_3_a_2/7_widevine_playready_fairplay.xml';
const IN_FLIGHT = 8;
/** Enough answered requests before the kill that the check cannot pass on an empty record. */
const MIN_ANSWERED = 20;
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

type Keys = Readonly<Record<string, string | undefined>>;

const keysOf = (text: string): Keys => Object.fromEntries(readCpix(text).contentKeys.map((key) => [key.kid, key.key?.toString('base64')]));


describeWithVectors('no answered key is lost to a SIGKILL', () => {
  const adminToken = randomBytes(32).toString('base64url');
  const masterKey = randomBytes(32).toString('base64');
  let cwd: string;
  const services: ServiceProcess[] = [];

  beforeAll(() => {
    requireBuiltService();
    cwd = mkdtempSync(join(tmpdir(), 'cpix-kms-kill-'));
  });
  afterAll(async () => {
    for (const service of services) killServiceTree(service);
    await stopAllRedisServers();
    rmSync(cwd, { recursive: true, force: true });
  });

  const start = async (env: Record<string, string>) => {
    // The same master key on every start: the restarted service must unwrap what the first one stored.
    const service = spawnService(cwd, productionEnv(cwd, adminToken, { MASTER_KEY: masterKey, ...env }));
    services.push(service);
    const url = await service.serving();
    return { service, url };
  };

  const createSite = async (url: string): Promise<string> => (await createSiteOverHttp(url, adminToken, 'killed')).token;

  const speke = async (url: string, token: string, contentId: string) => {
    const res = await fetch(`${url}/speke/copyProtection`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'x-speke-version': '2.0', 'content-type': 'application/xml' },
      body: withContentId(readAwslabs(FIVE_KEYS), contentId),
      signal: AbortSignal.timeout(10_000),
    });
    return { status: res.status, text: await res.text() };
  };

  /**
   * New contents, IN_FLIGHT at a time, until `kill` has run and every request in flight has ended;
   * resolves with the keys of every 200. Requests that fail because of the kill are expected.
   */
  async function loadAcross(url: string, token: string, kill: () => Promise<void>): Promise<Map<string, Keys>> {
    const answered = new Map<string, Keys>();
    let killed = false;
    const worker = async () => {
      while (!killed) {
        const contentId = freshContentId('kill');
        try {
          const answer = await speke(url, token, contentId);
          if (answer.status === 200) answered.set(contentId, keysOf(answer.text));
        } catch {
          // the connection died with the process it was talking to
        }
      }
    };
    const workers = Array.from({ length: IN_FLIGHT }, worker);
    while (answered.size < MIN_ANSWERED * 2) await sleep(20);
    await kill();
    killed = true;
    await Promise.all(workers);
    return answered;
  }

  /** Every recorded content asked for again: the same keys, byte for byte. */
  async function expectSameKeys(url: string, token: string, answered: Map<string, Keys>): Promise<void> {
    expect(answered.size).toBeGreaterThanOrEqual(MIN_ANSWERED);
    const contents = [...answered.keys()];
    const lost: string[] = [];
    for (let i = 0; i < contents.length; i += IN_FLIGHT) {
      await Promise.all(
        contents.slice(i, i + IN_FLIGHT).map(async (contentId) => {
          // Right after a restart one worker may still be reconnecting (503 + Retry-After): a refusal
          // to answer is not a lost key, so retry it for a few seconds before judging.
          let again = await speke(url, token, contentId);
          for (let attempt = 0; again.status === 503 && attempt < 50; attempt += 1) {
            await sleep(100);
            again = await speke(url, token, contentId);
          }
          if (again.status !== 200 || JSON.stringify(keysOf(again.text)) !== JSON.stringify(answered.get(contentId))) lost.push(contentId);
        }),
      );
    }
    // Content IDs only: a mismatch must not print keys.
    expect({ answered: answered.size, changedOrLost: lost }).toEqual({ answered: answered.size, changedOrLost: [] });
  }

  const waitReady = async (url: string) => {
    for (let attempt = 0; attempt < 100; attempt += 1) {
      if ((await fetch(`${url}/readyz`).then((r) => r.status, () => 0)) === 200) return;
      await sleep(100);
    }
    throw new Error('the service did not become ready');
  };

  it('Redis SIGKILLed under load (appendonly yes, appendfsync always), then restarted', async () => {
    const redis: RedisServer = await startRedisServer({ appendonly: true, appendfsync: 'always' });
    const { url } = await start({ STORE: `redis://127.0.0.1:${redis.port}`, REDIS_REQUIRE_DURABLE: 'true' });
    const token = await createSite(url);
    const answered = await loadAcross(url, token, () => redis.kill());
    await redis.restart();
    await waitReady(url);
    await expectSameKeys(url, token, answered);
  }, 60_000);

  it('every process of the service SIGKILLed under load on Redis, then started again', async () => {
    const redis = await startRedisServer({ appendonly: true, appendfsync: 'always' });
    const env = { STORE: `redis://127.0.0.1:${redis.port}`, REDIS_REQUIRE_DURABLE: 'true', WORKERS: '2' };
    const first = await start(env);
    const token = await createSite(first.url);
    const answered = await loadAcross(first.url, token, async () => {
      // The workers that answer and their primary, at once.
      killServiceTree(first.service);
      await first.service.exit();
    });
    const second = await start(env);
    await expectSameKeys(second.url, token, answered);
  }, 60_000);

  it('the service SIGKILLed under load on SQLite, then started again on the same file', async () => {
    const env = { DATA_DIR: join(cwd, 'sqlite-data') };
    const first = await start(env);
    const token = await createSite(first.url);
    const answered = await loadAcross(first.url, token, async () => {
      first.service.child.kill('SIGKILL');
      await first.service.exit();
    });
    const second = await start(env);
    await expectSameKeys(second.url, token, answered);
  }, 60_000);
});
