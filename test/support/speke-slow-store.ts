import type { ContentKeyRepository } from '../../src/keys/ports';
import type { Store } from '../../src/store/store';

/**
 * A `wrapStore` for `createTestApp`: `contentKeys.get` answers `delayMs` after it read, as a networked
 * store (Redis) does. better-sqlite3 is synchronous, so on the plain test app a request runs to
 * completion before the next one reads the store and concurrent "first" requests never race; with the
 * delay they all miss the read and race to `getOrCreate`, which is what the concurrency test has to
 * exercise.
 */
export function slowContentKeyReads(delayMs: number): (store: Store) => Store {
  return (store) => {
    const contentKeys: ContentKeyRepository = new Proxy(store.contentKeys, {
      get(target, property, receiver) {
        const value: unknown = Reflect.get(target, property, receiver);
        if (property !== 'get' || typeof value !== 'function') return value;
        // Read now, answer later: the answer reflects the store as it was when the read was made.
        return async (...args: unknown[]) => {
          const answer: unknown = await (value as (...a: unknown[]) => unknown).apply(target, args);
          await new Promise((resolve) => setTimeout(resolve, delayMs));
          return answer;
        };
      },
    });
    return new Proxy(store, {
      get: (target, property, receiver) => (property === 'contentKeys' ? contentKeys : Reflect.get(target, property, receiver)),
    });
  };
}
