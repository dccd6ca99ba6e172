import type { SiteRecord, SiteOptions, SiteStatus, StoredSiteKey } from './site';

/** A KMS token as stored: only the SHA-256 of its secret part. */
export interface KmsTokenRecord {
  readonly id: string;
  readonly siteId: string;
  readonly name: string;
  readonly secretHash: Buffer;
  readonly createdAt: string;
  readonly lastUsedAt?: string;
  readonly revokedAt?: string;
}

export interface SitePatch {
  readonly name?: string;
  readonly status?: SiteStatus;
  readonly options?: SiteOptions;
  readonly updatedAt: string;
}

/**
 * Persistence of sites and their KMS tokens. Writes are durable before they resolve;
 * `DependencyUnavailable` when the store cannot be reached.
 */
export interface SiteRepository {
  /** @throws Conflict when the site ID is taken. */
  createSite(site: SiteRecord): Promise<void>;
  getSite(siteId: string): Promise<SiteRecord | undefined>;
  /** Sites ordered by ID. */
  listSites(): Promise<SiteRecord[]>;
  /** Returns the updated site, or undefined when there is no such site. */
  updateSite(siteId: string, patch: SitePatch): Promise<SiteRecord | undefined>;
  /**
   * Appends a site-key version if the current version is still `expectedCurrentVersion`
   * (compare-and-set); returns false otherwise.
   * @throws RangeError when `siteKey.version` is not `expectedCurrentVersion + 1`.
   */
  addSiteKey(siteId: string, expectedCurrentVersion: number, siteKey: StoredSiteKey): Promise<boolean>;

  createToken(token: KmsTokenRecord): Promise<void>;
  getToken(tokenId: string): Promise<KmsTokenRecord | undefined>;
  /** Tokens of a site, oldest first, revoked ones included. */
  listTokens(siteId: string): Promise<KmsTokenRecord[]>;
  /** Marks a token revoked; returns false when the site has no such token. Idempotent. */
  revokeToken(siteId: string, tokenId: string, revokedAt: string): Promise<boolean>;
  /** Records a successful use; best effort (callers do not fail a login on its error). */
  touchToken(tokenId: string, usedAt: string): Promise<void>;
}
