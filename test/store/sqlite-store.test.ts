import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { AuditRecord, NewAuditRecord } from '../../src/audit/ports';
import { SCHEMA_VERSION } from '../../src/store/sqlite/schema';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store';
import { buildServices, testMasterKey } from '../support/services';
import { describeStoreContract } from './store-contract';

/** An audit row as schema 5 wrote it: the complete lists, and NULL in the columns schema 6 added. */
function insertLegacyAuditRecord(path: string, record: NewAuditRecord): AuditRecord {
  const db = new Database(path);
  try {
    const { lastInsertRowid } = db
      .prepare(
        `INSERT INTO audit_records (site_id, at, action, credential_id, client_address, dialect, content_id, kids,
           period_indexes, keys_created, request_id)
         VALUES (@siteId, @at, @action, @credentialId, @clientAddress, @dialect, @contentId, @kids, @periodIndexes,
           @keysCreated, @requestId)`,
      )
      .run({ ...record, kids: JSON.stringify(record.kids), periodIndexes: JSON.stringify(record.periodIndexes) });
    return { id: String(lastInsertRowid), ...record };
  } finally {
    db.close();
  }
}

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
    async appendLegacyAuditRecord(record) {
      return insertLegacyAuditRecord(path, record);
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
      expect((await upgraded.audit.list(site.id, { limit: 1, maxBytes: 1024 * 1024 })).records).toEqual([record]);
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

  it('upgrades a version-5 file in place: adds the audit summary columns, keeps its records with every KID', async () => {
    const path = join(dir, 'v5.db');
    const original = openSqliteStore(path);
    const { site } = await buildServices(original, testMasterKey()).sites.createSite({ name: 'from v5' });
    await original.close();
    // The audit table as schema 5 created it, holding a record with its complete KID list.
    const db = new Database(path);
    db.exec(`DROP TABLE audit_records;
      CREATE TABLE audit_records (
        id INTEGER PRIMARY KEY AUTOINCREMENT, site_id TEXT NOT NULL, at TEXT NOT NULL, action TEXT NOT NULL,
        credential_id TEXT NOT NULL, client_address TEXT NOT NULL, dialect TEXT NOT NULL, content_id TEXT NOT NULL,
        kids TEXT NOT NULL, period_indexes TEXT NOT NULL, keys_created INTEGER NOT NULL, request_id TEXT NOT NULL);`);
    db.pragma('user_version = 5');
    db.close();
    const kids = Array.from({ length: 100 }, () => randomUUID());
    const old = insertLegacyAuditRecord(path, {
      at: new Date().toISOString(),
      siteId: site.id,
      action: 'issue',
      credentialId: 'AAAAAAAAAAAAAAAA',
      clientAddress: '127.0.0.1',
      dialect: 'speke-v1',
      contentId: 'c',
      kids,
      periodIndexes: [1, 2],
      keysCreated: 100,
      requestId: 'r',
    });

    const upgraded = openSqliteStore(path);
    try {
      const recent = await upgraded.audit.append({ ...old, kids: kids.slice(0, 20), requestId: 'r2' });
      expect(recent).toMatchObject({ kidCount: 20, kids: kids.slice(0, 16) });
      expect((await upgraded.audit.list(site.id, { limit: 10, maxBytes: 1024 * 1024 })).records).toEqual([recent, old]);
    } finally {
      await upgraded.close();
    }
    // A second open finds the columns and changes nothing.
    await openSqliteStore(path).close();
    const check = new Database(path, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    const columns = check.prepare<[], { name: string }>('SELECT name FROM pragma_table_info(\'audit_records\')').all();
    expect(columns.map(({ name }) => name).slice(-5)).toEqual(['kid_count', 'kids_sha256', 'period_index_count', 'reason', 'policy']);
    check.close();
  });

  it('refuses a file written by a newer schema version', () => {
    const path = join(dir, 'future.db');
    const db = new Database(path);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => openSqliteStore(path)).toThrow(/newer than this build/);
  });
});
