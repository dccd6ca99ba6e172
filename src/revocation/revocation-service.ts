import type { Clock } from '../crypto/random';
import type { KeyId } from '../keys/key-id';
import type { ContentRevocations, Revocation, RevocationRepository } from './ports';

/** Most revocations one listing answers; a license server polls again from the last one's time. */
export const MAX_REVOCATIONS_PER_PAGE = 500;

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

    listSince: (siteId: string, sinceMs: number): Promise<Revocation[]> => repository.listSince(siteId, sinceMs, MAX_REVOCATIONS_PER_PAGE),
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
