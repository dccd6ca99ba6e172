import { Cluster } from 'ioredis';
import type { AuthFailureRepository, FailureWindow } from '../../auth-limits/ports';
import { repliesOf, type RedisContext } from './context';

/**
 * Failure counters as self-expiring Redis strings (layout in `key-names.ts`), one key per subject
 * and only single-key commands, so subjects may live on different Cluster slots. The window's end
 * comes from Redis's TTL, so all pods agree on it whatever their clocks say. No WAIT: a counter lost
 * in a failover only gives a guesser a fresh window, and a key write must not wait on it.
 */
export function createRedisAuthFailureRepository({ client, names, call }: RedisContext): AuthFailureRepository {
  /**
   * Every request reads its counters (address and credential) before its credential is checked: one
   * pipeline, one round trip, on a single Redis; one per key on a Cluster, where they sit in other slots.
   */
  async function readCounters(keys: readonly string[]) {
    const pipelineOf = (batch: readonly string[]) => {
      const pipeline = client.pipeline();
      for (const key of batch) pipeline.get(key).pttl(key);
      return pipeline.exec().then((replies) => {
        const results = repliesOf('readAuthFailures', replies, batch.length * 2);
        return batch.map((_, i) => [Number(results[2 * i] ?? 0), Number(results[2 * i + 1] ?? -2)] as const);
      });
    };
    if (!(client instanceof Cluster)) return pipelineOf(keys);
    return (await Promise.all(keys.map((key) => pipelineOf([key])))).flat();
  }

  return {
    async record(subjects, windowMs, nowMs) {
      return Promise.all(
        subjects.map(async (subject): Promise<FailureWindow> => {
          const [count, ttl] = await call('recordAuthFailure', () => client.cpixRecordAuthFailure(names.authFailures(subject), windowMs));
          return { count, resetsAtMs: nowMs + ttl };
        }),
      );
    },
    async read(subjects, nowMs) {
      const counters = await call('readAuthFailures', () => readCounters(subjects.map((subject) => names.authFailures(subject))));
      return counters.map(([count, ttl]): FailureWindow => (ttl > 0 ? { count, resetsAtMs: nowMs + ttl } : { count: 0, resetsAtMs: nowMs }));
    },
  };
}
