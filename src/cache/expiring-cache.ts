import type { Clock } from '../crypto/random';
import { createSingleFlight } from './single-flight';

/**
 * A bounded in-process cache whose entries expire `ttlMs` after they were set (by the injected clock),
 * least recently used first out when it is full. For values a process may use a little while after
 * reading them from the store: unwrapped site keys, a token and its site, a content's policy.
 */
export interface ExpiringCache<V> {
  /** The live value of `key`, if any (it becomes the most recently used). */
  get(key: string): V | undefined;
  set(key: string, value: V): void;
  /**
   * The live value of `key`, or else what `load` gives, kept: requests that miss the same key while
   * its load is under way share that load (`single-flight.ts`). A failed load is not kept.
   */
  getOrLoad(key: string, load: () => Promise<V>): Promise<V>;
  clear(): void;
}

export interface ExpiringCacheOptions {
  readonly clock: Clock;
  readonly ttlMs: number;
  readonly maxEntries: number;
}

export function createExpiringCache<V>({ clock, ttlMs, maxEntries }: ExpiringCacheOptions): ExpiringCache<V> {
  // Map iteration order is insertion order: re-inserting on a hit makes this an LRU.
  const entries = new Map<string, { readonly value: V; readonly expiresAt: number }>();
  const loadOnce = createSingleFlight<V>();
  function get(key: string): V | undefined {
    const hit = entries.get(key);
    if (hit === undefined) return undefined;
    entries.delete(key);
    if (hit.expiresAt <= clock().getTime()) return undefined;
    entries.set(key, hit);
    return hit.value;
  }
  function set(key: string, value: V): void {
    if (ttlMs <= 0) return;
    entries.delete(key);
    entries.set(key, { value, expiresAt: clock().getTime() + ttlMs });
    while (entries.size > maxEntries) {
      const oldest = entries.keys().next().value;
      if (oldest === undefined) break;
      entries.delete(oldest);
    }
  }
  return {
    get,
    set,
    async getOrLoad(key, load) {
      const hit = get(key);
      if (hit !== undefined) return hit;
      return loadOnce(key, async () => {
        const value = await load();
        set(key, value);
        return value;
      });
    },
    clear() {
      entries.clear();
    },
  };
}
