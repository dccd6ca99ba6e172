import type { Express } from 'express';
import { createAuditService } from './audit/audit-service';
import type { AuditSink } from './audit/ports';
import { createAuthFailureLimiter, type AuthFailureLimiter } from './auth-limits/auth-failure-limiter';
import type { Config, SigningConfig } from './config/config';
import { createPolicyCache } from './content-policy/policy-cache';
import { createPolicyService } from './content-policy/policy-service';
import type { MasterKeyProvider } from './crypto/kms/master-key';
import { cryptoRandom, systemClock, type Clock } from './crypto/random';
import { createKeyExchange } from './exchange/key-exchange';
import { createLicenseExport } from './exchange/license-export';
import { createApp } from './http/app';
import { loadAdminSchemas } from './http/json-schemas';
import { createContentKeyService, KEY_CREATION_WINDOW_MS } from './keys/content-key-service';
import { ALLOWED_ORIGINS_TTL_MS, createAllowedOrigins } from './licence/allowed-origins';
import { createClearKeyLicences } from './licence/clearkey-licence';
import { contentLicencePolicyOf } from './licence/content-licence-policy';
import { createLicenceTokenKeyService } from './licence/licence-token-keys';
import type { ContentLicencePolicy } from './licence/ports';
import { createLicenseServerService } from './license-servers/license-server-service';
import { createContentLifecycle } from './lifecycle/content-lifecycle';
import type { Logger } from './log';
import type { Metrics } from './metrics/metrics';
import { createRevocationService } from './revocation/revocation-service';
import { createSiteKeyRing } from './sites/site-key-ring';
import { createSiteService } from './sites/site-service';
import type { Store } from './store/store';

/** Unwrapped site keys kept in memory at most (one per site and version). */
const SITE_KEY_CACHE_MAX_ENTRIES = 10_000;

/**
 * The clocks of the parts that keep time; the system clock for each one not given (tests pin them:
 * rotation periods, licence-token lifetimes, failure windows, cache lifetimes).
 */
export interface ServiceClocks {
  /** Sites: the authentication cache, token last-use times; also site keys, content keys, revocations. */
  readonly sites?: Clock;
  /** The key exchange and the license export: key periods of rotating content, export grants. */
  readonly exchange?: Clock;
  /** Failed-authentication windows. */
  readonly authFailures?: Clock;
  /** Licence-token verification and the allowed-origins cache. */
  readonly licences?: Clock;
}

export interface DomainServiceOptions {
  readonly keysCreatedPerMinute: number;
  readonly siteKeyCacheTtlMs: number;
  readonly clocks?: ServiceClocks;
  /** Told about best-effort writes that failed (a token's last-use time). */
  readonly onBestEffortError?: (error: unknown, what: string) => void;
}

/** The domain services on a store and a master key, wired once for the service and its tests. */
export function buildDomainServices(store: Store, masterKey: MasterKeyProvider, options: DomainServiceOptions) {
  const clock = options.clocks?.sites ?? systemClock;
  const bestEffort = options.onBestEffortError === undefined ? {} : { onBestEffortError: options.onBestEffortError };
  const siteKeys = createSiteKeyRing({
    repository: store.sites,
    masterKey,
    clock,
    cacheTtlMs: options.siteKeyCacheTtlMs,
    cacheMaxEntries: SITE_KEY_CACHE_MAX_ENTRIES,
  });
  const sites = createSiteService({ repository: store.sites, masterKey, random: cryptoRandom, clock, ...bestEffort });
  const contentKeys = createContentKeyService({
    repository: store.contentKeys,
    siteKeys,
    random: cryptoRandom,
    clock,
    creationLimit: { perWindow: options.keysCreatedPerMinute, windowMs: KEY_CREATION_WINDOW_MS },
  });
  const audit = createAuditService({ repository: store.audit });
  const policies = createPolicyService({ repository: store.policies });
  const revocations = createRevocationService({ repository: store.revocations, clock });
  return {
    siteKeys,
    sites,
    contentKeys,
    licenseServers: createLicenseServerService({ repository: store.licenseServers, sites: store.sites, random: cryptoRandom, clock, ...bestEffort }),
    audit,
    policies,
    revocations,
    lifecycle: createContentLifecycle({ contentKeys, revocations, policies, audit, clock }),
    licenceTokenKeys: createLicenceTokenKeyService({
      repository: store.licenceTokenKeys,
      siteKeys,
      requireSite: (siteId) => sites.getSite(siteId),
      random: cryptoRandom,
      clock,
    }),
  };
}

export type DomainServices = ReturnType<typeof buildDomainServices>;

/** What of the configuration the app uses, with its secrets resolved. */
export type ServiceSettings = Pick<
  Config,
  'keyLimits' | 'bodyLimitBytes' | 'exportValidityMs' | 'trustProxyHops' | 'authFailures' | 'metricsToken' | 'siteKeyCacheTtlMs'
> & {
  readonly adminToken: string;
  readonly signing: SigningConfig;
  readonly exportSigning: SigningConfig;
};

/** What the app runs on: opened by `startService`, or made by a test. */
export interface ServiceParts {
  readonly logger: Logger;
  readonly store: Store;
  readonly masterKey: MasterKeyProvider;
  readonly metrics: Metrics;
  readonly readiness: { readonly store: () => Promise<void>; readonly masterKey: () => Promise<void> };
}

/** Where tests replace a part of the wiring; production passes none. */
export interface ServiceOverrides {
  readonly clocks?: ServiceClocks;
  /** Where license exports and ClearKey licences write their audit records (e.g. one that fails). */
  readonly auditSink?: AuditSink;
  /** The content policy ClearKey licences obey (by default the content's revocations and policy). */
  readonly contentLicencePolicy?: ContentLicencePolicy;
  /** How long the union of allowed ClearKey origins is kept (`ALLOWED_ORIGINS_TTL_MS`). */
  readonly allowedOriginsTtlMs?: number;
  readonly onBestEffortError?: (error: unknown, what: string) => void;
}

export interface BuiltService {
  readonly app: Express;
  readonly services: DomainServices;
  readonly authFailures: AuthFailureLimiter;
}

/** The composition root of the HTTP service: every use case and route on `parts`, as configured. */
export function buildService(settings: ServiceSettings, parts: ServiceParts, overrides: ServiceOverrides = {}): BuiltService {
  const { store, masterKey, logger, metrics } = parts;
  const clocks = overrides.clocks ?? {};
  const services = buildDomainServices(store, masterKey, {
    keysCreatedPerMinute: settings.keyLimits.createdPerMinute,
    siteKeyCacheTtlMs: settings.siteKeyCacheTtlMs,
    clocks,
    ...(overrides.onBestEffortError !== undefined && { onBestEffortError: overrides.onBestEffortError }),
  });
  const { sites, contentKeys, policies, revocations, audit } = services;
  const auditSink = overrides.auditSink ?? audit;
  const exchangeClock = clocks.exchange ?? systemClock;
  const exchangeDeps = { contentKeys, signing: settings.signing, random: cryptoRandom, clock: exchangeClock };
  const authFailures = createAuthFailureLimiter({ repository: store.authFailures, clock: clocks.authFailures ?? systemClock, limits: settings.authFailures });
  const licenceClock = clocks.licences ?? systemClock;

  const app = createApp({
    logger,
    sites,
    contentKeys,
    licenseServers: services.licenseServers,
    policies,
    revocations,
    lifecycle: services.lifecycle,
    audit,
    keyExchange: createKeyExchange({ ...exchangeDeps, policies: createPolicyCache(policies, exchangeClock) }),
    licenseExport: createLicenseExport({
      ...exchangeDeps,
      policies,
      audit: auditSink,
      revocations,
      signing: settings.exportSigning,
      validityMs: settings.exportValidityMs,
      maxKeys: settings.keyLimits.perRequest,
    }),
    keyRequestLimits: { bodyBytes: settings.bodyLimitBytes, keys: settings.keyLimits.perRequest },
    trustProxyHops: settings.trustProxyHops,
    adminToken: settings.adminToken,
    authFailures,
    adminSchemas: loadAdminSchemas(),
    readiness: parts.readiness,
    metrics,
    ...(settings.metricsToken !== undefined && { metricsToken: settings.metricsToken }),
    clearKey: {
      tokenKeys: services.licenceTokenKeys,
      licences: createClearKeyLicences({
        verificationKey: services.licenceTokenKeys.verificationKey,
        site: (siteId) => sites.getSite(siteId),
        contentKey: (siteId, contentId, kid) => contentKeys.get(siteId, contentId, kid),
        policy: overrides.contentLicencePolicy ?? contentLicencePolicyOf({ revocations, policies }),
        audit: auditSink,
        clock: licenceClock,
      }),
      anySiteAllows: createAllowedOrigins({
        originsOfAllSites: async () => (await sites.listSites()).map((site) => site.options.clearKeyAllowedOrigins),
        clock: licenceClock,
        ttlMs: overrides.allowedOriginsTtlMs ?? ALLOWED_ORIGINS_TTL_MS,
      }),
    },
  });
  return { app, services, authFailures };
}
