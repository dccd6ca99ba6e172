import type { NewAuditRecord } from '../audit/ports';
import type { KeyId } from './key-id';

/** Descriptive attributes of a content key, fixed when the key is created. */
export interface ContentKeyAttributes {
  /** CPIX `intendedTrackType` / PallyCon track type (AUDIO, SD, HD, …). */
  readonly trackType?: string;
  /** `ContentKeyPeriod@index` for rotating keys. */
  readonly periodIndex?: number;
  /** `commonEncryptionScheme` (cenc, cbcs, …) the key was requested for. */
  readonly scheme?: string;
  /** 16-byte IV delivered with the key (FairPlay, HLS AES-128); not secret. */
  readonly iv?: Buffer;
}

/** A content key as persisted: the key itself only in wrapped form. */
export interface ContentKeyRecord extends ContentKeyAttributes {
  readonly siteId: string;
  readonly contentId: string;
  readonly kid: KeyId;
  /** Version of the site key that wrapped `wrappedKey`. */
  readonly siteKeyVersion: number;
  /** AES-256-GCM blob of the 16 key bytes, bound to the record's identity and attributes. */
  readonly wrappedKey: Buffer;
  /** ISO-8601 UTC. */
  readonly createdAt: string;
}

/** One record for `getOrCreateAll`. */
export interface GetOrCreateRequest {
  readonly record: ContentKeyRecord;
  /** The record's IV is the client's: an existing record with another IV is a conflict, not an answer. */
  readonly ivMustMatch: boolean;
  /** The caller saw no record for it (a key import): one that exists now was made meanwhile. */
  readonly mustBeNew?: boolean;
  /**
   * An imported key's slot (`importSlot(trackType, periodIndex)`): recorded with the key, so that a
   * server that assigns KIDs per track type and period (PallyCon) answers the imported one.
   */
  readonly importSlot?: string;
  /**
   * The KID was assigned by the server for this slot (`importSlot(trackType, periodIndex)`): when an
   * imported key holds the slot under another KID, the step creates nothing and answers the
   * imported KIDs (`slot-imported`), so the caller answers those keys instead.
   */
  readonly assignedSlot?: string;
}

/**
 * What a key request's get-or-create checks and records in the same atomic step, so that the
 * request costs one store round trip: that what it was authenticated with is still current
 * (authentication may have read the token and site from a short-lived cache), and its audit record.
 */
export interface IssueContext {
  /** The KMS token ID (or the legacy credential ID): stale when the token was revoked since. */
  readonly credentialId: string;
  /** `SiteRecord.revision` as authentication read it: stale when the site changed since, or is not active. */
  readonly siteRevision: number;
  /** Stored in the same step, `keysCreated` being the number of keys this step created. */
  readonly audit: Omit<NewAuditRecord, 'keysCreated'>;
}

export interface GetOrCreateOptions {
  readonly limit?: CreationLimit;
  readonly issue?: IssueContext;
}

/** Keys one site may create per fixed window (a window opens with its first creation). */
export interface CreationLimit {
  readonly perWindow: number;
  readonly windowMs: number;
  readonly nowMs: number;
}

export type GetOrCreateOutcome =
  | { readonly kind: 'obtained'; readonly results: readonly { readonly record: ContentKeyRecord; readonly created: boolean }[] }
  /** `requests[index]` insists on an IV its stored record does not have. */
  | { readonly kind: 'iv-differs'; readonly index: number }
  /** `requests[index]`'s content, or that key, is revoked. */
  | { readonly kind: 'revoked'; readonly index: number }
  /** `requests[index]` must be new, and a record exists. */
  | { readonly kind: 'exists'; readonly index: number }
  /** The site's window would overflow; it closes in `retryAfterMs`. */
  | { readonly kind: 'over-limit'; readonly retryAfterMs: number }
  /** With `issue`: the site changed since the given revision or is not active, or the credential was revoked. */
  | { readonly kind: 'stale-authentication' }
  /** Imported keys hold slots of `assignedSlot` requests: their KIDs, per request (undefined where none). */
  | { readonly kind: 'slot-imported'; readonly kids: readonly (KeyId | undefined)[] };

export interface ContentKeyPageQuery {
  readonly limit: number;
  readonly after?: string;
}

export interface ContentKeyPage {
  readonly records: readonly ContentKeyRecord[];
  /** Pass as `after` for the next page; absent on the last one. */
  readonly next?: string;
}

/**
 * Persistence of content keys, keyed by (site ID, content ID, KID). Every write is durable before
 * its promise resolves. Implementations throw `DependencyUnavailable` when the store is unreachable.
 */
export interface ContentKeyRepository {
  /**
   * Inserts each requested record (all of one site) unless a record for its (site, content, KID)
   * exists, in one atomic step; answers, in the same order, the stored record and whether it was
   * this call that created it. Concurrent calls for one identity all resolve to the same single
   * record. The step creates nothing and answers why instead when the `issue` context is stale, when a record's content or KID is revoked (`RevocationRepository`),
   * when an imported key holds an `assignedSlot`, when an existing record holds another IV than a
   * request that insists on its IV (`ivMustMatch`), when a record that must be new exists, or when
   * the new records would take the site past `limit`'s keys created in the current window (a
   * repeat, creating none, always passes). With `issue`, its audit record is stored in the same step.
   */
  getOrCreateAll(requests: readonly GetOrCreateRequest[], options?: GetOrCreateOptions): Promise<GetOrCreateOutcome>;
  get(siteId: string, contentId: string, kid: KeyId): Promise<ContentKeyRecord | undefined>;
  /** All keys of one content, oldest first. */
  listByContent(siteId: string, contentId: string): Promise<ContentKeyRecord[]>;
  /**
   * At most `limit` keys of one content, oldest first (the order of `listByContent`), starting after
   * cursor `after`, by key like `pageBySite`; `next` is absent once the content has no more.
   * @throws RequestInvalid for a cursor this store did not issue (it comes from an API client);
   *   RangeError for a limit that is not a positive integer.
   */
  pageByContent(siteId: string, contentId: string, options: ContentKeyPageQuery): Promise<ContentKeyPage>;
  /**
   * At most `limit` records of a site, in an order the store fixes, starting after cursor `after`
   * (the previous page's `next`); `next` is absent once the site has no more. Pages are found by
   * key, not by position, so records created or removed between two pages never make the walk skip
   * or repeat a record that stays. Site-key rotation walks a site with it, one bounded batch at a
   * time, however many keys the site or one of its contents has.
   * @throws RangeError for a cursor this store did not issue, or a limit that is not a positive integer.
   */
  pageBySite(siteId: string, options: ContentKeyPageQuery): Promise<ContentKeyPage>;
  /**
   * Replaces the wrapped key of an existing record if it still holds `expectedWrappedKey`
   * (compare-and-set); returns false when the record changed or vanished meanwhile.
   */
  replaceWrappedKey(
    identity: Pick<ContentKeyRecord, 'siteId' | 'contentId' | 'kid'>,
    expectedWrappedKey: Buffer,
    next: Pick<ContentKeyRecord, 'siteKeyVersion' | 'wrappedKey'>,
  ): Promise<boolean>;
}

/** The site's key-encryption keys, as the content-key lifecycle needs them. */
export interface SiteKeyProvider {
  /** The version new content keys are wrapped with, and its key. */
  currentSiteKey(siteId: string): Promise<{ readonly version: number; readonly key: Buffer }>;
  siteKey(siteId: string, version: number): Promise<Buffer>;
  /** Creates a new site-key version and makes it current; returns the new version. */
  rotateSiteKey(siteId: string): Promise<number>;
}

/** The slot of an imported key: its track type and period index, as one string. */
export function importSlot(trackType: string | undefined, periodIndex: number | undefined): string {
  return `${trackType ?? ''}|${periodIndex === undefined ? '' : periodIndex}`;
}
