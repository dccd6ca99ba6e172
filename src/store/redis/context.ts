import { Cluster } from 'ioredis';
import { DependencyUnavailable, ServiceError } from '../../errors';
import { storeUnavailable, type RedisClient, type RedisStoreSettings } from './client';
import type { RedisKeyNames } from './key-names';

/** What the repositories share: the client, the key names and failure/durability handling. */
export interface RedisContext {
  readonly client: RedisClient;
  readonly names: RedisKeyNames;
  /** Runs Redis calls; any failure other than a `ServiceError` becomes ERR_STORE_UNAVAILABLE. */
  call<T>(operation: string, run: () => Promise<T>): Promise<T>;
  /**
   * After writes to the given keys: `WAIT` until `waitReplicas` replicas acknowledged them, on the
   * node of each key (Cluster) or once (a single connection covers all of its earlier writes).
   * @throws DependencyUnavailable ERR_DURABILITY_NOT_CONFIRMED when fewer acknowledged in time;
   * the writes stay applied, so a retry finds them.
   */
  confirmDurable(operation: string, ...keys: string[]): Promise<void>;
  /** HGETALL of keys that share one hash tag, in one round trip; `{}` for a missing key. */
  readHashes(operation: string, keys: readonly string[]): Promise<Record<string, string>[]>;
}

type PipelineReplies = [error: Error | null, result: unknown][] | null;

/** The results of a pipeline's `expected` commands; the first error, or a short reply, as ERR_STORE_UNAVAILABLE. */
export function repliesOf(operation: string, replies: PipelineReplies, expected: number): unknown[] {
  if (!replies || replies.length !== expected) {
    throw storeUnavailable(operation, new Error(`pipeline returned ${replies?.length ?? 'no'} replies for ${expected}`));
  }
  return replies.map(([error, result]) => {
    if (error) throw storeUnavailable(operation, error);
    return result;
  });
}

export function createRedisContext(client: RedisClient, names: RedisKeyNames, settings: RedisStoreSettings): RedisContext {
  const { waitReplicas, waitTimeoutMs } = settings;
  const isCluster = client instanceof Cluster;

  async function call<T>(operation: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (error instanceof ServiceError) throw error;
      throw storeUnavailable(operation, error);
    }
  }

  async function waitOnNodeOf(operation: string, key: string): Promise<void> {
    // WAIT has no key; pipelined behind a keyed no-op it reaches the node that owns `key`, over the
    // same connection that made the write, which is what WAIT counts.
    const replies = await call(operation, () => client.pipeline().exists(key).wait(waitReplicas, waitTimeoutMs).exec());
    const [, acknowledged] = repliesOf(operation, replies, 2);
    if (typeof acknowledged !== 'number' || acknowledged < waitReplicas) {
      throw new DependencyUnavailable('ERR_DURABILITY_NOT_CONFIRMED', 'key store could not confirm the write is durable', {
        detail:
          `redis ${operation}: ${String(acknowledged)} of ${waitReplicas} replicas acknowledged ` +
          `within ${waitTimeoutMs} ms`,
      });
    }
  }

  return {
    client,
    names,
    call,
    async confirmDurable(operation, ...keys) {
      if (waitReplicas === 0 || keys.length === 0) return;
      const targets = isCluster ? keys : keys.slice(0, 1);
      await Promise.all(targets.map((key) => waitOnNodeOf(operation, key)));
    },
    async readHashes(operation, keys) {
      if (keys.length === 0) return [];
      const pipeline = client.pipeline();
      for (const key of keys) pipeline.hgetall(key);
      const replies = repliesOf(operation, await call(operation, () => pipeline.exec()), keys.length);
      return replies as Record<string, string>[];
    },
  };
}
