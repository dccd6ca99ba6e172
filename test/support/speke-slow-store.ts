import type { ContentKeyRepository } from '../../src/keys/ports';
import type { Store } from '../../src/store/store';

/**
 * A `wrapStore` for `createTestApp` whose `contentKeys.getOrCreateAll` runs `before` (and waits for
 * it) each time it is called, then reaches the store: a hook to count, order or hold the key step.
 */
export function beforeGetOrCreate(before: () => void | Promise<void>): (store: Store) => Store {
  const contentKeys = (store: Store): ContentKeyRepository => ({
    ...store.contentKeys,
    getOrCreateAll: async (records, options) => {
      await before();
      return store.contentKeys.getOrCreateAll(records, options);
    },
  });
  return (store) => ({ ...store, contentKeys: contentKeys(store) });
}

/**
 * `contentKeys.getOrCreateAll` reaches the store `delayMs` after it was called, as over a network
 * (Redis). better-sqlite3 is synchronous, so on the plain test app a request runs to completion
 * before the next one reaches the store and concurrent "first" requests never race; with the delay
 * they all make their candidate keys before any of them is stored, and all but one lose the race to
 * create them — the path the concurrency test has to exercise.
 */
export function slowGetOrCreate(delayMs: number): (store: Store) => Store {
  return beforeGetOrCreate(() => new Promise((resolve) => setTimeout(resolve, delayMs)));
}
