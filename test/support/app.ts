import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Express } from 'express';
import type { MasterKeyProvider } from '../../src/crypto/kms/master-key';
import type { Logger } from '../../src/log';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store';
import type { Store } from '../../src/store/store';
import { TEST_EXPORT_VALIDITY_MS, testExportSigningIdentity, testMasterKey, testSigningIdentity } from './services';
import type { AuditSink } from '../../src/audit/ports';
import type { Clock } from '../../src/crypto/random';
import { buildService, type DomainServices } from '../../src/compose';
import { createMetrics, type Metrics } from '../../src/metrics/metrics';
import { instrumentMasterKey, instrumentStore } from '../../src/metrics/instrument';
import type { ContentLicencePolicy } from '../../src/licence/ports';
import type { AuthFailureLimiter, AuthFailureLimits } from '../../src/auth-limits/auth-failure-limiter';

export interface TestApp {
  readonly app: Express;
  readonly store: Store;
  readonly adminToken: string;
  readonly services: DomainServices;
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
  /** Wraps the SQLite store before anything is wired on it (e.g. `slowGetOrCreate`, `beforeGetOrCreate`). */
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
  const adminToken = randomBytes(32).toString('base64url');
  const { app, services, authFailures } = buildService(
    {
      keyLimits: { perRequest: options.keyLimits?.perRequest ?? 1000, createdPerMinute: options.keyLimits?.createdPerMinute ?? 0 },
      bodyLimitBytes: options.bodyLimitBytes ?? 1024 * 1024,
      exportValidityMs: TEST_EXPORT_VALIDITY_MS,
      trustProxyHops: options.trustProxyHops ?? 0,
      // By default high enough that suites full of deliberate 401s from 127.0.0.1 never reach them.
      authFailures: options.authFailureLimits ?? { perAddress: 100_000, perCredential: 100_000, windowMs: 60_000 },
      siteKeyCacheTtlMs: 60_000,
      adminToken,
      signing: testSigningIdentity(),
      exportSigning: testExportSigningIdentity(),
      ...(options.metricsToken !== undefined && { metricsToken: options.metricsToken }),
    },
    {
      logger,
      store,
      masterKey: instrumentMasterKey(masterKey, metrics),
      metrics,
      readiness: { store: () => store.ping(), masterKey: () => masterKey.checkReady() },
    },
    {
      clocks: {
        ...(options.authenticationClock !== undefined && { sites: options.authenticationClock }),
        ...(options.exchangeClock !== undefined && { exchange: options.exchangeClock }),
        ...(options.authFailureClock !== undefined && { authFailures: options.authFailureClock }),
        ...(options.licenceClock !== undefined && { licences: options.licenceClock }),
      },
      ...(options.auditSink !== undefined && { auditSink: options.auditSink }),
      ...(options.contentLicencePolicy !== undefined && { contentLicencePolicy: options.contentLicencePolicy }),
      // No cache in tests: an origin a test adds is allowed at once.
      allowedOriginsTtlMs: 0,
    },
  );
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
