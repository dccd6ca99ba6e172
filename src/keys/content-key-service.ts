import { setImmediate as nextTurn } from 'node:timers/promises';
import { encodeContext, open, seal } from '../crypto/aead';
import type { Clock, RandomSource } from '../crypto/random';
import { ContentRevoked, KeyConflict, PayloadTooLarge, RequestInvalid, StaleAuthentication, TooManyRequests } from '../errors';
import type { KeyId } from './key-id';
import { importSlot, type ContentKeyAttributes, type ContentKeyRecord, type ContentKeyRepository, type IssueContext, type SiteKeyProvider } from './ports';

/** CENC content keys are AES-128 (ISO/IEC 23001-7). */
export const CONTENT_KEY_LENGTH_BYTES = 128 / 8;
export const IV_LENGTH_BYTES = 128 / 8;
/** The window of the per-site key-creation limit (MAX_KEYS_CREATED_PER_MINUTE). */
export const KEY_CREATION_WINDOW_MS = 60_000;
/** MediaPackage allows resource IDs up to 256 characters; PallyCon CIDs up to 200. */
export const MAX_CONTENT_ID_LENGTH = 256;
/**
 * Content keys site-key rotation reads and re-wraps at a time. A site may hold millions of keys
 * (MAX_KEYS_CREATED_PER_MINUTE allows 10,000 a minute), so rotation holds one batch, never the site;
 * 100 records of a few hundred bytes each keep that small, while the page query is paid once per
 * hundred re-wraps, which cost a compare-and-set round trip each anyway.
 */
export const ROTATION_BATCH_SIZE = 100;
/**
 * Keys per page of the admin listing of a content, and its default: one request's worth at the
 * MAX_KEYS_PER_REQUEST default, so a content made by one request still lists on one page, while a
 * live content that gains keys with every key period (without end) is read a page of about 150 KB
 * of JSON at a time.
 */
export const MAX_KEY_LIST_PAGE_SIZE = 1000;

/**
 * @throws RequestInvalid for a content ID that is empty, longer than `MAX_CONTENT_ID_LENGTH` or not
 *   well-formed Unicode (`assertWellFormed`).
 */
export function assertContentId(contentId: string): void {
  if (contentId.length === 0 || contentId.length > MAX_CONTENT_ID_LENGTH) {
    throw new RequestInvalid(`content ID must be 1 to ${MAX_CONTENT_ID_LENGTH} characters`);
  }
  assertWellFormed(contentId, 'content ID');
}

/**
 * A stored text holds no lone surrogate. UTF-8 has no encoding for one, so a store keeps a
 * replacement of its own, and the record read back need not be the text the key was sealed with as
 * associated data: on SQLite such a key could not be unwrapped any more. No route lets one through
 * (XML refuses it, a URL cannot carry it, the import schema's patterns exclude it); this is the rule
 * behind them, where the keys are made.
 */
function assertWellFormed(text: string, what: string): void {
  if (!text.isWellFormed()) throw new RequestInvalid(`${what} must be well-formed Unicode text`);
}

const CONTENT_KEY_PURPOSE = 'cpix-kms/content-key/v1';

/** A content key with its plaintext bytes, as handed to a protocol layer. Never logged. */
export interface ContentKey extends ContentKeyAttributes {
  readonly siteId: string;
  readonly contentId: string;
  readonly kid: KeyId;
  readonly key: Buffer;
  readonly createdAt: string;
}

/** Key metadata safe to show an operator: everything but key bytes. */
export type ContentKeyMetadata = Omit<ContentKey, 'key'>;

export interface ContentKeyRequest extends ContentKeyAttributes {
  readonly contentId: string;
  readonly kid: KeyId;
  /**
   * The 16 key bytes the key gets if it is created (a caller that has already used them, e.g. to
   * build its answer, passes them in); random when absent. An existing key keeps its own.
   */
  readonly key?: Buffer;
  /** `iv` is the client's own (`explicitIV`): an existing key with another IV is a conflict. */
  readonly ivMustMatch?: boolean;
  /**
   * The KID was assigned by the server for the key's (track type, period): an imported key in that
   * slot is answered instead (`slot-imported`).
   */
  readonly slotAssigned?: boolean;
}

/** A key with its bytes, and whether this request created it. */
export type ObtainedKey = ContentKey & { readonly created: boolean };

/** What a key request's `issue` came to. */
export type IssueOutcome =
  | { readonly kind: 'issued'; readonly keys: readonly ObtainedKey[] }
  /** Imported keys hold slots the request's KIDs were assigned for: plan with these KIDs (undefined: keep). */
  | { readonly kind: 'slot-imported'; readonly kids: readonly (KeyId | undefined)[] };

/** One key to import: its KID and 16 key bytes, an IV, and the track type and period it serves. */
export interface KeyImport {
  readonly kid: KeyId;
  readonly key: Buffer;
  readonly iv?: Buffer;
  readonly trackType?: string;
  readonly periodIndex?: number;
}

/** Rounds of compare-and-create an import makes before it gives up to concurrent key requests. */
const IMPORT_ATTEMPTS = 3;

export interface ContentKeyServiceDeps {
  readonly repository: ContentKeyRepository;
  readonly siteKeys: SiteKeyProvider;
  readonly random: RandomSource;
  readonly clock: Clock;
  /** Keys one site may create per window; none when absent or 0 (MAX_KEYS_CREATED_PER_MINUTE). */
  readonly creationLimit?: { readonly perWindow: number; readonly windowMs: number };
}

/**
 * Associated data of a content-key blob: the record's identity and every attribute fixed at
 * creation. A blob copied to another (site, content, KID), or a record whose IV, track type, period
 * or scheme was edited in the store, fails to unwrap.
 */
function contentKeyContext(record: Omit<ContentKeyRecord, 'wrappedKey' | 'siteKeyVersion' | 'createdAt'>): Buffer {
  const optional = (value: string | undefined) => (value === undefined ? '-' : `+${value}`);
  return encodeContext(CONTENT_KEY_PURPOSE, [
    record.siteId,
    record.contentId,
    record.kid,
    optional(record.trackType),
    optional(record.periodIndex?.toString()),
    optional(record.scheme),
    optional(record.iv?.toString('hex')),
  ]);
}

function toMetadata(record: ContentKeyRecord): ContentKeyMetadata {
  const { wrappedKey: _wrapped, siteKeyVersion: _version, ...metadata } = record;
  return metadata;
}

/** Content-key lifecycle: get-or-create, unwrap, list, re-wrap on site-key rotation. */
export function createContentKeyService(deps: ContentKeyServiceDeps) {
  const { repository, siteKeys, random, clock, creationLimit } = deps;

  async function unwrap(record: ContentKeyRecord): Promise<ContentKey> {
    const siteKey = await siteKeys.siteKey(record.siteId, record.siteKeyVersion);
    const key = open(siteKey, record.wrappedKey, contentKeyContext(record));
    return { ...toMetadata(record), key };
  }

  function validate(request: ContentKeyRequest): void {
    assertContentId(request.contentId);
    if (request.trackType !== undefined) assertWellFormed(request.trackType, 'track type');
    if (request.scheme !== undefined) assertWellFormed(request.scheme, 'encryption scheme');
    if (request.iv !== undefined && request.iv.length !== IV_LENGTH_BYTES) {
      throw new RequestInvalid('IV must be 16 bytes');
    }
    if (request.key !== undefined && request.key.length !== CONTENT_KEY_LENGTH_BYTES) {
      throw new RequestInvalid('a content key must be 16 bytes');
    }
    if (request.periodIndex !== undefined && (!Number.isSafeInteger(request.periodIndex) || request.periodIndex < 0)) {
      throw new RequestInvalid('period index must be a non-negative integer');
    }
  }

  /**
   * A candidate key per request (the caller's, or fresh random bytes), sealed under `siteKey`, then
   * one atomic get-or-create for all of them: a request's keys cost one store round trip whether they
   * exist or not. Candidates for keys that exist are thrown away unused (sealing 16 bytes costs
   * microseconds, a round trip far more).
   */
  async function getOrCreateWith(
    siteId: string,
    siteKey: { readonly version: number; readonly key: Buffer },
    requests: readonly ContentKeyRequest[],
    options: { readonly imports?: readonly { readonly mustBeNew: boolean; readonly importSlot?: string }[]; readonly issue?: IssueContext } = {},
  ): Promise<ObtainedKey[] | 'exists' | Extract<IssueOutcome, { kind: 'slot-imported' }>> {
    requests.forEach(validate);
    const now = clock();
    const createdAt = now.toISOString();
    const candidates = requests.map(({ key: given, ivMustMatch: _insists, slotAssigned: _assigned, ...request }) => {
      const identity = { siteId, ...request };
      const key = given ?? random(CONTENT_KEY_LENGTH_BYTES);
      const record: ContentKeyRecord = {
        ...identity,
        siteKeyVersion: siteKey.version,
        wrappedKey: seal(siteKey.key, key, contentKeyContext(identity), random),
        createdAt,
      };
      return { record, key };
    });
    const limit = creationLimit !== undefined && creationLimit.perWindow > 0 ? { ...creationLimit, nowMs: now.getTime() } : undefined;
    const outcome = await repository.getOrCreateAll(
      candidates.map(({ record }, i) => {
        const request = requests[i];
        return {
          record,
          ivMustMatch: request?.ivMustMatch === true,
          ...(request?.slotAssigned === true && { assignedSlot: importSlot(record.trackType, record.periodIndex) }),
          ...options.imports?.[i],
        };
      }),
      { ...(limit !== undefined && { limit }), ...(options.issue !== undefined && { issue: options.issue }) },
    );
    switch (outcome.kind) {
      case 'obtained':
        break;
      case 'exists':
        return 'exists';
      case 'slot-imported':
        return outcome;
      case 'stale-authentication':
        throw new StaleAuthentication();
      case 'revoked':
        throw new ContentRevoked(`ContentKey[kid=${requests[outcome.index]?.kid ?? '?'}]: the content or this key is revoked`);
      case 'iv-differs':
        throw new KeyConflict(`ContentKey[kid=${requests[outcome.index]?.kid ?? '?'}]@explicitIV differs from the IV this key was created with`);
      case 'over-limit':
        throw new TooManyRequests(Math.max(1, Math.ceil(outcome.retryAfterMs / 1000)), { detail: 'site key-creation limit' }, `this site has created its ${limit?.perWindow ?? 0} keys of the current window; retry later`);
    }
    return Promise.all(
      outcome.results.map(async ({ record, created }, i) => {
        const candidate = candidates[i];
        if (!candidate) throw new Error('store answered more records than were asked for');
        // Lost a race with a concurrent first request, or the key existed: the stored key is the one that counts.
        return created ? { ...toMetadata(record), key: candidate.key, created } : { ...(await unwrap(record)), created };
      }),
    );
  }

  /** The keys of a get-or-create that was told nothing must be new and assigned no slot. */
  function obtained(result: Awaited<ReturnType<typeof getOrCreateWith>>): ObtainedKey[] {
    if (!Array.isArray(result)) throw new Error('a get-or-create without new-only records or assigned slots answered nothing');
    return result;
  }

  return {
    /**
     * Returns the key stored for (site, content, KID), creating and durably storing a new random key
     * first if there is none. Attributes of an existing key are kept as they were created.
     */
    async getOrCreate(siteId: string, request: ContentKeyRequest): Promise<ObtainedKey> {
      const [key] = obtained(await getOrCreateWith(siteId, await siteKeys.currentSiteKey(siteId), [request]));
      if (!key) throw new Error('store answered no record');
      return key;
    },

    /** `getOrCreate` for several keys of one site at once, in one atomic step; new keys wrapped under `siteKeyVersion`. */
    async getOrCreateAll(siteId: string, siteKeyVersion: number, requests: readonly ContentKeyRequest[]): Promise<ObtainedKey[]> {
      const key = await siteKeys.siteKey(siteId, siteKeyVersion);
      return obtained(await getOrCreateWith(siteId, { version: siteKeyVersion, key }, requests));
    },

    /**
     * A key request's keys: `getOrCreate` for all of them at once, new keys wrapped under
     * `siteKeyVersion`, the version current when the caller authenticated the site
     * (`SiteView.siteKeyVersion`), so that no second read of the site is needed, in one atomic step
     * with the request's checks and its audit record (`IssueContext`): one store round trip. A key
     * written under the previous version while a rotation runs stays readable (old versions are
     * kept), as with any write racing a rotation.
     * @throws StaleAuthentication (the site changed or the token was revoked since `issue` was
     *   authenticated), ContentRevoked, KeyConflict (an IV that differs), TooManyRequests (creation
     *   limit), RequestInvalid.
     */
    async issue(siteId: string, siteKeyVersion: number, requests: readonly ContentKeyRequest[], issue: IssueContext): Promise<IssueOutcome> {
      const key = await siteKeys.siteKey(siteId, siteKeyVersion);
      const result = await getOrCreateWith(siteId, { version: siteKeyVersion, key }, requests, { issue });
      if (result === 'exists') throw new Error('a key request answered "exists"');
      return Array.isArray(result) ? { kind: 'issued', keys: result } : result;
    },

    /**
     * Imports keys made elsewhere (the PallyCon packager's manual mode, a migration) into one content,
     * all or nothing: a key already stored with the same bytes (and IV, when one is given) is kept,
     * one stored with other bytes or another IV is a `KeyConflict` and nothing changes. New keys are
     * wrapped like generated ones and recorded in their (track type, period) slot, so a server that
     * assigns KIDs per slot answers the imported one. A key created meanwhile by a key request is
     * compared again (the store refuses the batch when a key it was told is new exists).
     *
     * @throws KeyConflict, ContentRevoked, RequestInvalid (lengths), TooManyRequests (creation limit).
     */
    async importKeys(siteId: string, contentId: string, imports: readonly KeyImport[]): Promise<ObtainedKey[]> {
      for (let attempt = 0; attempt < IMPORT_ATTEMPTS; attempt += 1) {
        const stored = await Promise.all(imports.map((item) => repository.get(siteId, contentId, item.kid)));
        for (const [i, record] of stored.entries()) {
          const item = imports[i];
          if (record === undefined || item === undefined) continue;
          const { key } = await unwrap(record);
          const sameIv = item.iv === undefined || (record.iv !== undefined && record.iv.equals(item.iv));
          if (!key.equals(item.key) || !sameIv) throw new KeyConflict(`ContentKey[kid=${item.kid}]: another key or IV is stored for this KID`);
        }
        const requests = imports.map((item, i): ContentKeyRequest => ({
          contentId,
          kid: item.kid,
          key: item.key,
          iv: item.iv ?? stored[i]?.iv ?? random(IV_LENGTH_BYTES),
          ...(item.trackType !== undefined && { trackType: item.trackType }),
          ...(item.periodIndex !== undefined && { periodIndex: item.periodIndex }),
        }));
        const slots = imports.map((item, i) => ({
          mustBeNew: stored[i] === undefined,
          ...((item.trackType !== undefined || item.periodIndex !== undefined) && { importSlot: importSlot(item.trackType, item.periodIndex) }),
        }));
        const result = await getOrCreateWith(siteId, await siteKeys.currentSiteKey(siteId), requests, { imports: slots });
        if (result !== 'exists') return obtained(result);
      }
      throw new KeyConflict('keys of this content were created while they were being imported; import again');
    },

    async get(siteId: string, contentId: string, kid: KeyId): Promise<ContentKey | undefined> {
      const record = await repository.get(siteId, contentId, kid);
      return record && unwrap(record);
    },

    /**
     * The keys of a content whose metadata `matches`, unwrapped, oldest first. The content is read a
     * page at a time and only matching keys are unwrapped, so a live content's years of key periods
     * cost a read, not an unwrap each, and the answer holds at most `maxKeys`. Between pages the scan
     * lets the event loop run: SQLite reads synchronously, and a scan of 19,000 keys held every other
     * request of the process for a second and more.
     * @throws PayloadTooLarge when more than `maxKeys` keys match (the caller narrows its filter).
     */
    async listMatching(siteId: string, contentId: string, matches: (key: ContentKeyMetadata) => boolean, maxKeys: number): Promise<ContentKey[]> {
      const kept: ContentKeyRecord[] = [];
      let after: string | undefined;
      do {
        if (after !== undefined) await nextTurn();
        const page = await repository.pageByContent(siteId, contentId, { limit: MAX_KEY_LIST_PAGE_SIZE, ...(after !== undefined && { after }) });
        for (const record of page.records) {
          if (!matches(toMetadata(record))) continue;
          if (kept.length === maxKeys) throw new PayloadTooLarge(`more than ${maxKeys} keys of this content match`);
          kept.push(record);
        }
        after = page.next;
      } while (after !== undefined);
      return Promise.all(kept.map(unwrap));
    },

    /** Metadata only, never unwrapped; every key of the content at once (tests; the admin API pages). */
    async listMetadata(siteId: string, contentId: string): Promise<ContentKeyMetadata[]> {
      return (await repository.listByContent(siteId, contentId)).map(toMetadata);
    },

    /**
     * The admin API's view of a content's keys: metadata only, never unwrapped, oldest first, at most
     * `limit` (default and most `MAX_KEY_LIST_PAGE_SIZE`) per page; pass `next` as `after` for more.
     * @throws RequestInvalid for a limit out of range or a cursor this service did not issue.
     */
    async listMetadataPage(
      siteId: string,
      contentId: string,
      options: { readonly limit?: number; readonly after?: string } = {},
    ): Promise<{ readonly keys: ContentKeyMetadata[]; readonly next?: string }> {
      const { limit = MAX_KEY_LIST_PAGE_SIZE, after } = options;
      if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_KEY_LIST_PAGE_SIZE) {
        throw new RequestInvalid(`limit must be an integer from 1 to ${MAX_KEY_LIST_PAGE_SIZE}`);
      }
      const page = await repository.pageByContent(siteId, contentId, { limit, ...(after !== undefined && { after }) });
      return { keys: page.records.map(toMetadata), ...(page.next !== undefined && { next: page.next }) };
    },

    /**
     * Makes a new site-key version current and re-wraps every content key of the site under it,
     * `ROTATION_BATCH_SIZE` records at a time. Old versions stay readable (as AWS KMS keeps rotated
     * backing keys), so a key written by a concurrent request with the previous version remains valid.
     */
    async rotateSiteKey(siteId: string): Promise<{ readonly version: number; readonly rewrapped: number }> {
      const version = await siteKeys.rotateSiteKey(siteId);
      const newSiteKey = await siteKeys.siteKey(siteId, version);
      let rewrapped = 0;
      let after: string | undefined;
      do {
        const page = await repository.pageBySite(siteId, { limit: ROTATION_BATCH_SIZE, ...(after !== undefined && { after }) });
        for (const record of page.records) {
          if (record.siteKeyVersion === version) continue;
          const { key } = await unwrap(record);
          const next = { siteKeyVersion: version, wrappedKey: seal(newSiteKey, key, contentKeyContext(record), random) };
          if (await repository.replaceWrappedKey(record, record.wrappedKey, next)) rewrapped += 1;
        }
        after = page.next;
      } while (after !== undefined);
      return { version, rewrapped };
    },
  };
}

export type ContentKeyService = ReturnType<typeof createContentKeyService>;
