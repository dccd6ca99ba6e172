/**
 * Ports of the ClearKey licence endpoint (docs/clearkey.md): the verification keys of licence tokens, and the
 * content policy a licence must respect (revocation, persistent licences; docs/content-policies.md).
 */

/** JWS algorithms a licence-token key can be registered for (RFC 7518 §3.1); one per key, pinned. */
export type LicenceTokenAlgorithm = 'HS256' | 'ES256' | 'RS256';

export const LICENCE_TOKEN_ALGORITHMS: readonly LicenceTokenAlgorithm[] = ['HS256', 'ES256', 'RS256'];

/** An HS256 secret as stored: sealed under a version of the site key (AES-256-GCM, src/crypto/aead.ts). */
export interface WrappedLicenceTokenSecret {
  readonly siteKeyVersion: number;
  readonly sealed: Buffer;
}

/**
 * A key that verifies a site's licence tokens. HS256 keys hold their secret only wrapped; ES256 and
 * RS256 keys hold the customer's public JWK (as JSON text, public members only).
 */
export interface LicenceTokenKeyRecord {
  readonly siteId: string;
  /** The JWT header `kid` that names this key; unique within its site. */
  readonly kid: string;
  readonly alg: LicenceTokenAlgorithm;
  readonly secret?: WrappedLicenceTokenSecret;
  readonly publicJwk?: string;
  readonly createdAt: string;
  readonly revokedAt?: string;
}

/** Durable before resolving; `DependencyUnavailable` when the store cannot be reached. */
export interface LicenceTokenKeyRepository {
  /** @throws Conflict when the site already has a key with this `kid`. */
  create(record: LicenceTokenKeyRecord): Promise<void>;
  get(siteId: string, kid: string): Promise<LicenceTokenKeyRecord | undefined>;
  /** A site's keys, oldest first, revoked ones included. */
  list(siteId: string): Promise<LicenceTokenKeyRecord[]>;
  /** Marks a key revoked (keeping the first time); false when the site has no such key. Idempotent. */
  revoke(siteId: string, kid: string, revokedAt: string): Promise<boolean>;
}

/** What a content's revocations and policy say about licences (`contentLicencePolicyOf`). */
export interface ContentLicencePolicy {
  /** Whether the content, or any of these of its keys, is revoked: its licence is refused with 410. */
  isRevoked(siteId: string, contentId: string, kids: readonly string[]): Promise<boolean>;
  /** Whether the content may be given `persistent-license` licences (EME §7.1); refused with 403 otherwise. */
  allowsPersistent(siteId: string, contentId: string): Promise<boolean>;
}
