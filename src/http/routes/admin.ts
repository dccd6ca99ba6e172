import express, { Router } from 'express';
import type { AuthFailureLimiter } from '../../auth-limits/auth-failure-limiter';
import type { AuditService } from '../../audit/audit-service';
import { certificateThumbprint } from '../../crypto/certificates';
import { NotFound } from '../../errors';
import type { ContentKeyService } from '../../keys/content-key-service';
import type { LicenseServerService, LicenseServerView, NewLicenseServer } from '../../license-servers/license-server-service';
import type { SiteOptions, SiteStatus } from '../../sites/site';
import { SITE_ID_PATTERN } from '../../sites/site';
import type { SiteService } from '../../sites/site-service';
import { requireAdminToken } from '../admin-auth';
import type { AdminSchemas } from '../json-schemas';

export interface AdminDeps {
  readonly adminToken: string;
  readonly authFailures: AuthFailureLimiter;
  readonly sites: SiteService;
  readonly contentKeys: ContentKeyService;
  readonly licenseServers: LicenseServerService;
  readonly audit: AuditService;
  readonly schemas: AdminSchemas;
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
interface ContentKeysQuery {
  readonly limit?: string;
  readonly after?: string;
}

/** Admin bodies are small JSON documents. */
const ADMIN_BODY_LIMIT = '64kb';

/** A path segment that is not a site ID is never echoed (it could be anything a caller pasted). */
function siteIdParam(value: string | undefined): string {
  if (value === undefined || !SITE_ID_PATTERN.test(value)) throw new NotFound('site not found');
  return value;
}

/** Credential IDs (KMS tokens, license servers) are 16 base64url characters. */
const CREDENTIAL_ID_PATTERN = /^[A-Za-z0-9_-]{16}$/;

/** License-server IDs are credential IDs; anything else is not echoed either. */
function licenseServerIdParam(value: string | undefined): string {
  if (value === undefined || !CREDENTIAL_ID_PATTERN.test(value)) throw new NotFound('license server not found');
  return value;
}

/**
 * A token ID, never a whole token: someone who pastes `kms1.<id>.<secret>` here must not find the
 * secret echoed in the 404 or in the log line of the refusal.
 */
function tokenIdParam(value: string | undefined): string {
  if (value === undefined || !CREDENTIAL_ID_PATTERN.test(value)) throw new NotFound('token not found');
  return value;
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
  router.use(express.json({ limit: ADMIN_BODY_LIMIT, strict: true }));

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

  router.get('/sites/:siteId/contents/:contentId/keys', async (req, res) => {
    const siteId = siteIdParam(req.params.siteId);
    await sites.getSite(siteId);
    const query = schemas.validate<ContentKeysQuery>('content-keys-query', req.query, 'query');
    // A page at a time: a live content gains keys with every key period, without end.
    const { keys, next } = await contentKeys.listMetadataPage(siteId, req.params.contentId, {
      ...(query.limit !== undefined && { limit: Number(query.limit) }),
      ...(query.after !== undefined && { after: query.after }),
    });
    if (keys.length === 0 && query.after === undefined) throw new NotFound('no keys for this content');
    res.json({
      siteId,
      contentId: req.params.contentId,
      keys: keys.map(({ kid, trackType, periodIndex, scheme, createdAt }) => ({
        kid,
        ...(trackType !== undefined && { trackType }),
        ...(periodIndex !== undefined && { periodIndex }),
        ...(scheme !== undefined && { scheme }),
        createdAt,
      })),
      ...(next !== undefined && { next }),
    });
  });

  return router;
}
