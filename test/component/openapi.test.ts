/**
 * `schemas/openapi.json` against the running app: served at GET /openapi.json, a valid OpenAPI 3.1
 * document whose Schema Objects are valid JSON Schema 2020-12, listing exactly the routes express has
 * (both ways), with the admin JSON Schemas copied faithfully, the error codes at the statuses
 * error-mapping.ts gives them, and real responses matching what it says.
 */

import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import Ajv2020 from 'ajv/dist/2020';
import request, { type Response } from 'supertest';
import { ServiceError, type ErrorCode } from '../../src/errors';
import { parseKeyId } from '../../src/keys/key-id';
import { mapError } from '../../src/http/error-mapping';
import { SCHEMAS_DIR } from '../../src/http/json-schemas';
import { openApiRoutes } from '../../src/http/routes/openapi';
import { createTestApp, type TestApp } from '../support/app';
import { captureLogs } from '../support/log-capture';
import { testCertificate } from '../support/services';
import { b64Kid, mintToken, registerTokenKey } from '../support/licence-tokens';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const DOCUMENT_FILE = join(SCHEMAS_DIR, 'openapi.json');
const documentText = readFileSync(DOCUMENT_FILE, 'utf8');
const doc = JSON.parse(documentText) as JsonObject;

function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function objectAt(value: Json | undefined, ...keys: string[]): JsonObject {
  let current = value;
  for (const key of keys) current = isObject(current) ? current[key] : undefined;
  if (!isObject(current)) throw new Error(`no object at ${keys.join('.')}`);
  return current;
}

/** Follows one local `$ref` (`#/components/…`), as the document uses them for responses and parameters. */
function resolved(value: Json | undefined): JsonObject {
  if (!isObject(value)) throw new Error('expected an object');
  const target = value.$ref;
  if (typeof target !== 'string') return value;
  if (!target.startsWith('#/')) throw new Error(`non-local $ref ${target}`);
  return objectAt(doc, ...target.slice(2).split('/'));
}

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

function operation(method: string, path: string): JsonObject {
  return objectAt(doc, 'paths', path, method);
}

// ---------------------------------------------------------------------------------------------
// The OpenAPI 3.1 validator is an ES module; jest runs tests as CommonJS in a VM that cannot import
// one, so it runs in a child node process (no network: its OpenAPI schemas ship in the package).

const VALIDATOR_URL = pathToFileURL(require.resolve('@seriousme/openapi-schema-validator/index.js')).href;
const VALIDATE_SCRIPT = `
const { Validator } = await import(process.argv[1]);
let input = '';
for await (const chunk of process.stdin) input += chunk;
const result = await new Validator().validate(JSON.parse(input));
process.stdout.write(JSON.stringify(result));
`;

async function validateOpenApi(document: JsonObject): Promise<{ valid: boolean; errors?: unknown }> {
  const run = promisify(execFile);
  const child = run(process.execPath, ['--input-type=module', '-e', VALIDATE_SCRIPT, VALIDATOR_URL], { timeout: 20_000 });
  child.child.stdin?.end(JSON.stringify(document));
  const { stdout } = await child;
  return JSON.parse(stdout) as { valid: boolean; errors?: unknown };
}

// ---------------------------------------------------------------------------------------------
// Schema Objects: the OpenAPI meta-schema does not look inside them, so each is compiled here with
// ajv's 2020-12 dialect in strict mode (unknown keywords, formats and type mistakes all fail).

const SCHEMA_ROOT = 'https://cpix-kms/openapi/components';

/** The document's schemas under one $id, their `#/components/schemas/` refs made absolute. */
function withAbsoluteRefs(value: Json): Json {
  if (Array.isArray(value)) return value.map(withAbsoluteRefs);
  if (!isObject(value)) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => {
      if (key === '$ref' && typeof item === 'string' && item.startsWith('#/components/schemas/')) {
        return [key, `${SCHEMA_ROOT}#/$defs/${item.slice('#/components/schemas/'.length)}`];
      }
      return [key, withAbsoluteRefs(item)];
    }),
  );
}

function schemaCompiler() {
  const ajv = new Ajv2020({ strict: true, allErrors: true, formats: { 'date-time': true, uuid: true } });
  ajv.addSchema({ $id: SCHEMA_ROOT, $defs: withAbsoluteRefs(objectAt(doc, 'components', 'schemas')) });
  return ajv;
}

/** Every Schema Object outside components/schemas: under a `schema` key of a parameter, header or media type. */
function inlineSchemas(value: Json, where: string, found: [string, JsonObject][] = []): [string, JsonObject][] {
  if (Array.isArray(value)) value.forEach((item, i) => inlineSchemas(item, `${where}/${i}`, found));
  else if (isObject(value)) {
    for (const [key, item] of Object.entries(value)) {
      if (where === '#/components' && key === 'schemas') continue;
      if (key === 'schema' && isObject(item)) found.push([`${where}/schema`, item]);
      else inlineSchemas(item, `${where}/${key}`, found);
    }
  }
  return found;
}

// ---------------------------------------------------------------------------------------------
// Express routes. router@2.3 (express 5's router) has a public `listRoutes()`: one entry per
// registered path with its methods, and mounted routers with their mount path, so no layer
// internals or hand-kept list of mount points are needed.

interface ListedRoute {
  readonly path: unknown;
  readonly methods: readonly string[] | undefined;
  readonly router: unknown;
}
interface RouteLister {
  listRoutes(): readonly ListedRoute[];
}

function isRouteLister(value: unknown): value is RouteLister {
  return (
    (typeof value === 'function' || (typeof value === 'object' && value !== null)) &&
    typeof (value as { listRoutes?: unknown }).listRoutes === 'function'
  );
}

/** `METHOD /path` of every route, paths joined with their routers' mount paths, in express syntax. */
function expressRoutes(router: unknown, prefix = ''): string[] {
  if (!isRouteLister(router)) throw new Error(`router at '${prefix || '/'}' has no listRoutes() (router >= 2.3 needed)`);
  return router.listRoutes().flatMap(({ path, methods, router: mounted }) => {
    if (typeof path !== 'string') throw new Error(`route at '${prefix}' has a non-string path ${String(path)}: describe it by hand`);
    const full = `${prefix}${path === '/' && mounted !== undefined ? '' : path}`;
    if (mounted !== undefined) return expressRoutes(mounted, full);
    if (methods === undefined) throw new Error(`${full}: neither a route nor a router`);
    if (methods.includes('*')) throw new Error(`${full}: .all() routes cannot be listed per method`);
    // express answers HEAD for every GET route by itself; the document lists GET only.
    return methods.filter((m) => !(m === 'HEAD' && methods.includes('GET'))).map((m) => `${m} ${full}`);
  });
}

/** `/sites/:siteId` → `/sites/{siteId}`; any other path-to-regexp syntax is refused rather than guessed. */
function toOpenApiPath(route: string): string {
  const [method, path = ''] = route.split(' ');
  if (/[*{}()?+]/.test(path)) throw new Error(`${route}: path syntax the comparison does not convert`);
  return `${method} ${path.replace(/:([A-Za-z_$][\w$]*)/g, '{$1}')}`;
}

function documentedRoutes(): string[] {
  return Object.entries(objectAt(doc, 'paths')).flatMap(([path, item]) =>
    HTTP_METHODS.filter((m) => isObject(item) && item[m] !== undefined).map((m) => `${m.toUpperCase()} ${path}`),
  );
}

// ---------------------------------------------------------------------------------------------
// Error codes. The Record type makes tsc fail when a code is added to or removed from errors.ts.

const ERROR_CODES: Readonly<Record<ErrorCode, true>> = {
  ERR_CONFIG_INVALID: true,
  ERR_REQUEST_INVALID: true,
  ERR_PAYLOAD_TOO_LARGE: true,
  ERR_UNSUPPORTED_MEDIA_TYPE: true,
  ERR_CPIX_INVALID: true,
  ERR_CPIX_UNSUPPORTED: true,
  ERR_CPIX_SIGNATURE_INVALID: true,
  ERR_REQUEST_SIGNATURE_REQUIRED: true,
  ERR_SPEKE_REJECTED: true,
  ERR_WEAK_CERTIFICATE: true,
  ERR_AUTH_REQUIRED: true,
  ERR_FORBIDDEN: true,
  ERR_RATE_LIMITED: true,
  ERR_NOT_FOUND: true,
  ERR_ALREADY_EXISTS: true,
  ERR_IN_USE: true,
  ERR_CONCURRENT_CHANGE: true,
  ERR_KEY_CONFLICT: true,
  ERR_CONTENT_REVOKED: true,
  ERR_KEY_UNWRAP_FAILED: true,
  ERR_MASTER_KEY_MISMATCH: true,
  ERR_STORE_UNAVAILABLE: true,
  ERR_KMS_UNAVAILABLE: true,
  ERR_DURABILITY_NOT_CONFIRMED: true,
};

/** A ServiceError of any code, to ask error-mapping.ts for its status. */
class CodeProbe extends ServiceError {
  constructor(readonly code: ErrorCode) {
    super('probe');
  }
}

function statusOf(code: string): number {
  if (code === 'ERR_INTERNAL') return mapError(new Error('not a ServiceError')).status;
  if (!(code in ERROR_CODES)) throw new Error(`${code} is not an ErrorCode`);
  return mapError(new CodeProbe(code as ErrorCode)).status;
}

/** The `error.code` enum of a JSON error response (ErrorBody narrowed); undefined for any other response. */
function documentedCodes(response: JsonObject): string[] | undefined {
  const json = isObject(response.content) ? response.content['application/json'] : undefined;
  const schema = isObject(json) ? json.schema : undefined;
  if (!isObject(schema) || !Array.isArray(schema.allOf)) return undefined;
  if (!schema.allOf.some((part) => isObject(part) && part.$ref === '#/components/schemas/ErrorBody')) return undefined;
  const codes = objectAt(schema, 'properties', 'error', 'properties', 'code').enum;
  if (!Array.isArray(codes)) throw new Error('an ErrorBody response without its code list');
  return codes.map(String);
}

function allOperations(): [string, JsonObject][] {
  return documentedRoutes().map((route) => {
    const [method = '', path = ''] = route.split(' ');
    return [route, operation(method.toLowerCase(), path)];
  });
}

// ---------------------------------------------------------------------------------------------

describe('OpenAPI document (schemas/openapi.json, GET /openapi.json)', () => {
  const logs = captureLogs();
  let t: TestApp;
  const admin = () => ({ Authorization: `Bearer ${t.adminToken}` });

  beforeAll(() => {
    t = createTestApp(logs.logger);
  });
  afterAll(async () => {
    await t.close();
  });

  describe('serving', () => {
    it('answers GET /openapi.json with the file itself as JSON, never cached', async () => {
      const res = await request(t.app).get('/openapi.json').expect(200);
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.text).toBe(documentText);
      expect(res.body).toMatchObject({ openapi: '3.1.0' });
    });

    it('carries the package version', () => {
      const pkg = JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8')) as { version: string };
      expect(objectAt(doc, 'info').version).toBe(pkg.version);
    });

    it('refuses to build the router when the document is not JSON (fails at start-up, not per request)', () => {
      expect(() => openApiRoutes(join(SCHEMAS_DIR, 'no-such-document.json'))).toThrow(/ENOENT/);
      expect(() => openApiRoutes(__filename)).toThrow(SyntaxError);
    });
  });

  describe('validity', () => {
    it('is a valid OpenAPI 3.1 document (@seriousme/openapi-schema-validator, refs resolved)', async () => {
      const result = await validateOpenApi(doc);
      expect(result.errors).toBeUndefined();
      expect(result.valid).toBe(true);
    });

    it('the validator does reject a broken document (a dangling $ref, a path without its leading slash)', async () => {
      const dangling = structuredClone(doc);
      objectAt(dangling, 'paths', '/healthz', 'get', 'responses', '200', 'content', 'application/json').schema = {
        $ref: '#/components/schemas/NoSuchSchema',
      };
      expect(await validateOpenApi(dangling)).toMatchObject({ valid: false });
      const badPath = structuredClone(doc);
      objectAt(badPath, 'paths')['healthz'] = objectAt(doc, 'paths', '/healthz');
      expect(await validateOpenApi(badPath)).toMatchObject({ valid: false });
    });

    it('declares plain JSON Schema 2020-12 as its dialect', () => {
      expect(doc.jsonSchemaDialect).toBe('https://json-schema.org/draft/2020-12/schema');
    });

    it('every Schema Object compiles as strict JSON Schema 2020-12', () => {
      const ajv = schemaCompiler();
      for (const name of Object.keys(objectAt(doc, 'components', 'schemas'))) {
        expect(() => ajv.compile({ $ref: `${SCHEMA_ROOT}#/$defs/${name}` })).not.toThrow();
      }
      const inline = inlineSchemas(doc, '#');
      expect(inline.length).toBeGreaterThan(20);
      for (const [where, schema] of inline) {
        try {
          ajv.compile(withAbsoluteRefs(schema) as object);
        } catch (error) {
          throw new Error(`${where}: ${(error as Error).message}`);
        }
      }
    });

    it('strict compilation does catch a schema mistake', () => {
      expect(() => schemaCompiler().compile({ type: 'object', propertys: {} })).toThrow(/unknown keyword/);
    });

    it('gives every operation a unique operationId', () => {
      const ids = allOperations().map(([, op]) => op.operationId);
      expect(ids.every((id) => typeof id === 'string')).toBe(true);
      expect(new Set(ids).size).toBe(ids.length);
    });
  });

  describe('routes', () => {
    it('finds the routes of mounted routers, with their mount path', () => {
      const routes = expressRoutes(t.app.router);
      expect(routes).toEqual(expect.arrayContaining(['GET /healthz', 'POST /admin/v1/sites', 'GET /admin/v1/sites/:siteId/audit']));
      expect(routes).not.toContain('HEAD /healthz');
    });

    it('documents every express route', () => {
      const documented = new Set(documentedRoutes());
      const missing = expressRoutes(t.app.router)
        .map(toOpenApiPath)
        .filter((route) => !documented.has(route));
      expect(missing).toEqual([]);
    });

    it('documents no route that express does not have', () => {
      const served = new Set(expressRoutes(t.app.router).map(toOpenApiPath));
      const extra = documentedRoutes().filter((route) => !served.has(route));
      expect(extra).toEqual([]);
    });

    it('declares every path parameter of a path, and only those', () => {
      for (const [route, op] of allOperations()) {
        const path = route.split(' ')[1] ?? '';
        const item = objectAt(doc, 'paths', path);
        const params = [...(Array.isArray(item.parameters) ? item.parameters : []), ...(Array.isArray(op.parameters) ? op.parameters : [])]
          .map(resolved)
          .filter((param) => param.in === 'path')
          .map((param) => String(param.name));
        const inPath = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
        expect({ route, params: params.sort() }).toEqual({ route, params: inPath.sort() });
      }
    });
  });

  describe('admin request bodies', () => {
    /** File in schemas/admin/ → component name. */
    const COPIES: Readonly<Record<string, string>> = {
      'site-create': 'SiteCreate',
      'site-update': 'SiteUpdate',
      'site-options': 'SiteOptions',
      'token-create': 'TokenCreate',
      'license-server-create': 'LicenseServerCreate',
      'audit-query': 'AuditQuery',
      'content-keys-query': 'ContentKeysQuery',
      'key-import': 'KeyImport',
      revoke: 'Revoke',
      'revocations-query': 'RevocationsQuery',
      'policy-fields': 'PolicyFields',
      'policy-create': 'PolicyCreate',
      'policy-update': 'PolicyUpdate',
      'policy-assign': 'PolicyAssign',
      'policy-rules': 'PolicyRules',
      'licence-token-key-create': 'LicenceTokenKeyCreate',
    };

    /** draft-07 → 2020-12 for these schemas: no keyword changes meaning, only `$id`/`$schema` go and refs point at components. */
    function converted(value: Json): Json {
      if (Array.isArray(value)) return value.map(converted);
      if (!isObject(value)) return value;
      return Object.fromEntries(
        Object.entries(value)
          .filter(([key]) => key !== '$schema' && key !== '$id')
          .map(([key, item]) => {
            if (key !== '$ref') return [key, converted(item)];
            const [file = '', fragment = ''] = String(item).split('#');
            const name = COPIES[file.replace(/\.schema\.json$/, '')];
            if (name === undefined) throw new Error(`unknown $ref ${String(item)}`);
            return [key, `#/components/schemas/${name}${fragment}`];
          }),
      );
    }

    it('has a copy of every schema in schemas/admin/', () => {
      const files = readdirSync(join(SCHEMAS_DIR, 'admin'))
        .filter((f) => f.endsWith('.schema.json'))
        .map((f) => f.replace(/\.schema\.json$/, ''));
      expect(files.sort()).toEqual(Object.keys(COPIES).sort());
    });

    it.each(Object.entries(COPIES))('components/schemas/%s… is schemas/admin/%s.schema.json converted', (file, name) => {
      const source = JSON.parse(readFileSync(join(SCHEMAS_DIR, 'admin', `${file}.schema.json`), 'utf8')) as JsonObject;
      expect(source.$schema).toBe('http://json-schema.org/draft-07/schema#');
      const { $comment, ...copy } = objectAt(doc, 'components', 'schemas', name);
      expect($comment).toContain(`schemas/admin/${file}.schema.json`);
      expect(copy).toEqual(converted(source));
    });

    it.each([
      ['post', '/admin/v1/sites', 'SiteCreate', true],
      ['patch', '/admin/v1/sites/{siteId}', 'SiteUpdate', true],
      ['post', '/admin/v1/sites/{siteId}/tokens', 'TokenCreate', false],
      ['post', '/admin/v1/sites/{siteId}/license-servers', 'LicenseServerCreate', true],
      ['post', '/admin/v1/sites/{siteId}/licence-token-keys', 'LicenceTokenKeyCreate', true],
    ])('%s %s takes a JSON %s body (required: %s)', (method, path, name, required) => {
      const body = objectAt(operation(method, path), 'requestBody');
      expect(body.required).toBe(required);
      expect(Object.keys(objectAt(body, 'content'))).toEqual(['application/json']);
      expect(objectAt(body, 'content', 'application/json', 'schema')).toEqual({ $ref: `#/components/schemas/${name}` });
    });

    it.each([
      ['/admin/v1/sites/{siteId}/audit', 'AuditQuery'],
      ['/admin/v1/sites/{siteId}/contents/{contentId}/keys', 'ContentKeysQuery'],
    ])('the query parameters of %s are exactly the properties of %s', (path, name) => {
      const params = (operation('get', path).parameters as Json[]).map(resolved);
      const properties = Object.keys(objectAt(doc, 'components', 'schemas', name, 'properties'));
      expect(params.map((param) => [param.name, param.in, param.schema])).toEqual(
        properties.map((property) => [property, 'query', { $ref: `#/components/schemas/${name}/properties/${property}` }]),
      );
    });
  });

  describe('error responses', () => {
    it("ErrorCode lists every code of errors.ts, plus ERR_INTERNAL", () => {
      const documented = objectAt(doc, 'components', 'schemas', 'ErrorCode').enum as Json[];
      expect([...documented].sort()).toEqual([...Object.keys(ERROR_CODES), 'ERR_INTERNAL'].sort());
    });

    it('each JSON error response lists only codes that error-mapping.ts maps to its status', () => {
      const mismatches: string[] = [];
      let checked = 0;
      for (const [route, op] of allOperations()) {
        for (const [status, response] of Object.entries(objectAt(op, 'responses'))) {
          const codes = documentedCodes(resolved(response));
          const content = resolved(response).content;
          const json = isObject(content) && content['application/json'] !== undefined;
          // Every JSON error says which codes it carries; /readyz's 503 is its readiness report instead.
          if (Number(status) >= 400 && json && codes === undefined && route !== 'GET /readyz') mismatches.push(`${route} ${status}: no code list`);
          for (const code of codes ?? []) {
            checked += 1;
            if (statusOf(code) !== Number(status)) mismatches.push(`${route} ${status}: ${code} is ${statusOf(code)}`);
          }
        }
      }
      expect(mismatches).toEqual([]);
      expect(checked).toBeGreaterThan(50);
    });

    it('429 and 503 responses document Retry-After', () => {
      for (const [route, op] of allOperations()) {
        for (const status of ['429', '503']) {
          const response = objectAt(op, 'responses')[status];
          if (response === undefined) continue;
          expect({ route, status, headers: Object.keys(objectAt(resolved(response), 'headers')) }).toEqual({
            route,
            status,
            headers: expect.arrayContaining(['Retry-After']),
          });
        }
      }
    });

    it('SPEKE operations answer errors as text/plain, the other key routes as JSON', () => {
      for (const [route, op] of allOperations()) {
        const tags = op.tags as Json[];
        for (const [status, response] of Object.entries(objectAt(op, 'responses'))) {
          if (Number(status) < 400) continue;
          const types = Object.keys(objectAt(resolved(response), 'content'));
          expect({ route, status, types }).toEqual({ route, status, types: tags.includes('speke') ? ['text/plain'] : ['application/json'] });
        }
      }
    });

    it('SPEKE key requests take X-Speke-Version', () => {
      for (const path of ['/speke/copyProtection', '/speke/{spekePath}/copyProtection', '/cpix/getKey']) {
        const names = (operation('post', path).parameters as Json[]).map(resolved).map((param) => `${String(param.in)}:${String(param.name)}`);
        expect(names).toContain('header:X-Speke-Version');
      }
    });
  });

  describe('real responses match the document', () => {
    const ajv = schemaCompiler();

    /** The status must be documented for the operation, the media type too, and a JSON body must fit its schema. */
    function expectDocumented(method: string, path: string, res: Response): void {
      const responses = objectAt(operation(method, path), 'responses');
      const documented = responses[String(res.status)];
      expect({ route: `${method} ${path}`, status: res.status, documented: documented !== undefined }).toEqual({
        route: `${method} ${path}`,
        status: res.status,
        documented: true,
      });
      const response = resolved(documented);
      if (response.content === undefined) {
        expect(res.text ?? '').toBe('');
        return;
      }
      const type = String(res.headers['content-type'] ?? '').split(';')[0] ?? '';
      const media = objectAt(response, 'content')[type];
      expect({ route: `${method} ${path}`, status: res.status, type, documented: media !== undefined }).toEqual({
        route: `${method} ${path}`,
        status: res.status,
        type,
        documented: true,
      });
      if (type !== 'application/json' || !isObject(media)) return;
      const validate = ajv.compile(withAbsoluteRefs(objectAt(media, 'schema')) as object);
      const ok = validate(res.body);
      expect({ route: `${method} ${path}`, status: res.status, errors: ok ? null : validate.errors }).toEqual({
        route: `${method} ${path}`,
        status: res.status,
        errors: null,
      });
    }

    it('health, readiness, metrics', async () => {
      expectDocumented('get', '/healthz', await request(t.app).get('/healthz'));
      expectDocumented('get', '/readyz', await request(t.app).get('/readyz'));
      expectDocumented('get', '/metrics', await request(t.app).get('/metrics'));
    });

    it('an admin site lifecycle, and its refusals', async () => {
      expectDocumented('get', '/admin/v1/sites', await request(t.app).get('/admin/v1/sites'));
      const created = await request(t.app).post('/admin/v1/sites').set(admin()).send({ name: 'OpenAPI' });
      expectDocumented('post', '/admin/v1/sites', created);
      const siteId = String(created.body.site.id);
      expectDocumented('post', '/admin/v1/sites', await request(t.app).post('/admin/v1/sites').set(admin()).send({ id: siteId, name: 'Again' }));
      expectDocumented('post', '/admin/v1/sites', await request(t.app).post('/admin/v1/sites').set(admin()).send({ name: 'x', extra: 1 }));
      expectDocumented('get', '/admin/v1/sites', await request(t.app).get('/admin/v1/sites').set(admin()));
      expectDocumented('get', '/admin/v1/sites/{siteId}', await request(t.app).get(`/admin/v1/sites/${siteId}`).set(admin()));
      expectDocumented('get', '/admin/v1/sites/{siteId}', await request(t.app).get('/admin/v1/sites/ZZZZ').set(admin()));
      expectDocumented('patch', '/admin/v1/sites/{siteId}', await request(t.app).patch(`/admin/v1/sites/${siteId}`).set(admin()).send({ name: 'Renamed' }));
      const token = await request(t.app).post(`/admin/v1/sites/${siteId}/tokens`).set(admin()).send({ name: 'packager' });
      expectDocumented('post', '/admin/v1/sites/{siteId}/tokens', token);
      expectDocumented('get', '/admin/v1/sites/{siteId}/tokens', await request(t.app).get(`/admin/v1/sites/${siteId}/tokens`).set(admin()));
      expectDocumented(
        'delete',
        '/admin/v1/sites/{siteId}/tokens/{tokenId}',
        await request(t.app).delete(`/admin/v1/sites/${siteId}/tokens/${String(token.body.id)}`).set(admin()),
      );
      const server = await request(t.app)
        .post(`/admin/v1/sites/${siteId}/license-servers`)
        .set(admin())
        .send({ name: 'license', certificate: testCertificate('rsa2048') });
      expectDocumented('post', '/admin/v1/sites/{siteId}/license-servers', server);
      expectDocumented(
        'post',
        '/admin/v1/sites/{siteId}/license-servers',
        await request(t.app).post(`/admin/v1/sites/${siteId}/license-servers`).set(admin()).send({ name: 'weak', certificate: testCertificate('rsa1024') }),
      );
      expectDocumented('get', '/admin/v1/sites/{siteId}/license-servers', await request(t.app).get(`/admin/v1/sites/${siteId}/license-servers`).set(admin()));
      expectDocumented('get', '/admin/v1/sites/{siteId}/audit', await request(t.app).get(`/admin/v1/sites/${siteId}/audit?limit=5`).set(admin()));
      // A page with a record of a 40-key response (listed in part, with its count and digest) and a next cursor.
      for (const contentId of ['audited-1', 'audited-2']) {
        await t.services.audit.record({
          at: new Date().toISOString(),
          siteId,
          action: 'issue',
          credentialId: String(token.body.id),
          clientAddress: '192.0.2.1',
          dialect: 'cpix',
          contentId,
          kids: Array.from({ length: 40 }, () => randomUUID()),
          periodIndexes: Array.from({ length: 40 }, (_, i) => i),
          keysCreated: 40,
          requestId: randomUUID(),
        });
      }
      const audited = await request(t.app).get(`/admin/v1/sites/${siteId}/audit?limit=1`).set(admin());
      expect(audited.body).toMatchObject({ records: [{ kidCount: 40, periodIndexCount: 40 }], next: expect.any(String) });
      expectDocumented('get', '/admin/v1/sites/{siteId}/audit', audited);
      expectDocumented('get', '/admin/v1/sites/{siteId}/audit', await request(t.app).get(`/admin/v1/sites/${siteId}/audit?limit=x`).set(admin()));
      expectDocumented('post', '/admin/v1/sites/{siteId}/site-key/rotate', await request(t.app).post(`/admin/v1/sites/${siteId}/site-key/rotate`).set(admin()));
      expectDocumented(
        'get',
        '/admin/v1/sites/{siteId}/contents/{contentId}/keys',
        await request(t.app).get(`/admin/v1/sites/${siteId}/contents/none/keys`).set(admin()),
      );
      for (let i = 0; i < 3; i += 1) await t.services.contentKeys.getOrCreate(siteId, { contentId: 'listed', kid: parseKeyId(randomUUID()) });
      const keyPage = await request(t.app).get(`/admin/v1/sites/${siteId}/contents/listed/keys?limit=2`).set(admin());
      expect(keyPage.body).toMatchObject({ keys: [{}, {}], next: expect.any(String) });
      expectDocumented('get', '/admin/v1/sites/{siteId}/contents/{contentId}/keys', keyPage);
      expectDocumented(
        'get',
        '/admin/v1/sites/{siteId}/contents/{contentId}/keys',
        await request(t.app).get(`/admin/v1/sites/${siteId}/contents/listed/keys?limit=0`).set(admin()),
      );
      expectDocumented(
        'delete',
        '/admin/v1/sites/{siteId}/license-servers/{licenseServerId}',
        await request(t.app).delete(`/admin/v1/sites/${siteId}/license-servers/${String(server.body.licenseServer.id)}`).set(admin()),
      );
      expect(server.status).toBe(201);
    });

    it('licence-token keys and the ClearKey licence endpoint, with their refusals', async () => {
      const site = await request(t.app).post('/admin/v1/sites').set(admin()).send({ name: 'ClearKey', options: { clearKeyAllowedOrigins: ['https://player.example'] } });
      const siteId = String(site.body.site.id);
      const keys = `/admin/v1/sites/${siteId}/licence-token-keys`;
      const hs = await request(t.app).post(keys).set(admin()).send({ alg: 'HS256' });
      expectDocumented('post', '/admin/v1/sites/{siteId}/licence-token-keys', hs);
      expectDocumented('post', '/admin/v1/sites/{siteId}/licence-token-keys', await request(t.app).post(keys).set(admin()).send({ alg: 'none' }));
      expectDocumented('post', '/admin/v1/sites/{siteId}/licence-token-keys', await request(t.app).post('/admin/v1/sites/ZZZ9/licence-token-keys').set(admin()).send({ alg: 'HS256' }));
      const es = await registerTokenKey(t.app, t.adminToken, siteId, 'ES256');
      expectDocumented('get', '/admin/v1/sites/{siteId}/licence-token-keys', await request(t.app).get(keys).set(admin()));
      expectDocumented('get', '/admin/v1/sites/{siteId}/licence-token-keys', await request(t.app).get(keys));
      const key = await t.services.contentKeys.getOrCreate(siteId, { contentId: 'film', kid: parseKeyId(randomUUID()) });
      const now = Math.floor(Date.now() / 1000);
      const token = await mintToken(es, { iss: siteId, sub: 'viewer', cid: 'film', iat: now, exp: now + 300 });
      const ask = (body: unknown, bearer = token) =>
        request(t.app).post('/clearkey/v1/license').set('Authorization', `Bearer ${bearer}`).set('Content-Type', 'application/json').set('Origin', 'https://player.example').send(JSON.stringify(body));
      const granted = await ask({ kids: [b64Kid(key.kid)], type: 'temporary' });
      expect(granted.status).toBe(200);
      expectDocumented('post', '/clearkey/v1/license', granted);
      expectDocumented('post', '/clearkey/v1/license', await ask({ kids: [b64Kid(randomUUID())], type: 'temporary' }));
      expectDocumented('post', '/clearkey/v1/license', await ask({ kids: [b64Kid(key.kid)], type: 'persistent-license' }));
      expectDocumented('post', '/clearkey/v1/license', await ask({ kids: [], type: 'temporary' }));
      expectDocumented('post', '/clearkey/v1/license', await ask({ kids: [b64Kid(key.kid)], type: 'temporary' }, 'not.a.token'));
      expectDocumented('options', '/clearkey/v1/license', await request(t.app).options('/clearkey/v1/license').set('Origin', 'https://player.example').set('Access-Control-Request-Method', 'POST'));
      expectDocumented(
        'delete',
        '/admin/v1/sites/{siteId}/licence-token-keys/{kid}',
        await request(t.app).delete(`${keys}/${String(hs.body.kid)}`).set(admin()),
      );
      expectDocumented('delete', '/admin/v1/sites/{siteId}/licence-token-keys/{kid}', await request(t.app).delete(`${keys}/nope`).set(admin()));
    });

    it('key routes refuse an unauthenticated request in their own error format', async () => {
      const speke = await request(t.app).post('/speke/copyProtection').set('Content-Type', 'application/xml').set('X-Speke-Version', '2.0').send('<x/>');
      expectDocumented('post', '/speke/copyProtection', speke);
      expect(speke.headers['x-speke-version']).toBe('2.0');
      expect(speke.headers['x-speke-user-agent']).toMatch(/^cpix-kms\//);
      expectDocumented('get', '/speke/{spekePath}/heartbeat', await request(t.app).get('/speke/v1.0/heartbeat'));
      expectDocumented('post', '/v2/cpix/pallycon/getKey/{token}', await request(t.app).post('/v2/cpix/pallycon/getKey/not-a-token').send('<x/>'));
      const site = await request(t.app).post('/admin/v1/sites').set(admin()).send({ name: 'Key routes' }).expect(201);
      const kmsToken = String(site.body.token.token);
      const notXml = await request(t.app).post(`/cpix/pallycon/getKey/${kmsToken}`).set('Content-Type', 'application/json').send('{}');
      expectDocumented('post', '/cpix/pallycon/getKey/{token}', notXml);
      expect(notXml.status).toBe(415);
      const notCpix = await request(t.app).post('/cpix/getKey').query({ 'enc-token': kmsToken }).set('Content-Type', 'application/xml').send('<x/>');
      expectDocumented('post', '/cpix/getKey', notCpix);
      expect(notCpix.status).toBe(400);
      expectDocumented('get', '/license/v1/sites/{siteId}/contents/{contentId}', await request(t.app).get('/license/v1/sites/ABCD/contents/movie'));
    });
  });
});
