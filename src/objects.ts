/**
 * `value` without its `undefined` properties, so spreading it over defaults never erases one and
 * spreading it into a record never stores a key whose value is `undefined`.
 */
export function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
