/**
 * License-server routes, with the license server's own credential as `Authorization: Bearer lsc1.…`
 * (never a KMS token, which would let a packager read keys as a license server or the reverse):
 * - `GET /license/v1/sites/:siteId/contents/:contentId`, the key export: a signed CPIX 2.3 document
 *   whose keys are encrypted to the license server's registered certificate;
 * - `GET /license/v1/sites/:siteId/revocations?since=`, the site's revocations, which the license
 *   server polls so it stops licensing what was revoked (docs/content-policies.md).
 */

import { Router, type Request, type RequestHandler } from 'express';
import type { AuthFailureLimiter } from '../../auth-limits/auth-failure-limiter';
import type { LicenseExport, LicenseExportFilter } from '../../exchange/license-export';
import { Forbidden, RequestInvalid, Unauthenticated } from '../../errors';
import { parseKeyId } from '../../keys/key-id';
import type { LicenseServerService } from '../../license-servers/license-server-service';
import type { RevocationService } from '../../revocation/revocation-service';
import { sendCpix } from '../cpix-body';
import { authAttempt, bearerCredential, MAX_CREDENTIAL_LENGTH } from '../kms-auth';
import { clientAddress } from '../request-context';

export interface LicenseRouteDeps {
  readonly licenseServers: LicenseServerService;
  readonly licenseExport: LicenseExport;
  readonly revocations: Pick<RevocationService, 'listSince'>;
  readonly authFailures: AuthFailureLimiter;
}

const MAX_TRACK_TYPE_LENGTH = 64;

function singleQuery(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0) throw new RequestInvalid(`query parameter ${name} must be given once, non-empty`);
  return value;
}

/** Refuses a query parameter outside `known`: a misspelled one would otherwise be ignored in silence. */
function onlyParameters(query: Record<string, unknown>, known: readonly string[], message: string): void {
  if (Object.keys(query).some((name) => !known.includes(name))) throw new RequestInvalid(message);
}

/**
 * `?kid=`, `?trackType=`, `?period=` narrow the export; malformed values are 400, not an empty result,
 * and so is any other parameter: a misspelled filter would otherwise export the whole content.
 */
function exportFilter(query: Record<string, unknown>): LicenseExportFilter {
  onlyParameters(query, ['kid', 'trackType', 'period'], 'the query parameters are kid, trackType and period');
  const kid = singleQuery(query.kid, 'kid');
  const trackType = singleQuery(query.trackType, 'trackType');
  const period = singleQuery(query.period, 'period');
  if (trackType !== undefined && trackType.length > MAX_TRACK_TYPE_LENGTH) throw new RequestInvalid('trackType is too long');
  if (period !== undefined && !/^(0|[1-9][0-9]{0,15})$/.test(period)) throw new RequestInvalid('period must be a non-negative integer');
  return {
    ...(kid !== undefined && { kid: parseKeyId(kid) }),
    ...(trackType !== undefined && { trackType }),
    ...(period !== undefined && { periodIndex: Number(period) }),
  };
}

export function licenseRoutes(deps: LicenseRouteDeps): Router {
  const router = Router();

  /** The license server of the `Authorization` header, once it is known to belong to `siteId`. */
  async function authenticated(req: Request, siteId: string) {
    const presented = bearerCredential(req);
    if (presented === undefined || presented.length > MAX_CREDENTIAL_LENGTH) {
      throw new Unauthenticated({ detail: 'no license-server credential' });
    }
    const server = await deps.authFailures.guard(authAttempt(req, presented), () => deps.licenseServers.authenticate(presented));
    // A license server reads its own site only; saying so (403) leaks nothing it could not know.
    if (server.licenseServer.siteId !== siteId) throw new Forbidden('this license server belongs to another site');
    return server;
  }

  const exportKeys: RequestHandler = async (req, res) => {
    res.locals.dialect = 'license-export';
    const { siteId, contentId } = req.params as Readonly<Record<'siteId' | 'contentId', string>>;
    const { licenseServer, credentialId } = await authenticated(req, siteId);
    const xml = await deps.licenseExport.export({
      siteId,
      contentId,
      filter: exportFilter(req.query as Record<string, unknown>),
      licenseServerId: credentialId,
      certificate: licenseServer.certificate,
      clientAddress: clientAddress(req),
      requestId: res.locals.requestId as string,
    });
    sendCpix(res, xml);
  };

  const listRevocations: RequestHandler = async (req, res) => {
    const { siteId } = req.params as Readonly<Record<'siteId', string>>;
    await authenticated(req, siteId);
    const query = req.query as Record<string, unknown>;
    onlyParameters(query, ['since'], 'the only query parameter is since');
    res.json({ revocations: await deps.revocations.listSince(siteId, singleQuery(query.since, 'since')) });
  };

  router.get('/license/v1/sites/:siteId/contents/:contentId', exportKeys);
  router.get('/license/v1/sites/:siteId/revocations', listRevocations);
  return router;
}
