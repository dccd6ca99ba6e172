import { createPrivateKey, randomBytes, randomUUID, X509Certificate } from 'node:crypto';
import type { Router } from 'express';
import { readFileSync } from 'node:fs';
import request from 'supertest';
import { decryptDocumentKeys, type RecipientKeyPair } from '../support/cpix-decrypt';
import { parseCpixDocument } from '../../src/cpix/parse';
import { loadAdminSchemas } from '../../src/http/json-schemas';
import { parseKeyId } from '../../src/keys/key-id';
import { adminRoutes as createAdminRouter } from '../../src/http/routes/admin';
import { createTestApp, type TestApp } from '../support/app';
import { captureLogs, encodingsOf } from '../support/log-capture';
import {
  readCpix,
} from '../support/pallycon-cpix';
import { buildDoveRunnerRequest } from '../support/doverunner-clients';
import { describeWithVectors, vectorPath } from '../support/shared-vectors';
import { freshContentId, parseResponse, plainKeys, postSpeke, readAwslabs, withContentId } from '../support/speke-http';

/**
 * Tenant isolation and credential checks on every route that hands out keys (docs/testing.md,
 * Reliability and security suite). Two sites send byte-identical requests — same content ID, same KIDs
 * — and each must get its own keys, stable across repeats; no credential of one site reaches the
 * other's keys by any path; revoked tokens, revoked license-server credentials and disabled sites are
 * refused on every route; and the admin API refuses every caller without the admin token. The threat is
 * a tenant (or anyone holding one tenant's credential) reading or steering another tenant's content
 * keys.
 */

const LIVE_V2 = 'generated/live/test_case_2_p_v_3_a_2/7_widevine_playready_fairplay.xml';
const V1_LIVE = (): string => readFileSync(vectorPath('speke', 'aws-speke-v1-docs', 'live_request_clear.xml'), 'utf8');
/** The same request KIDs for both sites on the PallyCon API (which assigns its own KIDs per site). */
const PALLYCON_KIDS = ['0b0c6bd4-5c1e-4b42-9d47-3a1f0e7e2a01', '5f1c2a9e-8d3b-4c6f-a1e2-7b9d0c4e6f02', '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c03'];

/** The DASH-IF test certificates (RSA-4096) with their published private keys: one per site's license server. */
function dashIfRecipient(name: 'Cert1' | 'Cert2'): { readonly pem: string; readonly keys: RecipientKeyPair } {
  const pem = readFileSync(vectorPath('dashif-cpix-test-vectors', 'pem', `${name}.cert.pem`), 'utf8');
  const keyPem = readFileSync(vectorPath('dashif-cpix-test-vectors', 'pem', `${name}.key.pem`), 'utf8');
  return { pem, keys: { certificate: new X509Certificate(pem), privateKey: createPrivateKey(keyPem) } };
}

interface Tenant {
  readonly siteId: string;
  readonly token: string;
  readonly tokenId: string;
  readonly licenseServer: string;
  readonly licenseServerId: string;
  readonly recipient: RecipientKeyPair;
}

/** What one answer handed out: label (the KID on SPEKE and the export, the track type on the PallyCon API) → KID and key. */
type Issued = Record<string, { readonly kid: string; readonly key: string }>;

type Send = (t: TestApp, tenant: Tenant) => request.Test;

interface Prepared {
  /** Built once per test, so every site and every repeat sends the very same request. */
  readonly send: Send;
  /** The KIDs the request names (lowercase). */
  readonly requestedKids: readonly string[];
  /** For the export, which creates no keys: issues them first (same content, same KIDs) and returns them. */
  readonly seed?: (t: TestApp, tenant: Tenant) => Promise<Issued>;
}

interface Route {
  readonly name: string;
  readonly credential: 'kms-token' | 'license-server';
  /** How the route writes errors: SPEKE encryptors read text (docs/key-exchange.md, SPEKE); the rest is JSON. */
  readonly errors: 'text' | 'json';
  /** SPEKE echoes the encryptor's KIDs; the PallyCon API assigns KIDs from (site, content, track) (pallycon-kid.ts). */
  readonly kids: 'echoed' | 'per-site';
  prepare(contentId: string): Prepared;
  read(res: request.Response, tenant: Tenant): Issued;
}

const requestKids = (xml: string): string[] => [...xml.matchAll(/<cpix:ContentKey\s[^>]*kid="([^"]+)"/g)].map((match) => (match[1] ?? '').toLowerCase());

function readSpeke(res: request.Response): Issued {
  return Object.fromEntries(Object.entries(plainKeys(parseResponse(res))).map(([kid, key]) => [kid, { kid, key }]));
}

function readPallyCon(res: request.Response): Issued {
  const view = readCpix(res.text);
  return Object.fromEntries(
    view.contentKeys.map((key) => {
      const rule = view.usageRules.find((candidate) => candidate.kid.toLowerCase() === key.kid.toLowerCase());
      return [rule?.intendedTrackType ?? `(no rule for ${key.kid})`, { kid: key.kid.toLowerCase(), key: key.key?.toString('base64') ?? '(no key)' }];
    }),
  );
}

function spekeRoute(name: string, options: { path: string; version?: '2.0' | '2.1'; tokenIn: 'bearer' | 'x-kms-token' | 'enc-token' }): Route {
  return {
    name,
    credential: 'kms-token',
    errors: 'text',
    kids: 'echoed',
    prepare(contentId) {
      const body =
        options.version === undefined
          ? withContentId(V1_LIVE(), contentId, 'id')
          : options.version === '2.0'
            ? withContentId(readAwslabs(LIVE_V2), contentId)
            : withContentId(readAwslabs(LIVE_V2), contentId).replace(/(<cpix:CPIX\b[^>]*\sversion=")2\.3"/, '$12.4"');
      return {
        requestedKids: requestKids(body),
        send: (t, tenant) =>
          postSpeke(t.app, { body, path: options.path, token: tenant.token, tokenIn: options.tokenIn, ...(options.version !== undefined && { version: options.version }) }),
      };
    },
    read: readSpeke,
  };
}

function pallyConRoute(name: string, path: string, tracks: readonly string[], periodIndex?: number): Route {
  return {
    name,
    credential: 'kms-token',
    errors: 'json',
    kids: 'per-site',
    prepare(contentId) {
      const built = buildDoveRunnerRequest(contentId, tracks, { kids: PALLYCON_KIDS.slice(0, tracks.length), ...(periodIndex !== undefined && { periodIndex }) });
      return {
        requestedKids: built.kids,
        send: (t, tenant) => {
          const req = request(t.app).post(`${path}/${tenant.token}`);
          if (periodIndex !== undefined) req.query({ 'key-rotation': 'true' });
          return req.set('Content-Type', 'application/xml').send(Buffer.from(built.xml, 'utf8'));
        },
      };
    },
    read: readPallyCon,
  };
}

const SPEKE_V2 = spekeRoute('SPEKE v2.0 on /speke/v2.0/copyProtection (Bearer)', { path: '/speke/v2.0/copyProtection', version: '2.0', tokenIn: 'bearer' });

const EXPORT: Route = {
  name: 'license export GET /license/v1/sites/:siteId/contents/:contentId',
  credential: 'license-server',
  errors: 'json',
  kids: 'echoed',
  prepare(contentId) {
    const seed = SPEKE_V2.prepare(contentId);
    return {
      requestedKids: seed.requestedKids,
      async seed(t, tenant) {
        const res = await seed.send(t, tenant);
        expect(res.status).toBe(200);
        return SPEKE_V2.read(res, tenant);
      },
      send: (t, tenant) =>
        request(t.app).get(`/license/v1/sites/${tenant.siteId}/contents/${encodeURIComponent(contentId)}`).set('Authorization', `Bearer ${tenant.licenseServer}`),
    };
  },
  read(res, tenant) {
    const doc = decryptDocumentKeys(parseCpixDocument(res.text), [tenant.recipient]);
    return Object.fromEntries(
      (doc.contentKeyList?.items ?? []).map((key) => {
        const kid = String(key.kid).toLowerCase();
        return [kid, { kid, key: key.data?.kind === 'plain' ? key.data.value.toString('base64') : `(${key.data?.kind ?? 'no data'})` }];
      }),
    );
  },
};

/** Every key route of src/http/routes/key-exchange.ts and license.ts, each token location at least once. */
const ROUTES: readonly Route[] = [
  spekeRoute('SPEKE v1 on /speke/copyProtection (X-KMS-Token)', { path: '/speke/copyProtection', tokenIn: 'x-kms-token' }),
  spekeRoute('SPEKE v1 on /speke/:spekePath/copyProtection (Bearer)', { path: '/speke/v1/copyProtection', tokenIn: 'bearer' }),
  spekeRoute('SPEKE v2.0 on /speke/copyProtection (Bearer)', { path: '/speke/copyProtection', version: '2.0', tokenIn: 'bearer' }),
  SPEKE_V2,
  spekeRoute('SPEKE v2.1 on /speke/v2.1/copyProtection (Bearer)', { path: '/speke/v2.1/copyProtection', version: '2.1', tokenIn: 'bearer' }),
  spekeRoute('PallyCon SPEKE /cpix/getKey?enc-token=', { path: '/cpix/getKey', version: '2.0', tokenIn: 'enc-token' }),
  pallyConRoute('PallyCon CPIX API v1 /v1/cpix/pallycon/getKey/:token', '/v1/cpix/pallycon/getKey', ['HD']),
  pallyConRoute('PallyCon CPIX API legacy v1 /cpix/pallycon/getKey/:token', '/cpix/pallycon/getKey', ['HD']),
  pallyConRoute('PallyCon CPIX API v2 /v2/cpix/pallycon/getKey/:token', '/v2/cpix/pallycon/getKey', ['SD', 'HD', 'AUDIO']),
  pallyConRoute('DoveRunner CPIX API v2 /v2/cpix/doverunner/getKey/:token?key-rotation=true', '/v2/cpix/doverunner/getKey', ['SD', 'HD'], 3),
  EXPORT,
];
const KMS_ROUTES = ROUTES.filter((route) => route.credential === 'kms-token');

const errorText = (res: request.Response): string => (typeof res.body === 'string' ? res.body : res.text);

/** A refusal in the route's own error format, carrying no key material. */
function expectRefused(errors: Route['errors'], res: request.Response, status: number, code: string, message: string): void {
  expect(res.status).toBe(status);
  if (errors === 'text') {
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(errorText(res)).toBe(message);
  } else {
    expect(res.body.error).toEqual({ code, message, requestId: expect.any(String) });
  }
  expect(errorText(res)).not.toMatch(/PlainValue|CipherValue|ContentKey/);
}

const sortedKids = (issued: Issued): string[] => Object.values(issued).map((entry) => entry.kid).sort();
const keySet = (issued: Issued): Set<string> => new Set(Object.values(issued).map((entry) => entry.key));

describeWithVectors('tenant isolation and credential checks on every route', () => {
  const logs = captureLogs();
  let t: TestApp;
  const cert1 = dashIfRecipient('Cert1');
  const cert2 = dashIfRecipient('Cert2');
  const admin = () => ({ Authorization: `Bearer ${t.adminToken}` });
  /** Every token and credential handed out, for the log check at the end. */
  const secrets: string[] = [];

  beforeAll(() => {
    t = createTestApp(logs.logger);
  });
  afterAll(() => t.close());

  /** A site made through the admin API, with a license server whose private key the test holds. */
  async function newTenant(name: string, recipient = cert1): Promise<Tenant> {
    const site = await request(t.app).post('/admin/v1/sites').set(admin()).send({ name }).expect(201);
    const siteId = site.body.site.id as string;
    const server = await request(t.app)
      .post(`/admin/v1/sites/${siteId}/license-servers`)
      .set(admin())
      .send({ name: `${name} license server`, certificate: recipient.pem })
      .expect(201);
    secrets.push(site.body.token.token, site.body.accessKey, server.body.credential);
    return {
      siteId,
      token: site.body.token.token as string,
      tokenId: site.body.token.id as string,
      licenseServer: server.body.credential as string,
      licenseServerId: server.body.licenseServer.id as string,
      recipient: recipient.keys,
    };
  }

  async function issue(route: Route, prepared: Prepared, tenant: Tenant): Promise<Issued> {
    const res = await prepared.send(t, tenant);
    expect({ status: res.status, text: res.status === 200 ? '' : errorText(res) }).toEqual({ status: 200, text: '' });
    return route.read(res, tenant);
  }

  describe('two sites sending the same request', () => {
    let a: Tenant;
    let b: Tenant;
    beforeAll(async () => {
      a = await newTenant('tenant A', cert1);
      b = await newTenant('tenant B', cert2);
    });

    it.each(ROUTES)('$name: A and B get different keys for the same content ID and KIDs, each repeat its own same keys', async (route) => {
      const prepared = route.prepare(freshContentId('shared'));
      const seeded = prepared.seed && { a: await prepared.seed(t, a), b: await prepared.seed(t, b) };
      const first = { a: await issue(route, prepared, a), b: await issue(route, prepared, b) };
      const again = { a: await issue(route, prepared, a), b: await issue(route, prepared, b) };

      expect(Object.keys(first.a).length).toBeGreaterThan(0);
      expect(again).toEqual(first);
      expect(Object.keys(first.b).sort()).toEqual(Object.keys(first.a).sort());
      const keysOfA = keySet(first.a);
      expect(keySet(first.b).size).toBe(Object.keys(first.b).length);
      for (const { key } of Object.values(first.b)) expect(keysOfA.has(key)).toBe(false);

      if (route.kids === 'echoed') {
        // Same KIDs on both sides, so only the site can have told the keys apart.
        expect(sortedKids(first.a)).toEqual([...prepared.requestedKids].sort());
        expect(sortedKids(first.b)).toEqual([...prepared.requestedKids].sort());
      } else {
        const kidsOfA = new Set(sortedKids(first.a));
        for (const kid of sortedKids(first.b)) expect(kidsOfA.has(kid)).toBe(false);
      }
      // The export hands each license server exactly its own site's keys.
      if (seeded) expect(first).toEqual(seeded);
    });
  });

  describe('cross-site access', () => {
    let a: Tenant;
    let b: Tenant;
    beforeAll(async () => {
      a = await newTenant('tenant A', cert1);
      b = await newTenant('tenant B', cert2);
    });

    it("answers 403 to A's license server exporting B's content, on B's path", async () => {
      const prepared = EXPORT.prepare(freshContentId('only-b'));
      await prepared.seed?.(t, b);
      const res = await prepared.send(t, { ...b, licenseServer: a.licenseServer });
      expectRefused(EXPORT.errors, res, 403, 'ERR_FORBIDDEN', 'this license server belongs to another site');
      // Its own path with B's content ID finds nothing: B's keys are not A's content.
      const own = await prepared.send(t, a);
      expect(own.status).toBe(404);
      expect(own.body.error.code).toBe('ERR_NOT_FOUND');
    });

    it.each([
      ["A's own site", (x: Tenant) => x],
      ["B's site", (_x: Tenant, y: Tenant) => y],
    ])("answers 401 to A's KMS token on the export path of %s (a KMS token is never an export credential)", async (_name, pick) => {
      const prepared = EXPORT.prepare(freshContentId('kms-on-export'));
      await prepared.seed?.(t, a);
      await prepared.seed?.(t, b);
      const target = pick(a, b);
      const res = await prepared.send(t, { ...target, licenseServer: a.token });
      expectRefused(EXPORT.errors, res, 401, 'ERR_AUTH_REQUIRED', 'authentication failed');
    });

    it("gives A's token A's keys on a SPEKE path that names B's site: the free-form path never picks the tenant", async () => {
      const contentId = freshContentId('path-names-b');
      const v2 = SPEKE_V2.prepare(contentId);
      const ownA = await issue(SPEKE_V2, v2, a);
      const ownB = await issue(SPEKE_V2, v2, b);
      const body = withContentId(readAwslabs(LIVE_V2), contentId);
      const res = await postSpeke(t.app, { body, path: `/speke/${b.siteId}/copyProtection`, version: '2.0', token: a.token });
      expect(res.status).toBe(200);
      expect(readSpeke(res)).toEqual(ownA);
      expect(readSpeke(res)).not.toEqual(ownB);
    });

    it.each([
      ['SPEKE: Bearer A and X-KMS-Token B', (x: Tenant, y: Tenant) => postSpeke(t.app, { body: withContentId(readAwslabs(LIVE_V2), freshContentId('two')), version: '2.0', token: x.token }).set('X-KMS-Token', y.token), 'text'],
      ['PallyCon SPEKE: ?enc-token=B and Bearer A', (x: Tenant, y: Tenant) => postSpeke(t.app, { body: withContentId(readAwslabs(LIVE_V2), freshContentId('two')), path: '/cpix/getKey', version: '2.0', token: y.token, tokenIn: 'enc-token' }).set('Authorization', `Bearer ${x.token}`), 'text'],
      ['PallyCon CPIX API: B in the path and Bearer A', (x: Tenant, y: Tenant) => request(t.app).post(`/v2/cpix/pallycon/getKey/${y.token}`).set('Authorization', `Bearer ${x.token}`).set('Content-Type', 'application/xml').send(buildDoveRunnerRequest(freshContentId('two'), ['HD']).xml), 'json'],
    ] as const)('answers 401 when one request carries two sites\' tokens (%s)', async (_name, send, errors) => {
      const res = await send(a, b);
      expectRefused(errors, res, 401, 'ERR_AUTH_REQUIRED', 'authentication failed');
    });

    describe('admin API per-site routes', () => {
      it("refuses to revoke B's token or B's license server through A's path (404), and both keep working", async () => {
        const token = await request(t.app).delete(`/admin/v1/sites/${a.siteId}/tokens/${b.tokenId}`).set(admin());
        expect(token.status).toBe(404);
        expect(token.body.error.code).toBe('ERR_NOT_FOUND');
        const server = await request(t.app).delete(`/admin/v1/sites/${a.siteId}/license-servers/${b.licenseServerId}`).set(admin());
        expect(server.status).toBe(404);
        expect(server.body.error.code).toBe('ERR_NOT_FOUND');

        const prepared = EXPORT.prepare(freshContentId('still-works'));
        await prepared.seed?.(t, b);
        expect((await prepared.send(t, b)).status).toBe(200);
        expect((await t.services.sites.listTokens(b.siteId)).every((listed) => listed.revokedAt === undefined)).toBe(true);
      });

      it("lists only the site's own tokens, license servers, audit records and keys", async () => {
        const contentId = freshContentId('listed');
        const pallycon = KMS_ROUTES.find((route) => route.name.startsWith('PallyCon CPIX API v2')) as Route;
        const prepared = pallycon.prepare(contentId);
        const issuedA = await issue(pallycon, prepared, a);
        const issuedB = await issue(pallycon, prepared, b);

        for (const [self, other, issued] of [[a, b, issuedA], [b, a, issuedB]] as const) {
          const base = `/admin/v1/sites/${self.siteId}`;
          const tokens = await request(t.app).get(`${base}/tokens`).set(admin()).expect(200);
          expect(tokens.body.tokens.map((listed: { id: string }) => listed.id)).toEqual([self.tokenId]);
          const servers = await request(t.app).get(`${base}/license-servers`).set(admin()).expect(200);
          expect(servers.body.licenseServers.map((listed: { id: string }) => listed.id)).toEqual([self.licenseServerId]);
          const audit = await request(t.app).get(`${base}/audit`).set(admin()).expect(200);
          const records = audit.body.records as { siteId: string; credentialId: string }[];
          expect(records.length).toBeGreaterThan(0);
          expect(new Set(records.map((record) => record.siteId))).toEqual(new Set([self.siteId]));
          for (const record of records) expect([other.tokenId, other.licenseServerId]).not.toContain(record.credentialId);
          const keys = await request(t.app).get(`${base}/contents/${contentId}/keys`).set(admin()).expect(200);
          expect(keys.body.siteId).toBe(self.siteId);
          expect(keys.body.keys.map((key: { kid: string }) => key.kid).sort()).toEqual(sortedKids(issued));
        }
      });

      it("rotating A's site key leaves B's site key version and B's keys unchanged", async () => {
        const prepared = SPEKE_V2.prepare(freshContentId('rotation'));
        const before = await issue(SPEKE_V2, prepared, b);
        const rotated = await request(t.app).post(`/admin/v1/sites/${a.siteId}/site-key/rotate`).set(admin());
        expect(rotated.status).toBe(200);
        expect((await request(t.app).get(`/admin/v1/sites/${a.siteId}`).set(admin()).expect(200)).body.siteKeyVersion).toBe(2);
        expect((await request(t.app).get(`/admin/v1/sites/${b.siteId}`).set(admin()).expect(200)).body.siteKeyVersion).toBe(1);
        expect(await issue(SPEKE_V2, prepared, b)).toEqual(before);
      });
    });
  });

  describe('revoked and disabled credentials', () => {
    it.each(KMS_ROUTES)("$name: 401 for a revoked KMS token that worked before; the site's other token still works", async (route) => {
      const tenant = await newTenant('revoking');
      const second = await request(t.app).post(`/admin/v1/sites/${tenant.siteId}/tokens`).set(admin()).send({ name: 'second' }).expect(201);
      secrets.push(second.body.token);
      const prepared = route.prepare(freshContentId('revoked'));
      const before = await issue(route, prepared, tenant);

      await request(t.app).delete(`/admin/v1/sites/${tenant.siteId}/tokens/${tenant.tokenId}`).set(admin()).expect(204);
      expectRefused(route.errors, await prepared.send(t, tenant), 401, 'ERR_AUTH_REQUIRED', 'authentication failed');
      expect(await issue(route, prepared, { ...tenant, token: second.body.token as string })).toEqual(before);
    });

    it('license export: 401 for a revoked license-server credential that worked before; the other server still exports', async () => {
      const tenant = await newTenant('revoking license server', cert1);
      const other = await request(t.app)
        .post(`/admin/v1/sites/${tenant.siteId}/license-servers`)
        .set(admin())
        .send({ name: 'second license server', certificate: cert2.pem })
        .expect(201);
      secrets.push(other.body.credential);
      const prepared = EXPORT.prepare(freshContentId('revoked-ls'));
      const seeded = await prepared.seed?.(t, tenant);
      expect(await issue(EXPORT, prepared, tenant)).toEqual(seeded);

      await request(t.app).delete(`/admin/v1/sites/${tenant.siteId}/license-servers/${tenant.licenseServerId}`).set(admin()).expect(204);
      expectRefused(EXPORT.errors, await prepared.send(t, tenant), 401, 'ERR_AUTH_REQUIRED', 'authentication failed');
      const otherServer = { ...tenant, licenseServer: other.body.credential as string, recipient: cert2.keys };
      expect(await issue(EXPORT, prepared, otherServer)).toEqual(seeded);
    });

    it.each(ROUTES)('$name: 403 while the site is disabled, served again once it is active; another site is unaffected', async (route) => {
      const tenant = await newTenant('disabling');
      const bystander = await newTenant('bystander');
      const prepared = route.prepare(freshContentId('disabled'));
      await prepared.seed?.(t, tenant);
      await prepared.seed?.(t, bystander);
      const before = await issue(route, prepared, tenant);

      await request(t.app).patch(`/admin/v1/sites/${tenant.siteId}`).set(admin()).send({ status: 'disabled' }).expect(200);
      expectRefused(route.errors, await prepared.send(t, tenant), 403, 'ERR_FORBIDDEN', `site ${tenant.siteId} is disabled`);
      expect((await prepared.send(t, bystander)).status).toBe(200);

      await request(t.app).patch(`/admin/v1/sites/${tenant.siteId}`).set(admin()).send({ status: 'active' }).expect(200);
      expect(await issue(route, prepared, tenant)).toEqual(before);
    });
  });

  describe('admin API without the admin token', () => {
    const PREMIUM = { name: 'premium', securityLevel: 'HIGH', persistentLicense: false, licenseDurationSeconds: 86_400, rotationIntervalMinutes: 0 } as const;
    let tenant: Tenant;
    beforeAll(async () => {
      tenant = await newTenant('admin target', cert1);
      // A policy in use and a content with keys, for the forged changes below to reach.
      await t.services.policies.create(tenant.siteId, PREMIUM);
      await t.services.policies.assign(tenant.siteId, 'some-content', PREMIUM.name);
      await t.services.contentKeys.getOrCreate(tenant.siteId, { contentId: 'some-content', kid: parseKeyId(randomUUID()) });
    });

    /** `method path` of every route a router declares, also in the routers it mounts (paths relative to it). */
    const routesOf = (router: Router): string[] =>
      router.stack.flatMap((layer) => {
        if (layer.route) return layer.route.stack.map((handler) => `${handler.method} ${layer.route?.path}`);
        const nested = (layer.handle as Partial<Router>).stack;
        return nested === undefined ? [] : routesOf(layer.handle as Router);
      });

    /** Every route of src/http/routes/admin.ts (pattern below /admin/v1), on a real site, token and license server, with a valid body. */
    const adminRoutes = (): readonly (readonly [method: 'get' | 'post' | 'put' | 'patch' | 'delete', pattern: string, path: string, body?: object])[] => {
      const site = `/admin/v1/sites/${tenant.siteId}`;
      return [
        ['post', '/sites', '/admin/v1/sites', { name: 'should not exist' }],
        ['get', '/sites', '/admin/v1/sites'],
        ['get', '/sites/:siteId', site],
        ['patch', '/sites/:siteId', site, { status: 'disabled' }],
        ['post', '/sites/:siteId/tokens', `${site}/tokens`, { name: 'should not exist' }],
        ['get', '/sites/:siteId/tokens', `${site}/tokens`],
        ['delete', '/sites/:siteId/tokens/:tokenId', `${site}/tokens/${tenant.tokenId}`],
        ['post', '/sites/:siteId/license-servers', `${site}/license-servers`, { name: 'should not exist', certificate: cert2.pem }],
        ['get', '/sites/:siteId/license-servers', `${site}/license-servers`],
        ['delete', '/sites/:siteId/license-servers/:licenseServerId', `${site}/license-servers/${tenant.licenseServerId}`],
        ['get', '/sites/:siteId/audit', `${site}/audit`],
        ['post', '/sites/:siteId/site-key/rotate', `${site}/site-key/rotate`],
        ['get', '/sites/:siteId/contents/:contentId/keys', `${site}/contents/some-content/keys`],
        ['post', '/sites/:siteId/contents/:contentId/keys', `${site}/contents/some-content/keys`, { keys: [{ kid: randomUUID(), key: randomBytes(16).toString('base64') }] }],
        ['post', '/sites/:siteId/contents/:contentId/revoke', `${site}/contents/some-content/revoke`, { reason: 'forged' }],
        ['get', '/sites/:siteId/revocations', `${site}/revocations`],
        ['get', '/sites/:siteId/contents/:contentId/policy', `${site}/contents/some-content/policy`],
        ['put', '/sites/:siteId/contents/:contentId/policy', `${site}/contents/some-content/policy`, { policy: 'premium' }],
        ['post', '/sites/:siteId/policies', `${site}/policies`, { ...PREMIUM, name: 'forged' }],
        ['get', '/sites/:siteId/policies', `${site}/policies`],
        ['get', '/sites/:siteId/policies/:name', `${site}/policies/premium`],
        ['patch', '/sites/:siteId/policies/:name', `${site}/policies/premium`, { securityLevel: 'LOW' }],
        ['delete', '/sites/:siteId/policies/:name', `${site}/policies/premium`],
        ['get', '/sites/:siteId/policy-rules', `${site}/policy-rules`],
        ['put', '/sites/:siteId/policy-rules', `${site}/policy-rules`, [{ contentIdPrefix: '', policy: 'premium' }]],
      ];
    };
    const credentials: readonly (readonly [name: string, authorization: () => string | undefined])[] = [
      ['no Authorization header', () => undefined],
      ['a wrong token of the same length', () => `Bearer ${t.adminToken.replace(/^./, (c) => (c === 'A' ? 'B' : 'A'))}`],
      ["the site's KMS token", () => `Bearer ${tenant.token}`],
      ["the site's license-server credential", () => `Bearer ${tenant.licenseServer}`],
      ['the admin token under another scheme', () => `Basic ${Buffer.from(`admin:${t.adminToken}`).toString('base64')}`],
    ];
    /** What a forged admin call could change: sites, tokens, license servers, site-key version, audit trail. */
    const adminState = async () => ({
      sites: await t.services.sites.listSites(),
      tokens: await t.services.sites.listTokens(tenant.siteId),
      licenseServers: (await t.services.licenseServers.list(tenant.siteId)).map(({ certificate: _c, ...view }) => view),
      audit: await t.services.audit.list(tenant.siteId),
      policies: await t.services.policies.list(tenant.siteId),
      rules: await t.services.policies.rules(tenant.siteId),
      assigned: await t.services.policies.policyOf(tenant.siteId, 'some-content'),
      revocations: await t.services.revocations.listSince(tenant.siteId, undefined),
      keys: await t.services.contentKeys.listMetadata(tenant.siteId, 'some-content'),
    });

    it('covers every route the admin router declares', () => {
      // Read from the router itself, so a route added to admin.ts without a row here fails this test.
      const router = createAdminRouter({
        adminToken: t.adminToken,
        authFailures: t.authFailures,
        sites: t.services.sites,
        contentKeys: t.services.contentKeys,
        licenseServers: t.services.licenseServers,
        audit: t.services.audit,
        lifecycle: t.services.lifecycle,
        revocations: t.services.revocations,
        policies: t.services.policies,
        schemas: loadAdminSchemas(),
      });
      const declared = routesOf(router);
      expect(declared.length).toBeGreaterThan(10);
      expect(new Set(adminRoutes().map(([method, pattern]) => `${method} ${pattern}`))).toEqual(new Set(declared));
    });

    it.each(credentials)('answers 401 on every admin route to %s, and changes nothing', async (_name, authorization) => {
      const before = await adminState();
      const header = authorization();
      for (const [method, , path, body] of adminRoutes()) {
        let req = request(t.app)[method](path);
        if (header !== undefined) req = req.set('Authorization', header);
        const res = await (body === undefined ? req : req.send(body));
        expect({ route: `${method} ${path}`, status: res.status, body: res.body }).toEqual({
          route: `${method} ${path}`,
          status: 401,
          body: { error: { code: 'ERR_AUTH_REQUIRED', message: 'authentication failed', requestId: expect.any(String) } },
        });
        expect(res.headers['www-authenticate']).toBe('Bearer realm="cpix-kms admin"');
      }
      expect(await adminState()).toEqual(before);
      // Still served: the refused PATCH (disable) and DELETE (revoke) did not land.
      expect((await SPEKE_V2.prepare(freshContentId('after-forgery')).send(t, tenant)).status).toBe(200);
    });
  });

  it('wrote no token, credential or key into any log line', () => {
    const text = logs.text();
    expect(text).toContain('request refused');
    expect(secrets.length).toBeGreaterThan(30);
    for (const secret of [t.adminToken, ...secrets]) for (const form of encodingsOf(secret)) expect(text).not.toContain(form);
  });
});
