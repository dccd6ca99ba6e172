import type { Database } from 'better-sqlite3';
import { Conflict } from '../../errors';
import type { LicenceTokenAlgorithm, LicenceTokenKeyRecord, LicenceTokenKeyRepository } from '../../licence/ports';
import { guarded } from './guarded';

/**
 * The `licence_token_keys` table (docs/clearkey.md). Created here, idempotently, when the store opens: a table
 * of its own that older builds never read, so it changes nothing they rely on and needs no schema
 * version of its own. HS256 secrets are stored only sealed under a site-key version.
 */
export const LICENCE_TOKEN_KEYS_SQL = `
CREATE TABLE IF NOT EXISTS licence_token_keys (
  site_id          TEXT NOT NULL REFERENCES sites (id),
  kid              TEXT NOT NULL,
  alg              TEXT NOT NULL CHECK (alg IN ('HS256', 'ES256', 'RS256')),
  site_key_version INTEGER,
  sealed_secret    BLOB,
  public_jwk       TEXT,
  created_at       TEXT NOT NULL,
  revoked_at       TEXT,
  PRIMARY KEY (site_id, kid),
  CHECK ((sealed_secret IS NOT NULL AND site_key_version IS NOT NULL) <> (public_jwk IS NOT NULL))
);
`;

interface Row {
  site_id: string;
  kid: string;
  alg: LicenceTokenAlgorithm;
  site_key_version: number | null;
  sealed_secret: Buffer | null;
  public_jwk: string | null;
  created_at: string;
  revoked_at: string | null;
}

function toRecord(row: Row): LicenceTokenKeyRecord {
  return {
    siteId: row.site_id,
    kid: row.kid,
    alg: row.alg,
    ...(row.sealed_secret !== null && row.site_key_version !== null && { secret: { siteKeyVersion: row.site_key_version, sealed: row.sealed_secret } }),
    ...(row.public_jwk !== null && { publicJwk: row.public_jwk }),
    createdAt: row.created_at,
    ...(row.revoked_at !== null && { revokedAt: row.revoked_at }),
  };
}

export function createSqliteLicenceTokenKeyRepository(db: Database): LicenceTokenKeyRepository {
  db.exec(LICENCE_TOKEN_KEYS_SQL);
  const stmt = {
    insert: db.prepare(
      `INSERT INTO licence_token_keys (site_id, kid, alg, site_key_version, sealed_secret, public_jwk, created_at)
       VALUES (@siteId, @kid, @alg, @siteKeyVersion, @sealedSecret, @publicJwk, @createdAt)
       ON CONFLICT (site_id, kid) DO NOTHING`,
    ),
    get: db.prepare<[string, string], Row>('SELECT * FROM licence_token_keys WHERE site_id = ? AND kid = ?'),
    list: db.prepare<[string], Row>('SELECT * FROM licence_token_keys WHERE site_id = ? ORDER BY created_at, rowid'),
    revoke: db.prepare(
      'UPDATE licence_token_keys SET revoked_at = COALESCE(revoked_at, @revokedAt) WHERE site_id = @siteId AND kid = @kid',
    ),
  };

  return {
    async create(record) {
      const changes = guarded(
        () =>
          stmt.insert.run({
            siteId: record.siteId,
            kid: record.kid,
            alg: record.alg,
            siteKeyVersion: record.secret?.siteKeyVersion ?? null,
            sealedSecret: record.secret?.sealed ?? null,
            publicJwk: record.publicJwk ?? null,
            createdAt: record.createdAt,
          }).changes,
      );
      if (changes !== 1) throw new Conflict('licence token key ID is taken');
    },
    async get(siteId, kid) {
      return guarded(() => {
        const row = stmt.get.get(siteId, kid);
        return row && toRecord(row);
      });
    },
    async list(siteId) {
      return guarded(() => stmt.list.all(siteId).map(toRecord));
    },
    async revoke(siteId, kid, revokedAt) {
      return guarded(() => stmt.revoke.run({ siteId, kid, revokedAt }).changes === 1);
    },
  };
}
