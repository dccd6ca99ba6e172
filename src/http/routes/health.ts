import { Router } from 'express';
import { mapError } from '../error-mapping';

/** A readiness check: resolves when its dependency answers. */
export type ReadinessCheck = () => Promise<void>;

/**
 * `/healthz`: the process serves HTTP (liveness; never touches dependencies, so a Redis outage
 * does not get pods restarted). `/readyz`: every dependency answers (store, master key).
 */
export function healthRoutes(checks: Readonly<Record<string, ReadinessCheck>>): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const entries = Object.entries(checks);
    const results = await Promise.all(
      entries.map(async ([name, check]) => {
        try {
          await check();
          return [name, 'ok'] as const;
        } catch (error) {
          return [name, mapError(error).body.error.code] as const;
        }
      }),
    );
    const ready = results.every(([, result]) => result === 'ok');
    if (!ready) res.setHeader('Retry-After', '1');
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', checks: Object.fromEntries(results) });
  });
  return router;
}
