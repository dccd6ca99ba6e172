import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { SecretSource } from './config/config';
import { ConfigError } from './errors';

/**
 * Development secrets: when no master key or admin token is configured (and NODE_ENV is not
 * production), they live in files of the data folder, created once with mode 0600 and reused on
 * every later start — so `npm start` works on a fresh machine and keeps its keys readable.
 */
export interface ResolvedSecret<T> {
  readonly value: T;
  /** Set when the value came from a development file; `created` when this start wrote it. */
  readonly devFile?: { readonly path: string; readonly created: boolean };
}

/** Reads a development secret file, creating it with `generate()` (mode 0600, O_EXCL) when missing. */
export function readOrCreate(path: string, generate: () => string): { text: string; created: boolean } {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  try {
    // 'wx' fails when the file exists, so two processes starting together never overwrite each other.
    writeFileSync(path, generate(), { mode: 0o600, flag: 'wx' });
    return { text: readFileSync(path, 'utf8').trim(), created: true };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
  return { text: readFileSync(path, 'utf8').trim(), created: false };
}

/**
 * The configured master key, or the development key file. A missing file is created only beside a
 * new store: where the store already holds keys, a new master key could read none of them, and
 * creating one would hide that the old key was lost (decision 58).
 * @param storeHoldsKeys whether the store already holds sites or a master-key check value; asked
 *   only when the development file is missing.
 * @throws ConfigError when the file is missing beside a store that holds keys.
 */
export async function resolveMasterKey(
  source: SecretSource<Buffer>,
  storeHoldsKeys: () => Promise<boolean>,
): Promise<ResolvedSecret<Buffer>> {
  if (source.kind === 'configured') return { value: source.value };
  if (!existsSync(source.path) && (await storeHoldsKeys())) {
    throw new ConfigError(
      `the development master key ${source.path} is missing, but the key store was already created with a master ` +
        'key (it holds sites or a master key check value); a new master key could read none of its keys, so none is ' +
        `created. Restore ${source.path} from a backup, or set MASTER_KEY (or MASTER_KEY_FILE) to the key this store ` +
        'was created with; refusing to start',
    );
  }
  const { text, created } = readOrCreate(source.path, () => `${randomBytes(32).toString('base64')}\n`);
  const value = Buffer.from(text, 'base64');
  if (value.length !== 32) throw new Error(`development master key file ${source.path} does not hold 32 base64 bytes`);
  return { value, devFile: { path: source.path, created } };
}

export function resolveAdminToken(source: SecretSource<string>): ResolvedSecret<string> {
  if (source.kind === 'configured') return { value: source.value };
  const { text, created } = readOrCreate(source.path, () => `${randomBytes(32).toString('base64url')}\n`);
  return { value: text, devFile: { path: source.path, created } };
}
