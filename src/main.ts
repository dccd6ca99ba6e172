import cluster from 'node:cluster';
import { relative } from 'node:path';
import { loadConfig, type Config } from './config/config';
import { ConfigError } from './errors';
import { createLogger, errorSummary, type Logger } from './log';
import { startService, type RunningService } from './service';
import { runPrimary } from './workers';

/**
 * The development banner, on stderr as plain text for a human. It names where the admin token is
 * and how to use it, never the token itself.
 */
function printDevelopmentBanner(config: Config, service: RunningService): void {
  const { masterKey, adminToken, signing, exportSigning } = service.devSecrets;
  if (!masterKey && !adminToken && !signing && !exportSigning) return;
  const show = (path: string) => {
    const rel = relative(process.cwd(), path);
    return rel.startsWith('..') ? path : rel;
  };
  const tokenPath = adminToken ? show(adminToken.path) : '<your ADMIN_TOKEN file>';
  const lines = [
    '',
    '================================================================================',
    '  cpix-kms is running with a DEVELOPMENT SETUP. Do not use it for real content.',
    '================================================================================',
    masterKey && `  master key : ${show(masterKey.path)} (${masterKey.created ? 'created now' : 'existing'}, mode 0600)`,
    adminToken && `  admin token: ${tokenPath} (${adminToken.created ? 'created now' : 'existing'}, mode 0600)`,
    signing && `  signing key: ${show(signing.path)} (self-signed, ${signing.created ? 'created now' : 'existing'}, mode 0600)`,
    exportSigning && `  export key : ${show(exportSigning.path)} (self-signed, ${exportSigning.created ? 'created now' : 'existing'}, mode 0600)`,
    config.store.kind === 'sqlite' && `  key store  : ${show(config.store.path)} (embedded SQLite)`,
    '',
    '  Create a first site (the answer holds its KMS token, shown only once):',
    '',
    `  curl -s -X POST ${service.url}/admin/v1/sites \\`,
    `    -H "Authorization: Bearer $(cat ${tokenPath})" \\`,
    `    -H 'Content-Type: application/json' -d '{"name":"My first site"}'`,
    '',
    '  For production set MASTER_KEY_PROVIDER=aws-kms (or MASTER_KEY), ADMIN_TOKEN,',
    '  SIGNING_KEY_FILE + SIGNING_CERT_FILE, EXPORT_SIGNING_KEY_FILE + EXPORT_SIGNING_CERT_FILE',
    '  and STORE=redis://… with durable Redis',
    '  settings; see README.md.',
    '================================================================================',
    '',
  ];
  process.stderr.write(`${lines.filter((line) => line !== undefined && line !== false).join('\n')}\n`);
}

function installSignalHandlers(service: RunningService, logger: Logger): void {
  let shuttingDown = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (shuttingDown) return; // a worker may get both the primary's signal and the disconnect
    shuttingDown = true;
    logger.info({ signal }, 'shutting down: draining connections');
    service.stop().then(
      () => {
        logger.info('stopped');
        process.exitCode = 0;
        // A cluster worker's IPC channel would keep it alive: leave the cluster, then the loop drains.
        if (cluster.isWorker) cluster.worker?.disconnect();
      },
      (error: unknown) => {
        logger.error({ err: errorSummary(error) }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  // A cluster worker whose primary is gone (killed) drains and exits instead of serving on unsupervised.
  if (cluster.isWorker) process.once('disconnect', () => shutdown('SIGTERM'));
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      // Every problem at once, a line each: one restart fixes them all.
      for (const problem of error.problems) process.stderr.write(`cpix-kms: configuration error: ${problem}\n`);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);
  try {
    if (config.workers > 1 && cluster.isPrimary) {
      await runPrimary(config, logger);
      return;
    }
    const service = await startService(config, logger, { clusterWorker: cluster.isWorker });
    installSignalHandlers(service, logger);
    // With WORKERS > 1 the first worker speaks for all of them (they share the port).
    const first = !cluster.isWorker || cluster.worker?.id === 1;
    const listening = { url: service.url, store: config.store.kind, masterKey: config.masterKey.provider, workers: config.workers };
    // The others stay quiet: the primary logs 'worker listening' for each worker, this one included.
    if (first) {
      logger.info(listening, 'cpix-kms listening');
      printDevelopmentBanner(config, service);
    }
  } catch (error) {
    // Start-up errors carry no request data; ServiceError details say what to fix (e.g. Redis unreachable).
    const err = errorSummary(error);
    logger.fatal({ err }, `start failed: ${err?.detail ?? err?.message ?? 'unknown error'}`);
    process.exit(1);
  }
}

void main();
