import type { Config } from '../config/config';
import type { RedisStoreConfig } from '../config/store-url';
import { ConfigError } from '../errors';
import { errorSummary, type Logger } from '../log';
import { openRedisStore, type RedisStore } from './redis/redis-store';
import { openSqliteStore } from './sqlite/sqlite-store';
import type { Store } from './store';

/** ioredis reports every reconnection attempt; one log line per this interval is enough. */
const REDIS_ERROR_LOG_INTERVAL_MS = 10_000;
/** The client must outwait Redis's own WAIT timeout, or it gives up before Redis answers. */
const MIN_REDIS_COMMAND_TIMEOUT_MS = 2_000;
const WAIT_TIMEOUT_MARGIN_MS = 1_000;

/** Opens the configured backend; for Redis, reports (or enforces) its durability settings first. */
export async function openStore(config: Config, logger: Logger): Promise<Store> {
  if (config.store.kind === 'sqlite') return openSqliteStore(config.store.path);
  const store = await openConfiguredRedisStore(config.store, config, logger);
  const findings = await store.checkDurability(config.redis.waitReplicas);
  for (const finding of findings) {
    if (finding.level === 'warn') logger.warn({ durability: finding.message }, `REDIS DURABILITY WARNING: ${finding.message}`);
    else logger.info({ durability: finding.message }, 'redis durability');
  }
  if (config.redis.requireDurable && findings.some((finding) => finding.level === 'warn')) {
    await store.close();
    throw new ConfigError('REDIS_REQUIRE_DURABLE=true but Redis could lose answered keys (see the warnings above)');
  }
  return store;
}

/**
 * Opens the configured store only to ask it one question, then closes it (no durability report: the
 * processes that serve from the store make that). For a cluster primary, which serves nothing itself.
 */
export async function askStore<T>(config: Config, logger: Logger, ask: (store: Store) => Promise<T>): Promise<T> {
  const store =
    config.store.kind === 'sqlite' ? openSqliteStore(config.store.path) : await openConfiguredRedisStore(config.store, config, logger);
  try {
    return await ask(store);
  } finally {
    await store.close();
  }
}

async function openConfiguredRedisStore(storeConfig: RedisStoreConfig, config: Config, logger: Logger): Promise<RedisStore> {
  let lastErrorLog = 0;
  let suppressed = 0;
  return openRedisStore(storeConfig, {
    keyPrefix: config.redis.keyPrefix,
    waitReplicas: config.redis.waitReplicas,
    waitTimeoutMs: config.redis.waitTimeoutMs,
    commandTimeoutMs: Math.max(MIN_REDIS_COMMAND_TIMEOUT_MS, config.redis.waitTimeoutMs + WAIT_TIMEOUT_MARGIN_MS),
    onError: (error) => {
      const now = Date.now();
      if (now - lastErrorLog < REDIS_ERROR_LOG_INTERVAL_MS) {
        suppressed += 1;
        return;
      }
      logger.warn({ err: errorSummary(error), suppressed }, 'redis connection error');
      lastErrorLog = now;
      suppressed = 0;
    },
  });
}
