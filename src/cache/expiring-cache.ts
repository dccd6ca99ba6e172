import type { Clock } from '../crypto/random';

/**
 * A bounded in-process cache whose entries expire `ttlMs` after they were set (by the injected clock),
 * least recently used first out when it is full. For values a process may use a little while after
 * reading them from the store: unwrapped site keys, a token and its site.
 */
export interface ExpiringCache<V> {
  /** The live value of `key`, if any (it becomes the most recently used). */
  get(key: string): V | undefined;
  set(key: string, value: V): void;
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
  return {
    get(key) {
      const hit = entries.get(key);
      if (hit === undefined) return undefined;
      entries.delete(key);
      if (hit.expiresAt <= clock().getTime()) return undefined;
      entries.set(key, hit);
      return hit.value;
    },
    set(key, value) {
      if (ttlMs <= 0) return;
      entries.delete(key);
      entries.set(key, { value, expiresAt: clock().getTime() + ttlMs });
      while (entries.size > maxEntries) {
        const oldest = entries.keys().next().value;
        if (oldest === undefined) break;
        entries.delete(oldest);
      }
    },
    clear() {
      entries.clear();
    },
  };
}
