import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCpix } from '../support/pallycon-cpix';
import { RECONNECT_DELAY_MAX_MS } from '../../src/store/redis/client';
import { sendRaw, startRedisServer, stopAllRedisServers, type RedisServer } from '../support/redis-server';
import { createSiteOverHttp, requireBuiltService, productionEnv, type ServiceProcess, spawnService } from '../support/service-process';
import { freshContentId, readAwslabs, withContentId } from '../support/speke-http';

/**
 * Redis failing under load (docs/testing.md, Reliability and security suite): the built service in
 * production mode on a private redis-server that is stopped (SIGTERM), SIGKILLed and paused (SIGSTOP)
 * while a steady stream of SPEKE v2 requests for new contents runs. During an outage every answer is
 * 503 with a numeric Retry-After, without waiting on Redis (a packager must be able to fail over or
 * retry, not sit on a hung socket), never a 200 missing keys and never another 5xx; /readyz reports 503
 * so a load balancer drains the pod. When Redis is back the service reconnects by itself, on every
 * worker, and every key it answered before the outage is answered again unchanged.
 *
 * Every phase waits for what it needs (answers of the load, a process exit, a reply) rather than
 * for a fixed time, and the bounds on those waits are generous: they only name the step that hung.
 * How fast the service recovers is a speed figure, measured by `npm run bench` (its target: a
 * second); here it is printed, not asserted.
 */

/** One key per track, Widevine only: the lightest realistic SPEKE v2 request among the AWS vectors. */
const LOAD_VECTOR = 'generated/live/test_case_2_p_v_3_a_2/1_widevine.xml';
/** Requests in flight at once: "a few", as a handful of packagers would send. */
const LOAD_CONCURRENCY = 4;
/** REDIS_WAIT_TIMEOUT_MS as the service is started here (its default, set explicitly to pin the figure below). */
const REDIS_WAIT_TIMEOUT_MS = 1000;
/** The service's Redis command timeout: max(2000, REDIS_WAIT_TIMEOUT_MS + 1000) ms (src/store/open-store.ts). */
const REDIS_COMMAND_TIMEOUT_MS = Math.max(2000, REDIS_WAIT_TIMEOUT_MS + 1000);
/**
 * "Never a hang" while Redis is stopped or killed: it refuses connections, so an answer comes from the
 * failure path without waiting on any command timeout. Anything that took a whole command timeout
 * waited on Redis.
 */
const OUTAGE_ANSWER_LIMIT_MS = REDIS_COMMAND_TIMEOUT_MS;
/**
 * While Redis hangs (SIGSTOP) a request costs one command timeout, not more: it is answered before a
 * second timeout could have run out, measured from when it was sent or, for one already in flight,
 * from when Redis went quiet.
 */
const HANG_ANSWER_LIMIT_MS = 2 * REDIS_COMMAND_TIMEOUT_MS;
/** 200s the load must have had before a fault, so that "unchanged after recovery" covers something. */
const MIN_ANSWERED_BEFORE = 10;
/** Answers the load must have had while Redis was away, so that "all 503" covers something. */
const MIN_ANSWERED_DURING = 10;
/** Requests sent and answered while Redis hung: each one waited out a command timeout. */
const MIN_ANSWERED_DURING_PAUSE = 2;
/** Answers after every worker must be back, so that "all 200" covers something. */
const MIN_ANSWERED_AFTER = 5;
/**
 * After the first 200, how long until every worker (each has its own connection) must be back too:
 * each retries at most RECONNECT_DELAY_MAX_MS after the last attempt, so this is many attempts.
 */
const EVERY_WORKER_BACK_MS = 16 * RECONNECT_DELAY_MAX_MS;
/** A recovery not seen after this long is a service that does not recover by itself. */
const RECOVERY_GIVE_UP_MS = 15_000;
/** A request still unanswered after this long is recorded as a hang rather than waited for. */
const CLIENT_GIVE_UP_MS = 10_000;
/**
 * The site's key-creation limit: the largest MAX_KEYS_CREATED_PER_MINUTE allows. The load creates
 * five keys per request as fast as the machine answers, and the three fault tests share the site
 * and often one minute, so the default (10,000) can run out on a fast machine and turn 200s into
 * 429s that have nothing to do with Redis. A limit rather than 0 (none): every request's store
 * script then still reads and writes the site's creation window, as it does in production, so
 * the faults hit that too; four requests at a time cannot create ten million keys a minute.
 */
const KEYS_CREATED_PER_MINUTE = 10_000_000;
/** Bound of each step: generous, it only turns a hung step into a failure that names it. */
const STEP_LIMIT_MS = 30_000;
/** Each test's budget: above its steps' typical sum on a loaded machine, below their bounds' sum. */
const TEST_TIMEOUT_MS = 180_000;

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** SIGTERM (the primary stops its workers), then SIGKILL if it has not exited within `graceMs`. */
async function stopFaultedService(service: ServiceProcess, graceMs = 5000): Promise<void> {
  if (service.child.exitCode !== null || service.child.signalCode !== null) return;
  service.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<false>((done) => {
    timer = setTimeout(() => done(false), graceMs);
  });
  const stopped = await Promise.race([service.exit().then(() => true as const), gaveUp]);
  clearTimeout(timer);
  if (!stopped) service.child.kill('SIGKILL');
}

interface LoadRequest {
  readonly contentId: string;
  readonly kids: readonly string[];
  readonly xml: string;
}

interface Load {
  readonly answers: LoadAnswer[];
  /** Resolves as soon as `enough(answers)` holds, checked now and after every new answer. */
  until(enough: (answers: readonly LoadAnswer[]) => boolean): Promise<void>;
  /** Stops sending and resolves with every answer once the requests in flight are answered. */
  stop(): Promise<LoadAnswer[]>;
}

interface LoadAnswer {
  readonly request: LoadRequest;
  /** 0 when no HTTP answer came (connection error, or no answer within CLIENT_GIVE_UP_MS). */
  readonly status: number;
  readonly retryAfter: string | null;
  readonly body: string;
  readonly startedAt: number;
  readonly endedAt: number;
  readonly failure?: string;
}

const vectorXml = readAwslabs(LOAD_VECTOR);
const vectorKids = [...new Set([...vectorXml.matchAll(/\bkid="([^"]+)"/g)].map((match) => match[1] as string))];

/** The vector with a fresh content ID and fresh KIDs, so each request creates keys nobody asked for before. */
function freshLoadRequest(): LoadRequest {
  const contentId = freshContentId('faults');
  let xml = withContentId(vectorXml, contentId);
  const kids = vectorKids.map((kid) => {
    const fresh = randomUUID();
    xml = xml.split(`"${kid}"`).join(`"${fresh}"`);
    return fresh;
  });
  return { contentId, kids, xml };
}

/** `kid → key hex` of a 200 body, or the reason it does not carry exactly the requested keys. */
function answeredKeys(answer: LoadAnswer): Record<string, string> | string {
  let view: ReturnType<typeof readCpix>;
  try {
    view = readCpix(answer.body);
  } catch (error) {
    return `body does not parse: ${(error as Error).message}`;
  }
  if (view.contentId !== answer.request.contentId) return 'answer is for another content';
  const keys: Record<string, string> = {};
  for (const key of view.contentKeys) {
    if (key.key?.length !== 16) return `ContentKey ${key.kid} has no 16-byte key`;
    keys[key.kid.toLowerCase()] = key.key.toString('hex');
  }
  const missing = answer.request.kids.filter((kid) => keys[kid] === undefined);
  if (missing.length > 0 || Object.keys(keys).length !== answer.request.kids.length) return `keys missing for ${missing.join(', ')}`;
  return keys;
}

/** Whether two `answeredKeys` results name the same keys for the same KIDs (order aside). */
function sameKeys(a: Record<string, string> | string, b: Record<string, string> | string): boolean {
  if (typeof a === 'string' || typeof b === 'string') return false;
  const sorted = (keys: Record<string, string>) => JSON.stringify(Object.entries(keys).sort(([x], [y]) => x.localeCompare(y)));
  return sorted(a) === sorted(b);
}

/** Answers that break the outage contract, described without their bodies (a 200 body holds keys). */
function contractBreaches(answers: readonly LoadAnswer[], limitMs: number): string[] {
  return answers.flatMap((answer) => {
    const took = Math.round(answer.endedAt - answer.startedAt);
    const where = `${answer.request.contentId} (${took} ms)`;
    if (answer.status === 0) return [`${where}: no answer: ${answer.failure ?? ''}`];
    if (took > limitMs) return [`${where}: answered ${answer.status} after more than ${limitMs} ms`];
    if (answer.status === 503) return /^\d+$/.test(answer.retryAfter ?? '') ? [] : [`${where}: 503 without a numeric Retry-After`];
    if (answer.status === 200) {
      const keys = answeredKeys(answer);
      return typeof keys === 'string' ? [`${where}: 200 but ${keys}`] : [];
    }
    return [`${where}: status ${answer.status}`];
  });
}

describe('SPEKE on a failing Redis', () => {
  const adminToken = randomBytes(32).toString('base64url');
  let cwd: string;
  let redis: RedisServer;
  let service: ServiceProcess;
  let url: string;
  let kmsToken: string;
  /** Every 200 of the whole file, checked once more at the end. */
  const answeredWithKeys: LoadAnswer[] = [];

  async function sendSpeke(request: LoadRequest): Promise<LoadAnswer> {
    const startedAt = performance.now();
    try {
      const res = await fetch(`${url}/speke/v2.0/copyProtection`, {
        method: 'POST',
        headers: { authorization: `Bearer ${kmsToken}`, 'content-type': 'application/xml', 'x-speke-version': '2.0' },
        body: request.xml,
        signal: AbortSignal.timeout(CLIENT_GIVE_UP_MS),
      });
      const body = await res.text();
      const answer = { request, status: res.status, retryAfter: res.headers.get('retry-after'), body, startedAt, endedAt: performance.now() };
      if (answer.status === 200) answeredWithKeys.push(answer);
      return answer;
    } catch (error) {
      return { request, status: 0, retryAfter: null, body: '', startedAt, endedAt: performance.now(), failure: String(error) };
    }
  }

  /** GET /readyz; status 0 when no answer came within CLIENT_GIVE_UP_MS (reported by the caller's checks). */
  async function readyz(): Promise<{ status: number; retryAfter: string | null; tookMs: number }> {
    const startedAt = performance.now();
    try {
      const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(CLIENT_GIVE_UP_MS) });
      await res.arrayBuffer();
      return { status: res.status, retryAfter: res.headers.get('retry-after'), tookMs: performance.now() - startedAt };
    } catch {
      return { status: 0, retryAfter: null, tookMs: performance.now() - startedAt };
    }
  }

  /**
   * Loads still running. A test that fails or times out leaves its own `finally` unreached while its
   * promise is abandoned; afterEach stops what it left, or the load would go on against a stopped
   * service, piling up connection-refused answers until the test process runs out of memory.
   */
  const runningLoads = new Set<Load>();

  /** LOAD_CONCURRENCY workers, each sending one new-content request after the other until stopped. */
  function startLoad(): Load {
    const answers: LoadAnswer[] = [];
    const waiting = new Set<() => void>();
    let running = true;
    const workers = Array.from({ length: LOAD_CONCURRENCY }, async () => {
      while (running) {
        answers.push(await sendSpeke(freshLoadRequest()));
        for (const check of [...waiting]) check();
        // A request failing at once must not turn this loop into one that starves the timers.
        await new Promise((done) => setImmediate(done));
      }
    });
    const load: Load = {
      answers,
      until(enough) {
        return new Promise((done) => {
          const check = () => {
            if (!enough(answers)) return;
            waiting.delete(check);
            done();
          };
          waiting.add(check);
          check();
        });
      },
      async stop() {
        running = false;
        runningLoads.delete(load);
        await Promise.all(workers);
        return answers;
      },
    };
    runningLoads.add(load);
    return load;
  }

  /**
   * The steps of one test, each bounded: `step` fails with the step that overran and how long every
   * step before it took, plus what the service last complained about.
   */
  function timeline() {
    const done: string[] = [];
    return {
      async step<T>(what: string, limitMs: number, run: () => Promise<T>): Promise<T> {
        const startedAt = performance.now();
        let timer: NodeJS.Timeout | undefined;
        const overran = new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            const steps = done.length > 0 ? done.join(', ') : 'none';
            reject(new Error(`${what}: not done within ${limitMs} ms (steps before: ${steps}); the service last said: ${serviceComplaints().join(' | ')}`));
          }, limitMs);
        });
        try {
          return await Promise.race([run(), overran]);
        } finally {
          clearTimeout(timer);
          done.push(`${what} ${Math.round(performance.now() - startedAt)} ms`);
        }
      },
    };
  }

  /** Until the load has MIN_ANSWERED_BEFORE answers with keys. */
  async function loadWarmedUp(load: Load): Promise<void> {
    await load.until((answers) => answers.filter((a) => a.status === 200).length >= MIN_ANSWERED_BEFORE);
  }

  /** Answers of requests sent at or after `since` (and so answered after it). */
  const sentSince = (answers: readonly LoadAnswer[], since: number) => answers.filter((a) => a.startedAt >= since);

  /** Probes until `probe` answers 200 (a 5 ms pause between probes); when that was. */
  async function firstSuccessAfter(since: number, probe: () => Promise<number>): Promise<number> {
    const deadline = since + RECOVERY_GIVE_UP_MS;
    let last = 0;
    while (performance.now() < deadline) {
      last = await probe();
      if (last === 200) return performance.now();
      await sleep(5);
    }
    throw new Error(`no 200 within ${RECOVERY_GIVE_UP_MS} ms (last ${last}); the service last said: ${serviceComplaints().join(' | ')}`);
  }

  /** The messages of the service's last warnings and errors: what it makes of Redis (logs hold no secrets). */
  function serviceComplaints(): string[] {
    return service
      .stdout()
      .split('\n')
      .filter((line) => /"level":[4-6]0/.test(line) && !/"msg":"request"/.test(line))
      .slice(-4)
      .map((line) => /"msg":"([^"]*)"/.exec(line)?.[1] ?? '');
  }

  /**
   * Waits for the first 200 from /readyz and from SPEKE after `since` (Redis answering again): the
   * service recovered by itself. Prints how long that took (the figure `npm run bench` holds to its
   * target) and returns when both had answered 200.
   */
  async function recovered(what: string, since: number): Promise<number> {
    const [readyAt, spekeAt] = await Promise.all([
      firstSuccessAfter(since, async () => (await readyz()).status),
      firstSuccessAfter(since, async () => (await sendSpeke(freshLoadRequest())).status),
    ]);
    process.stdout.write(
      `redis-faults: ${what}: first 200 ${Math.round(readyAt - since)} ms (/readyz) and ${Math.round(spekeAt - since)} ms (SPEKE) after Redis answered PING again\n`,
    );
    return Math.max(readyAt, spekeAt);
  }

  beforeAll(async () => {
    requireBuiltService();
    cwd = mkdtempSync(join(tmpdir(), 'cpix-kms-redis-faults-'));
    // The documented durable settings: sites and keys must survive the restarts below.
    redis = await startRedisServer({ appendonly: true, appendfsync: 'always' });
    service = spawnService(
      cwd,
      productionEnv(cwd, adminToken, {
        STORE: `redis://127.0.0.1:${redis.port}`,
        REDIS_KEY_PREFIX: `faults${randomBytes(4).toString('hex')}`,
        REDIS_WAIT_TIMEOUT_MS: String(REDIS_WAIT_TIMEOUT_MS),
        MAX_KEYS_CREATED_PER_MINUTE: String(KEYS_CREATED_PER_MINUTE),
      }),
    );
    url = await service.serving();
    kmsToken = (await createSiteOverHttp(url, adminToken, 'redis faults')).token;
  }, 45_000);
  afterEach(async () => {
    await Promise.all([...runningLoads].map((load) => load.stop()));
    // A test that failed half-way may leave Redis paused or down; the next one starts from a running Redis.
    redis.resume();
    if (!(await sendRaw(redis.port, ['PING'], 500).then((reply) => reply.startsWith('+PONG'), () => false))) await redis.restart();
  });
  afterAll(async () => {
    if (service) await stopFaultedService(service);
    await stopAllRedisServers();
    if (cwd) rmSync(cwd, { recursive: true, force: true });
  });

  /**
   * Runs the load, takes Redis away with `takeDown`, keeps the load on for a while, checks /readyz,
   * brings Redis back and measures recovery. Returns the answers by phase.
   */
  async function outageUnderLoad(what: string, takeDown: () => Promise<void>) {
    const steps = timeline();
    const load = startLoad();
    try {
      await steps.step('warm-up load', STEP_LIMIT_MS, () => loadWarmedUp(load));
      const downAt = performance.now();
      // Resolves once the Redis process has exited: from then on nothing listens on its port.
      await steps.step('take Redis down', STEP_LIMIT_MS, takeDown);
      const goneAt = performance.now();
      const readyDuringOutage = await steps.step('load and /readyz during the outage', STEP_LIMIT_MS, async () => {
        await load.until((answers) => sentSince(answers, goneAt).length >= MIN_ANSWERED_DURING);
        return readyz();
      });
      const restartAt = performance.now();
      // Resolves on the first +PONG (polled every 20 ms), i.e. after the AOF is loaded.
      await steps.step('restart Redis', STEP_LIMIT_MS, () => redis.restart());
      const backAt = performance.now();
      const recoveredAt = await steps.step('recovery', STEP_LIMIT_MS, () => recovered(what, backAt));
      const { everyWorkerBackAt, readyAfter, answers } = await steps.step('every worker back', STEP_LIMIT_MS, () =>
        everyWorkerBack(load, recoveredAt),
      );
      return {
        answers,
        before: answers.filter((a) => a.endedAt < downAt),
        during: answers.filter((a) => a.startedAt >= goneAt && a.endedAt < restartAt),
        after: sentSince(answers, everyWorkerBackAt),
        readyDuringOutage,
        readyAfter,
      };
    } finally {
      await steps.step('stop the load', STEP_LIMIT_MS, () => load.stop());
    }
  }

  /**
   * With WORKERS > 1 every worker has its own Redis connection: the first 200 shows one worker back.
   * Keeps the load on until MIN_ANSWERED_AFTER requests were sent once every worker must be back
   * (EVERY_WORKER_BACK_MS after the first 200), probes /readyz a few times more, and stops the load.
   */
  async function everyWorkerBack(load: Load, recoveredAt: number) {
    const everyWorkerBackAt = recoveredAt + EVERY_WORKER_BACK_MS;
    // Only requests sent after that moment count, so this also waits for the moment itself.
    await load.until((answers) => sentSince(answers, everyWorkerBackAt).length >= MIN_ANSWERED_AFTER);
    const readyAfter: number[] = [];
    for (let i = 0; i < 6; i += 1) readyAfter.push((await readyz()).status);
    return { everyWorkerBackAt, readyAfter, answers: await load.stop() };
  }

  function expectOutageContract(run: Awaited<ReturnType<typeof outageUnderLoad>>) {
    // Not vacuous: the load ran before, during and after the outage.
    expect(run.before.filter((a) => a.status === 200).length).toBeGreaterThanOrEqual(MIN_ANSWERED_BEFORE);
    expect(run.during.length).toBeGreaterThanOrEqual(MIN_ANSWERED_DURING);
    expect(run.after.length).toBeGreaterThanOrEqual(MIN_ANSWERED_AFTER);
    // 200 with every key, or 503 with Retry-After, none waiting on Redis; nothing else, ever.
    expect(contractBreaches(run.answers, OUTAGE_ANSWER_LIMIT_MS)).toEqual([]);
    // While Redis is away no key can be stored, so none may be handed out.
    expect(run.during.filter((a) => a.status !== 503).map((a) => a.status)).toEqual([]);
    expect(run.readyDuringOutage.status).toBe(503);
    expect(run.readyDuringOutage.retryAfter).toMatch(/^\d+$/);
    expect(run.readyDuringOutage.tookMs).toBeLessThan(OUTAGE_ANSWER_LIMIT_MS);
    // Recovered by itself (the recovery step waited for a 200), and everywhere, not only on the
    // worker that answered first.
    expect(run.after.filter((a) => a.status !== 200).map((a) => a.status)).toEqual([]);
    expect(run.readyAfter).toEqual([200, 200, 200, 200, 200, 200]);
  }

  it('answers 503 with Retry-After while Redis is stopped (SIGTERM), and recovers by itself', async () => {
    const run = await outageUnderLoad('stopped (SIGTERM)', () => redis.terminate());
    expectOutageContract(run);
  }, TEST_TIMEOUT_MS);

  it('answers 503 with Retry-After while Redis is SIGKILLed, and recovers by itself', async () => {
    const run = await outageUnderLoad('killed (SIGKILL)', () => redis.kill());
    expectOutageContract(run);
  }, TEST_TIMEOUT_MS);

  it('answers 503 within the command timeout while Redis hangs (SIGSTOP), and recovers after SIGCONT', async () => {
    const steps = timeline();
    const load = startLoad();
    await steps.step('warm-up load', STEP_LIMIT_MS, () => loadWarmedUp(load));
    const pausedAt = performance.now();
    redis.pause();
    let resumed = false;
    try {
      // Requests sent into the pause are answered only once their command timed out: waiting for a
      // few of them is waiting at least that long, without guessing how long.
      const [readyDuringPause] = await steps.step('/readyz and load during the pause', STEP_LIMIT_MS, () =>
        Promise.all([readyz(), load.until((answers) => sentSince(answers, pausedAt).length >= MIN_ANSWERED_DURING_PAUSE)]),
      );
      const resumeAt = performance.now();
      redis.resume();
      resumed = true;
      const recoveredAt = await steps.step('recovery', STEP_LIMIT_MS, () => recovered('paused (SIGSTOP) then resumed', resumeAt));
      const { everyWorkerBackAt, readyAfter, answers } = await steps.step('every worker back', STEP_LIMIT_MS, () =>
        everyWorkerBack(load, recoveredAt),
      );
      const after = sentSince(answers, everyWorkerBackAt);

      const during = answers.filter((a) => a.startedAt >= pausedAt && a.endedAt < resumeAt);
      expect(answers.filter((a) => a.endedAt < pausedAt && a.status === 200).length).toBeGreaterThanOrEqual(MIN_ANSWERED_BEFORE);
      const late = [
        ...answers
          .filter((a) => a.endedAt - Math.max(a.startedAt, pausedAt) >= HANG_ANSWER_LIMIT_MS)
          .map((a) => `SPEKE ${a.status} sent ${Math.round(a.startedAt - pausedAt)} ms into the pause took ${Math.round(a.endedAt - a.startedAt)} ms`),
        ...(readyDuringPause.tookMs >= HANG_ANSWER_LIMIT_MS
          ? [`/readyz ${readyDuringPause.status} sent at the pause took ${Math.round(readyDuringPause.tookMs)} ms`]
          : []),
      ];
      expect(late).toEqual([]);
      // Not vacuous: requests were sent and answered while Redis hung.
      expect(during.length).toBeGreaterThanOrEqual(MIN_ANSWERED_DURING_PAUSE);
      // Status, Retry-After and complete 200s (latency is the check above).
      expect(contractBreaches(answers, CLIENT_GIVE_UP_MS)).toEqual([]);
      expect(during.filter((a) => a.status !== 503).map((a) => a.status)).toEqual([]);
      expect(readyDuringPause.status).toBe(503);
      // Recovered by itself (the recovery step waited for a 200), on every worker.
      expect(after.length).toBeGreaterThanOrEqual(MIN_ANSWERED_AFTER);
      expect(after.filter((a) => a.status !== 200).map((a) => a.status)).toEqual([]);
      expect(readyAfter).toEqual([200, 200, 200, 200, 200, 200]);
    } finally {
      if (!resumed) redis.resume();
      await steps.step('stop the load', STEP_LIMIT_MS, () => load.stop());
    }
  }, TEST_TIMEOUT_MS);

  it('answers every key it handed out before the outages again, unchanged', async () => {
    const handedOut = [...answeredWithKeys];
    expect(handedOut.length).toBeGreaterThanOrEqual(30);
    const changed: string[] = [];
    for (let i = 0; i < handedOut.length; i += 8) {
      await Promise.all(
        handedOut.slice(i, i + 8).map(async (first) => {
          const again = await sendSpeke(first.request);
          const before = answeredKeys(first);
          const after = again.status === 200 ? answeredKeys(again) : `status ${again.status}`;
          // Compared here and reported by content ID only: the keys themselves stay out of the output.
          if (!sameKeys(before, after)) changed.push(first.request.contentId);
        }),
      );
    }
    expect(changed).toEqual([]);
  }, TEST_TIMEOUT_MS);
});
