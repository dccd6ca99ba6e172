import type { AuthFailureRepository, FailureWindow } from '../../auth-limits/ports';
import type { RedisContext } from './context';

/**
 * Failure counters as self-expiring Redis strings (layout in `key-names.ts`), one key per subject
 * and only single-key commands, so subjects may live on different Cluster slots. The window's end
 * comes from Redis's TTL, so all pods agree on it whatever their clocks say. No WAIT: a counter lost
 * in a failover only gives a guesser a fresh window, and a key write must not wait on it.
 */
export function createRedisAuthFailureRepository({ client, names, call }: RedisContext): AuthFailureRepository {
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
      return Promise.all(
        subjects.map(async (subject): Promise<FailureWindow> => {
          const key = names.authFailures(subject);
          const [count, ttl] = await call('readAuthFailures', async () => {
            const replies = await client.pipeline().get(key).pttl(key).exec();
            const [[getError, value] = [null, null], [ttlError, remaining] = [null, -2]] = replies ?? [];
            if (getError ?? ttlError) throw getError ?? ttlError;
            return [Number(value ?? 0), Number(remaining)] as const;
          });
          return ttl > 0 ? { count, resetsAtMs: nowMs + ttl } : { count: 0, resetsAtMs: nowMs };
        }),
      );
    },
  };
}
