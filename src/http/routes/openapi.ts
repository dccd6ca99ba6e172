import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Router } from 'express';
import { SCHEMAS_DIR } from '../json-schemas';

/** The OpenAPI 3.1 document of every route, kept in `schemas/` beside the admin JSON Schemas. */
export const OPENAPI_DOCUMENT_PATH = join(SCHEMAS_DIR, 'openapi.json');

/**
 * `GET /openapi.json`. The file is read and parsed once, when the app is built, so a missing or
 * broken document stops start-up instead of failing at the first request; the bytes served are the
 * file's own.
 */
export function openApiRoutes(file: string = OPENAPI_DOCUMENT_PATH): Router {
  const body = readFileSync(file);
  JSON.parse(body.toString('utf8'));
  const router = Router();
  router.get('/openapi.json', (_req, res) => {
    // The app sets no-store on every response already; repeated so the router keeps it on its own.
    res.set('Cache-Control', 'no-store').type('application/json').send(body);
  });
  return router;
}
