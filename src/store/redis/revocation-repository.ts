import type { KeyId } from '../../keys/key-id';
import type { Revocation, RevocationRepository } from '../../revocation/ports';
import { decodeRevocation, encodeRevocation, revocationTargets, WHOLE_CONTENT } from '../lifecycle-records';
import type { RedisContext } from './context';

/**
 * Revocations in Redis (layout in `key-names.ts`): per content, a hash of revoked targets that the
 * get-or-create script reads in the same atomic step as it creates keys, and per site a log ordered
 * by time for license servers that poll.
 */
export function createRedisRevocationRepository(context: RedisContext): RevocationRepository {
  const { client, names, call, confirmDurable } = context;
  return {
    async revoke(revocation) {
      const site = names.site(revocation.siteId);
      const revoked = site.revoked(revocation.contentId);
      const recorded = await call('revoke', () =>
        client.cpixRevoke(revoked, site.revocations, encodeRevocation(revocation), Date.parse(revocation.revokedAt), ...revocationTargets(revocation)),
      );
      if (recorded === 1) await confirmDurable('revoke', revoked);
      return { recorded: recorded === 1 };
    },

    async get(siteId, contentId) {
      const hash = await call('getRevocations', () => client.hgetall(names.site(siteId).revoked(contentId)));
      const kids = new Map<KeyId, Revocation>();
      let content: Revocation | undefined;
      for (const [target, text] of Object.entries(hash)) {
        const revocation = decodeRevocation(siteId, text);
        if (target === WHOLE_CONTENT) content = revocation;
        else kids.set(target as KeyId, revocation);
      }
      return { ...(content !== undefined && { content }), kids };
    },

    async listSince(siteId, sinceMs, limit) {
      const members = await call('listRevocations', () => client.zrangebyscore(names.site(siteId).revocations, sinceMs, '+inf', 'LIMIT', 0, limit));
      return members.map((text) => decodeRevocation(siteId, text));
    },
  };
}
