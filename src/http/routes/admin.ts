import { Router } from 'express';
import type { AuthFailureLimiter } from '../../auth-limits/auth-failure-limiter';
import type { AuditService } from '../../audit/audit-service';
import { certificateThumbprint } from '../../crypto/certificates';
import type { LicenseServerService, LicenseServerView, NewLicenseServer } from '../../license-servers/license-server-service';
import type { SiteOptions, SiteStatus } from '../../sites/site';
import { requireAdminToken } from '../admin-auth';
import { adminJsonBody } from '../json-body';
import { licenseServerIdParam, siteIdParam, tokenIdParam } from '../admin-params';
import { adminContentRoutes, type AdminContentDeps } from './admin-contents';

export interface AdminDeps extends AdminContentDeps {
  readonly adminToken: string;
  readonly authFailures: AuthFailureLimiter;
  readonly licenseServers: LicenseServerService;
  readonly audit: AuditService;
}

interface SiteCreateBody {
  readonly id?: string;
  readonly name: string;
  readonly options?: Partial<SiteOptions>;
}
interface SiteUpdateBody {
  readonly name?: string;
  readonly status?: SiteStatus;
  readonly options?: Partial<SiteOptions>;
}
interface TokenCreateBody {
  readonly name?: string;
}
interface AuditQuery {
  readonly limit?: string;
  readonly before?: string;
}


/** A license server as JSON: its certificate as PEM with its SHA-256 thumbprint (hex of the DER). */
function licenseServerJson({ certificate, ...view }: LicenseServerView) {
  return { ...view, certificate: certificate.toString(), certificateThumbprint: certificateThumbprint(certificate) };
}

/** `/admin/v1`: sites, tokens, license servers and the audit trail, behind the admin bearer token. */
export function adminRoutes(deps: AdminDeps): Router {
  const { sites, contentKeys, licenseServers, audit, schemas } = deps;
  const router = Router();
  router.use(requireAdminToken(deps.adminToken, deps.authFailures));
  router.use(...adminJsonBody);

  router.post('/sites', async (req, res) => {
    const body = schemas.validate<SiteCreateBody>('site-create', req.body);
    res.status(201).json(await sites.createSite(body));
  });

  router.get('/sites', async (_req, res) => {
    res.json({ sites: await sites.listSites() });
  });

  router.get('/sites/:siteId', async (req, res) => {
    res.json(await sites.getSite(siteIdParam(req.params.siteId)));
  });

  router.patch('/sites/:siteId', async (req, res) => {
    const siteId = siteIdParam(req.params.siteId);
    res.json(await sites.updateSite(siteId, schemas.validate<SiteUpdateBody>('site-update', req.body)));
  });

  router.post('/sites/:siteId/tokens', async (req, res) => {
    const siteId = siteIdParam(req.params.siteId);
    const body = schemas.validate<TokenCreateBody>('token-create', req.body ?? {});
    res.status(201).json(await sites.issueToken(siteId, body.name));
  });

  router.get('/sites/:siteId/tokens', async (req, res) => {
    res.json({ tokens: await sites.listTokens(siteIdParam(req.params.siteId)) });
  });

  router.delete('/sites/:siteId/tokens/:tokenId', async (req, res) => {
    await sites.revokeToken(siteIdParam(req.params.siteId), tokenIdParam(req.params.tokenId));
    res.status(204).end();
  });

  router.post('/sites/:siteId/license-servers', async (req, res) => {
    const siteId = siteIdParam(req.params.siteId);
    const body = schemas.validate<NewLicenseServer>('license-server-create', req.body);
    const { licenseServer, credential } = await licenseServers.register(siteId, body);
    res.status(201).json({ licenseServer: licenseServerJson(licenseServer), credential });
  });

  router.get('/sites/:siteId/license-servers', async (req, res) => {
    const list = await licenseServers.list(siteIdParam(req.params.siteId));
    res.json({ licenseServers: list.map(licenseServerJson) });
  });

  router.delete('/sites/:siteId/license-servers/:licenseServerId', async (req, res) => {
    const siteId = siteIdParam(req.params.siteId);
    await licenseServers.revoke(siteId, licenseServerIdParam(req.params.licenseServerId));
    res.status(204).end();
  });

  router.get('/sites/:siteId/audit', async (req, res) => {
    const siteId = siteIdParam(req.params.siteId);
    await sites.getSite(siteId);
    const query = schemas.validate<AuditQuery>('audit-query', req.query, 'query');
    res.json(
      await audit.list(siteId, {
        ...(query.limit !== undefined && { limit: Number(query.limit) }),
        ...(query.before !== undefined && { before: query.before }),
      }),
    );
  });

  router.post('/sites/:siteId/site-key/rotate', async (req, res) => {
    res.json(await contentKeys.rotateSiteKey(siteIdParam(req.params.siteId)));
  });

  router.use(adminContentRoutes(deps));

  return router;
}
