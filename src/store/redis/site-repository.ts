import { Conflict } from '../../errors';
import type { KmsTokenRecord, SiteRepository } from '../../sites/ports';
import type { SiteRecord } from '../../sites/site';
import {
  decodeSite,
  decodeToken,
  encodeSite,
  encodeSiteAccessKeyHash,
  encodeSiteKey,
  encodeSitePatch,
  encodeToken,
} from './codec';
import type { RedisContext } from './context';

/**
 * Sites and KMS tokens in Redis (layout in `key-names.ts`). A site's record, site keys and token
 * index share its hash tag; the site index and each token record are global keys, written in
 * separate commands. Index entries are written before the thing they point to, so an interrupted
 * write leaves at most an entry that readers skip, never a site or token that cannot be listed.
 */
export function createRedisSiteRepository(context: RedisContext): SiteRepository {
  const { client, names, call, confirmDurable, readHashes } = context;

  async function getSite(siteId: string): Promise<SiteRecord | undefined> {
    const site = names.site(siteId);
    const [record = {}, siteKeys = {}] = await readHashes('getSite', [site.record, site.siteKeys]);
    return decodeSite(record, siteKeys);
  }

  async function getToken(tokenId: string): Promise<KmsTokenRecord | undefined> {
    return decodeToken(await call('getToken', () => client.hgetall(names.token(tokenId))));
  }

  return {
    async createSite(site) {
      const keys = names.site(site.id);
      const fields = encodeSite(site);
      const siteKeys = site.siteKeys.flatMap((key) => [String(key.version), encodeSiteKey(key)]);
      // Score 0 for all: the index is then ordered by ID, byte-wise, as SQLite's ORDER BY id.
      await call('createSite', () => client.zadd(names.siteIndex, 0, site.id));
      const accessKeyHash = encodeSiteAccessKeyHash(site);
      const created = await call('createSite', () =>
        client.cpixCreateSite(keys.record, keys.siteKeys, accessKeyHash, fields.length, ...fields, ...siteKeys),
      );
      if (created !== 1) throw new Conflict(`site ${site.id} already exists`);
      await confirmDurable('createSite', names.siteIndex, keys.record);
    },

    getSite,

    async listSites() {
      const ids = await call('listSites', () => client.zrange(names.siteIndex, 0, -1));
      const sites = await Promise.all(ids.map(getSite));
      return sites.filter((site): site is SiteRecord => site !== undefined);
    },

    async updateSite(siteId, patch) {
      const { record } = names.site(siteId);
      const updated = await call('updateSite', () => client.cpixUpdateSite(record, ...encodeSitePatch(patch)));
      if (updated !== 1) return undefined;
      await confirmDurable('updateSite', record);
      return getSite(siteId);
    },

    async addSiteKey(siteId, expectedCurrentVersion, siteKey) {
      // The script only checks the current version; a non-increasing one would overwrite a key in use.
      if (!(siteKey.version > expectedCurrentVersion)) {
        throw new RangeError('a new site-key version must be greater than the current one');
      }
      const keys = names.site(siteId);
      const added = await call('addSiteKey', () =>
        client.cpixAddSiteKey(keys.record, keys.siteKeys, expectedCurrentVersion, siteKey.version, encodeSiteKey(siteKey)),
      );
      if (added !== 1) return false;
      await confirmDurable('addSiteKey', keys.siteKeys);
      return true;
    },

    async createToken(token) {
      const site = names.site(token.siteId);
      const key = names.token(token.id);
      await call('createToken', () => client.cpixIndexCredential(site.tokens, site.sequence, token.id));
      await call('createToken', () => client.hset(key, ...encodeToken(token)));
      await confirmDurable('createToken', site.tokens, key);
    },

    getToken,

    async listTokens(siteId) {
      const ids = await call('listTokens', () => client.zrange(names.site(siteId).tokens, 0, -1));
      const tokens = await Promise.all(ids.map(getToken));
      return tokens.filter((token): token is KmsTokenRecord => token?.siteId === siteId);
    },

    async revokeToken(siteId, tokenId, revokedAt) {
      const key = names.token(tokenId);
      const site = names.site(siteId);
      const revoked = await call('revokeToken', () => client.cpixRevokeCredential(key, siteId, revokedAt));
      if (revoked !== 1) return false;
      // Then beside the site's keys, where the key-request script refuses it at once, whatever a
      // process's authentication cache still holds (the record above is in another slot).
      await call('revokeToken', () => client.hsetnx(site.revokedCredentials, tokenId, revokedAt));
      await confirmDurable('revokeToken', key, site.revokedCredentials);
      return true;
    },

    async touchToken(tokenId, usedAt) {
      // Best effort by contract: no WAIT, a lost lastUsedAt costs nothing.
      await call('touchToken', () => client.cpixTouchCredential(names.token(tokenId), usedAt));
    },
  };
}
