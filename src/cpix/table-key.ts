/**
 * Whether `key` names an own entry of a constant lookup table (element name → model field, prefix →
 * namespace). `Object.hasOwn`, not `in`: a document's element named `constructor` or `__proto__`
 * must not match an inherited property.
 */
export function isTableKey<T extends object>(table: T, key: string): key is Extract<keyof T, string> {
  return Object.hasOwn(table, key);
}
