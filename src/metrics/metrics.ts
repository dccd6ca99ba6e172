import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import { clusterRenderer } from './cluster-metrics';

/** Which dependency an instrumented call went to. */
export type Dependency = 'store' | 'kms';

/**
 * The service's Prometheus metrics (prom-client), one registry per running service so in-process
 * tests never share counters. Label values are bounded: route patterns (never raw URLs, which can hold
 * tokens), dialect names, status codes and method names of our own ports.
 */
export interface Metrics {
  readonly registry: Registry;
  /** One finished HTTP request. */
  observeRequest(labels: { readonly route: string; readonly dialect: string; readonly status: number }, seconds: number): void;
  /** Content keys created by one key exchange (they are counted when their audit record is written). */
  countKeysCreated(dialect: string, count: number): void;
  /** One call to a dependency: its latency, and whether it failed. */
  observeDependency(dependency: Dependency, operation: string, seconds: number, failed: boolean): void;
  /** The Prometheus text exposition of every metric. */
  render(): Promise<{ readonly contentType: string; readonly body: string }>;
}

/** Seconds: a signed response takes ~1 ms, a KMS round trip ~10-50 ms, a stalled store up to the timeouts. */
const HTTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const DEPENDENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export interface MetricsOptions {
  /** Process metrics (CPU, memory, event loop, GC); default on. */
  readonly processMetrics?: boolean;
  /** This process is one of several WORKERS: a scrape shows all of them, aggregated by the primary. */
  readonly clusterWorker?: boolean;
}

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  const renderCluster = options.clusterWorker === true ? clusterRenderer(registry) : undefined;
  // Process metrics (CPU, memory, event-loop lag, GC) under prom-client's standard names.
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'cpix_kms_' });
  const requests = new Counter({
    name: 'cpix_kms_http_requests_total',
    help: 'HTTP requests by route pattern, key-exchange dialect and status code',
    labelNames: ['route', 'dialect', 'status'] as const,
    registers: [registry],
  });
  const requestSeconds = new Histogram({
    name: 'cpix_kms_http_request_duration_seconds',
    help: 'HTTP request latency by route pattern and key-exchange dialect',
    labelNames: ['route', 'dialect'] as const,
    buckets: HTTP_BUCKETS,
    registers: [registry],
  });
  const keysCreated = new Counter({
    name: 'cpix_kms_keys_created_total',
    help: 'Content keys created (first requests), by key-exchange dialect',
    labelNames: ['dialect'] as const,
    registers: [registry],
  });
  const dependencySeconds = new Histogram({
    name: 'cpix_kms_dependency_duration_seconds',
    help: 'Latency of store and KMS calls by operation',
    labelNames: ['dependency', 'operation'] as const,
    buckets: DEPENDENCY_BUCKETS,
    registers: [registry],
  });
  const dependencyErrors = new Counter({
    name: 'cpix_kms_dependency_errors_total',
    help: 'Failed store and KMS calls by operation',
    labelNames: ['dependency', 'operation'] as const,
    registers: [registry],
  });

  return {
    registry,
    observeRequest({ route, dialect, status }, seconds) {
      requests.inc({ route, dialect, status: String(status) });
      requestSeconds.observe({ route, dialect }, seconds);
    },
    countKeysCreated(dialect, count) {
      if (count > 0) keysCreated.inc({ dialect }, count);
    },
    observeDependency(dependency, operation, seconds, failed) {
      dependencySeconds.observe({ dependency, operation }, seconds);
      if (failed) dependencyErrors.inc({ dependency, operation });
    },
    async render() {
      if (renderCluster) return renderCluster();
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
