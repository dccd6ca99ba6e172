import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisStoreConfig } from '../../config/store-url';
import { ConfigError, DependencyUnavailable } from '../../errors';
import { KEY_PREFIX_PATTERN } from './key-names';
import { withoutUndefined } from '../../objects';

/** How often a connection asks a Redis that is still loading its data again. */
const LOADING_RETRY_MS = 100;

export type RedisClient = Redis | Cluster;

/** Tuning of the Redis store; every field has a default. */
export interface RedisStoreOptions {
  /** Namespace of every key, so several deployments can share one Redis. Default `cpixkms`. */
  readonly keyPrefix?: string;
  /**
   * Replicas that must acknowledge every write (`WAIT`) before it resolves. Default 0: rely on the
   * server's own persistence, which is durable on a single node with `appendonly yes` and
   * `appendfsync always`.
   */
  readonly waitReplicas?: number;
  /** How long `WAIT` may block; must be ≥ 1 (0 would block forever). Default 1000. */
  readonly waitTimeoutMs?: number;
  /** Limit of one connection attempt, and of the first connection at open per configured node. Default 2000. */
  readonly connectTimeoutMs?: number;
  /** Limit of one command; must exceed `waitTimeoutMs` when `waitReplicas` > 0. Default 2000. */
  readonly commandTimeoutMs?: number;
  /** Reconnections a command in flight may wait through before it fails. Default 1. */
  readonly maxRetriesPerRequest?: number;
  /**
   * Connection errors as ioredis reports them while it reconnects (every attempt), for logging.
   * The errors carry name and message only. Commands fail with `DependencyUnavailable` regardless.
   */
  readonly onError?: (error: Error) => void;
}

export type RedisStoreSettings = Required<Omit<RedisStoreOptions, 'onError'>> & Pick<RedisStoreOptions, 'onError'>;

export const DEFAULT_REDIS_STORE_OPTIONS = Object.freeze({
  keyPrefix: 'cpixkms',
  waitReplicas: 0,
  waitTimeoutMs: 1000,
  connectTimeoutMs: 2000,
  commandTimeoutMs: 2000,
  maxRetriesPerRequest: 1,
});

/**
 * Longest pause between reconnection attempts: after Redis comes back, the store is usable again
 * within about this long (plus one connect). Well inside the one second of recovery the service
 * promises also on a loaded machine; an attempt every 250 ms against a down Redis costs
 * nothing worth saving.
 */
export const RECONNECT_DELAY_MAX_MS = 250;
const RECONNECT_DELAY_FIRST_MS = 50;
/**
 * How long a closing socket may take to end before it is destroyed. ioredis arms this timer even
 * for a socket that is already gone (closing while Redis is down), where nothing clears it early:
 * keep it short so it does not hold the process open at shutdown (ioredis' default is 2 s).
 */
const DISCONNECT_TIMEOUT_MS = 250;

/** Exponential backoff 50, 100, 200, 250, 250, … ms; never gives up. */
export function reconnectDelayMs(attempt: number): number {
  return Math.min(RECONNECT_DELAY_FIRST_MS * 2 ** Math.max(0, attempt - 1), RECONNECT_DELAY_MAX_MS);
}

/** @throws ConfigError naming the option that is out of range. */
export function resolveRedisStoreOptions(options: RedisStoreOptions): RedisStoreSettings {
  const settings = { ...DEFAULT_REDIS_STORE_OPTIONS, ...withoutUndefined(options) };
  if (!KEY_PREFIX_PATTERN.test(settings.keyPrefix)) {
    throw new ConfigError('Redis key prefix must be 1 to 64 letters, digits, ".", "_", ":" or "-"');
  }
  const counts = { waitReplicas: settings.waitReplicas, maxRetriesPerRequest: settings.maxRetriesPerRequest };
  for (const [name, value] of Object.entries(counts)) {
    if (!Number.isSafeInteger(value) || value < 0) throw new ConfigError(`Redis ${name} must be a non-negative integer`);
  }
  const durations = {
    waitTimeoutMs: settings.waitTimeoutMs,
    connectTimeoutMs: settings.connectTimeoutMs,
    commandTimeoutMs: settings.commandTimeoutMs,
  };
  for (const [name, value] of Object.entries(durations)) {
    if (!Number.isSafeInteger(value) || value < 1) throw new ConfigError(`Redis ${name} must be a positive integer`);
  }
  if (settings.waitReplicas > 0 && settings.commandTimeoutMs <= settings.waitTimeoutMs) {
    // Otherwise the client gives up on WAIT before the server answers it.
    throw new ConfigError('Redis commandTimeoutMs must exceed waitTimeoutMs when waitReplicas > 0');
  }
  return settings;
}

function keepHostName(address: string, callback: (error: null, address: string) => void): void {
  callback(null, address);
}

/**
 * A client that fails fast instead of queueing: commands sent while disconnected reject at once
 * (no offline queue), a command in flight survives at most `maxRetriesPerRequest` reconnections,
 * and each command is bounded by `commandTimeoutMs`. Reconnection continues in the background with
 * `reconnectDelayMs`. Created unconnected (`lazyConnect`); `connectRedisClient` opens it.
 */
export function createRedisClient(config: RedisStoreConfig, settings: RedisStoreSettings): RedisClient {
  // `{}`: Node's defaults, i.e. certificate and host name verified against the system CAs.
  const tls = config.tls ? {} : undefined;
  const connection = {
    connectTimeout: settings.connectTimeoutMs,
    disconnectTimeout: DISCONNECT_TIMEOUT_MS,
    commandTimeout: settings.commandTimeoutMs,
    maxRetriesPerRequest: settings.maxRetriesPerRequest,
    // A restarted Redis answers LOADING while it replays its AOF; ioredis re-checks after the
    // server's ETA, rounded up to a second. Polling every 100 ms keeps recovery within a second.
    maxLoadingRetryTime: LOADING_RETRY_MS,
    ...(config.username !== undefined && { username: config.username }),
    ...(config.password !== undefined && { password: config.password }),
    ...(tls && { tls }),
  } satisfies RedisOptions;
  const standalone: RedisOptions = {
    ...connection,
    lazyConnect: true,
    enableOfflineQueue: false,
    retryStrategy: reconnectDelayMs,
    // A demoted master answers READONLY after a failover: reconnect (through Sentinel) to the new one.
    reconnectOnError: (error) => error.message.startsWith('READONLY'),
    ...(config.db !== undefined && { db: config.db }),
  };

  switch (config.mode) {
    case 'single': {
      const [node] = config.nodes;
      if (!node) throw new RangeError('Redis configuration has no node');
      return new Redis({ ...standalone, host: node.host, port: node.port });
    }
    case 'sentinel':
      if (config.sentinelMasterName === undefined) throw new RangeError('Sentinel configuration has no master name');
      return new Redis({
        ...standalone,
        sentinels: config.nodes.map(({ host, port }) => ({ host, port })),
        name: config.sentinelMasterName,
        sentinelRetryStrategy: reconnectDelayMs,
        sentinelCommandTimeout: settings.commandTimeoutMs,
        // Subscribes to +switch-master, so a failover is followed without waiting for an error.
        failoverDetector: true,
        ...(tls && { enableTLSForSentinelMode: true, sentinelTLS: tls }),
      });
    case 'cluster': {
      const options: ClusterOptions = {
        lazyConnect: true,
        enableOfflineQueue: false,
        clusterRetryStrategy: reconnectDelayMs,
        slotsRefreshTimeout: settings.commandTimeoutMs,
        redisOptions: connection,
        // With TLS, keep host names for SNI and certificate checks (ioredis README, AWS ElastiCache).
        ...(tls && { dnsLookup: keepHostName }),
      };
      return new Cluster(
        config.nodes.map(({ host, port }) => ({ host, port })),
        options,
      );
    }
  }
}

/**
 * Opens the first connection, bounded by `connectTimeoutMs` per configured node (Sentinel mode
 * would otherwise keep retrying inside `connect()`). On failure the client is shut down, so no
 * reconnection loop is left behind.
 * @throws DependencyUnavailable ERR_STORE_UNAVAILABLE.
 */
export async function connectRedisClient(client: RedisClient, nodeCount: number, connectTimeoutMs: number): Promise<void> {
  const deadlineMs = connectTimeoutMs * Math.max(1, nodeCount);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no connection within ${deadlineMs} ms`)), deadlineMs);
  });
  const connecting = client.connect();
  try {
    await Promise.race([connecting, deadline]);
  } catch (error) {
    connecting.catch(() => undefined);
    client.disconnect();
    throw storeUnavailable('connect', error);
  } finally {
    clearTimeout(timer);
  }
}

/** Quits politely; if Redis cannot be reached, drops the connection. Never throws. */
export async function closeRedisClient(client: RedisClient): Promise<void> {
  try {
    await client.quit();
  } catch {
    // Nothing to flush: every write already resolved or rejected.
  } finally {
    client.disconnect();
  }
}

const MAX_DETAIL_LENGTH = 200;

/**
 * Copy of a Redis failure with name, message and stack only. ioredis attaches the failed command
 * with its arguments (`error.command`), and Redis quotes arguments in "unknown command" replies;
 * either may hold wrapped keys or token hashes, which must not reach logs.
 */
export function sanitizeRedisError(error: unknown): Error {
  if (!(error instanceof Error)) return new Error('non-error value thrown by the Redis client');
  const message = error.message.replace(/, with args beginning with:[\s\S]*$/, '').slice(0, MAX_DETAIL_LENGTH);
  const sanitized = new Error(message);
  sanitized.name = error.name;
  // The original frames, under the sanitized first line (which would repeat the full message).
  const frames = error.stack?.split('\n').filter((line) => line.startsWith('    at ')) ?? [];
  sanitized.stack = [`${sanitized.name}: ${message}`, ...frames].join('\n');
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') Object.assign(sanitized, { code });
  return sanitized;
}

/** `DependencyUnavailable` for any Redis failure; `operation` names the store call for the log. */
export function storeUnavailable(operation: string, error: unknown): DependencyUnavailable {
  const cause = sanitizeRedisError(error);
  return new DependencyUnavailable('ERR_STORE_UNAVAILABLE', 'key store unavailable', {
    cause,
    detail: `redis ${operation}: ${cause.name}: ${cause.message}`,
  });
}
