import cluster, { type Worker } from 'node:cluster';
import type { Config } from './config/config';
import { resolveAdminToken, resolveMasterKey } from './dev-secrets';
import { resolveSigningIdentity } from './dev-signing';
import type { Logger } from './log';
import { storeHoldsKeys } from './master-key-check/master-key-check';
import { serveClusterMetrics } from './metrics/cluster-metrics';
import { askStore } from './store/open-store';

/** A worker that dies after it was serving is replaced after this pause (no tight crash loop). */
const RESTART_DELAY_MS = 1_000;

/**
 * The primary of a WORKERS > 1 service: it serves nothing itself; it forks the workers (node:cluster
 * shares the listening port between them), aggregates their metrics, replaces a worker that dies
 * while serving, and on SIGTERM/SIGINT passes the signal on and exits once every worker has drained.
 * A worker that exits before it ever listened means the service cannot start (configuration, an
 * unreachable store, a master key that does not match the store): then the primary stops the others
 * and exits 1, as a single process would.
 * @throws ConfigError before forking when the development master key would have to be created beside a
 *   store that already holds keys.
 */
export async function runPrimary(config: Config, logger: Logger): Promise<void> {
  // Development secrets are created here, once, so workers starting together never race to create them.
  // A missing master key file is only created beside a new store, which the primary opens to ask.
  if (config.masterKey.provider === 'local') {
    await resolveMasterKey(config.masterKey.key, () => askStore(config, logger, (store) => storeHoldsKeys(store.masterKeyCheck)));
  }
  resolveAdminToken(config.adminToken);
  resolveSigningIdentity(config.signing);
  serveClusterMetrics();

  const listened = new WeakSet<Worker>();
  let stopping = false;
  cluster.on('listening', (worker) => {
    listened.add(worker);
    // One line per worker (the "listening" line with the URL comes from the first worker only): how an
    // operator, or a test, sees that a replacement is serving again.
    logger.info({ worker: worker.id }, 'worker listening');
  });
  for (let i = 0; i < config.workers; i += 1) cluster.fork();

  const remaining = () => Object.values(cluster.workers ?? {}).filter((worker) => worker !== undefined);
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (remaining().length === 0) process.exit(process.exitCode ?? 0);
      return;
    }
    if (!listened.has(worker)) {
      logger.fatal({ worker: worker.id, code, signal }, 'a worker failed to start; stopping the service');
      stopping = true;
      process.exitCode = 1;
      for (const other of remaining()) other.process.kill('SIGTERM');
      if (remaining().length === 0) process.exit(1);
      return;
    }
    logger.error({ worker: worker.id, code, signal }, 'worker exited; starting a new one');
    // Not unref'd: when every worker died at once, this timer is what keeps the primary alive to refork.
    setTimeout(() => {
      if (!stopping) cluster.fork();
    }, RESTART_DELAY_MS);
  });

  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, workers: remaining().length }, 'shutting down: stopping workers');
    for (const worker of remaining()) worker.process.kill(signal);
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  logger.info({ workers: config.workers }, 'starting workers');
}
