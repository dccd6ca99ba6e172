import Database from 'better-sqlite3';
import { Conflict, DependencyUnavailable } from '../../errors';

/**
 * Runs a store operation, turning SQLite failures (disk full, I/O error, lock timeout) into
 * `DependencyUnavailable`. Domain errors pass through.
 */
export function guarded<T>(operation: () => T): T {
  try {
    return operation();
  } catch (error) {
    if (error instanceof Conflict) throw error;
    if (error instanceof Database.SqliteError) {
      throw new DependencyUnavailable('ERR_STORE_UNAVAILABLE', 'key store unavailable', {
        cause: error,
        detail: `sqlite ${error.code}`,
      });
    }
    throw error;
  }
}
