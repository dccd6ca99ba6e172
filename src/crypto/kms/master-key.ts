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

/**
 * A key-check value: a blob only the master key that made it can open, stored once per store so that
 * a start with another master key is refused before any key request is answered (decision 58). It
 * holds no key material: a random or fixed value sealed under the master key (local) or a KMS data-key
 * ciphertext (aws-kms), so testing a guessed master key against it costs what testing it against any
 * wrapped site key already costs.
 */
export interface MasterKeyCheckValue {
  readonly provider: MasterKeyProviderName;
  /** Which master key made it (local key fingerprint or KMS key ARN); never secret. */
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
  /**
   * Makes a new key-check value for a store this master key is about to be bound to.
   * @throws DependencyUnavailable ERR_KMS_UNAVAILABLE when the master key cannot be used.
   */
  createCheckValue(): Promise<MasterKeyCheckValue>;
  /**
   * Resolves when `check` was made by this master key.
   * @throws KeyIntegrityError when it was not (another key, another provider, a damaged blob).
   * @throws DependencyUnavailable ERR_KMS_UNAVAILABLE when the master key cannot be used.
   */
  verifyCheckValue(check: MasterKeyCheckValue): Promise<void>;
  /** Resolves when the master key is usable; used by `/readyz`. */
  checkReady(): Promise<void>;
  /** Releases connections (SDK clients) at shutdown. */
  close?(): void;
}
