/**
 * The audit trail of key issuance and export (issue 4): one record per response that carried keys,
 * written durably *before* that response is sent. A record names what left the service and to whom;
 * it never holds key bytes, IVs, tokens or request XML.
 */

/** The protocol a key request came in through. */
export type AuditDialect =
  | 'speke-v1'
  | 'speke-v2.0'
  | 'speke-v2.1'
  | 'cpix'
  | 'cpix-api-v1'
  | 'cpix-api-v2'
  | 'license-export'
  | 'clearkey';

export type AuditAction = 'issue' | 'export' | 'licence';

export interface NewAuditRecord {
  /** ISO-8601 UTC time the keys were obtained. */
  readonly at: string;
  readonly siteId: string;
  readonly action: AuditAction;
  /** KMS token ID, `legacy-access-key`, or the license server ID for exports. Never a secret. */
  readonly credentialId: string;
  /** The client's address as express sees it (`req.ip`, honouring TRUST_PROXY). */
  readonly clientAddress: string;
  readonly dialect: AuditDialect;
  readonly contentId: string;
  /** KIDs (lowercase UUIDs) of the keys in the response, in response order. */
  readonly kids: readonly string[];
  /** Distinct `ContentKeyPeriod@index` values the response covered; empty without rotation. */
  readonly periodIndexes: readonly number[];
  /** How many of `kids` were created by this request (the rest existed). */
  readonly keysCreated: number;
  /** The request ID of the access log, to join the two. */
  readonly requestId: string;
}

/** A stored record: `id` is assigned by the store and orders records within a site. */
export interface AuditRecord extends NewAuditRecord {
  readonly id: string;
}

export interface AuditPage {
  /** Newest first. */
  readonly records: readonly AuditRecord[];
  /** Pass as `before` to get the next (older) page; absent on the last page. */
  readonly next?: string;
}

/**
 * Append-only audit persistence. `append` resolves only once the record is as durable as a content
 * key would be (same fsync/WAIT rules); it throws `DependencyUnavailable` otherwise, and the caller
 * then must not return the keys (fail closed, as Vault does when its audit device fails).
 */
export interface AuditRepository {
  append(record: NewAuditRecord): Promise<AuditRecord>;
  /** A site's records, newest first, `limit` per page, starting after cursor `before` when given. */
  list(siteId: string, options: { readonly limit: number; readonly before?: string }): Promise<AuditPage>;
}
