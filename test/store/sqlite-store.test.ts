import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store';
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
