import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cryptoRandom, systemClock } from '../../src/crypto/random';
import { createKeyExchange } from '../../src/exchange/key-exchange';
import { createLicenseExport } from '../../src/exchange/license-export';
import { createApp } from '../../src/http/app';
import { loadAdminSchemas } from '../../src/http/json-schemas';
import type { ContentKeyRepository } from '../../src/keys/ports';
import type { Logger } from '../../src/log';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store';
import type { Store } from '../../src/store/store';
import type { TestApp } from './app';
import { buildServices, testMasterKey, testSigningIdentity } from './services';

/**
 * The app of `createTestApp` (test/support/app.ts, same wiring) on a SQLite store whose
 * `contentKeys.get` answers `delayMs` after it read, as a networked store (Redis) does. better-sqlite3 is
 * synchronous, so on the plain test app a request runs to completion before the next one reads the
 * store and concurrent "first" requests never race; with the delay they all miss the read and race
 * to `getOrCreate`, which is what the concurrency test has to exercise.
 */
export function createSlowReadTestApp(logger: Logger, delayMs: number): TestApp {
  const dir = mkdtempSync(join(tmpdir(), 'cpix-kms-slow-'));
  const sqlite = openSqliteStore(join(dir, 'store.db'));
  const contentKeys: ContentKeyRepository = new Proxy(sqlite.contentKeys, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (property !== 'get' || typeof value !== 'function') return value;
      // Read now, answer later: the answer reflects the store as it was when the read was made.
      return async (...args: unknown[]) => {
        const answer: unknown = await (value as (...a: unknown[]) => unknown).apply(target, args);
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        return answer;
      };
    },
  });
  const store: Store = new Proxy(sqlite, {
    get: (target, property, receiver) => (property === 'contentKeys' ? contentKeys : Reflect.get(target, property, receiver)),
  });
  const masterKey = testMasterKey();
  const services = buildServices(store, masterKey);
  const adminToken = randomBytes(32).toString('base64url');
  const exchangeDeps = {
    contentKeys: services.contentKeys,
    audit: services.audit,
    signing: testSigningIdentity(),
    random: cryptoRandom,
    clock: systemClock,
  };
  const app = createApp({
    logger,
    sites: services.sites,
    contentKeys: services.contentKeys,
    licenseServers: services.licenseServers,
    audit: services.audit,
    keyExchange: createKeyExchange(exchangeDeps),
    licenseExport: createLicenseExport(exchangeDeps),
    bodyLimitBytes: 1024 * 1024,
    adminToken,
    adminSchemas: loadAdminSchemas(),
    readiness: { store: () => store.ping(), masterKey: () => masterKey.checkReady() },
  });
  return {
    app,
    store,
    adminToken,
    services,
    async close() {
      await sqlite.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
