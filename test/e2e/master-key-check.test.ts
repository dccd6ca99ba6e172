import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createFakeKms, type FakeKms } from '../support/fake-kms';
import { readCpix } from '../support/pallycon-cpix';
import { freePort, sendRaw, startRedisServer, stopAllRedisServers, type RedisServer } from '../support/redis-server';
import {
  bareEnv,
  type CreatedSite,
  createSiteOverHttp,
  killServiceTree,
  productionEnv,
  requireBuiltService,
  spawnService,
  type ServiceProcess,
} from '../support/service-process';

/**
 * The master key is checked against the store (decision 58), with the built service as it runs: a
 * new store gets a check value; a start with another master key (local or AWS KMS, on SQLite or Redis)
 * exits 1 with a message naming the cause before it answers any request; the development setup never
 * creates a master key beside a store that already holds keys; and a store swapped under a running
 * service makes /readyz say so.
 */

const MISMATCH = 'MASTER_KEY does not match the key this store was created with (check value mismatch); refusing to start';
/** A SPEKE v1 request for one key (our own fixture): the key request a refused service must never answer. */
const SPEKE_REQUEST = readFileSync(join(__dirname, '../fixtures/cpix/valid/speke-v1-request-placeholders.xml'), 'utf8');

const newMasterKey = () => randomBytes(32).toString('base64');
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

const createSite = (url: string, adminToken: string): Promise<CreatedSite> => createSiteOverHttp(url, adminToken, 'master key check');

/** The key of the fixture's one KID, as base64; fails the test unless the answer is 200. */
async function spekeKey(url: string, token: string): Promise<string> {
  const res = await fetch(`${url}/speke/copyProtection`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/xml' },
    body: SPEKE_REQUEST,
  });
  const body = await res.text();
  expect(res.status).toBe(200);
  const [key] = readCpix(body).contentKeys;
  expect(key?.key).toHaveLength(16);
  return key?.key?.toString('base64') ?? '';
}

/** SIGTERM and the exit code (0 after a clean drain). */
async function stop(service: ServiceProcess): Promise<number | null> {
  service.child.kill('SIGTERM');
  return service.exit();
}

describe('the master key is checked against the store at every start', () => {
  const adminToken = randomBytes(32).toString('base64url');
  let cwd: string;
  const services: ServiceProcess[] = [];

  beforeAll(() => {
    requireBuiltService();
    cwd = mkdtempSync(join(tmpdir(), 'cpix-kms-master-key-check-'));
  });
  afterAll(async () => {
    for (const service of services) killServiceTree(service);
    await stopAllRedisServers();
    rmSync(cwd, { recursive: true, force: true });
  });

  const spawn = (env: NodeJS.ProcessEnv, dir = cwd) => {
    const service = spawnService(dir, env);
    services.push(service);
    return service;
  };
  const start = async (env: NodeJS.ProcessEnv, dir = cwd) => {
    const service = spawn(env, dir);
    const url = await service.serving();
    return { service, url };
  };

  /**
   * Starts a service that must be refused, on a known port, and sends it key requests until it has
   * exited: the exit code, what it said, and how many requests got any HTTP answer at all.
   */
  async function refusedStart(env: NodeJS.ProcessEnv, token: string, dir = cwd) {
    const port = await freePort();
    const service = spawn({ ...env, PORT: String(port), HOST: '127.0.0.1' }, dir);
    let exited = false;
    const code = service.exit().then((exitCode) => ((exited = true), exitCode));
    let answered = 0;
    let sent = 0;
    while (!exited) {
      sent += 1;
      const status = await fetch(`http://127.0.0.1:${port}/speke/copyProtection`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/xml' },
        body: SPEKE_REQUEST,
        signal: AbortSignal.timeout(5000),
      }).then(
        (res) => res.status,
        () => 0,
      );
      if (status !== 0) answered += 1;
      await sleep(20);
    }
    return { code: await code, output: service.stdout() + service.stderr(), answered, sent };
  }

  describe.each(['sqlite', 'redis'] as const)('on %s', (backend) => {
    let redis: RedisServer | undefined;
    const storeEnv = async (): Promise<Record<string, string>> => {
      if (backend === 'sqlite') return { STORE: `sqlite:${join(cwd, `${backend}-${randomBytes(4).toString('hex')}.db`)}` };
      redis ??= await startRedisServer({ appendonly: true, appendfsync: 'always' });
      return { STORE: `redis://127.0.0.1:${redis.port}`, REDIS_KEY_PREFIX: `mkc${randomBytes(4).toString('hex')}` };
    };

    /** The check value as the store holds it, read past the service. */
    async function storedCheck(env: Record<string, string>): Promise<string | undefined> {
      const store = env['STORE'] ?? '';
      if (store.startsWith('sqlite:')) {
        const file = store.slice('sqlite:'.length);
        if (!existsSync(file)) return undefined;
        const db = new Database(file, { readonly: true });
        try {
          const row = db.prepare('SELECT provider, master_key_id, blob FROM master_key_check').get() as
            | { provider: string; master_key_id: string; blob: Buffer }
            | undefined;
          return row && `${row.provider} ${row.master_key_id} ${row.blob.toString('base64')}`;
        } finally {
          db.close();
        }
      }
      const reply = await sendRaw(Number(new URL(store).port), ['GET', `${env['REDIS_KEY_PREFIX'] ?? ''}:master-key-check`]);
      return reply.startsWith('$-1') ? undefined : reply;
    }

    it('writes a check value into a new store, starts again with the same MASTER_KEY, and refuses another one before answering anything', async () => {
      const env = await storeEnv();
      const masterKey = newMasterKey();
      const production = productionEnv(cwd, adminToken, { ...env, MASTER_KEY: masterKey });
      expect(await storedCheck(env)).toBeUndefined();

      const first = await start(production);
      expect(first.service.stdout()).toContain('"msg":"master key check value written to the new store"');
      const written = await storedCheck(env);
      expect(written).toBeDefined();
      expect(written).not.toContain(masterKey);
      const site = await createSite(first.url, adminToken);
      const key = await spekeKey(first.url, site.token);
      expect(await stop(first.service)).toBe(0);

      const second = await start(production);
      expect(second.service.stdout()).toContain(`"msg":"master key matches the store's check value"`);
      expect((await fetch(`${second.url}/readyz`)).status).toBe(200);
      expect(await spekeKey(second.url, site.token)).toBe(key);
      expect(await stop(second.service)).toBe(0);

      const wrongKey = newMasterKey();
      const refused = await refusedStart(productionEnv(cwd, adminToken, { ...env, MASTER_KEY: wrongKey }), site.token);
      expect(refused.code).toBe(1);
      expect(refused.output).toContain(`start failed: ${MISMATCH}`);
      expect(refused.output).not.toContain('cpix-kms listening');
      expect(refused.sent).toBeGreaterThan(0);
      expect(refused.answered).toBe(0);
      for (const secret of [wrongKey, masterKey, Buffer.from(wrongKey, 'base64').toString('hex')]) {
        expect(refused.output).not.toContain(secret);
      }
      // The refused start changed nothing: the store still opens with its own key and serves the same key.
      expect(await storedCheck(env)).toBe(written);
      const third = await start(production);
      expect(await spekeKey(third.url, site.token)).toBe(key);
      expect(await stop(third.service)).toBe(0);
    }, 60_000);
  });

  describe('with the AWS KMS master key', () => {
    let kms: FakeKms;
    beforeAll(async () => {
      kms = createFakeKms();
      await kms.start();
    });
    afterAll(async () => {
      await kms?.stop();
    });

    const awsEnv = (store: string, keyId: string) =>
      productionEnv(cwd, adminToken, {
        STORE: store,
        MASTER_KEY_PROVIDER: 'aws-kms',
        AWS_KMS_KEY_ID: keyId,
        AWS_REGION: kms.region,
        AWS_KMS_ENDPOINT: kms.endpoint,
        AWS_ACCESS_KEY_ID: kms.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: kms.credentials.secretAccessKey,
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_CONFIG_FILE: join(cwd, 'no-aws-config'),
        AWS_SHARED_CREDENTIALS_FILE: join(cwd, 'no-aws-credentials'),
      });

    it('records the KMS key, starts again with it, and refuses another KMS key or a local key', async () => {
      const store = `sqlite:${join(cwd, 'aws-kms.db')}`;
      const first = await start(awsEnv(store, kms.alias));
      expect(first.service.stdout()).toContain('"msg":"master key check value written to the new store"');
      const site = await createSite(first.url, adminToken);
      const key = await spekeKey(first.url, site.token);
      expect(await stop(first.service)).toBe(0);
      const checkCalls = kms.calls.filter((call) => call.encryptionContext?.['cpix-kms:purpose'] === 'master-key-check');
      expect(checkCalls.map((call) => `${call.operation} ${call.outcome}`)).toEqual(['GenerateDataKey ok', 'Decrypt ok'].slice(0, checkCalls.length));

      const db = new Database(store.slice('sqlite:'.length), { readonly: true });
      const row = db.prepare('SELECT provider, master_key_id FROM master_key_check').get();
      db.close();
      // The alias was configured; the store records the key it named, by ARN.
      expect(row).toEqual({ provider: 'aws-kms', master_key_id: kms.keyArn });

      const second = await start(awsEnv(store, kms.keyArn));
      expect(second.service.stdout()).toContain(`"msg":"master key matches the store's check value"`);
      expect(await spekeKey(second.url, site.token)).toBe(key);
      expect(await stop(second.service)).toBe(0);
      expect(kms.calls.filter((call) => call.encryptionContext?.['cpix-kms:purpose'] === 'master-key-check').at(-1)).toMatchObject({
        operation: 'Decrypt',
        keyId: kms.keyArn,
        outcome: 'ok',
      });

      const otherKey = kms.createKey();
      const anotherKey = await refusedStart(awsEnv(store, otherKey), site.token);
      expect(anotherKey.code).toBe(1);
      expect(anotherKey.output).toContain(
        `start failed: AWS_KMS_KEY_ID ${otherKey} does not match the key this store was created with ` +
          `(check value mismatch: the store's check value was made by ${kms.keyArn}); refusing to start`,
      );
      expect(anotherKey.answered).toBe(0);

      const local = await refusedStart(productionEnv(cwd, adminToken, { STORE: store }), site.token);
      expect(local.code).toBe(1);
      expect(local.output).toContain(
        'start failed: MASTER_KEY does not match the key this store was created with (check value mismatch: the store ' +
          'was created with MASTER_KEY_PROVIDER=aws-kms, this one is local); refusing to start',
      );
      expect(local.answered).toBe(0);
      expect(anotherKey.output + local.output).not.toContain(kms.credentials.secretAccessKey);
    }, 60_000);
  });

  describe('while running on Redis', () => {
    it('reports a Redis swapped for one of another master key as not ready (ERR_MASTER_KEY_MISMATCH) and refuses new site keys', async () => {
      const [ours, theirs] = await Promise.all([
        startRedisServer({ appendonly: true, appendfsync: 'always' }),
        startRedisServer({ appendonly: true, appendfsync: 'always' }),
      ]);
      const prefix = { REDIS_KEY_PREFIX: 'swapped' };
      // Two workers (the Redis default on two cores): whichever answers, it checks before using the master key.
      const running = await start(productionEnv(cwd, adminToken, { STORE: `redis://127.0.0.1:${ours.port}`, WORKERS: '2', ...prefix }));
      const site = await createSite(running.url, adminToken);
      await spekeKey(running.url, site.token);
      // Another deployment's store: the same key prefix, another master key.
      const other = await start(productionEnv(cwd, adminToken, { STORE: `redis://127.0.0.1:${theirs.port}`, ...prefix }));
      expect(await stop(other.service)).toBe(0);

      // The swap: the other store's data now answers at our Redis's address (its AOF, appendfsync always).
      await Promise.all([ours.kill(), theirs.kill()]);
      rmSync(join(ours.dir, 'appendonlydir'), { recursive: true, force: true });
      cpSync(join(theirs.dir, 'appendonlydir'), join(ours.dir, 'appendonlydir'), { recursive: true });
      await ours.restart();

      let readiness: { status: number; body: { checks?: Record<string, string> } } = { status: 0, body: {} };
      for (let attempt = 0; attempt < 200 && readiness.body.checks?.['masterKey'] !== 'ERR_MASTER_KEY_MISMATCH'; attempt += 1) {
        const res = await fetch(`${running.url}/readyz`);
        readiness = { status: res.status, body: (await res.json()) as { checks?: Record<string, string> } };
        if (readiness.body.checks?.['masterKey'] !== 'ERR_MASTER_KEY_MISMATCH') await sleep(50);
      }
      expect(readiness).toEqual({ status: 503, body: { status: 'not ready', checks: { store: 'ok', masterKey: 'ERR_MASTER_KEY_MISMATCH' } } });
      // The readiness answer came from one worker; the other reconnects to the restarted Redis on its own
      // schedule, and until then answers 503 ERR_STORE_UNAVAILABLE. Every answer must be a refusal, and
      // once the answering worker is connected, the mismatch.
      let refusedSite = { status: 0, code: '' };
      for (let attempt = 0; attempt < 200 && refusedSite.code !== 'ERR_MASTER_KEY_MISMATCH'; attempt += 1) {
        const res = await fetch(`${running.url}/admin/v1/sites`, {
          method: 'POST',
          headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({ name: 'into the wrong store' }),
        });
        refusedSite = { status: res.status, code: ((await res.json()) as { error: { code: string } }).error.code };
        expect(refusedSite.status).toBe(503);
        expect(['ERR_STORE_UNAVAILABLE', 'ERR_MASTER_KEY_MISMATCH']).toContain(refusedSite.code);
        if (refusedSite.code !== 'ERR_MASTER_KEY_MISMATCH') await sleep(50);
      }
      expect(refusedSite).toEqual({ status: 503, code: 'ERR_MASTER_KEY_MISMATCH' });
      expect(running.service.stdout()).toContain(
        'MASTER KEY MISMATCH: MASTER_KEY does not match the key this store was created with (check value mismatch); not ready',
      );
      expect(await stop(running.service)).toBe(0);
    }, 60_000);
  });

  describe('the development setup', () => {
    /** Every row of every table of the SQLite store (blobs as base64). */
    function storeRows(file: string): Record<string, unknown[]> {
      const db = new Database(file, { readonly: true });
      try {
        const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[];
        return Object.fromEntries(
          tables.map(({ name }) => [
            name,
            (db.prepare(`SELECT * FROM "${name}" ORDER BY rowid`).all() as Record<string, unknown>[]).map((row) =>
              Object.fromEntries(Object.entries(row).map(([column, value]) => [column, Buffer.isBuffer(value) ? value.toString('base64') : value])),
            ),
          ]),
        );
      } finally {
        db.close();
      }
    }

    /**
     * The data folder as the operator sees it: the key files byte for byte, the file names, and the
     * store's content (SQLite may fold its write-ahead log into the file when a connection closes,
     * which changes bytes but no row).
     */
    const snapshot = (dataDir: string) => ({
      files: readdirSync(dataDir).filter((file) => !/-(wal|shm)$/.test(file)).sort(),
      keyFiles: Object.fromEntries(
        ['admin-token', 'signing.pem'].map((file) => [file, readFileSync(join(dataDir, file)).toString('base64')]),
      ),
      store: storeRows(join(dataDir, 'cpix-kms.db')),
    });

    it.each([
      ['one process', {}],
      ['WORKERS=2 (the primary creates the files)', { WORKERS: '2' }],
    ])('never creates a master key beside a store that holds sites: %s', async (_name, extra: Record<string, string>) => {
      const dir = mkdtempSync(join(cwd, 'dev-'));
      const dataDir = join(dir, 'data');
      const first = await start(bareEnv(extra), dir);
      const adminTokenOf = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
      const site = await createSite(first.url, adminTokenOf);
      const key = await spekeKey(first.url, site.token);
      expect(await stop(first.service)).toBe(0);

      // The operator loses data/master.key (deleted, not restored with the rest of a backup…).
      const masterKeyFile = join(dataDir, 'master.key');
      const savedMasterKey = readFileSync(masterKeyFile);
      unlinkSync(masterKeyFile);
      const before = snapshot(dataDir);
      expect(before.store['sites']).toHaveLength(1);
      expect(before.store['master_key_check']).toHaveLength(1);

      const refused = await refusedStart(bareEnv(extra), site.token, dir);
      expect(refused.code).toBe(1);
      expect(refused.output).toMatch(
        /start failed: the development master key \S+\/data\/master\.key is missing, but the key store was already created with a master key .* Restore \S+\/data\/master\.key from a backup, or set MASTER_KEY \(or MASTER_KEY_FILE\) to the key this store was created with; refusing to start/,
      );
      expect(refused.answered).toBe(0);
      expect(existsSync(masterKeyFile)).toBe(false);
      expect(snapshot(dataDir)).toEqual(before);
      expect(refused.output).not.toContain(savedMasterKey.toString('utf8').trim());

      // Restoring the file is the fix: the same keys again.
      writeFileSync(masterKeyFile, savedMasterKey, { mode: 0o600 });
      const again = await start(bareEnv(extra), dir);
      // The banner follows the listening line on the other stream.
      await again.service.waitFor(/master key : data\/master\.key \(existing, mode 0600\)/);
      expect(await spekeKey(again.url, site.token)).toBe(key);
      expect(await stop(again.service)).toBe(0);
    }, 60_000);
  });
});
