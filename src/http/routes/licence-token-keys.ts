import { Router } from 'express';
import type { AuthFailureLimiter } from '../../auth-limits/auth-failure-limiter';
import { NotFound } from '../../errors';
import type { LicenceTokenKeyService, NewLicenceTokenKey } from '../../licence/licence-token-keys';
import { SITE_ID_PATTERN } from '../../sites/site';
import { requireAdminToken } from '../admin-auth';
import { adminJsonBody } from '../json-body';
import type { AdminSchemas } from '../json-schemas';

export interface LicenceTokenKeyRouteDeps {
  readonly adminToken: string;
  readonly authFailures: AuthFailureLimiter;
  readonly licenceTokenKeys: LicenceTokenKeyService;
  readonly schemas: AdminSchemas;
}

type Params = Readonly<Record<string, string | undefined>>;

/** A path segment that is not a site ID is never echoed. */
function siteIdParam(params: Params): string {
  const value = params.siteId;
  if (value === undefined || !SITE_ID_PATTERN.test(value)) throw new NotFound('site not found');
  return value;
}

/**
 * `/admin/v1/sites/{siteId}/licence-token-keys`: the keys that verify a site's licence tokens
 * (docs/clearkey.md), behind the admin token like the rest of the admin API.
 */
export function licenceTokenKeyRoutes(deps: LicenceTokenKeyRouteDeps): Router {
  const { licenceTokenKeys, schemas } = deps;
  const router = Router();
  // Per route, not router.use(): mounted beside the admin router, this router must never guard or parse
  // requests meant for anything else.
  const admin = requireAdminToken(deps.adminToken, deps.authFailures);

  router.post('/sites/:siteId/licence-token-keys', admin, ...adminJsonBody, async (req, res) => {
    const siteId = siteIdParam(req.params as Params);
    const body = schemas.validate<NewLicenceTokenKey>('licence-token-key-create', req.body);
    res.status(201).json(await licenceTokenKeys.create(siteId, body));
  });

  router.get('/sites/:siteId/licence-token-keys', admin, async (req, res) => {
    res.json({ licenceTokenKeys: await licenceTokenKeys.list(siteIdParam(req.params as Params)) });
  });

  router.delete('/sites/:siteId/licence-token-keys/:kid', admin, async (req, res) => {
    await licenceTokenKeys.revoke(siteIdParam(req.params as Params), (req.params as Params).kid ?? '');
    res.status(204).end();
  });

  return router;
}
