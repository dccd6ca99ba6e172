/**
 * The audit trail of key issuance and export and of an operator's changes to keys and
 * policies (docs/content-policies.md): one record per response that carried keys, written durably
 * *before* that response is sent, and one per change. A record names what left the service, or what
 * changed, and who asked; it never holds key bytes, IVs, tokens or request XML.
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
  /** A change an operator made through the admin API. */
  | 'admin-api'
  /** A ClearKey licence answered to a player (docs/clearkey.md). */
  | 'clearkey';

/**
 * `issue`, `export` and `licence` hand keys out; the others are an operator's changes to a content's keys
 * (`import`, `revoke`), to a site's content policies, and to which policy a content is under.
 */
export type AuditAction =
  | 'issue'
  | 'export'
  | 'licence'
  | 'import'
  | 'revoke'
  | 'policy-create'
  | 'policy-update'
  | 'policy-delete'
  | 'policy-rules'
  | 'policy-assign';

/** What every record says, however it was written. */
interface AuditRecordCore {
  /** ISO-8601 UTC time the keys were obtained. */
  readonly at: string;
  readonly siteId: string;
  readonly action: AuditAction;
  /** KMS token ID, `legacy-access-key`, the license server ID for exports, or `admin`. Never a secret. */
  readonly credentialId: string;
  /** The client's address as express sees it (`req.ip`, honouring TRUST_PROXY). */
  readonly clientAddress: string;
  readonly dialect: AuditDialect;
  /** Empty for a change to the site as a whole (its policies and rules). */
  readonly contentId: string;
  /** How many of the response's keys were created by this request (the rest existed). */
  readonly keysCreated: number;
  /** The request ID of the access log, to join the two. */
  readonly requestId: string;
  /** Why (a revocation's reason). */
  readonly reason?: string;
  /** The policy a change was about (created, changed, deleted, assigned). */
  readonly policy?: string;
}

/** What the key routes hand to the audit trail: the whole response, however many keys it held. */
export interface NewAuditRecord extends AuditRecordCore {
  /** KIDs (lowercase UUIDs) of the keys in the response, in response order. */
  readonly kids: readonly string[];
  /** Distinct `ContentKeyPeriod@index` values the response covered; empty without rotation. */
  readonly periodIndexes: readonly number[];
}

/**
 * A record as stored and listed: its size does not grow with the request's (docs/decisions.md,
 * "Audit bounds"). The KID list is summarised by its length and digest, and only its first
 * `AUDIT_LISTED_KIDS` entries are kept; the period indexes likewise. Records written before the
 * bound hold the complete lists and none of the three summary fields.
 */
export interface AuditRecord extends AuditRecordCore {
  /** Assigned by the store; orders records within a site. */
  readonly id: string;
  /** The first `AUDIT_LISTED_KIDS` KIDs of the response, in response order (all of them when `kidCount` is absent). */
  readonly kids: readonly string[];
  /** How many KIDs the response held. */
  readonly kidCount?: number;
  /** `auditKidsDigest` of all of the response's KIDs: lowercase hex SHA-256. */
  readonly kidsSha256?: string;
  /** The first `AUDIT_LISTED_PERIOD_INDEXES` distinct period indexes, in response order. */
  readonly periodIndexes: readonly number[];
  /** How many distinct period indexes the response covered. */
  readonly periodIndexCount?: number;
}

/** Where a use case writes its audit record; `AuditService.record` in production. */
export interface AuditSink {
  record(record: NewAuditRecord): Promise<unknown>;
}

/** A record as the store writes it, before it has an ID. */
export type StoredAuditFields = Omit<AuditRecord, 'id'>;

export interface AuditPage {
  /** Newest first. */
  readonly records: readonly AuditRecord[];
  /** Pass as `before` to get the next (older) page; absent on the last page. */
  readonly next?: string;
}

export interface AuditListQuery {
  readonly limit: number;
  readonly before?: string;
  /** Budget of one page, in UTF-8 bytes of its records' JSON (`auditRecordBytes`). */
  readonly maxBytes: number;
}

/**
 * Append-only audit persistence. `append` resolves only once the record is as durable as a content
 * key would be (same fsync/WAIT rules); it throws `DependencyUnavailable` otherwise, and the caller
 * then must not return the keys (fail closed, as Vault does when its audit device fails).
 */
export interface AuditRepository {
  /** Stores `auditSummary(record)`: the record bounded as `AuditRecord` describes. */
  append(record: NewAuditRecord): Promise<AuditRecord>;
  /**
   * A site's records, newest first, starting after cursor `before` when given: at most `limit`
   * records, and no more than fit in `maxBytes` of JSON, except that a page always holds its first
   * record (so a record larger than the budget, written before the bound, is a page of its own and
   * paging still moves on). `next` is set whenever older records remain.
   */
  list(siteId: string, options: AuditListQuery): Promise<AuditPage>;
}
