import type { Clock } from '../crypto/random';
import { RequestInvalid } from '../errors';
import type { KeyId } from '../keys/key-id';
import type { ContentRevocations, Revocation, RevocationRepository } from './ports';

/** Most revocations one listing answers; a license server polls again from the last one's time. */
export const MAX_REVOCATIONS_PER_PAGE = 500;

/** `since` of a revocation listing: an RFC 3339 UTC date-time. */
const SINCE_PATTERN = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?Z$/;

/**
 * The epoch ms a listing starts at: `since`, or the beginning.
 * @throws RequestInvalid for anything but an RFC 3339 UTC date-time (not echoed).
 */
export function revocationsSince(since: string | undefined): number {
  if (since === undefined) return 0;
  const ms = SINCE_PATTERN.test(since) ? Date.parse(since) : Number.NaN;
  if (Number.isNaN(ms)) throw new RequestInvalid('since must be an RFC 3339 UTC date-time, e.g. 2026-12-07T10:00:00Z');
  return ms;
}

/** Revocation of contents and keys: final, recorded with who and why. */
export function createRevocationService(deps: { readonly repository: RevocationRepository; readonly clock: Clock }) {
  const { repository, clock } = deps;
  return {
    /** Revokes a content (no `kids`) or some of its keys; `recorded` false when all already were. */
    async revoke(
      siteId: string,
      contentId: string,
      request: { readonly reason: string; readonly credentialId: string; readonly kids?: readonly KeyId[] },
    ): Promise<{ readonly recorded: boolean; readonly revocation: Revocation }> {
      const revocation: Revocation = {
        siteId,
        contentId,
        ...(request.kids !== undefined && { kids: [...new Set(request.kids)] }),
        revokedAt: clock().toISOString(),
        reason: request.reason,
        credentialId: request.credentialId,
      };
      const { recorded } = await repository.revoke(revocation);
      return { recorded, revocation };
    },

    state: (siteId: string, contentId: string): Promise<ContentRevocations> => repository.get(siteId, contentId),

    /** A site's revocations at or after `since` (`revocationsSince`), oldest first, at most `MAX_REVOCATIONS_PER_PAGE`. */
    listSince: (siteId: string, since: string | undefined): Promise<Revocation[]> =>
      repository.listSince(siteId, revocationsSince(since), MAX_REVOCATIONS_PER_PAGE),
  };
}

export type RevocationService = ReturnType<typeof createRevocationService>;

/** Whether `kid` of a content is revoked (the whole content, or that key). */
export function isRevoked(state: ContentRevocations, kid: KeyId): boolean {
  return state.content !== undefined || state.kids.has(kid);
}

/** The revocations of one content, oldest first, each once (one revocation may cover several KIDs). */
export function standingRevocations(state: ContentRevocations): Revocation[] {
  const distinct = new Map<string, Revocation>();
  for (const revocation of [...(state.content ? [state.content] : []), ...state.kids.values()]) {
    distinct.set(JSON.stringify(revocation), revocation);
  }
  return [...distinct.values()].sort((a, b) => a.revokedAt.localeCompare(b.revokedAt));
}
