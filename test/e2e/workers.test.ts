import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startRedisServer, stopAllRedisServers, type RedisServer } from '../support/redis-server';
import { childProcessesOf, isRunning, killServiceTree, productionEnv, requireBuiltService, spawnService, type ServiceProcess } from '../support/service-process';

/**
 * WORKERS (use all cores; decision 34 in docs/decisions.md): a primary forks the workers, which share
 * the port; a scrape of /metrics at any worker shows all of them; a worker that dies is replaced;
 * SIGTERM drains them all; a primary that is killed takes its workers with it; workers that cannot
 * start stop the service.
 */
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));


/** One request on its own connection, so the cluster's round robin spreads them over the workers. */
function get(url: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}${path}`, { agent: false, headers: { connection: 'close' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  for (const started = Date.now(); Date.now() - started < timeoutMs; await sleep(50)) if (check()) return;
  throw new Error(`timed out waiting for ${what}`);
}

describe('WORKERS: one primary, several serving processes', () => {
  let cwd: string;
  let redis: RedisServer;
  const services: ServiceProcess[] = [];
  // One master key for the file: every test starts a service on the same Redis, which keeps the check
  // value of the key it was first started with (decision 58), as one deployment's pods share one key.
  const masterKey = randomBytes(32).toString('base64');
  const start = (extra: Record<string, string>) => {
    const service = spawnService(cwd, productionEnv(cwd, randomBytes(32).toString('base64url'), { MASTER_KEY: masterKey, ...extra }));
    services.push(service);
    return service;
  };

  beforeAll(async () => {
    requireBuiltService();
    cwd = mkdtempSync(join(tmpdir(), 'cpix-kms-workers-'));
    redis = await startRedisServer({ appendonly: true, appendfsync: 'always' });
  });
  afterAll(async () => {
    for (const service of services) killServiceTree(service);
    await stopAllRedisServers();
    rmSync(cwd, { recursive: true, force: true });
  });

  it('serves from every worker, aggregates their metrics, replaces a dead worker and drains on SIGTERM', async () => {
    const service = start({ STORE: `redis://127.0.0.1:${redis.port}`, WORKERS: '2' });
    const url = await service.serving();
    const primary = service.child.pid ?? 0;
    // Both listening (serving() waits for that), not only forked: were the first killed while it was the
    // only listener, the primary would close the shared port and a request in that gap would be refused.
    const [first] = childProcessesOf(primary);
    if (first === undefined) throw new Error('no worker');

    const REQUESTS = 40;
    const answers = await Promise.all(Array.from({ length: REQUESTS }, () => get(url, '/healthz')));
    expect(answers.every((answer) => answer.status === 200)).toBe(true);
    // Each worker counts only what it served; the total of all of them proves the scrape aggregates.
    const metrics = await get(url, '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(new RegExp(`^cpix_kms_http_requests_total\\{route="/healthz",dialect="none",status="200"\\} ${REQUESTS}$`, 'm'));

    process.kill(first.pid, 'SIGKILL');
    await until('a replacement worker', () => !isRunning(first) && childProcessesOf(primary).filter(isRunning).length === 2);
    expect(service.stdout()).toMatch(/"msg":"worker exited; starting a new one"/);
    await until('the replacement listening', () => service.workersListening() === 3);
    expect((await get(url, '/readyz')).status).toBe(200);

    const workers = childProcessesOf(primary);
    service.child.kill('SIGTERM');
    expect(await service.exit()).toBe(0);
    expect(workers.filter(isRunning)).toEqual([]);
  }, 40_000);

  it('takes its workers down when the primary is killed', async () => {
    const service = start({ STORE: `redis://127.0.0.1:${redis.port}`, WORKERS: '2' });
    await service.serving();
    const primary = service.child.pid ?? 0;
    await until('two workers', () => childProcessesOf(primary).length === 2);
    const workers = childProcessesOf(primary);
    service.child.kill('SIGKILL');
    await service.exit();
    await until('the workers to exit', () => !workers.some(isRunning));
  }, 30_000);

  it('exits 1 when the workers cannot start (nothing listens on the store port)', async () => {
    const service = start({ STORE: `redis://127.0.0.1:${await freePort()}`, WORKERS: '2' });
    expect(await service.exit()).toBe(1);
    expect(service.stdout()).toMatch(/"msg":"a worker failed to start; stopping the service"/);
  }, 30_000);

  // Last: it kills the file's Redis.
  it('stops, draining the serving worker, when another worker fails to start (decision 94)', async () => {
    const gate = join(cwd, 'second-worker-may-start');
    const service = start({
      STORE: `redis://127.0.0.1:${redis.port}`,
      WORKERS: '2',
      NODE_OPTIONS: `--require ${join(__dirname, '../support/hold-second-worker.cjs')}`,
      HOLD_SECOND_WORKER_UNTIL: gate,
    });
    // Not serving(): the second worker is held. The first one serves alone.
    const url = await service.listening();
    expect((await get(url, '/healthz')).status).toBe(200);

    await redis.kill();
    writeFileSync(gate, '');
    expect(await service.exit()).toBe(1);
    const output = service.stdout();
    expect(output).toMatch(/"worker":2,.*"msg":"a worker failed to start; stopping the service"/);
    expect(output).toMatch(/"msg":"shutting down: draining connections"/);
    expect(output).not.toMatch(/"msg":"worker exited; starting a new one"/);
  }, 30_000);
});
