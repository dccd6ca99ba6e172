import express, { type Express } from 'express';
import type { AuditService } from '../audit/audit-service';
import type { AuthFailureLimiter } from '../auth-limits/auth-failure-limiter';
import type { KeyExchange } from '../exchange/key-exchange';
import type { LicenseExport } from '../exchange/license-export';
import type { ContentKeyService } from '../keys/content-key-service';
import type { LicenseServerService } from '../license-servers/license-server-service';
import type { ContentLifecycle } from '../lifecycle/content-lifecycle';
import type { PolicyService } from '../content-policy/policy-service';
import type { RevocationService } from '../revocation/revocation-service';
import type { Logger } from '../log';
import type { Metrics } from '../metrics/metrics';
import type { SiteService } from '../sites/site-service';
import { errorHandler, notFoundHandler } from './error-mapping';
import { pipelineLimit } from './pipelining';
import type { AdminSchemas } from './json-schemas';
import { requestContext } from './request-context';
import { adminRoutes } from './routes/admin';
import { clearKeyRoutes } from './routes/clearkey';
import { licenceTokenKeyRoutes } from './routes/licence-token-keys';
import type { AllowedOrigins } from '../licence/allowed-origins';
import type { ClearKeyLicences } from '../licence/clearkey-licence';
import type { LicenceTokenKeyService } from '../licence/licence-token-keys';
import { healthRoutes, type ReadinessCheck } from './routes/health';
import type { KeyRequestLimits } from '../exchange/dialect';
import { keyExchangeRoutes } from './routes/key-exchange';
import { licenseRoutes } from './routes/license';
import { metricsRoutes, requestMetrics } from './routes/metrics';
import { openApiRoutes } from './routes/openapi';
import { SERVICE_USER_AGENT } from '../version';

export interface AppDeps {
  readonly logger: Logger;
  readonly sites: SiteService;
  readonly contentKeys: ContentKeyService;
  readonly licenseServers: LicenseServerService;
  readonly audit: AuditService;
  readonly lifecycle: ContentLifecycle;
  readonly revocations: RevocationService;
  readonly policies: PolicyService;
  readonly keyExchange: KeyExchange;
  readonly licenseExport: LicenseExport;
  /** Largest CPIX request body (BODY_LIMIT_BYTES; the XML parser gets the same byte limit) and most keys per request. */
  readonly keyRequestLimits: KeyRequestLimits;
  /**
   * Proxies in front of us whose X-Forwarded-For is believed; 0 = the socket address is the client.
   * Audit records and authentication-failure limits use the resulting address, so never trust more hops than exist.
   */
  readonly trustProxyHops?: number;
  readonly adminToken: string;
  /** Failed-authentication limits for every credential check (KMS tokens, license servers, admin). */
  readonly authFailures: AuthFailureLimiter;
  readonly adminSchemas: AdminSchemas;
  /** Named readiness checks for `/readyz` (store, master key). */
  readonly readiness: Readonly<Record<string, ReadinessCheck>>;
  /** Prometheus metrics, served at `/metrics` (behind `metricsToken` when one is configured). */
  readonly metrics: Metrics;
  readonly metricsToken?: string;
  /** ClearKey licences for players (docs/clearkey.md): the licence endpoint, its token keys and CORS origins. */
  readonly clearKey: {
    readonly licences: ClearKeyLicences;
    readonly tokenKeys: LicenceTokenKeyService;
    readonly anySiteAllows: AllowedOrigins;
  };
}

/** The HTTP application, with every dependency injected (in-process tests start it on port 0). */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  app.set('trust proxy', deps.trustProxyHops ?? 0);
  app.use(requestContext(deps.logger));
  app.use(requestMetrics(app, deps.metrics));
  app.use(pipelineLimit());
  app.use((_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    next();
  });
  const keyRoutes = {
    logger: deps.logger,
    sites: deps.sites,
    authFailures: deps.authFailures,
    keyExchange: deps.keyExchange,
    limits: deps.keyRequestLimits,
    userAgent: SERVICE_USER_AGENT,
  };
  // First: key requests are the hot path, and every router before them is one more match per request.
  app.use(keyExchangeRoutes(keyRoutes));
  app.use(healthRoutes(deps.readiness));
  app.use(openApiRoutes());
  app.use(metricsRoutes(deps.metrics, deps.authFailures, deps.metricsToken));
  app.use(
    '/admin/v1',
    adminRoutes({
      adminToken: deps.adminToken,
      authFailures: deps.authFailures,
      sites: deps.sites,
      contentKeys: deps.contentKeys,
      licenseServers: deps.licenseServers,
      audit: deps.audit,
      lifecycle: deps.lifecycle,
      revocations: deps.revocations,
      policies: deps.policies,
      schemas: deps.adminSchemas,
    }),
  );
  app.use(
    '/admin/v1',
    licenceTokenKeyRoutes({
      adminToken: deps.adminToken,
      authFailures: deps.authFailures,
      licenceTokenKeys: deps.clearKey.tokenKeys,
      schemas: deps.adminSchemas,
    }),
  );
  app.use(clearKeyRoutes({ licences: deps.clearKey.licences, authFailures: deps.authFailures, anySiteAllows: deps.clearKey.anySiteAllows }));
  app.use(
    licenseRoutes({ licenseServers: deps.licenseServers, licenseExport: deps.licenseExport, revocations: deps.revocations, authFailures: deps.authFailures }),
  );
  app.use(notFoundHandler);
  app.use(errorHandler(deps.logger));
  return app;
}
