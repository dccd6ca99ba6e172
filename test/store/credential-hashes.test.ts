import nodeCrypto, { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import request from 'supertest';
import { createAuthFailureLimiter, type AuthFailureLimiter } from '../../src/auth-limits/auth-failure-limiter';
import { systemClock } from '../../src/crypto/random';
import { hashSecret, secretMatchesHash } from '../../src/crypto/secrets';
import { Unauthenticated } from '../../src/errors';
import { credentialLookupId } from '../../src/sites/kms-token';
import { closeRedisClient, type RedisClient } from '../../src/store/redis/client';
import { createKeyNames } from '../../src/store/redis/key-names';
import { openRedisStore } from '../../src/store/redis/redis-store';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store';
import type { Store } from '../../src/store/store';
import { createTestApp, type TestApp } from '../support/app';
import { captureLogs, findSecretLeaks, type NamedSecret } from '../support/log-capture';
import { buildDoveRunnerRequest } from '../support/doverunner-clients';
import { deleteKeys, dumpKeys, openAdminClient, redisAnswers, sharedRedisConfig, uniqueKeyPrefix } from '../support/redis-server';
import { buildServices, testCertificate, testMasterKey } from '../support/services';

/**
 * Credentials at rest (docs/security.md; kms-token.ts: "stored only as SHA-256, compared in constant
 * time"). Someone who reads the store — a backup, a Redis replica, a copied SQLite file — must not
 * be able to present any credential: no KMS token, no token secret, no license-server credential, no
 * access key (which is a legacy PallyCon credential), and not even the wrong secret an attacker
 * guessed, in any encoding `encodingsOf` knows. The raw store is read past the project's decoders:
 * every row of every SQLite table and every byte of the files, every Redis key and value.
 */

type Services = ReturnType<typeof buildServices>;

/** Where a credential's hash is stored, and of which secret. */
interface StoredCredential {
  readonly kind: 'token' | 'license-server' | 'access-key';
  /** Token ID, license-server ID or site ID. */
  readonly id: string;
  readonly secret: string;
}

interface Exercised {
  readonly secrets: readonly NamedSecret[];
  /** Non-secret identifiers that must be in the dump (else the search is looking at the wrong data). */
  readonly ids: readonly string[];
  readonly credentials: readonly StoredCredential[];
  readonly siteIds: readonly string[];
}

/** What a backend under test gives: services on it, its raw content as text, and a stored hash by record. */
interface Backend {
  readonly services: Services;
  readonly authFailures: AuthFailureLimiter;
  /** Every stored value as text: strings as they are, bytes as latin1 and as hex (raw secret bytes would show in the hex). */
  rawLines(): Promise<string[]>;
  storedHash(credential: StoredCredential): Promise<Buffer | undefined>;
  /** Extra uses through the real HTTP stack, where the backend has one (audit records, failure counters). */
  useOverHttp?(exercised: Exercised): Promise<readonly NamedSecret[]>;
  close(): Promise<void>;
}

/** The part after the last '.': what the store may keep a hash of, never the part itself. */
const secretPart = (credential: string): string => credential.slice(credential.lastIndexOf('.') + 1);
const sha256 = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();
const bytesAsText = (bytes: Buffer): string => `${bytes.toString('latin1')}\n${bytes.toString('hex')}`;
/** A well-formed credential with `id` and a secret nobody was issued. */
const guessed = (prefix: 'kms1' | 'lsc1', id: string): string => `${prefix}.${id}.${randomBytes(32).toString('base64url')}`;
const legacyToken = (siteId: string, accessKey: string): string =>
  Buffer.from(JSON.stringify({ site_id: siteId, access_key: accessKey }), 'utf8').toString('base64');

/**
 * Creates two sites (one accepting the legacy token), an extra and a revoked token, a license server;
 * uses every credential once (successful logins write `lastUsedAt`), and fails once with a guessed
 * secret for a known token and a known license server (failure counters are written).
 */
async function exerciseCredentials(services: Services, authFailures: AuthFailureLimiter): Promise<Exercised> {
  const one = await services.sites.createSite({ name: 'hashes one', options: { acceptLegacyToken: true } });
  const two = await services.sites.createSite({ name: 'hashes two' });
  const extra = await services.sites.issueToken(one.site.id, 'extra');
  const revoked = await services.sites.issueToken(two.site.id, 'to revoke');
  const { licenseServer, credential } = await services.licenseServers.register(one.site.id, { name: 'license', certificate: testCertificate('rsa2048') });
  const legacy = legacyToken(one.site.id, one.accessKey);

  for (const token of [one.token.token, two.token.token, extra.token, revoked.token, legacy]) await services.sites.authenticate(token);
  await services.licenseServers.authenticate(credential);
  await services.sites.revokeToken(two.site.id, revoked.id);

  const wrongToken = guessed('kms1', extra.id);
  const wrongCredential = guessed('lsc1', licenseServer.id);
  const attempt = (presented: string) => ({ clientAddress: '192.0.2.7', ...withId(credentialLookupId(presented)) });
  await expect(authFailures.guard(attempt(wrongToken), () => services.sites.authenticate(wrongToken))).rejects.toBeInstanceOf(Unauthenticated);
  await expect(authFailures.guard(attempt(wrongCredential), () => services.licenseServers.authenticate(wrongCredential))).rejects.toBeInstanceOf(Unauthenticated);

  const tokens = [
    { name: 'initial token of site one', id: one.token.id, token: one.token.token },
    { name: 'initial token of site two', id: two.token.id, token: two.token.token },
    { name: 'extra token', id: extra.id, token: extra.token },
    { name: 'revoked token', id: revoked.id, token: revoked.token },
  ];
  return {
    secrets: [
      ...tokens.flatMap(({ name, token }) => [
        { name, value: token },
        { name: `${name} secret part`, value: secretPart(token) },
      ]),
      { name: 'license-server credential', value: credential },
      { name: 'license-server secret part', value: secretPart(credential) },
      { name: 'access key of site one', value: one.accessKey },
      { name: 'access key of site two', value: two.accessKey },
      { name: 'legacy token of site one', value: legacy },
      { name: 'guessed token', value: wrongToken },
      { name: 'guessed token secret part', value: secretPart(wrongToken) },
      { name: 'guessed license-server credential', value: wrongCredential },
      { name: 'guessed license-server secret part', value: secretPart(wrongCredential) },
    ],
    ids: [...tokens.map(({ id }) => id), licenseServer.id, one.site.id, two.site.id],
    credentials: [
      ...tokens.map(({ id, token }) => ({ kind: 'token' as const, id, secret: secretPart(token) })),
      { kind: 'license-server', id: licenseServer.id, secret: secretPart(credential) },
      { kind: 'access-key', id: one.site.id, secret: one.accessKey },
      { kind: 'access-key', id: two.site.id, secret: two.accessKey },
    ],
    siteIds: [one.site.id, two.site.id],
  };
}

function withId(credentialId: string | undefined): { credentialId?: string } {
  return credentialId === undefined ? {} : { credentialId };
}

function describeCredentialStorage(name: string, openBackend: () => Promise<Backend>): void {
  describe(`credentials at rest: ${name}`, () => {
    let backend: Backend;
    let exercised: Exercised;
    let secrets: NamedSecret[];
    let lines: string[];

    beforeAll(async () => {
      backend = await openBackend();
      exercised = await exerciseCredentials(backend.services, backend.authFailures);
      secrets = [...exercised.secrets, ...((await backend.useOverHttp?.(exercised)) ?? [])];
      lines = await backend.rawLines();
    });
    afterAll(async () => {
      await (backend as Backend | undefined)?.close();
    });

    it('recorded what the scenario did: every use, the revocation, the failed guesses', async () => {
      const [one, two] = exercised.siteIds as [string, string];
      const tokens = [...(await backend.services.sites.listTokens(one)), ...(await backend.services.sites.listTokens(two))];
      expect(tokens.length).toBeGreaterThanOrEqual(4);
      for (const token of tokens) expect(token.lastUsedAt).toEqual(expect.any(String));
      expect(tokens.filter((token) => token.revokedAt !== undefined)).toHaveLength(1);
      expect((await backend.services.licenseServers.list(one)).every((server) => server.lastUsedAt !== undefined)).toBe(true);
      // The failure counters name the guessed credential by its ID, which is the point of the next test.
      expect(lines.some((line) => line.includes(`kms1.${exercised.ids[2] ?? ''}`))).toBe(true);
    });

    it('holds every credential ID and site ID (so the search below reads the right data)', () => {
      const text = lines.join('\n');
      expect(exercised.ids.length).toBeGreaterThan(6);
      expect(exercised.ids.filter((id) => !text.includes(id))).toEqual([]);
    });

    it('holds no token, secret part, license-server credential, access key or guessed secret, in any encoding', () => {
      expect(secrets.length).toBeGreaterThan(15);
      expect(findSecretLeaks(lines, secrets)).toEqual([]);
    });

    it('stores exactly SHA-256 of each secret part (not the secret, not the whole token, not another scheme)', async () => {
      const mismatches: string[] = [];
      for (const credential of exercised.credentials) {
        const stored = await backend.storedHash(credential);
        if (stored === undefined || !stored.equals(sha256(credential.secret))) mismatches.push(`${credential.kind} ${credential.id}`);
      }
      expect(exercised.credentials.length).toBeGreaterThan(6);
      expect(mismatches).toEqual([]);
    });
  });
}

/** SQLite: the app's store, every row of every table, and the database files themselves. */
async function sqliteBackend(): Promise<Backend> {
  const t: TestApp = createTestApp(captureLogs().logger);
  const readOnly = <T>(read: (db: Database.Database) => T): T => {
    const db = new Database(t.storePath, { readonly: true, fileMustExist: true });
    try {
      return read(db);
    } finally {
      db.close();
    }
  };
  const hashColumn = { token: ['kms_tokens', 'secret_hash'], 'license-server': ['license_servers', 'secret_hash'], 'access-key': ['sites', 'access_key_hash'] } as const;
  return {
    services: t.services,
    authFailures: t.authFailures,
    async rawLines() {
      const rows = readOnly((db) => {
        const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[];
        expect(tables.map((table) => table.name)).toEqual(expect.arrayContaining(['sites', 'kms_tokens', 'license_servers', 'audit_records', 'auth_failures']));
        return tables.flatMap(({ name }) =>
          (db.prepare(`SELECT * FROM "${name}"`).all() as Record<string, unknown>[]).map(
            (row) => `${name}: ${Object.entries(row).map(([column, value]) => `${column}=${Buffer.isBuffer(value) ? bytesAsText(value) : String(value)}`).join(' | ')}`,
          ),
        );
      });
      // Deleted rows and not yet checkpointed pages live on in the files: read them too.
      const dir = dirname(t.storePath);
      const files = readdirSync(dir).map((file) => `file ${file}: ${bytesAsText(readFileSync(join(dir, file)))}`);
      return [...rows, ...files];
    },
    async storedHash({ kind, id }) {
      const [table, column] = hashColumn[kind];
      const row = readOnly((db) => db.prepare(`SELECT ${column} AS hash FROM ${table} WHERE id = ?`).get(id) as { hash: unknown } | undefined);
      return Buffer.isBuffer(row?.hash) ? row.hash : undefined;
    },
    async useOverHttp(exercised) {
      // Through the routes: a key exchange and an export write audit records; guessed secrets write failure counters.
      const [one] = exercised.siteIds as [string];
      const token = exercised.secrets.find((secret) => secret.name === 'extra token')?.value as string;
      const credential = exercised.secrets.find((secret) => secret.name === 'license-server credential')?.value as string;
      const contentId = `hashes-${randomBytes(4).toString('hex')}`;
      const post = (presented: string) =>
        request(t.app).post(`/v2/cpix/pallycon/getKey/${presented}`).set('Content-Type', 'application/xml').send(buildDoveRunnerRequest(contentId, ['HD']).xml);
      const get = (presented: string) => request(t.app).get(`/license/v1/sites/${one}/contents/${contentId}`).set('Authorization', `Bearer ${presented}`);
      expect((await post(token)).status).toBe(200);
      expect((await get(credential)).status).toBe(200);
      const wrongToken = guessed('kms1', token.split('.')[1] ?? '');
      const wrongCredential = guessed('lsc1', credential.split('.')[1] ?? '');
      expect((await post(wrongToken)).status).toBe(401);
      expect((await get(wrongCredential)).status).toBe(401);
      const { records } = await t.services.audit.list(one);
      expect(records.map((record) => record.action).sort()).toEqual(['export', 'issue']);
      return [
        { name: 'admin token', value: t.adminToken },
        { name: 'token guessed over HTTP', value: wrongToken },
        { name: 'token secret guessed over HTTP', value: secretPart(wrongToken) },
        { name: 'credential guessed over HTTP', value: wrongCredential },
        { name: 'credential secret guessed over HTTP', value: secretPart(wrongCredential) },
      ];
    },
    close: () => t.close(),
  };
}

/** Redis: the shared server under a key prefix of its own; every key name and value under it. */
async function redisBackend(): Promise<Backend> {
  const config = sharedRedisConfig();
  const keyPrefix = uniqueKeyPrefix();
  const store: Store = await openRedisStore(config, { keyPrefix });
  const admin: RedisClient = await openAdminClient(config);
  const names = createKeyNames(keyPrefix);
  const keyOf = ({ kind, id }: StoredCredential) =>
    kind === 'token' ? names.token(id) : kind === 'license-server' ? names.licenseServer(id) : names.site(id).record;
  return {
    services: buildServices(store, testMasterKey()),
    authFailures: createAuthFailureLimiter({ repository: store.authFailures, clock: systemClock, limits: { perAddress: 1000, perCredential: 1000, windowMs: 60_000 } }),
    async rawLines() {
      return [bytesAsText(await dumpKeys(admin, keyPrefix))];
    },
    async storedHash(credential) {
      // codec.ts writes hashes as base64 fields of the record's hash.
      const field = await admin.hget(keyOf(credential), credential.kind === 'access-key' ? 'accessKeyHash' : 'secretHash');
      return field === null ? undefined : Buffer.from(field, 'base64');
    },
    async close() {
      try {
        await store.close();
        await deleteKeys(admin, keyPrefix);
      } finally {
        await closeRedisClient(admin);
      }
    },
  };
}

describeCredentialStorage('sqlite', sqliteBackend);

const redis = sharedRedisConfig();
if (redisAnswers(redis) || process.env.CI === 'true') {
  describeCredentialStorage(`redis at ${redis.nodes.map((node) => `${node.host}:${node.port}`).join(',')}`, redisBackend);
} else {
  // As in redis-store.test.ts: locally a missing Redis skips; in CI (CI=true) the suite runs and fails.
  console.warn('credential storage on Redis skipped: no Redis answers (start one, or set REDIS_URL)');
  describe.skip('credentials at rest: redis (no Redis answers)', () => {
    it('needs a running Redis', () => undefined);
  });
}

describe('credential comparison', () => {
  const secret = randomBytes(32).toString('base64url');

  afterEach(() => jest.restoreAllMocks());

  it.each([
    ['the right secret', true, secret],
    ['a wrong secret of the same length', false, `${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`],
    ['a shorter secret', false, secret.slice(0, -1)],
    ['a longer secret', false, `${secret}A`],
    ['the empty string', false, ''],
  ])('secretMatchesHash: %s → %s', (_name, expected, presented) => {
    expect(secretMatchesHash(presented, hashSecret(secret))).toBe(expected);
  });

  it('hashes with SHA-256, so the stored value is a fixed 32 bytes whatever the secret', () => {
    expect(hashSecret(secret).equals(sha256(secret))).toBe(true);
    expect(hashSecret('x'.repeat(1000))).toHaveLength(32);
  });

  it('refuses, without throwing, a stored hash of another length (timingSafeEqual itself would throw)', () => {
    expect(secretMatchesHash(secret, hashSecret(secret).subarray(0, 31))).toBe(false);
    expect(secretMatchesHash(secret, Buffer.concat([hashSecret(secret), Buffer.alloc(1)]))).toBe(false);
  });

  it('compares the digests with crypto.timingSafeEqual, for right and wrong secrets alike', () => {
    const spy = jest.spyOn(nodeCrypto, 'timingSafeEqual');
    expect(secretMatchesHash(secret, hashSecret(secret))).toBe(true);
    expect(secretMatchesHash(`${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`, hashSecret(secret))).toBe(false);
    expect(secretMatchesHash('short', hashSecret(secret))).toBe(false);
    expect(spy).toHaveBeenCalledTimes(3);
    for (const [a, b] of spy.mock.calls) expect([a.byteLength, b.byteLength]).toEqual([32, 32]);
  });

  describe('in the services', () => {
    let dir: string;
    let store: Store;
    let services: Services;
    let token: string;
    let credential: string;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'cpix-kms-compare-'));
      store = openSqliteStore(join(dir, 'store.db'));
      services = buildServices(store, testMasterKey());
      const created = await services.sites.createSite({ name: 'compare' });
      token = created.token.token;
      ({ credential } = await services.licenseServers.register(created.site.id, { name: 'license', certificate: testCertificate('rsa2048') }));
    });
    afterAll(async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    });

    const flipLast = (text: string) => `${text.slice(0, -1)}${text.endsWith('A') ? 'B' : 'A'}`;
    const unknownId = (presented: string) => presented.replace(/\.[A-Za-z0-9_-]{16}\./, `.${randomBytes(12).toString('base64url')}.`);

    it.each([
      ['KMS token', () => services.sites.authenticate(token), (presented: string) => services.sites.authenticate(presented), () => token],
      ['license-server credential', () => services.licenseServers.authenticate(credential), (presented: string) => services.licenseServers.authenticate(presented), () => credential],
    ])('%s: accepted as issued; a same-length wrong secret and an unknown ID are refused, both after a timingSafeEqual', async (_name, ok, authenticate, issued) => {
      await expect(ok()).resolves.toBeDefined();
      const spy = jest.spyOn(nodeCrypto, 'timingSafeEqual');
      await expect(authenticate(flipLast(issued()))).rejects.toBeInstanceOf(Unauthenticated);
      expect(spy).toHaveBeenCalledTimes(1);
      // An unknown ID is compared against a dummy hash too, so the answer time does not tell which IDs exist.
      await expect(authenticate(unknownId(issued()))).rejects.toBeInstanceOf(Unauthenticated);
      expect(spy).toHaveBeenCalledTimes(2);
      // A secret of another length does not even parse as a credential: refused before any lookup.
      await expect(authenticate(`${issued()}A`)).rejects.toBeInstanceOf(Unauthenticated);
      await expect(authenticate(issued().slice(0, -1))).rejects.toBeInstanceOf(Unauthenticated);
    });
  });
});
