import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildService } from './compose';
import { createAppServer } from './http/server';
import type { Config } from './config/config';
import { createAwsKmsMasterKey } from './crypto/kms/aws-kms-master-key';
import { createLocalMasterKey } from './crypto/kms/local-master-key';
import type { MasterKeyProvider } from './crypto/kms/master-key';
import { cryptoRandom, systemClock } from './crypto/random';
import { resolveAdminToken, resolveMasterKey, type ResolvedSecret } from './dev-secrets';
import { resolveSigningIdentity } from './dev-signing';
import { errorSummary, type Logger } from './log';
import { createMasterKeyCheck, storeHoldsKeys, type MasterKeyCheckOutcome } from './master-key-check/master-key-check';
import { instrumentMasterKey, instrumentStore } from './metrics/instrument';
import { createMetrics, type Metrics } from './metrics/metrics';
import { openStore } from './store/open-store';
import type { Store } from './store/store';

/**
 * How often Node checks connections against the headers and request timeouts. Its default (30 s) would let
 * a slow-drip client hold a connection up to 30 s past HTTP_HEADERS_TIMEOUT_SECONDS.
 */
const CONNECTIONS_CHECK_INTERVAL_MS = 1_000;

export interface RunningService {
  readonly server: Server;
  readonly url: string;
  /** The development secrets this start used, for the start-up banner. */
  readonly devSecrets: {
    readonly masterKey?: ResolvedSecret<Buffer>['devFile'];
    readonly adminToken?: ResolvedSecret<string>['devFile'];
    readonly signing?: ResolvedSecret<unknown>['devFile'];
    readonly exportSigning?: ResolvedSecret<unknown>['devFile'];
  };
  /** Stops accepting connections, drains in-flight requests (up to the grace period), closes the store. */
  stop(): Promise<void>;
}

interface ConfiguredMasterKey {
  readonly provider: MasterKeyProvider;
  /** How the operator configured it, for messages (a name, never a value). */
  readonly configuredAs: string;
  readonly devFile?: ResolvedSecret<Buffer>['devFile'];
}

/** The configured master key; a development key file is created only beside a new store (decision 58). */
async function createMasterKey(config: Config, store: Store): Promise<ConfiguredMasterKey> {
  if (config.masterKey.provider === 'aws-kms') {
    const { keyId, region, endpoint } = config.masterKey;
    return {
      provider: createAwsKmsMasterKey({ keyId, region, ...(endpoint !== undefined && { endpoint }) }),
      configuredAs: `AWS_KMS_KEY_ID ${keyId}`,
    };
  }
  const { value, devFile } = await resolveMasterKey(config.masterKey.key, () => storeHoldsKeys(store.masterKeyCheck));
  return {
    provider: createLocalMasterKey(value, cryptoRandom),
    configuredAs: devFile ? `the development master key ${devFile.path}` : 'MASTER_KEY',
    ...(devFile && { devFile }),
  };
}

const CHECK_OUTCOME_MESSAGES: Readonly<Record<MasterKeyCheckOutcome, string>> = {
  created: 'master key check value written to the new store',
  verified: "master key matches the store's check value",
  adopted: "master key unwraps the store's site keys; check value written (the store predates check values)",
};

/**
 * Binds the master key to the store: verifies (or, for a new store, writes) the store's key-check value
 * before anything is served. Closes the store and the provider when that fails, so the process can exit.
 */
async function bindMasterKey(config: Config, store: Store, metrics: Metrics, logger: Logger) {
  let configured: ConfiguredMasterKey | undefined;
  try {
    configured = await createMasterKey(config, store);
    const provider = instrumentMasterKey(configured.provider, metrics);
    const check = createMasterKeyCheck({
      repository: store.masterKeyCheck,
      sites: store.sites,
      masterKey: provider,
      configuredAs: configured.configuredAs,
      clock: systemClock,
      onMismatch: (error) => logger.error({ err: errorSummary(error) }, `MASTER KEY MISMATCH: ${error.detail ?? error.message}; not ready`),
    });
    const outcome = await check.verifyAtStart();
    logger.info({ masterKeyCheck: outcome }, CHECK_OUTCOME_MESSAGES[outcome]);
    return { ...configured, provider: check.guard(provider), check };
  } catch (error) {
    configured?.provider.close?.();
    await store.close();
    throw error;
  }
}

/** Composition root: builds every adapter and service from `config` and starts listening. */
export async function startService(config: Config, logger: Logger, options: { readonly clusterWorker?: boolean } = {}): Promise<RunningService> {
  const metrics = createMetrics({ clusterWorker: options.clusterWorker === true });
  const store = instrumentStore(await openStore(config, logger), metrics);
  const masterKey = await bindMasterKey(config, store, metrics, logger);
  const adminToken = resolveAdminToken(config.adminToken);

  const signing = resolveSigningIdentity(config.signing);
  const exportSigning = resolveSigningIdentity(config.exportSigning, 'cpix-kms development license-export signing key');
  const { app, services } = buildService(
    { ...config, adminToken: adminToken.value, signing: signing.value, exportSigning: exportSigning.value },
    {
      logger,
      store,
      masterKey: masterKey.provider,
      metrics,
      readiness: {
        store: () => store.ping(),
        // The master key answers, and the store still holds its check value (not another key's).
        masterKey: async () => {
          await masterKey.provider.checkReady();
          await masterKey.check.checkReady();
        },
      },
    },
    { onBestEffortError: (error, what) => logger.warn({ err: errorSummary(error) }, `${what} failed`) },
  );

  // Timeouts are creation options: the connection checker's interval cannot be changed afterwards.
  const server = createAppServer(app, {
    headersTimeout: config.http.headersTimeoutMs,
    requestTimeout: config.http.requestTimeoutMs,
    keepAliveTimeout: config.http.keepAliveTimeoutMs,
    connectionsCheckingInterval: CONNECTIONS_CHECK_INTERVAL_MS,
  });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
    server.listen(config.port, config.host);
  });
  const { port } = server.address() as AddressInfo;
  const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const grace = new Promise<'timeout'>((resolve) => setTimeout(resolve, config.shutdownGraceMs, 'timeout').unref());
      if ((await Promise.race([closed, grace])) === 'timeout') {
        logger.warn('shutdown grace period over; closing remaining connections');
        server.closeAllConnections();
        await closed;
      }
      services.siteKeys.clear();
      await store.close();
      masterKey.provider.close?.();
    })());

  return {
    server,
    url: `http://${host}:${port}`,
    devSecrets: {
      ...(masterKey.devFile && { masterKey: masterKey.devFile }),
      ...(adminToken.devFile && { adminToken: adminToken.devFile }),
      ...(signing.devFile && { signing: signing.devFile }),
      ...(exportSigning.devFile && { exportSigning: exportSigning.devFile }),
    },
    stop,
  };
}
