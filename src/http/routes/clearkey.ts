/**
 * `POST /clearkey/v1/license`: the W3C ClearKey licence exchange (Encrypted Media Extensions §9.1.3,
 * §9.1.4) for players, authorised by a licence token (`Authorization: Bearer <JWT>`, docs/clearkey.md).
 * Browsers on other origins reach it through CORS: the preflight (`OPTIONS`) is answered for the
 * origins any site allows; the licence itself only for the origins the token's site allows.
 */

import express, { Router, type Request, type RequestHandler, type Response } from 'express';
import type { AuthFailureLimiter } from '../../auth-limits/auth-failure-limiter';
import { Forbidden, RequestInvalid, Unauthenticated, UnsupportedMediaType } from '../../errors';
import type { AllowedOrigins } from '../../licence/allowed-origins';
import { parseLicenceRequest, type ClearKeyLicences } from '../../licence/clearkey-licence';
import { licenceTokenKeyId, MAX_LICENCE_TOKEN_LENGTH, type LicenceGrant } from '../../licence/licence-token';
import { bearerCredential } from '../kms-auth';
import { clientAddress } from '../request-context';

export const CLEARKEY_LICENSE_PATH = '/clearkey/v1/license';

export interface ClearKeyRouteDeps {
  readonly licences: ClearKeyLicences;
  readonly authFailures: AuthFailureLimiter;
  /** Whether any site allows this origin (CORS preflight). */
  readonly anySiteAllows: AllowedOrigins;
}

/** A licence request is a few KIDs of JSON (EME §9.1.3). */
const BODY_LIMIT = '16kb';
/** Media types a CDM's licence request may come with: JSON, or the raw message bytes. */
const BODY_TYPES = new Set(['application/json', 'text/plain', 'application/octet-stream']);
/** How long a browser may reuse a preflight answer (Fetch standard: Access-Control-Max-Age). */
const PREFLIGHT_MAX_AGE_SECONDS = 600;
const CHALLENGE = 'Bearer realm="cpix-kms clearkey"';

const utf8 = new TextDecoder('utf-8', { fatal: true });

function allowOrigin(res: Response, origin: string): void {
  res.setHeader('Access-Control-Allow-Origin', origin);
  res.setHeader('Access-Control-Expose-Headers', 'X-Request-Id, Retry-After, WWW-Authenticate');
}

/** The JSON body of a licence request, whatever of the accepted types it came as. */
function licenceBody(req: Request): unknown {
  const type = (req.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (type !== '' && !BODY_TYPES.has(type)) throw new UnsupportedMediaType('a licence request is JSON (application/json)');
  const body: unknown = req.body;
  if (!Buffer.isBuffer(body) || body.length === 0) throw new RequestInvalid('the licence request body is empty');
  try {
    return JSON.parse(utf8.decode(body)) as unknown;
  } catch {
    throw new RequestInvalid('the licence request is not JSON');
  }
}

export function clearKeyRoutes(deps: ClearKeyRouteDeps): Router {
  const { licences, authFailures, anySiteAllows } = deps;
  const router = Router();

  /** Every answer varies with Origin; a listed origin may read this answer (refined once the site is known). */
  const cors: RequestHandler = async (req, res, next) => {
    res.locals.dialect = 'clearkey';
    res.setHeader('Vary', 'Origin');
    const origin = req.get('origin');
    if (origin !== undefined && (await anySiteAllows(origin))) allowOrigin(res, origin);
    next();
  };

  router.options(CLEARKEY_LICENSE_PATH, cors, (_req, res) => {
    if (res.getHeader('Access-Control-Allow-Origin') !== undefined) {
      res.setHeader('Access-Control-Allow-Methods', 'POST');
      res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type');
      res.setHeader('Access-Control-Max-Age', String(PREFLIGHT_MAX_AGE_SECONDS));
    }
    res.status(204).end();
  });

  /** The licence token, verified before the body is read; a failure past the limits is a 429. */
  const authenticate: RequestHandler = async (req, res, next) => {
    try {
      const token = bearerCredential(req);
      if (token === undefined || token.length > MAX_LICENCE_TOKEN_LENGTH) throw new Unauthenticated({ detail: 'no licence token, or one too long' });
      const keyId = licenceTokenKeyId(token);
      const attempt = { clientAddress: clientAddress(req), realm: 'key' as const, ...(keyId !== undefined && { credentialId: `ltk.${keyId}` }) };
      const { grant, site } = await authFailures.guard(attempt, () => licences.authenticate(token));
      const origin = req.get('origin');
      if (origin !== undefined) {
        // A page the site has not listed gets neither the licence nor a readable answer.
        if (!site.options.clearKeyAllowedOrigins.includes(origin)) {
          res.removeHeader('Access-Control-Allow-Origin');
          res.removeHeader('Access-Control-Expose-Headers');
          throw new Forbidden('this origin may not use licences of this site', { detail: `origin not allowed by site ${site.id}` });
        }
        allowOrigin(res, origin);
      }
      res.locals.licenceGrant = grant;
    } catch (error) {
      if (error instanceof Unauthenticated) res.setHeader('WWW-Authenticate', CHALLENGE);
      throw error;
    }
    next();
  };

  router.post(CLEARKEY_LICENSE_PATH, cors, authenticate, express.raw({ type: () => true, limit: BODY_LIMIT }), async (req, res) => {
    const request = parseLicenceRequest(licenceBody(req));
    const licence = await licences.issue(res.locals.licenceGrant as LicenceGrant, request, {
      clientAddress: clientAddress(req),
      requestId: res.locals.requestId as string,
    });
    res.status(200).json(licence);
  });

  return router;
}
