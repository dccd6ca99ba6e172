import type { RedisStoreConfig } from '../../config/store-url';
import type { Store } from '../store';
import {
  closeRedisClient,
  connectRedisClient,
  createRedisClient,
  resolveRedisStoreOptions,
  sanitizeRedisError,
  type RedisStoreOptions,
} from './client';
import { createRedisAuditRepository } from './audit-repository';
import { createRedisAuthFailureRepository } from './auth-failure-repository';
import { createRedisContentKeyRepository } from './content-key-repository';
import { createRedisContext, type RedisContext } from './context';
import { checkRedisDurability, type DurabilityCheckable } from './durability';
import { createKeyNames, REDIS_SCHEMA_VERSION } from './key-names';
import { createRedisLicenceTokenKeyRepository } from './licence-token-key-repository';
import { createRedisLicenseServerRepository } from './license-server-repository';
import { createRedisMasterKeyCheckRepository } from './master-key-check-repository';
import { createRedisPolicyRepository } from './policy-repository';
import { createRedisRevocationRepository } from './revocation-repository';
import { defineStoreScripts } from './scripts';
import { createRedisSiteRepository } from './site-repository';

export { RECONNECT_DELAY_MAX_MS, type RedisStoreOptions } from './client';
export { checkRedisDurability, type DurabilityFinding } from './durability';

/** A Redis-backed `Store` that can also report on its durability (see `checkRedisDurability`). */
export interface RedisStore extends Store, DurabilityCheckable {
  readonly kind: 'redis';
}

/**
 * Records the key layout version under the prefix, or refuses a layout newer than this build
 * (as the SQLite store does with `user_version`).
 */
async function claimSchemaVersion({ client, names, call }: RedisContext): Promise<void> {
  const version = String(REDIS_SCHEMA_VERSION);
  await call('open', () => client.set(names.schemaVersion, version, 'NX'));
  const stored = Number(await call('open', () => client.get(names.schemaVersion)));
  if (stored > REDIS_SCHEMA_VERSION) {
    throw new Error(
      `Redis key prefix ${names.prefix} holds layout version ${stored}, newer than this build (${REDIS_SCHEMA_VERSION})`,
    );
  }
}

/**
 * Opens the Redis store (single server, Sentinel or Cluster, per `config`) and waits for the first
 * connection.
 *
 * Durability: with `waitReplicas` = 0 a write resolves once the master has applied it, which is
 * durable only if the server fsyncs before replying (`appendonly yes` + `appendfsync always`; a
 * single node configured so is durable on its own). With `waitReplicas` > 0 every write is followed
 * by `WAIT waitReplicas waitTimeoutMs`; fewer acknowledgements reject with
 * `DependencyUnavailable('ERR_DURABILITY_NOT_CONFIRMED')` — the record is written, so a retry returns
 * the same key. `checkDurability()` reports which case applies.
 *
 * Failures: every connection or command failure rejects with
 * `DependencyUnavailable('ERR_STORE_UNAVAILABLE')` at once (no offline queue, bounded command time);
 * the client keeps reconnecting in the background (at most `RECONNECT_DELAY_MAX_MS` apart).
 *
 * @throws ConfigError for out-of-range options; DependencyUnavailable ERR_STORE_UNAVAILABLE when
 *   the first connection fails; Error when the prefix holds a newer key layout.
 */
export async function openRedisStore(config: RedisStoreConfig, options: RedisStoreOptions = {}): Promise<RedisStore> {
  const settings = resolveRedisStoreOptions(options);
  const names = createKeyNames(settings.keyPrefix);
  const client = createRedisClient(config, settings);
  // Without a listener ioredis prints every reconnection error to the console.
  client.on('error', (error: unknown) => settings.onError?.(sanitizeRedisError(error)));
  defineStoreScripts(client);
  await connectRedisClient(client, config.nodes.length, settings.connectTimeoutMs);

  const context = createRedisContext(client, names, settings);
  try {
    await claimSchemaVersion(context);
  } catch (error) {
    await closeRedisClient(client);
    throw error;
  }

  return {
    kind: 'redis',
    sites: createRedisSiteRepository(context),
    contentKeys: createRedisContentKeyRepository(context),
    audit: createRedisAuditRepository(context),
    licenseServers: createRedisLicenseServerRepository(context),
    revocations: createRedisRevocationRepository(context),
    policies: createRedisPolicyRepository(context),
    licenceTokenKeys: createRedisLicenceTokenKeyRepository(context),
    authFailures: createRedisAuthFailureRepository(context),
    masterKeyCheck: createRedisMasterKeyCheckRepository(context),
    async ping() {
      await context.call('ping', () => client.ping());
    },
    async close() {
      await closeRedisClient(client);
    },
    checkDurability(waitReplicas = settings.waitReplicas) {
      return checkRedisDurability(client, waitReplicas);
    },
  };
}
