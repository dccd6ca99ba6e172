import type { Config } from '../config/config';
import type { Logger } from '../log';
import { openSqliteStore } from './sqlite/sqlite-store';
import type { Store } from './store';

/** Opens the configured backend; for Redis, checks and reports its durability settings first. */
export async function openStore(config: Config, logger: Logger): Promise<Store> {
  if (config.store.kind === 'sqlite') return openSqliteStore(config.store.path);
  // Redis wiring lands with src/store/redis.
  void logger;
  throw new Error('redis store not wired yet');
}
