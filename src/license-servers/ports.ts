/**
 * License servers registered per site (docs/license-servers.md): they fetch a content's keys as signed CPIX encrypted
 * to their certificate, authenticated by their own credential (never a KMS token). Stored with the
 * certificate (DER) and only the SHA-256 of the credential's secret part.
 */
export interface LicenseServerRecord {
  /** The credential's ID part: the lookup handle, safe to log and to audit. */
  readonly id: string;
  readonly siteId: string;
  readonly name: string;
  /** DER X.509 certificate the exported keys are encrypted to (RSA ≥ 2048). */
  readonly certificate: Buffer;
  readonly secretHash: Buffer;
  readonly createdAt: string;
  readonly lastUsedAt?: string;
  readonly revokedAt?: string;
}

/** Durable before resolving; `DependencyUnavailable` when the store cannot be reached. */
export interface LicenseServerRepository {
  create(record: LicenseServerRecord): Promise<void>;
  get(id: string): Promise<LicenseServerRecord | undefined>;
  /** A site's license servers, oldest first, revoked ones included. */
  list(siteId: string): Promise<LicenseServerRecord[]>;
  /** Marks it revoked; false when the site has no such license server. Idempotent. */
  revoke(siteId: string, id: string, revokedAt: string): Promise<boolean>;
  /** Best effort, as for KMS tokens. */
  touch(id: string, usedAt: string): Promise<void>;
}
