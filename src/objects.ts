/**
 * `value` without its `undefined` properties, so spreading it over defaults never erases one and
 * spreading it into a record never stores a key whose value is `undefined`.
 */
export function withoutUndefined<T extends object>(value: T): Partial<T> {
  // A plain loop: this runs several times per DRMSystem of every key request, and the
  // entries/filter/fromEntries form cost 2 % of a 5-key exchange in allocations alone.
  const out: Partial<T> = {};
  for (const key of Object.keys(value) as (keyof T)[]) {
    if (value[key] !== undefined) out[key] = value[key];
  }
  return out;
}

/**
 * `items` in `compare` order: the input itself when it is in that order already (what callers
 * usually pass), else a copy sorted by insertion. For the few attributes of one XML element, on every
 * element of every answer: `Array.prototype.sort` allocated about 2 KB a call.
 */
export function inOrder<T>(items: readonly T[], compare: (a: T, b: T) => number): readonly T[] {
  let sorted: T[] | undefined;
  for (let i = 1; i < items.length; i += 1) {
    const item = items[i] as T;
    if (compare((sorted ?? items)[i - 1] as T, item) <= 0) continue;
    sorted ??= items.slice();
    let j = i;
    for (; j > 0 && compare(sorted[j - 1] as T, item) > 0; j -= 1) sorted[j] = sorted[j - 1] as T;
    sorted[j] = item;
  }
  return sorted ?? items;
}
