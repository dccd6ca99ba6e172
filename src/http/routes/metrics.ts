import { Router, type Express, type RequestHandler } from 'express';
import type { AuthFailureLimiter } from '../../auth-limits/auth-failure-limiter';
import type { Metrics } from '../../metrics/metrics';
import { requireBearerSecret } from '../admin-auth';

/** Requests that matched no route: one label for all of them, so scanners cannot grow the series. */
const UNMATCHED = '(unmatched)';

/**
 * The label of a matched route: its pattern under the router's mount path (`/admin/v1/sites/:siteId`),
 * never the URL, which carries tokens and unbounded IDs. A route registered for several paths is
 * labelled with the path it was called by: the literal one, else the parameterised one whose text
 * before its first parameter the path starts with (express matches paths regardless of case), else
 * its first parameterised path. The legacy `/cpix/pallycon/getKey/:token` and DoveRunner's
 * `/v2/cpix/doverunner/getKey/:token` share their routes with other URLs and are told apart so.
 */
function patternLabel(route: unknown, baseUrl: string, path: string): string {
  const pattern: unknown = (route as { path?: unknown } | null)?.path;
  if (typeof pattern === 'string') return `${baseUrl}${pattern}`;
  if (Array.isArray(pattern)) {
    const patterns = pattern.filter((p): p is string => typeof p === 'string');
    const called = path.toLowerCase();
    const parameterised = patterns.filter((p) => p.includes(':'));
    const chosen =
      patterns.find((p) => p.toLowerCase() === called) ??
      parameterised.find((p) => called.startsWith(p.slice(0, p.indexOf(':')).toLowerCase())) ??
      parameterised[0] ??
      patterns[0];
    if (chosen !== undefined) return `${baseUrl}${chosen}`;
  }
  return UNMATCHED;
}

/** Where a request keeps the route express matched for it, and that route's label. */
const MATCHED_ROUTE = Symbol('matched route');
const ROUTE_LABEL = Symbol('route label');
interface LabelledRequest {
  readonly baseUrl: string;
  readonly path: string;
  [MATCHED_ROUTE]?: unknown;
  [ROUTE_LABEL]?: string;
}

/**
 * Records every finished request: route pattern, dialect (set by the key routes), status, latency.
 * The pattern is read when express assigns `req.route`, because only then is `req.baseUrl` the
 * router's mount path: by the time the response finishes, an error handler mounted on the route's
 * paths has set it to the matched URL (token included), or leaving the router has reset it.
 * `req.route` becomes an accessor of the app's request prototype, defined once: defined on each
 * request, with closures of its own, it gave every request a hidden class of its own, which V8
 * keeps in the old generation together with what it reaches (every request's objects were promoted
 * at the next scavenge; docs/performance.md).
 */
export function requestMetrics(app: Express, metrics: Metrics): RequestHandler {
  Object.defineProperty(app.request, 'route', {
    configurable: true,
    enumerable: true,
    get(this: LabelledRequest): unknown {
      return this[MATCHED_ROUTE];
    },
    set(this: LabelledRequest, value: unknown) {
      this[MATCHED_ROUTE] = value;
      this[ROUTE_LABEL] ??= patternLabel(value, this.baseUrl, this.path);
    },
  });
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const dialect = typeof res.locals.dialect === 'string' ? res.locals.dialect : 'none';
      const label = (req as unknown as LabelledRequest)[ROUTE_LABEL] ?? UNMATCHED;
      metrics.observeRequest({ route: label, dialect, status: res.statusCode }, Number(process.hrtime.bigint() - started) / 1e9);
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
