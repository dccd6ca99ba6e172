/**
 * Port for the master key that wraps every site key (envelope encryption: master key → site key →
 * content keys). Implementations: `local-master-key.ts` (a key file, for development and small
 * installations) and `aws-kms-master-key.ts` (the plaintext master key never leaves AWS KMS).
 */

export type MasterKeyProviderName = 'local' | 'aws-kms';

/** A site key as stored: opaque to everything but the provider that produced it. */
export interface WrappedSiteKey {
  readonly provider: MasterKeyProviderName;
  /** Which master key wrapped it (local key fingerprint or KMS key ARN); never secret. */
  readonly masterKeyId: string;
  readonly blob: Buffer;
}

/** What a site key is bound to: unwrapping under another site or version fails. */
export interface SiteKeyContext {
  readonly siteId: string;
  readonly version: number;
}

export interface MasterKeyProvider {
  readonly name: MasterKeyProviderName;
  /**
   * Creates a fresh random 256-bit site key and returns it with its wrapped form.
   * @throws DependencyUnavailable ERR_KMS_UNAVAILABLE when the master key cannot be used.
   */
  generateSiteKey(context: SiteKeyContext): Promise<{ readonly plaintext: Buffer; readonly wrapped: WrappedSiteKey }>;
  /**
   * @throws KeyIntegrityError when the blob was not made by this master key for this context.
   * @throws DependencyUnavailable ERR_KMS_UNAVAILABLE when the master key cannot be used.
   */
  unwrapSiteKey(wrapped: WrappedSiteKey, context: SiteKeyContext): Promise<Buffer>;
  /** Resolves when the master key is usable; used by `/readyz`. */
  checkReady(): Promise<void>;
  /** Releases connections (SDK clients) at shutdown. */
  close?(): void;
}
