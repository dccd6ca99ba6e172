/**
 * Content policies (DRM groups): what a license server must enforce for the content of a group —
 * security level, persistence, licence duration, key rotation. A content gets its policy by an
 * explicit assignment, else by the longest matching prefix rule of its site (the empty prefix is
 * the site's default), else none.
 */

/** HIGH: decoding and decryption in a TEE; MEDIUM: decryption in a TEE; LOW: software. */
export type SecurityLevel = 'HIGH' | 'MEDIUM' | 'LOW';
export const SECURITY_LEVELS: readonly SecurityLevel[] = ['HIGH', 'MEDIUM', 'LOW'];

/** A policy's name: unique in its site (schemas/admin/policy-fields.schema.json says the same). */
export const POLICY_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface ContentPolicy {
  readonly name: string;
  readonly securityLevel: SecurityLevel;
  readonly persistentLicense: boolean;
  readonly licenseDurationSeconds: number;
  /** 0: no rotation; else keys rotate in periods of this many minutes. */
  readonly rotationIntervalMinutes: number;
}

export interface PolicyRule {
  /** '' matches every content: the site's default. */
  readonly contentIdPrefix: string;
  readonly policy: string;
}

/** What decides one content's policy, read in one step. */
export interface PolicySources {
  readonly assigned?: string;
  readonly rules: readonly PolicyRule[];
  readonly policies: ReadonlyMap<string, ContentPolicy>;
}

/**
 * Durable before resolving. Every write that names a policy checks, in the same atomic step, that
 * it exists; a policy in use (assigned to a content or named by a rule) cannot be deleted.
 */
export interface PolicyRepository {
  /** false: a policy of that name exists. */
  create(siteId: string, policy: ContentPolicy): Promise<boolean>;
  /** false: no such policy. */
  replace(siteId: string, policy: ContentPolicy): Promise<boolean>;
  list(siteId: string): Promise<ContentPolicy[]>;
  delete(siteId: string, name: string): Promise<'deleted' | 'missing' | 'in-use'>;
  /** Replaces the site's rules; `missing` names a policy a rule refers to that does not exist. */
  setRules(siteId: string, rules: readonly PolicyRule[]): Promise<{ readonly missing?: string }>;
  /** Assigns (`policy`) or unassigns (undefined) a content's policy. */
  assign(siteId: string, contentId: string, policy: string | undefined): Promise<{ readonly missing?: string }>;
  sources(siteId: string, contentId: string): Promise<PolicySources>;
}
