import type { Database } from 'better-sqlite3';
import type { LicenseServerRecord, LicenseServerRepository } from '../../license-servers/ports';
import { guarded } from './guarded';

interface LicenseServerRow {
  id: string;
  site_id: string;
  name: string;
  certificate: Buffer;
  secret_hash: Buffer;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

function toRecord(row: LicenseServerRow): LicenseServerRecord {
  return {
    id: row.id,
    siteId: row.site_id,
    name: row.name,
    certificate: row.certificate,
    secretHash: row.secret_hash,
    createdAt: row.created_at,
    ...(row.last_used_at !== null && { lastUsedAt: row.last_used_at }),
    ...(row.revoked_at !== null && { revokedAt: row.revoked_at }),
  };
}

/** License servers in the `license_servers` table (schema version 2); stored like KMS tokens. */
export function createSqliteLicenseServerRepository(db: Database): LicenseServerRepository {
  const stmt = {
    insert: db.prepare(
      `INSERT INTO license_servers (id, site_id, name, certificate, secret_hash, created_at)
       VALUES (@id, @siteId, @name, @certificate, @secretHash, @createdAt)`,
    ),
    get: db.prepare<[string], LicenseServerRow>('SELECT * FROM license_servers WHERE id = ?'),
    list: db.prepare<[string], LicenseServerRow>(
      'SELECT * FROM license_servers WHERE site_id = ? ORDER BY created_at, rowid',
    ),
    revoke: db.prepare(
      'UPDATE license_servers SET revoked_at = COALESCE(revoked_at, @revokedAt) WHERE id = @id AND site_id = @siteId',
    ),
    touch: db.prepare('UPDATE license_servers SET last_used_at = @usedAt WHERE id = @id'),
  };

  return {
    async create(record) {
      const { id, siteId, name, certificate, secretHash, createdAt } = record;
      guarded(() => stmt.insert.run({ id, siteId, name, certificate, secretHash, createdAt }));
    },
    async get(id) {
      return guarded(() => {
        const row = stmt.get.get(id);
        return row && toRecord(row);
      });
    },
    async list(siteId) {
      return guarded(() => stmt.list.all(siteId).map(toRecord));
    },
    async revoke(siteId, id, revokedAt) {
      return guarded(() => stmt.revoke.run({ id, siteId, revokedAt }).changes === 1);
    },
    async touch(id, usedAt) {
      guarded(() => stmt.touch.run({ id, usedAt }));
    },
  };
}
