import type { ContentKeyRecord, ContentKeyRepository } from '../../keys/ports';
import { decodeContentKey, encodeContentKey, encodeWrappedKey } from './codec';
import type { RedisContext } from './context';

/** Contents read per round trip while `listBySite` walks a site. */
const LIST_BY_SITE_BATCH = 100;
/**
 * Records per get-or-create script. A request's keys normally fit one (a SPEKE request has a handful;
 * the XML limits allow up to 10,000 elements): larger ones are split so that no single script keeps
 * Redis from serving everyone else for long. Each record is atomic on its own either way.
 */
const GET_OR_CREATE_BATCH = 256;

function isRecord(record: ContentKeyRecord | undefined): record is ContentKeyRecord {
  return record !== undefined;
}

/** Turns a Lua `HGETALL` reply (flat field/value list) into a hash. */
function toHash(flat: readonly string[]): Record<string, string> {
  const hash: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) hash[flat[i] as string] = flat[i + 1] as string;
  return hash;
}

/**
 * Content keys in Redis (layout in `key-names.ts`). get-or-create and compare-and-set are Lua
 * scripts on the site's hash tag, so they are atomic across every connection and process, and
 * legal in Cluster.
 */
export function createRedisContentKeyRepository(context: RedisContext): ContentKeyRepository {
  const { client, names, call, confirmDurable, readHashes } = context;

  async function readRecords(operation: string, keys: readonly string[]): Promise<ContentKeyRecord[]> {
    return (await readHashes(operation, keys)).map(decodeContentKey).filter(isRecord);
  }

  async function listByContent(siteId: string, contentId: string): Promise<ContentKeyRecord[]> {
    const site = names.site(siteId);
    const kids = await call('listByContent', () => client.zrange(site.content(contentId), 0, -1));
    return readRecords(
      'listByContent',
      kids.map((kid) => site.contentKey(contentId, kid)),
    );
  }

  return {
    async getOrCreateAll(records) {
      const [first] = records;
      if (first === undefined) return [];
      const site = names.site(first.siteId);
      const answers: string[][] = [];
      for (let start = 0; start < records.length; start += GET_OR_CREATE_BATCH) {
        const batch = records.slice(start, start + GET_OR_CREATE_BATCH);
        const keys = [site.contents, site.sequence];
        const args: string[] = [];
        for (const record of batch) {
          // One hash tag per call: the script's keys must share a Cluster slot.
          if (record.siteId !== first.siteId) throw new RangeError('getOrCreateAll takes the records of one site');
          keys.push(site.contentKey(record.contentId, record.kid), site.content(record.contentId), site.kid(record.kid));
          const fields = encodeContentKey(record);
          args.push(record.contentId, record.kid, String(fields.length), ...fields);
        }
        const batchAnswers = await call('getOrCreate', () => client.cpixGetOrCreateAll(keys.length, ...keys, ...args));
        if (batchAnswers.length !== batch.length) {
          throw new Error(`get-or-create script answered ${batchAnswers.length} records for ${batch.length}`);
        }
        answers.push(...batchAnswers);
      }
      // Also when every record existed: a concurrent creator on this connection may not be confirmed yet.
      await confirmDurable('getOrCreate', site.contentKey(first.contentId, first.kid));
      return records.map((record, i) => {
        const stored = answers[i] ?? [];
        if (stored.length === 0) return { record, created: true };
        const existing = decodeContentKey(toHash(stored));
        if (!existing) throw new Error('get-or-create script returned an empty record');
        return { record: existing, created: false };
      });
    },

    async get(siteId, contentId, kid) {
      const key = names.site(siteId).contentKey(contentId, kid);
      return decodeContentKey(await call('get', () => client.hgetall(key)));
    },

    listByContent,

    async listByKid(siteId, kid) {
      const site = names.site(siteId);
      const contentIds = await call('listByKid', () => client.zrange(site.kid(kid), 0, -1));
      return readRecords(
        'listByKid',
        contentIds.map((contentId) => site.contentKey(contentId, kid)),
      );
    },

    async *listBySite(siteId) {
      const { contents } = names.site(siteId);
      // Paged by rank: contents only ever get appended (higher scores), so earlier ranks stay put.
      for (let start = 0; ; start += LIST_BY_SITE_BATCH) {
        const contentIds = await call('listBySite', () => client.zrange(contents, start, start + LIST_BY_SITE_BATCH - 1));
        for (const contentId of contentIds) yield* await listByContent(siteId, contentId);
        if (contentIds.length < LIST_BY_SITE_BATCH) return;
      }
    },

    async replaceWrappedKey(identity, expectedWrappedKey, next) {
      const key = names.site(identity.siteId).contentKey(identity.contentId, identity.kid);
      const replaced = await call('replaceWrappedKey', () =>
        client.cpixReplaceWrappedKey(
          key,
          encodeWrappedKey(expectedWrappedKey),
          next.siteKeyVersion,
          encodeWrappedKey(next.wrappedKey),
        ),
      );
      if (replaced !== 1) return false;
      await confirmDurable('replaceWrappedKey', key);
      return true;
    },
  };
}
