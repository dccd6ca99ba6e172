import cluster from 'node:cluster';
import { randomUUID } from 'node:crypto';
import { AggregatorRegistry, type Registry } from 'prom-client';

/**
 * Metrics across WORKERS processes. A scrape reaches one worker (they share the port), but must show
 * every worker's counts: the worker asks the primary over the cluster IPC channel, the primary
 * collects every worker's registry with prom-client's AggregatorRegistry (which sums counters and
 * histograms) and answers with the text.
 */
const REQUEST = 'cpix-kms:metrics-request';
const RESPONSE = 'cpix-kms:metrics-response';
/** prom-client's own per-worker collection times out after 5 s. */
const SCRAPE_TIMEOUT_MS = 6_000;

interface MetricsRequest {
  readonly type: typeof REQUEST;
  readonly id: string;
}
interface MetricsResponse {
  readonly type: typeof RESPONSE;
  readonly id: string;
  readonly body?: string;
  readonly contentType?: string;
  readonly error?: string;
}

const isMessage = <T extends { type: string }>(message: unknown, type: T['type']): message is T =>
  typeof message === 'object' && message !== null && (message as { type?: unknown }).type === type;

/** In the primary: answers the workers' scrape requests with every worker's metrics. */
export function serveClusterMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, message: unknown) => {
    if (!isMessage<MetricsRequest>(message, REQUEST)) return;
    aggregator.clusterMetrics().then(
      (body) => worker.send({ type: RESPONSE, id: message.id, body, contentType: aggregator.contentType } satisfies MetricsResponse),
      (error: unknown) => worker.send({ type: RESPONSE, id: message.id, error: error instanceof Error ? error.message : 'aggregation failed' } satisfies MetricsResponse),
    );
  });
}

/**
 * In a worker: makes `registry` collectable by the primary and returns the scrape function that asks
 * the primary for the aggregate.
 */
export function clusterRenderer(registry: Registry): () => Promise<{ readonly contentType: string; readonly body: string }> {
  // The constructor installs prom-client's worker-side listener; setRegistries says what it reports.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
  return () =>
    new Promise((resolve, reject) => {
      const id = randomUUID();
      const timer = setTimeout(() => {
        process.off('message', onMessage);
        reject(new Error('metrics aggregation timed out'));
      }, SCRAPE_TIMEOUT_MS);
      const onMessage = (message: unknown) => {
        if (!isMessage<MetricsResponse>(message, RESPONSE) || message.id !== id) return;
        clearTimeout(timer);
        process.off('message', onMessage);
        if (message.body === undefined) reject(new Error(message.error ?? 'metrics aggregation failed'));
        else resolve({ contentType: message.contentType ?? registry.contentType, body: message.body });
      };
      process.on('message', onMessage);
      process.send?.({ type: REQUEST, id } satisfies MetricsRequest);
    });
}
