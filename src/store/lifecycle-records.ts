import { SECURITY_LEVELS, type ContentPolicy, type PolicyRule, type SecurityLevel } from '../content-policy/ports';
import type { KeyId } from '../keys/key-id';
import type { Revocation } from '../revocation/ports';

/**
 * How both stores keep revocations and policies: as JSON text of exactly the port's fields (copied
 * one by one, so nothing else a caller's object carries is written), read back with every field
 * checked, so a record edited in the store by hand fails loudly instead of becoming a half-policy.
 */

type Json = Record<string, unknown>;

function object(text: string, what: string): Json {
  const value: unknown = JSON.parse(text);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`stored ${what} is not an object`);
  return value as Json;
}

function field<T>(record: Json, name: string, what: string, is: (value: unknown) => value is T): T {
  const value = record[name];
  if (!is(value)) throw new Error(`stored ${what} has a bad ${name}`);
  return value;
}

const isString = (value: unknown): value is string => typeof value === 'string';
const isBoolean = (value: unknown): value is boolean => typeof value === 'boolean';
const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
const isKids = (value: unknown): value is KeyId[] => Array.isArray(value) && value.every(isString);
const isLevel = (value: unknown): value is SecurityLevel => SECURITY_LEVELS.some((level) => level === value);

/** The revocation as stored (its site is where it is stored). */
export function encodeRevocation(revocation: Revocation): string {
  return JSON.stringify({
    contentId: revocation.contentId,
    ...(revocation.kids !== undefined && { kids: [...revocation.kids] }),
    revokedAt: revocation.revokedAt,
    reason: revocation.reason,
    credentialId: revocation.credentialId,
  });
}

export function decodeRevocation(siteId: string, text: string): Revocation {
  const what = 'revocation';
  const record = object(text, what);
  const kids = record.kids === undefined ? undefined : field(record, 'kids', what, isKids);
  return {
    siteId,
    contentId: field(record, 'contentId', what, isString),
    ...(kids !== undefined && { kids }),
    revokedAt: field(record, 'revokedAt', what, isString),
    reason: field(record, 'reason', what, isString),
    credentialId: field(record, 'credentialId', what, isString),
  };
}

/** The targets a revocation records: `*` for a whole content, else its KIDs. */
export function revocationTargets(revocation: Revocation): string[] {
  return revocation.kids === undefined ? [WHOLE_CONTENT] : [...revocation.kids];
}

/** The target standing for a whole content. */
export const WHOLE_CONTENT = '*';

export function encodePolicy(policy: ContentPolicy): string {
  return JSON.stringify({
    name: policy.name,
    securityLevel: policy.securityLevel,
    persistentLicense: policy.persistentLicense,
    licenseDurationSeconds: policy.licenseDurationSeconds,
    rotationIntervalMinutes: policy.rotationIntervalMinutes,
  });
}

export function decodePolicy(text: string): ContentPolicy {
  const what = 'policy';
  const record = object(text, what);
  return {
    name: field(record, 'name', what, isString),
    securityLevel: field(record, 'securityLevel', what, isLevel),
    persistentLicense: field(record, 'persistentLicense', what, isBoolean),
    licenseDurationSeconds: field(record, 'licenseDurationSeconds', what, isCount),
    rotationIntervalMinutes: field(record, 'rotationIntervalMinutes', what, isCount),
  };
}

export function encodeRules(rules: readonly PolicyRule[]): string {
  return JSON.stringify(rules.map((rule) => ({ contentIdPrefix: rule.contentIdPrefix, policy: rule.policy })));
}

export function decodeRules(text: string | null | undefined): PolicyRule[] {
  if (text === null || text === undefined) return [];
  const value: unknown = JSON.parse(text);
  if (!Array.isArray(value)) throw new Error('stored policy rules are not a list');
  return value.map((item: unknown) => {
    const rule = object(JSON.stringify(item), 'policy rule');
    return { contentIdPrefix: field(rule, 'contentIdPrefix', 'policy rule', isString), policy: field(rule, 'policy', 'policy rule', isString) };
  });
}
