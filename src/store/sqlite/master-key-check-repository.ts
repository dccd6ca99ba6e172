import type { Database } from 'better-sqlite3';
import type { MasterKeyProviderName } from '../../crypto/kms/master-key';
import type { MasterKeyCheckRepository, StoredMasterKeyCheck } from '../../master-key-check/ports';
import { guarded } from './guarded';

interface CheckRow {
  provider: MasterKeyProviderName;
  master_key_id: string;
  blob: Buffer;
  created_at: string;
}

/**
 * The master key's check value in the one-row `master_key_check` table (schema version 4). The
 * insert is `ON CONFLICT DO NOTHING`, so of two processes claiming a new file one wins and both read
 * the winner's row; with `synchronous=FULL` it is on disk before `claim` resolves.
 */
export function createSqliteMasterKeyCheckRepository(db: Database): MasterKeyCheckRepository {
  const stmt = {
    get: db.prepare<[], CheckRow>('SELECT provider, master_key_id, blob, created_at FROM master_key_check WHERE id = 1'),
    claim: db.prepare(
      `INSERT INTO master_key_check (id, provider, master_key_id, blob, created_at)
       VALUES (1, @provider, @masterKeyId, @blob, @createdAt)
       ON CONFLICT (id) DO NOTHING`,
    ),
    anySite: db.prepare<[], { found: number }>('SELECT EXISTS (SELECT 1 FROM sites) AS found'),
  };
  const read = (): StoredMasterKeyCheck | undefined => {
    const row = stmt.get.get();
    return row && { provider: row.provider, masterKeyId: row.master_key_id, blob: row.blob, createdAt: row.created_at };
  };
  const claim = db.transaction((check: StoredMasterKeyCheck) => {
    stmt.claim.run({ provider: check.provider, masterKeyId: check.masterKeyId, blob: check.blob, createdAt: check.createdAt });
    const stored = read();
    if (!stored) throw new Error('master key check value vanished inside its own transaction');
    return stored;
  });

  return {
    async get() {
      return guarded(read);
    },
    async claim(check) {
      return guarded(() => claim.immediate(check));
    },
    async holdsSites() {
      return guarded(() => stmt.anySite.get()?.found === 1);
    },
  };
}
