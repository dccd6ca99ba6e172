import { createExpiringCache } from '../cache/expiring-cache';
import { createSingleFlight } from '../cache/single-flight';
import type { MasterKeyProvider } from '../crypto/kms/master-key';
import type { Clock, RandomSource } from '../crypto/random';
import { hashSecret, randomSecret, secretMatchesHash } from '../crypto/secrets';
import { Conflict, kmsTokenRevoked, NotFound, RequestInvalid, siteDisabled, Unauthenticated } from '../errors';
import { generateKmsToken, parseKmsToken, parseLegacyToken, recordCredentialUse } from './kms-token';
import type { KmsTokenRecord, SiteRepository } from './ports';
import {
  DEFAULT_SITE_OPTIONS,
  SITE_ID_PATTERN,
  checkSiteOptions,
  generateSiteId,
  toSiteView,
  type SiteOptions,
  type SiteRecord,
  type SiteStatus,
  type SiteView,
} from './site';

const ACCESS_KEY_BYTES = 256 / 8;
/** Generated site IDs are drawn from 36^4 ≈ 1.7 M; retry a few times on a collision. */
const SITE_ID_ATTEMPTS = 8;
export { TOKEN_TOUCH_INTERVAL_MS } from './kms-token';
/** Credential ID recorded for requests authenticated by a legacy PallyCon token. */
export const LEGACY_CREDENTIAL_ID = 'legacy-access-key';

/**
 * How long `authenticate` may answer from the token and site it read before: a key request then
 * costs no store read before its one store step, which refuses it when the site changed or the token
 * was revoked since (`IssueContext`), so a change still takes effect at once on every process.
 */
export const AUTHENTICATION_CACHE_TTL_MS = 1000;
/** Tokens (and legacy site credentials) `authenticate` keeps at a time; one entry is a few KB. */
const AUTHENTICATION_CACHE_MAX_ENTRIES = 10_000;

export interface SiteServiceDeps {
  readonly repository: SiteRepository;
  readonly masterKey: MasterKeyProvider;
  readonly random: RandomSource;
  readonly clock: Clock;
  /** `AUTHENTICATION_CACHE_TTL_MS` unless given (0: every authentication reads the store). */
  readonly authenticationCacheTtlMs?: number;
  /** Told about failures of best-effort writes (token last-use time) that must not fail a request. */
  readonly onBestEffortError?: (error: unknown, what: string) => void;
}

export interface NewSite {
  readonly id?: string;
  readonly name: string;
  readonly options?: Partial<SiteOptions>;
}

/** Token metadata the admin API may show: never the secret or its hash. */
export type KmsTokenView = Omit<KmsTokenRecord, 'secretHash'>;

/** Who a key request comes from, once its KMS token is verified. */
export interface AuthenticatedSite {
  readonly site: SiteView;
  /** Token ID (or `LEGACY_CREDENTIAL_ID`), for audit records and rate limits. */
  readonly credentialId: string;
  /** `SiteRecord.revision` of the site as read, for the key request's store step (`IssueContext`). */
  readonly siteRevision: number;
}

/** What `authenticate` reads of a credential: the token (none for a legacy credential) and its site. */
interface CredentialRecords {
  readonly token?: KmsTokenRecord;
  readonly site?: SiteRecord;
}

function toTokenView({ secretHash: _hash, ...view }: KmsTokenRecord): KmsTokenView {
  return view;
}

/** Sites (tenants), their secrets and KMS tokens. */
export function createSiteService(deps: SiteServiceDeps) {
  const { repository, masterKey, random, clock, onBestEffortError } = deps;
  const now = () => clock().toISOString();
  const cache = createExpiringCache<CredentialRecords>({
    clock,
    ttlMs: deps.authenticationCacheTtlMs ?? AUTHENTICATION_CACHE_TTL_MS,
    maxEntries: AUTHENTICATION_CACHE_MAX_ENTRIES,
  });
  const cachedRead = createSingleFlight<CredentialRecords>();
  const recordUseOnce = createSingleFlight<void>();

  /**
   * `verify` applied to the records of a presented credential: those this process read within the
   * cache's lifetime, unless `fresh`, or else those `read` from the store now, kept only if they
   * verify. Unknown IDs and wrong secrets therefore never fill the cache, and a cached credential is
   * one that verified with an active site, so the only refusal the cache can give is for the secret
   * presented (a wrong token secret or access key), which no change of the records would turn.
   * Requests that miss together share one read; each verifies its own secret against it. A `fresh`
   * read shares nothing: it must see the store as it is after the change that made it necessary.
   */
  async function verified<T>(cacheKey: string, fresh: boolean, read: () => Promise<CredentialRecords>, verify: (records: CredentialRecords) => T): Promise<T> {
    const hit = fresh ? undefined : cache.get(cacheKey);
    if (hit) return verify(hit);
    const records = fresh ? await read() : await cachedRead(cacheKey, read);
    const result = verify(records);
    cache.set(cacheKey, records);
    return result;
  }

  /** A change made here is seen at once by this process; others see it through `IssueContext`. */
  function changed<T>(result: T): T {
    cache.clear();
    return result;
  }

  async function requireSite(siteId: string): Promise<SiteRecord> {
    const site = await repository.getSite(siteId);
    if (!site) throw new NotFound(`site ${siteId} not found`);
    return site;
  }

  async function issueToken(siteId: string, name: string) {
    const issued = generateKmsToken(random);
    const record: KmsTokenRecord = { id: issued.id, siteId, name, secretHash: hashSecret(issued.secret), createdAt: now() };
    await repository.createToken(record);
    return { ...toTokenView(record), token: issued.token };
  }

  async function insertSite(id: string, input: NewSite, accessKey: string): Promise<SiteRecord> {
    const createdAt = now();
    const options = { ...DEFAULT_SITE_OPTIONS, ...input.options };
    checkSiteOptions(options);
    const { wrapped } = await masterKey.generateSiteKey({ siteId: id, version: 1 });
    const site: SiteRecord = {
      id,
      name: input.name,
      status: 'active',
      options,
      accessKeyHash: hashSecret(accessKey),
      siteKeys: [{ version: 1, wrapped, createdAt }],
      createdAt,
      updatedAt: createdAt,
      revision: 0,
    };
    await repository.createSite(site);
    return site;
  }

  async function authenticateLegacy(presented: string, fresh: boolean): Promise<AuthenticatedSite> {
    const legacy = parseLegacyToken(presented);
    if (!legacy || !SITE_ID_PATTERN.test(legacy.siteId)) throw new Unauthenticated({ detail: 'unrecognised token format' });
    const read = async () => {
      const record = await repository.getSite(legacy.siteId);
      return record === undefined ? {} : { site: record };
    };
    return verified(`legacy.${legacy.siteId}`, fresh, read, ({ site }) => {
      // Compare even when the site is unknown or opted out, so timing does not tell which.
      const matches = secretMatchesHash(legacy.accessKey, site?.accessKeyHash ?? Buffer.alloc(32));
      if (!site || !matches || !site.options.acceptLegacyToken) {
        throw new Unauthenticated({ detail: 'legacy token rejected' });
      }
      return { site: requireActive(site), credentialId: LEGACY_CREDENTIAL_ID, siteRevision: site.revision };
    });
  }

  function requireActive(site: SiteRecord): SiteView {
    if (site.status !== 'active') throw siteDisabled(site.id);
    return toSiteView(site);
  }

  return {
    /**
     * Creates a site with a fresh site key, access key and first KMS token. The access key and the
     * token are returned here and never again.
     * @throws Conflict when the given site ID is taken.
     */
    async createSite(input: NewSite) {
      const accessKey = randomSecret(random, ACCESS_KEY_BYTES);
      let site: SiteRecord | undefined;
      if (input.id !== undefined) {
        if (!SITE_ID_PATTERN.test(input.id)) throw new RequestInvalid('site ID must be 4 uppercase letters or digits');
        site = await insertSite(input.id, input, accessKey);
      } else {
        for (let attempt = 0; site === undefined; attempt += 1) {
          try {
            site = await insertSite(generateSiteId(random), input, accessKey);
          } catch (error) {
            if (!(error instanceof Conflict) || attempt + 1 >= SITE_ID_ATTEMPTS) throw error;
          }
        }
      }
      const token = await issueToken(site.id, 'initial');
      return { site: toSiteView(site), accessKey, token };
    },

    async listSites(): Promise<SiteView[]> {
      return (await repository.listSites()).map(toSiteView);
    },

    async getSite(siteId: string): Promise<SiteView> {
      return toSiteView(await requireSite(siteId));
    },

    async updateSite(
      siteId: string,
      patch: { readonly name?: string; readonly status?: SiteStatus; readonly options?: Partial<SiteOptions> },
    ): Promise<SiteView> {
      const site = await requireSite(siteId);
      const options = patch.options === undefined ? undefined : { ...site.options, ...patch.options };
      if (options !== undefined) checkSiteOptions({ ...DEFAULT_SITE_OPTIONS, ...options });
      const updated = await repository.updateSite(siteId, {
        ...(patch.name !== undefined && { name: patch.name }),
        ...(patch.status !== undefined && { status: patch.status }),
        ...(options !== undefined && { options }),
        updatedAt: now(),
      });
      if (!updated) throw new NotFound(`site ${siteId} not found`);
      return changed(toSiteView(updated));
    },

    /** Issues another KMS token; several may be valid at once so rotation can overlap. */
    async issueToken(siteId: string, name = 'unnamed') {
      await requireSite(siteId);
      return issueToken(siteId, name);
    },

    async listTokens(siteId: string): Promise<KmsTokenView[]> {
      await requireSite(siteId);
      return (await repository.listTokens(siteId)).map(toTokenView);
    },

    async revokeToken(siteId: string, tokenId: string): Promise<void> {
      if (!changed(await repository.revokeToken(siteId, tokenId, now()))) {
        // The ID is not echoed: callers other than the admin route may pass anything here.
        throw new NotFound(`site ${siteId} has no such token`);
      }
    },

    /**
     * Verifies a presented KMS token (or, for sites that opted in, a legacy PallyCon token), from
     * what this process read of it within `AUTHENTICATION_CACHE_TTL_MS`, or (`fresh`) from the store.
     * A caller that acts on the answer checks `siteRevision` and the token in the same store step
     * (`IssueContext`) and authenticates again, fresh, when they are stale.
     * @throws Unauthenticated for anything that does not verify; Forbidden for a disabled site.
     */
    async authenticate(presented: string, { fresh = false }: { readonly fresh?: boolean } = {}): Promise<AuthenticatedSite> {
      const parsed = parseKmsToken(presented);
      if (!parsed) return authenticateLegacy(presented, fresh);
      const read = async (): Promise<CredentialRecords> => {
        const record = await repository.getToken(parsed.id);
        const siteRecord = record && (await repository.getSite(record.siteId));
        return { ...(record !== undefined && { token: record }), ...(siteRecord !== undefined && { site: siteRecord }) };
      };
      const { token, site, view } = await verified(parsed.id, fresh, read, ({ token, site }) => {
        const matches = secretMatchesHash(parsed.secret, token?.secretHash ?? Buffer.alloc(32));
        if (!token || !matches) throw new Unauthenticated({ detail: `token ${parsed.id} does not verify` });
        if (token.revokedAt !== undefined) throw kmsTokenRevoked(parsed.id);
        if (!site) throw new NotFound(`site ${token.siteId} not found`);
        return { token, site, view: requireActive(site) };
      });
      await recordCredentialUse(
        token.lastUsedAt,
        clock(),
        // Once for the requests that find the use unrecorded together.
        (usedAt) =>
          recordUseOnce(token.id, async () => {
            await repository.touchToken(token.id, usedAt);
            // Until the token is read again, this process counts the use it just recorded.
            cache.set(parsed.id, { token: { ...token, lastUsedAt: usedAt }, site });
          }),
        (error) => onBestEffortError?.(error, 'recording token use'),
      );
      return { site: view, credentialId: token.id, siteRevision: site.revision };
    },
  };
}

export type SiteService = ReturnType<typeof createSiteService>;
