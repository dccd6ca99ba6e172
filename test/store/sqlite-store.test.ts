import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SCHEMA_VERSION } from '../../src/store/sqlite/schema';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store';
import { buildServices, testMasterKey } from '../support/services';
import { describeStoreContract } from './store-contract';

describeStoreContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cpix-kms-sqlite-'));
  const path = join(dir, 'store.db');
  return {
    async open() {
      return openSqliteStore(path);
    },
    async rawDump() {
      // Every file SQLite writes (database, WAL, shared memory), as bytes on disk.
      return Buffer.concat(readdirSync(dir).map((file) => readFileSync(join(dir, file))));
    },
    async destroy() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('sqlite schema versions', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cpix-kms-sqlite-schema-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('upgrades a version-1 file in place: adds license servers and the audit trail, keeps sites', async () => {
    const path = join(dir, 'v1.db');
    const original = openSqliteStore(path);
    const { site } = await buildServices(original, testMasterKey()).sites.createSite({ name: 'from v1' });
    await original.close();
    const db = new Database(path);
    db.exec('DROP TABLE license_servers; DROP TABLE audit_records;');
    db.pragma('user_version = 1');
    db.close();

    const upgraded = openSqliteStore(path);
    try {
      expect((await upgraded.sites.getSite(site.id))?.name).toBe('from v1');
      expect(await upgraded.licenseServers.list(site.id)).toEqual([]);
      const record = await upgraded.audit.append({
        at: new Date().toISOString(),
        siteId: site.id,
        action: 'issue',
        credentialId: 'AAAAAAAAAAAAAAAA',
        clientAddress: '127.0.0.1',
        dialect: 'speke-v1',
        contentId: 'c',
        kids: [],
        periodIndexes: [],
        keysCreated: 0,
        requestId: 'r',
      });
      expect((await upgraded.audit.list(site.id, { limit: 1 })).records).toEqual([record]);
    } finally {
      await upgraded.close();
    }
    const check = new Database(path, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    check.close();
  });

  it('upgrades a version-3 file in place: adds the master key check table, empty, and keeps sites', async () => {
    const path = join(dir, 'v3.db');
    const original = openSqliteStore(path);
    const { site } = await buildServices(original, testMasterKey()).sites.createSite({ name: 'from v3' });
    await original.close();
    const db = new Database(path);
    db.exec('DROP TABLE master_key_check;');
    db.pragma('user_version = 3');
    db.close();

    const upgraded = openSqliteStore(path);
    try {
      expect((await upgraded.sites.getSite(site.id))?.name).toBe('from v3');
      expect(await upgraded.masterKeyCheck.get()).toBeUndefined();
      expect(await upgraded.masterKeyCheck.holdsSites()).toBe(true);
    } finally {
      await upgraded.close();
    }
  });

  it('refuses a file written by a newer schema version', () => {
    const path = join(dir, 'future.db');
    const db = new Database(path);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => openSqliteStore(path)).toThrow(/newer than this build/);
  });
});
