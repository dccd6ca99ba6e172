import type { LicenseServerRecord, LicenseServerRepository } from '../../license-servers/ports';
import { decodeLicenseServer, encodeLicenseServer } from './codec';
import type { RedisContext } from './context';

/**
 * License servers in Redis (layout in `key-names.ts`), stored like KMS tokens: a global record per
 * ID (authentication looks it up before the site is known) and a per-site index under the site's
 * hash tag. The index entry is written first, so an interrupted create leaves at most an entry
 * that `list` skips.
 */
export function createRedisLicenseServerRepository(context: RedisContext): LicenseServerRepository {
  const { client, names, call, confirmDurable } = context;

  async function get(id: string): Promise<LicenseServerRecord | undefined> {
    return decodeLicenseServer(await call('getLicenseServer', () => client.hgetall(names.licenseServer(id))));
  }

  return {
    async create(record) {
      const site = names.site(record.siteId);
      const key = names.licenseServer(record.id);
      await call('createLicenseServer', () => client.cpixIndexCredential(site.licenseServers, site.sequence, record.id));
      await call('createLicenseServer', () => client.hset(key, ...encodeLicenseServer(record)));
      await confirmDurable('createLicenseServer', site.licenseServers, key);
    },

    get,

    async list(siteId) {
      const ids = await call('listLicenseServers', () => client.zrange(names.site(siteId).licenseServers, 0, -1));
      const records = await Promise.all(ids.map(get));
      return records.filter((record): record is LicenseServerRecord => record?.siteId === siteId);
    },

    async revoke(siteId, id, revokedAt) {
      const key = names.licenseServer(id);
      const revoked = await call('revokeLicenseServer', () => client.cpixRevokeCredential(key, siteId, revokedAt));
      if (revoked !== 1) return false;
      await confirmDurable('revokeLicenseServer', key);
      return true;
    },

    async touch(id, usedAt) {
      // Best effort by contract: no WAIT, a lost lastUsedAt costs nothing.
      await call('touchLicenseServer', () => client.cpixTouchCredential(names.licenseServer(id), usedAt));
    },
  };
}
