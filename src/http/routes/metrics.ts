import { Router, type RequestHandler } from 'express';
import type { AuthFailureLimiter } from '../../auth-limits/auth-failure-limiter';
import type { Metrics } from '../../metrics/metrics';
import { requireBearerSecret } from '../admin-auth';

/** Requests that matched no route: one label for all of them, so scanners cannot grow the series. */
const UNMATCHED = '(unmatched)';

/**
 * The label of a matched route: its pattern under the router's mount path (`/admin/v1/sites/:siteId`),
 * never the URL, which carries tokens and unbounded IDs. A route registered for several paths is
 * labelled with the literal path it was called by, or else its first parameterised path.
 */
function patternLabel(route: unknown, baseUrl: string, path: string): string {
  const pattern: unknown = (route as { path?: unknown } | null)?.path;
  if (typeof pattern === 'string') return `${baseUrl}${pattern}`;
  if (Array.isArray(pattern)) {
    const patterns = pattern.filter((p): p is string => typeof p === 'string');
    const chosen = patterns.find((p) => p === path) ?? patterns.find((p) => p.includes(':')) ?? patterns[0];
    if (chosen !== undefined) return `${baseUrl}${chosen}`;
  }
  return UNMATCHED;
}

/**
 * Records every finished request: route pattern, dialect (set by the key routes), status, latency.
 * The pattern is read when express assigns `req.route`, because only then is `req.baseUrl` the
 * router's mount path: by the time the response finishes, an error handler mounted on the route's
 * paths has set it to the matched URL (token included), or leaving the router has reset it.
 */
export function requestMetrics(metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    let route: unknown;
    let label: string | undefined;
    Object.defineProperty(req, 'route', {
      configurable: true,
      enumerable: true,
      get: () => route,
      set: (value: unknown) => {
        route = value;
        label ??= patternLabel(value, req.baseUrl, req.path);
      },
    });
    res.on('finish', () => {
      const dialect = typeof res.locals.dialect === 'string' ? res.locals.dialect : 'none';
      metrics.observeRequest({ route: label ?? UNMATCHED, dialect, status: res.statusCode }, Number(process.hrtime.bigint() - started) / 1e9);
    });
    next();
  };
}

/**
 * `GET /metrics` in the Prometheus text format. Open by default (the figures hold no secret, and
 * scrapers usually reach it on an internal network); with METRICS_TOKEN set it wants that bearer
 * token, checked like the admin token (constant time, failures limited per client address).
 */
export function metricsRoutes(metrics: Metrics, authFailures: AuthFailureLimiter, token?: string): Router {
  const router = Router();
  const guard: RequestHandler[] = token === undefined ? [] : [requireBearerSecret(token, 'metrics', authFailures)];
  router.get('/metrics', ...guard, async (_req, res) => {
    const { contentType, body } = await metrics.render();
    res.type(contentType).send(body);
  });
  return router;
}
