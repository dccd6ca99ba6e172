import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRedisServer, stopAllRedisServers, type RedisServer } from '../support/redis-server';
import { bareEnv, createSiteOverHttp, requireBuiltService, signingEnv, spawnService, type ServiceProcess } from '../support/service-process';

/**
 * The built service in production mode on Redis: it reports Redis's durability settings at start,
 * refuses to start on unsafe settings when told to, and keeps its sites across a restart.
 */
describe('production start on Redis', () => {
  const adminToken = randomBytes(32).toString('base64url');
  const masterKey = randomBytes(32).toString('base64');
  const productionEnv = (port: number, extra: Record<string, string> = {}) =>
    bareEnv({
      NODE_ENV: 'production',
      STORE: `redis://127.0.0.1:${port}`,
      MASTER_KEY: masterKey,
      ADMIN_TOKEN: adminToken,
      ...signingEnv(cwd),
      ...extra,
    });
  let cwd: string;
  let volatile: RedisServer;
  let durable: RedisServer;
  const services: ServiceProcess[] = [];

  beforeAll(async () => {
    requireBuiltService();
    cwd = mkdtempSync(join(tmpdir(), 'cpix-kms-redis-start-'));
    [volatile, durable] = await Promise.all([
      startRedisServer({ appendonly: false }),
      startRedisServer({ appendonly: true, appendfsync: 'always' }),
    ]);
  });
  afterAll(async () => {
    for (const service of services) if (service.child.exitCode === null) service.child.kill('SIGKILL');
    await stopAllRedisServers();
    rmSync(cwd, { recursive: true, force: true });
  });

  const start = (env: NodeJS.ProcessEnv) => {
    const service = spawnService(cwd, env);
    services.push(service);
    return service;
  };

  it('warns loudly when Redis could lose answered keys, and still serves', async () => {
    const service = start(productionEnv(volatile.port));
    const url = await service.serving();
    expect(service.stdout()).toMatch(/"level":40.*REDIS DURABILITY WARNING: .*AOF is off/);
    expect(service.stderr()).not.toContain('DEVELOPMENT SETUP');
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    service.child.kill('SIGTERM');
    expect(await service.exit()).toBe(0);
  });

  it('refuses to start on those settings with REDIS_REQUIRE_DURABLE=true', async () => {
    const service = start(productionEnv(volatile.port, { REDIS_REQUIRE_DURABLE: 'true' }));
    expect(await service.exit()).toBe(1);
    expect(service.stdout()).toMatch(/start failed: REDIS_REQUIRE_DURABLE=true but Redis could lose answered keys/);
  });

  it('starts without warnings on AOF with appendfsync always, and keeps its sites across a restart', async () => {
    const env = productionEnv(durable.port, { REDIS_REQUIRE_DURABLE: 'true' });
    const first = start(env);
    const url = await first.serving();
    expect(first.stdout()).not.toContain('REDIS DURABILITY WARNING');
    const created = await createSiteOverHttp(url, adminToken, 'on redis');
    first.child.kill('SIGTERM');
    expect(await first.exit()).toBe(0);

    const second = start(env);
    const secondUrl = await second.serving();
    const site = await fetch(`${secondUrl}/admin/v1/sites/${created.id}`, { headers: { Authorization: `Bearer ${adminToken}` } });
    expect(site.status).toBe(200);
    second.child.kill('SIGTERM');
    expect(await second.exit()).toBe(0);
    expect(first.stdout() + second.stdout()).not.toContain(adminToken);
  });
});
