/**
 * The key-issuing routes: SPEKE (v1, v2.0, v2.1) and PallyCon's CPIX API. Both authenticate by the
 * site's KMS token, read the raw CPIX body, parse it with the hardened parser and hand it to the key
 * exchange; they differ in how the dialect is chosen and in how errors are written (SPEKE: text, the
 * exact §4.3 strings for v2; PallyCon: JSON, which its clients take for an error whatever the status).
 */

import { Router, type Request, type RequestHandler } from 'express';
import { checkReferences } from '../../cpix/parse-references';
import { parseCpixDocument, type ParseCpixOptions } from '../../cpix/parse';
import type { CpixDocument } from '../../cpix/model';
import { CpixInvalid } from '../../errors';
import type { ExchangeDialect, KeyExchange } from '../../exchange/key-exchange';
import { parseSpekeVersionHeader, validateSpekeV2, type SpekeV2Version } from '../../exchange/speke/validate-v2';
import type { Logger } from '../../log';
import type { SiteService } from '../../sites/site-service';
import { readCpixBody, sendCpix } from '../cpix-body';
import { errorHandler, writePlainText } from '../error-mapping';
import type { AuthFailureLimiter } from '../../auth-limits/auth-failure-limiter';
import { authenticatedSite, requireKmsToken } from '../kms-auth';
import { clientAddress } from '../request-context';

export interface KeyExchangeRouteDeps {
  readonly logger: Logger;
  readonly sites: SiteService;
  readonly authFailures: AuthFailureLimiter;
  readonly keyExchange: KeyExchange;
  readonly bodyLimitBytes: number;
  /** `X-Speke-User-Agent` / `Speke-User-Agent` value, e.g. `cpix-kms/0.1.0`. */
  readonly userAgent: string;
}

/** SPEKE paths: the URL is free-form (speke.md §2); PallyCon's SPEKE URL is `/cpix/getKey?enc-token=`. */
const SPEKE_PATHS = ['/speke/copyProtection', '/speke/:spekePath/copyProtection', '/cpix/getKey'];
/** PallyCon CPIX API (pallycon.md §1.1): v1 single key, v2 multi-key; DoveRunner alias; legacy v1 path. */
const PALLYCON_PATHS: Readonly<Record<string, 'cpix-api-v1' | 'cpix-api-v2'>> = {
  '/v1/cpix/pallycon/getKey/:token': 'cpix-api-v1',
  '/cpix/pallycon/getKey/:token': 'cpix-api-v1',
  '/v2/cpix/pallycon/getKey/:token': 'cpix-api-v2',
  '/v2/cpix/doverunner/getKey/:token': 'cpix-api-v2',
};

function requestBody(req: Request): Buffer {
  if (!Buffer.isBuffer(req.body)) throw new Error('readCpixBody must run before this handler');
  return req.body;
}

function parseRequest(req: Request, limitBytes: number, options: ParseCpixOptions = {}): CpixDocument {
  return parseCpixDocument(requestBody(req), { maxBytes: limitBytes }, options);
}

function exchangeHandler(
  deps: KeyExchangeRouteDeps,
  read: (req: Request) => { readonly dialect: ExchangeDialect; readonly document: CpixDocument; readonly keyRotation?: boolean },
): RequestHandler {
  return async (req, res) => {
    const { site, credentialId } = authenticatedSite(res);
    const { dialect, document, keyRotation } = read(req);
    res.locals.dialect = dialect; // the metrics label (requests refused before this point count as 'none')
    const xml = await deps.keyExchange.exchange({
      site,
      credentialId,
      clientAddress: clientAddress(req),
      requestId: res.locals.requestId as string,
      dialect,
      document,
      ...(keyRotation !== undefined && { keyRotation }),
    });
    sendCpix(res, xml);
  };
}

const SPEKE_DIALECT: Readonly<Record<SpekeV2Version, ExchangeDialect>> = { '2.0': 'speke-v2.0', '2.1': 'speke-v2.1' };

/**
 * SPEKE: `X-Speke-Version` (read case-insensitively, as every Node header) selects v2.0/v2.1 with the
 * §4.3 checks in their documented order; without it the request is SPEKE v1 or a generic CPIX client.
 * Every answer, errors included, carries the user-agent headers and echoes `X-Speke-Version` (V2-R1).
 */
export function spekeRoutes(deps: KeyExchangeRouteDeps): Router {
  const router = Router();
  const headers: RequestHandler = (req, res, next) => {
    res.set('X-Speke-User-Agent', deps.userAgent);
    res.set('Speke-User-Agent', deps.userAgent);
    const version = req.get('x-speke-version');
    if (version !== undefined) res.set('X-Speke-Version', version);
    next();
  };
  const read = (req: Request) => {
    const version = parseSpekeVersionHeader(req.get('x-speke-version'));
    if (version === undefined) return { dialect: 'speke-v1' as const, document: parseRequest(req, deps.bodyLimitBytes) };
    // References are checked after the §4.3 checks, which word some broken references themselves.
    const document = parseRequest(req, deps.bodyLimitBytes, { references: 'skip' });
    validateSpekeV2(document, version);
    checkReferences(document);
    return { dialect: SPEKE_DIALECT[version], document };
  };
  router.post(SPEKE_PATHS, headers, requireKmsToken(deps.sites, deps.authFailures), ...readCpixBody(deps.bodyLimitBytes), exchangeHandler(deps, read));
  // SPEKE v1 heartbeat (V1-R11): answers without touching dependencies, like /healthz.
  router.get(['/speke/heartbeat', '/speke/:spekePath/heartbeat'], headers, (_req, res) => {
    res.type('text/plain').send('OK');
  });
  router.use(SPEKE_PATHS, errorHandler(deps.logger, writePlainText));
  return router;
}

/**
 * PallyCon CPIX API (pallycon.md §1): token in the path, KIDs assigned by the server, `?key-rotation=true`
 * for per-period keys. v1 is the single-key API. DRMSystems whose kid names no ContentKey are bound to
 * the single key, as PallyCon's own published requests need.
 */
export function pallyConRoutes(deps: KeyExchangeRouteDeps): Router {
  const router = Router();
  for (const [path, dialect] of Object.entries(PALLYCON_PATHS)) {
    const read = (req: Request) => {
      const document = parseRequest(req, deps.bodyLimitBytes, { references: 'allow-unbound-drm-systems' });
      if (dialect === 'cpix-api-v1' && (document.contentKeyList?.items.length ?? 0) > 1) {
        throw new CpixInvalid('ContentKeyList: the v1 CPIX API takes one key; multi-key requests go to /v2/');
      }
      return { dialect, document, keyRotation: req.query['key-rotation'] === 'true' };
    };
    router.post(path, requireKmsToken(deps.sites, deps.authFailures), ...readCpixBody(deps.bodyLimitBytes), exchangeHandler(deps, read));
  }
  router.use(Object.keys(PALLYCON_PATHS), errorHandler(deps.logger));
  return router;
}
