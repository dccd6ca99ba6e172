/**
 * The key-issuing routes: the SPEKE URLs and PallyCon's CPIX API. A route authenticates by the site's
 * KMS token, reads the raw body, and hands both to its protocol and the key exchange; what a protocol
 * reads, answers and how it words its errors lives in `exchange/dialects/`.
 */

import { Router, type Request, type RequestHandler, type Response } from 'express';
import { ConcurrentChange, StaleAuthentication } from '../../errors';
import type { KeyExchangeProtocol, KeyRequestInput, KeyRequestLimits } from '../../exchange/dialect';
import { PALLYCON_API_V1, PALLYCON_API_V2 } from '../../exchange/dialects/pallycon';
import { SPEKE } from '../../exchange/dialects/speke';
import type { KeyExchange } from '../../exchange/key-exchange';
import type { Logger } from '../../log';
import type { SiteView } from '../../sites/site';
import type { SiteService } from '../../sites/site-service';
import { readCpixBody, sendCpix } from '../cpix-body';
import { errorHandler, writeJson, writePlainText } from '../error-mapping';
import type { AuthFailureLimiter } from '../../auth-limits/auth-failure-limiter';
import { authenticatedSite, authenticateKmsRequest, requireKmsToken } from '../kms-auth';
import type { AuthenticatedSite } from '../../sites/site-service';
import { clientAddress } from '../request-context';

export interface KeyExchangeRouteDeps {
  readonly logger: Logger;
  readonly sites: SiteService;
  readonly authFailures: AuthFailureLimiter;
  readonly keyExchange: KeyExchange;
  readonly limits: KeyRequestLimits;
  /** `X-Speke-User-Agent` / `Speke-User-Agent` value, e.g. `cpix-kms/0.1.0`. */
  readonly userAgent: string;
}

/**
 * The URLs of each protocol. SPEKE URLs are free-form (PallyCon's is `/cpix/getKey?enc-token=`); the
 * PallyCon CPIX API has the single-key v1 (and its legacy path, used by the PallyCon packager and
 * Wowza module), the multi-key v2 and DoveRunner's alias of it.
 */
const ROUTES: readonly { readonly paths: readonly string[]; readonly protocol: KeyExchangeProtocol }[] = [
  { paths: ['/speke/copyProtection', '/speke/:spekePath/copyProtection', '/cpix/getKey'], protocol: SPEKE },
  { paths: ['/v1/cpix/pallycon/getKey/:token', '/cpix/pallycon/getKey/:token'], protocol: PALLYCON_API_V1 },
  { paths: ['/v2/cpix/pallycon/getKey/:token', '/v2/cpix/doverunner/getKey/:token'], protocol: PALLYCON_API_V2 },
];

/**
 * Answers a request gets when its site keeps changing under it: each try after the first
 * authenticates from the store, so only a change between that read and the store step makes another.
 */
const STALE_AUTHENTICATION_ATTEMPTS = 3;

function inputOf(req: Request, limits: KeyRequestLimits, site: SiteView): KeyRequestInput {
  if (!Buffer.isBuffer(req.body)) throw new Error('readCpixBody must run before this handler');
  return {
    body: req.body,
    limits,
    requiredSigners: site.options.requestSignerCertificates,
    header: (name) => req.get(name),
    query: (name) => (req.query as Record<string, unknown>)[name],
  };
}

/** Sets the protocol's answer headers first, so that every answer carries them, refusals included. */
function answerHeaders(protocol: KeyExchangeProtocol, userAgent: string): RequestHandler {
  return (req, res, next) => {
    res.set(protocol.responseHeaders({ header: (name) => req.get(name) }, userAgent));
    next();
  };
}

export function keyExchangeRoutes(deps: KeyExchangeRouteDeps): Router {
  const router = Router();
  for (const { paths, protocol } of ROUTES) {
    const headers = answerHeaders(protocol, deps.userAgent);
    const answer = async (req: Request, res: Response, { site, credentialId, siteRevision }: AuthenticatedSite): Promise<string> => {
      const request = protocol.read(inputOf(req, deps.limits, site));
      res.locals.dialect = request.dialect.name; // the metrics label (requests refused before this point count as 'none')
      return deps.keyExchange.exchange({
        ...request,
        site,
        credentialId,
        siteRevision,
        clientAddress: clientAddress(req),
        requestId: res.locals.requestId as string,
      });
    };
    const exchange: RequestHandler = async (req, res) => {
      let authenticated = authenticatedSite(res);
      for (let attempt = 1; ; attempt += 1) {
        try {
          sendCpix(res, await answer(req, res, authenticated));
          return;
        } catch (error) {
          if (!(error instanceof StaleAuthentication)) throw error;
          // Read as it is now: a refusal (revoked, disabled), or the request again under the site's new settings.
          if (attempt === STALE_AUTHENTICATION_ATTEMPTS) throw new ConcurrentChange('the site changed while the request was answered; retry');
          authenticated = await authenticateKmsRequest(req, deps.sites, deps.authFailures, true);
        }
      }
    };
    router.post([...paths], headers, requireKmsToken(deps.sites, deps.authFailures), ...readCpixBody(deps.limits.bodyBytes), exchange);
    router.use([...paths], errorHandler(deps.logger, protocol.errorFormat === 'text' ? writePlainText : writeJson));
  }
  // SPEKE v1 heartbeat (AWS SPEKE API v1): answers without touching dependencies, like /healthz.
  router.get(['/speke/heartbeat', '/speke/:spekePath/heartbeat'], answerHeaders(SPEKE, deps.userAgent), (_req, res) => {
    res.type('text/plain').send('OK');
  });
  return router;
}
