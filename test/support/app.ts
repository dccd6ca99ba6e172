import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Express } from 'express';
import type { MasterKeyProvider } from '../../src/crypto/kms/master-key';
import { createApp } from '../../src/http/app';
import { loadAdminSchemas } from '../../src/http/json-schemas';
import type { Logger } from '../../src/log';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store';
import type { Store } from '../../src/store/store';
import { buildServices, TEST_EXPORT_VALIDITY_MS, testExportSigningIdentity, testMasterKey, testSigningIdentity } from './services';
import { createKeyExchange } from '../../src/exchange/key-exchange';
import type { AuditSink } from '../../src/audit/ports';
import { createLicenseExport } from '../../src/exchange/license-export';
import { cryptoRandom, systemClock, type Clock } from '../../src/crypto/random';
import { createMetrics, type Metrics } from '../../src/metrics/metrics';
import { instrumentMasterKey, instrumentStore } from '../../src/metrics/instrument';
import { createAllowedOrigins } from '../../src/licence/allowed-origins';
import { createClearKeyLicences } from '../../src/licence/clearkey-licence';
import type { ContentLicencePolicy } from '../../src/licence/ports';
import { contentLicencePolicyOf } from '../../src/licence/content-licence-policy';
import { createAuthFailureLimiter, type AuthFailureLimiter, type AuthFailureLimits } from '../../src/auth-limits/auth-failure-limiter';

export interface TestApp {
  readonly app: Express;
  readonly store: Store;
  readonly adminToken: string;
  readonly services: ReturnType<typeof buildServices>;
  readonly authFailures: AuthFailureLimiter;
  /** The SQLite file, for tests that read or tamper with the raw store. */
  readonly storePath: string;
  /** The app's Prometheus metrics (its store is instrumented as in main). */
  readonly metrics: Metrics;
  close(): Promise<void>;
}

export interface TestAppOptions {
  /**
   * Replaces where license exports and ClearKey licences write their audit records (e.g. one that
   * fails); key requests write theirs in the store's get-or-create step.
   */
  readonly auditSink?: AuditSink;
  /** BODY_LIMIT_BYTES of the key routes; default 1 MiB. */
  readonly bodyLimitBytes?: number;
  /**
   * Failed-authentication limits; by default high enough that suites full of deliberate 401s from
   * 127.0.0.1 never reach them (the limit tests set their own).
   */
  readonly authFailureLimits?: AuthFailureLimits;
  /** Runs the app on this store (e.g. a Redis one) instead of a new SQLite file; the caller closes it. */
  readonly store?: Store;
  /** Wraps the SQLite store before anything is wired on it (e.g. `slowGetOrCreate`). */
  readonly wrapStore?: (store: Store) => Store;
  /** Process metrics (GC observers, event-loop monitor); off by default, the metrics test turns them on. */
  readonly processMetrics?: boolean;
  /** METRICS_TOKEN: the bearer token `/metrics` then requires. */
  readonly metricsToken?: string;
  /** MAX_KEYS_PER_REQUEST (default 1000) and MAX_KEYS_CREATED_PER_MINUTE (default: no limit). */
  readonly keyLimits?: { readonly perRequest?: number; readonly createdPerMinute?: number };
  /** The failure limiter's clock (windows open and close by it); the system clock by default. */
  readonly authFailureClock?: Clock;
  /** The key exchange's and export's clock (key periods of rotating content, grants); the system clock by default. */
  readonly exchangeClock?: Clock;
  /** The sites service's clock: when its authentication cache expires, token last-use times. */
  readonly authenticationClock?: Clock;
  /** TRUST_PROXY_HOPS: how many X-Forwarded-For entries are believed; 0 by default. */
  readonly trustProxyHops?: number;
  /** Replaces the content policy ClearKey licences obey (by default the content's revocations and policy). */
  readonly contentLicencePolicy?: ContentLicencePolicy;
  /** The clock licence tokens are verified by (and the allowed-origins cache runs on); the system clock by default. */
  readonly licenceClock?: Clock;
}

/** The real app on a real SQLite file in a temp folder (or on `options.store`), as main wires it. */
export function createTestApp(logger: Logger, masterKey: MasterKeyProvider = testMasterKey(), options: TestAppOptions = {}): TestApp {
  const dir = mkdtempSync(join(tmpdir(), 'cpix-kms-app-'));
  const storePath = join(dir, 'store.db');
  const base = options.store ?? openSqliteStore(storePath);
  const metrics = createMetrics({ processMetrics: options.processMetrics ?? false });
  const store = instrumentStore(options.wrapStore ? options.wrapStore(base) : base, metrics);
  const services = buildServices(store, instrumentMasterKey(masterKey, metrics), {
    keysCreatedPerMinute: options.keyLimits?.createdPerMinute ?? 0,
    ...(options.authenticationClock !== undefined && { authenticationClock: options.authenticationClock }),
  });
  const adminToken = randomBytes(32).toString('base64url');
  const exchangeDeps = {
    contentKeys: services.contentKeys,
    policies: services.policies,
    audit: options.auditSink ?? services.audit,
    signing: testSigningIdentity(),
    random: cryptoRandom,
    clock: options.exchangeClock ?? systemClock,
  };
  const authFailures = createAuthFailureLimiter({
    repository: store.authFailures,
    clock: options.authFailureClock ?? systemClock,
    limits: options.authFailureLimits ?? { perAddress: 100_000, perCredential: 100_000, windowMs: 60_000 },
  });
  const app = createApp({
    logger,
    sites: services.sites,
    contentKeys: services.contentKeys,
    licenseServers: services.licenseServers,
    policies: services.policies,
    revocations: services.revocations,
    lifecycle: services.lifecycle,
    audit: services.audit,
    keyExchange: createKeyExchange(exchangeDeps),
    licenseExport: createLicenseExport({
      ...exchangeDeps,
      revocations: services.revocations,
      signing: testExportSigningIdentity(),
      validityMs: TEST_EXPORT_VALIDITY_MS,
      maxKeys: options.keyLimits?.perRequest ?? 1000,
    }),
    keyRequestLimits: { bodyBytes: options.bodyLimitBytes ?? 1024 * 1024, keys: options.keyLimits?.perRequest ?? 1000 },
    adminToken,
    authFailures,
    adminSchemas: loadAdminSchemas(),
    readiness: { store: () => store.ping(), masterKey: () => masterKey.checkReady() },
    metrics,
    ...(options.metricsToken !== undefined && { metricsToken: options.metricsToken }),
    ...(options.trustProxyHops !== undefined && { trustProxyHops: options.trustProxyHops }),
    clearKey: {
      tokenKeys: services.licenceTokenKeys,
      licences: createClearKeyLicences({
        verificationKey: services.licenceTokenKeys.verificationKey,
        site: (siteId) => services.sites.getSite(siteId),
        contentKey: (siteId, contentId, kid) => services.contentKeys.get(siteId, contentId, kid),
        policy: options.contentLicencePolicy ?? contentLicencePolicyOf(services),
        audit: options.auditSink ?? services.audit,
        clock: options.licenceClock ?? systemClock,
      }),
      // No cache in tests: an origin a test adds is allowed at once.
      anySiteAllows: createAllowedOrigins({
        originsOfAllSites: async () => (await services.sites.listSites()).map((site) => site.options.clearKeyAllowedOrigins),
        clock: options.licenceClock ?? systemClock,
        ttlMs: 0,
      }),
    },
  });
  return {
    app,
    store,
    adminToken,
    services,
    authFailures,
    storePath,
    metrics,
    async close() {
      if (options.store === undefined) await base.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
