import express, { type Express } from 'express';
import type { ContentKeyService } from '../keys/content-key-service';
import type { Logger } from '../log';
import type { SiteService } from '../sites/site-service';
import { errorHandler, notFoundHandler } from './error-mapping';
import type { AdminSchemas } from './json-schemas';
import { requestContext } from './request-context';
import { adminRoutes } from './routes/admin';
import { healthRoutes, type ReadinessCheck } from './routes/health';

export interface AppDeps {
  readonly logger: Logger;
  readonly sites: SiteService;
  readonly contentKeys: ContentKeyService;
  readonly adminToken: string;
  readonly adminSchemas: AdminSchemas;
  /** Named readiness checks for `/readyz` (store, master key). */
  readonly readiness: Readonly<Record<string, ReadinessCheck>>;
}

/** The HTTP application, with every dependency injected (in-process tests start it on port 0). */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  app.use(requestContext(deps.logger));
  app.use((_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    next();
  });
  app.use(healthRoutes(deps.readiness));
  app.use(
    '/admin/v1',
    adminRoutes({
      adminToken: deps.adminToken,
      sites: deps.sites,
      contentKeys: deps.contentKeys,
      schemas: deps.adminSchemas,
    }),
  );
  app.use(notFoundHandler);
  app.use(errorHandler(deps.logger));
  return app;
}
