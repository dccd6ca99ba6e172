import { RequestInvalid } from '../../errors';
import type { KeyId } from '../../keys/key-id';
import type { ContentKeyRecord, ContentKeyRepository } from '../../keys/ports';
import { decodeContentKey, encodeAuditRecordAroundKeysCreated, encodeContentKey, encodeIv, encodeWrappedKey } from './codec';
import type { RedisContext } from './context';

function isRecord(record: ContentKeyRecord | undefined): record is ContentKeyRecord {
  return record !== undefined;
}

/**
 * Where a `pageBySite` page ended: the score of its last content in the site's contents index and the
 * score of its last KID in that content's index. Scores come from the site's sequence and never
 * change, so the next page starts right after them whatever was created or removed meanwhile.
 */
interface SitePosition {
  readonly content: number;
  readonly kid: number;
}

function parseSitePosition(cursor: string): SitePosition {
  const match = /^([0-9]{1,16}):([0-9]{1,16})$/.exec(cursor);
  const [content, kid] = [Number(match?.[1]), Number(match?.[2])];
  if (!Number.isSafeInteger(content) || !Number.isSafeInteger(kid)) throw new RangeError('not a content-key page cursor of this store');
  return { content, kid };
}

/**
 * The score of the last KID of a `pageByContent` page in its content's index, from its `next` cursor.
 * @throws RequestInvalid for anything else: the cursor comes from an API client.
 */
function parseContentPosition(cursor: string): number {
  const score = /^[1-9][0-9]{0,15}$/.test(cursor) ? Number(cursor) : Number.NaN;
  if (!Number.isSafeInteger(score)) throw new RequestInvalid('content-key cursor is not valid');
  return score;
}

/** `[member, score, member, score, …]` (a `WITHSCORES` reply) as pairs. */
function withScores(flat: readonly string[]): { readonly member: string; readonly score: number }[] {
  const pairs = [];
  for (let i = 0; i + 1 < flat.length; i += 2) pairs.push({ member: flat[i] as string, score: Number(flat[i + 1]) });
  return pairs;
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
    async getOrCreateAll(requests, { limit, issue } = {}) {
      const [first] = requests;
      if (first === undefined) return { kind: 'obtained', results: [] };
      const site = names.site(first.record.siteId);
      // One script for the whole request, so that its checks and its writes are one atomic step. The
      // key routes cap the keys of one request (MAX_KEYS_PER_REQUEST), which bounds the script.
      const keys = [site.contents, site.sequence, site.createdWindow, site.record, site.revokedCredentials, site.audit];
      const [auditHead, auditTail] = issue === undefined ? ['', ''] : encodeAuditRecordAroundKeysCreated(issue.audit);
      const args: string[] = [
        String(limit?.perWindow ?? 0),
        String(limit?.windowMs ?? 0),
        String(limit?.nowMs ?? 0),
        issue?.credentialId ?? '',
        String(issue?.siteRevision ?? 0),
        auditHead,
        auditTail,
      ];
      for (const { record, ivMustMatch, mustBeNew, importSlot, assignedSlot } of requests) {
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
          assignedSlot ?? '',
          String(fields.length),
          ...fields,
        );
      }
      const answers = await call('getOrCreate', () => client.cpixGetOrCreateAll(keys.length, ...keys, ...args));
      const [refusal] = answers;
      const refusedIndex = Number(refusal?.[1]);
      switch (refusal?.[0]) {
        case 'stale':
          return { kind: 'stale-authentication' };
        case 'imported':
          return { kind: 'slot-imported', kids: (answers[1] ?? []).map((kid) => (kid === '' ? undefined : (String(kid) as KeyId))) };
        case 'iv':
          return { kind: 'iv-differs', index: refusedIndex };
        case 'revoked':
          return { kind: 'revoked', index: refusedIndex };
        case 'exists':
          return { kind: 'exists', index: refusedIndex };
        case 'limit':
          return { kind: 'over-limit', retryAfterMs: refusedIndex };
      }
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

    async get(siteId, contentId, kid) {
      const key = names.site(siteId).contentKey(contentId, kid);
      return decodeContentKey(await call('get', () => client.hgetall(key)));
    },

    listByContent,

    async pageByContent(siteId, contentId, { limit, after }) {
      if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError('page limit must be a positive integer');
      const site = names.site(siteId);
      const from = after === undefined ? '-inf' : `(${parseContentPosition(after)}`;
      const kids = withScores(
        await call('pageByContent', () => client.zrangebyscore(site.content(contentId), from, '+inf', 'WITHSCORES', 'LIMIT', 0, limit)),
      );
      const records = await readRecords(
        'pageByContent',
        kids.map(({ member: kid }) => site.contentKey(contentId, kid)),
      );
      const last = kids[kids.length - 1];
      return kids.length === limit && last !== undefined ? { records, next: String(last.score) } : { records };
    },

    async pageBySite(siteId, { limit, after }) {
      if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError('page limit must be a positive integer');
      const site = names.site(siteId);
      const from = after === undefined ? undefined : parseSitePosition(after);
      // Contents in the order of the contents index, each content's KIDs in the order of its own
      // index, by score: never more than the page's worth of either is read, also when one content
      // holds more keys than a page.
      const found: { readonly contentId: string; readonly kid: string; readonly at: SitePosition }[] = [];
      let contentsFrom = from === undefined ? '-inf' : String(from.content);
      while (found.length < limit) {
        const asked = limit - found.length;
        const contents = withScores(
          await call('pageBySite', () => client.zrangebyscore(site.contents, contentsFrom, '+inf', 'WITHSCORES', 'LIMIT', 0, asked)),
        );
        for (const { member: contentId, score: content } of contents) {
          if (found.length === limit) break;
          const kidsFrom = from !== undefined && content === from.content ? `(${from.kid}` : '-inf';
          const kids = withScores(
            await call('pageBySite', () =>
              client.zrangebyscore(site.content(contentId), kidsFrom, '+inf', 'WITHSCORES', 'LIMIT', 0, limit - found.length),
            ),
          );
          for (const { member: kid, score } of kids) found.push({ contentId, kid, at: { content, kid: score } });
          contentsFrom = `(${content}`;
        }
        if (contents.length < asked) break;
      }
      const records = await readRecords(
        'pageBySite',
        found.map(({ contentId, kid }) => site.contentKey(contentId, kid)),
      );
      const last = found[found.length - 1];
      return found.length === limit && last !== undefined ? { records, next: `${last.at.content}:${last.at.kid}` } : { records };
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
