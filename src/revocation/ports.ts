import type { KeyId } from '../keys/key-id';

/**
 * A revocation: a content, or some of its keys, withdrawn for good (compromised or pulled). From
 * then on no key request and no license export hands those keys out again; a content ID used again
 * stays revoked.
 */
export interface Revocation {
  readonly siteId: string;
  readonly contentId: string;
  /** The revoked KIDs; absent = the whole content, its keys now and later. */
  readonly kids?: readonly KeyId[];
  /** ISO-8601 UTC. */
  readonly revokedAt: string;
  readonly reason: string;
  /** Who revoked: the admin credential's ID, never a secret. */
  readonly credentialId: string;
}

/** What is revoked of one content. */
export interface ContentRevocations {
  /** The whole-content revocation, if any. */
  readonly content?: Revocation;
  /** Revocations of single keys, by KID. */
  readonly kids: ReadonlyMap<KeyId, Revocation>;
}

/** Durable before resolving; `DependencyUnavailable` when the store cannot be reached. */
export interface RevocationRepository {
  /**
   * Records `revocation` for each target not revoked yet (the content, or each of its KIDs), in one
   * atomic step; `recorded` is false when every target already was (revocation is final: the first
   * one stands). A whole-content revocation covers its KIDs.
   */
  revoke(revocation: Revocation): Promise<{ readonly recorded: boolean }>;
  get(siteId: string, contentId: string): Promise<ContentRevocations>;
  /** Revocations recorded at or after `sinceMs` (epoch ms), oldest first, at most `limit`. */
  listSince(siteId: string, sinceMs: number, limit: number): Promise<Revocation[]>;
}
