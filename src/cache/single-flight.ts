/**
 * Loads that run at most once at a time per key: while one of `key` is under way, a caller gets its
 * promise instead of starting another. In front of a cache, an entry that expires under load then
 * costs one store read (or one master-key unwrap) per process, not one per request in flight at that
 * moment; the caller still decides what it keeps.
 */
export type SingleFlight<V> = (key: string, load: () => Promise<V>) => Promise<V>;

export function createSingleFlight<V>(): SingleFlight<V> {
  // At most one entry per key whose load has not settled, so the map is bounded by the loads in flight.
  const inFlight = new Map<string, Promise<V>>();
  return (key, load) => {
    const running = inFlight.get(key);
    if (running !== undefined) return running;
    const started = load().finally(() => inFlight.delete(key));
    inFlight.set(key, started);
    return started;
  };
}
