import type { KeyId } from '../../keys/key-id';
import type { ContentKeyRecord, ContentKeyRepository } from '../../keys/ports';
import { decodeContentKey, encodeContentKey, encodeIv, encodeWrappedKey } from './codec';
import type { RedisContext } from './context';

/** Contents read per round trip while `listBySite` walks a site. */
const LIST_BY_SITE_BATCH = 100;

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
    async getOrCreateAll(requests, limit) {
      const [first] = requests;
      if (first === undefined) return { kind: 'obtained', results: [] };
      const site = names.site(first.record.siteId);
      // One script for the whole request, so that its checks and its writes are one atomic step. The
      // key routes cap the keys of one request (MAX_KEYS_PER_REQUEST), which bounds the script.
      const keys = [site.contents, site.sequence, site.createdWindow];
      const args: string[] = [String(limit?.perWindow ?? 0), String(limit?.windowMs ?? 0), String(limit?.nowMs ?? 0)];
      for (const { record, ivMustMatch, mustBeNew, importSlot } of requests) {
        // One hash tag per call: the script's keys must share a Cluster slot.
        if (record.siteId !== first.record.siteId) throw new RangeError('getOrCreateAll takes the records of one site');
        keys.push(site.contentKey(record.contentId, record.kid), site.content(record.contentId), site.revoked(record.contentId), site.imported(record.contentId));
        const fields = encodeContentKey(record);
        args.push(
          record.contentId,
          record.kid,
          ivMustMatch ? '1' : '0',
          record.iv === undefined ? '' : encodeIv(record.iv),
          mustBeNew === true ? '1' : '0',
          importSlot ?? '',
          String(fields.length),
          ...fields,
        );
      }
      const answers = await call('getOrCreate', () => client.cpixGetOrCreateAll(keys.length, ...keys, ...args));
      const [refusal] = answers;
      const refusedIndex = Number(refusal?.[1]);
      if (refusal?.[0] === 'iv') return { kind: 'iv-differs', index: refusedIndex };
      if (refusal?.[0] === 'revoked') return { kind: 'revoked', index: refusedIndex };
      if (refusal?.[0] === 'exists') return { kind: 'exists', index: refusedIndex };
      if (refusal?.[0] === 'limit') return { kind: 'over-limit', retryAfterMs: refusedIndex };
      if (answers.length !== requests.length) throw new Error(`get-or-create script answered ${answers.length} records for ${requests.length}`);
      // Also when every record existed: a concurrent creator on this connection may not be confirmed yet.
      await confirmDurable('getOrCreate', site.contentKey(first.record.contentId, first.record.kid));
      return {
        kind: 'obtained',
        results: requests.map(({ record }, i) => {
          const stored = answers[i] ?? [];
          if (stored.length === 0) return { record, created: true };
          const existing = decodeContentKey(toHash(stored.map(String)));
          if (!existing) throw new Error('get-or-create script returned an empty record');
          return { record: existing, created: false };
        }),
      };
    },

    async importedKids(siteId, contentId, slots) {
      if (slots.length === 0) return [];
      const kids = await call('importedKids', () => client.hmget(names.site(siteId).imported(contentId), ...slots));
      return kids.map((kid) => (kid === null ? undefined : (kid as KeyId)));
    },

    async get(siteId, contentId, kid) {
      const key = names.site(siteId).contentKey(contentId, kid);
      return decodeContentKey(await call('get', () => client.hgetall(key)));
    },

    listByContent,

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
