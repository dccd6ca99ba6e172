import { Conflict, DependencyUnavailable } from '../../errors';

/**
 * Whether `error` is one the SQLite engine raised. Recognised by shape, not `instanceof
 * Database.SqliteError`: the native addon registers the SqliteError class of the first copy of
 * better-sqlite3 loaded in the process and throws that class ever after, so a second copy (a bundler,
 * a test runner's per-file module registry) would see its own engine errors fail `instanceof` and
 * report a full disk as an internal error instead of 503. Not `instanceof Error` either: that class
 * may come from another realm (a test runner's per-file context).
 */
function isSqliteError(error: unknown): error is Error & { readonly code: string } {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { name?: unknown }).name === 'SqliteError' &&
    typeof (error as { code?: unknown }).code === 'string' &&
    (error as { code: string }).code.startsWith('SQLITE_')
  );
}

/**
 * Runs a store operation, turning SQLite failures (disk full, I/O error, lock timeout) into
 * `DependencyUnavailable`. Domain errors pass through.
 */
export function guarded<T>(operation: () => T): T {
  try {
    return operation();
  } catch (error) {
    if (error instanceof Conflict) throw error;
    if (isSqliteError(error)) {
      throw new DependencyUnavailable('ERR_STORE_UNAVAILABLE', 'key store unavailable', {
        cause: error,
        detail: `sqlite ${error.code}`,
      });
    }
    throw error;
  }
}
