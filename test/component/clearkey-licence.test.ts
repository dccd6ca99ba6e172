import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import request from 'supertest';
import type { NewAuditRecord } from '../../src/audit/ports';
import { DependencyUnavailable } from '../../src/errors';
import { parseKeyId, type KeyId } from '../../src/keys/key-id';
import type { ContentLicencePolicy } from '../../src/licence/ports';
import { createTestApp, type TestApp } from '../support/app';
import { captureLogs } from '../support/log-capture';
import {
  b64Kid,
  ecKeyPair,
  hmacToken,
  mintToken,
  registerTokenKey,
  rsaKeyPair,
  seconds,
  unsecuredToken,
  type SigningKey,
  type TokenClaims,
} from '../support/licence-tokens';

/**
 * `POST /clearkey/v1/license` (W3C EME §9.1.3/§9.1.4) over HTTP on the real app: licence tokens of
 * every algorithm, the refusals (401 for every token that does not verify, hostile ones included;
 * 403 for keys the token does not grant, the same whether they exist or not; 410 and the persistent
 * refusal through the content-policy port), the audit record, and CORS. The clock is injected: no
 * test waits.
 */

const PATH = '/clearkey/v1/license';
const START = new Date('2026-12-07T12:00:00Z');

/**
 * A content-policy double (the `ContentLicencePolicy` port, decision 75 in docs/decisions.md): revoked
 * contents and contents allowed offline.
 */
function policyDouble() {
  const revoked = new Set<string>();
  const persistent = new Set<string>();
  const asked: string[] = [];
  const policy: ContentLicencePolicy = {
    async isRevoked(siteId, contentId, kids) {
      asked.push(`isRevoked ${siteId} ${contentId} ${kids.join(',')}`);
      return revoked.has(`${siteId}/${contentId}`);
    },
    async allowsPersistent(siteId, contentId) {
      asked.push(`allowsPersistent ${siteId} ${contentId}`);
      return persistent.has(`${siteId}/${contentId}`);
    },
  };
  return { policy, revoked, persistent, asked };
}

describe('ClearKey licence endpoint', () => {
  const logs = captureLogs();
  const double = policyDouble();
  let now = START;
  const audits: NewAuditRecord[] = [];
  let failAudit = false;
  let t: TestApp;
  let siteId: string;
  let otherSiteId: string;
  let hs: SigningKey;
  let es: SigningKey;
  let rs: SigningKey;
  let otherSiteKey: SigningKey;
  /** Two contents of the site, two keys each; and a content of the other site. */
  const movie = { contentId: 'movie', kids: [] as KeyId[], keys: new Map<string, Buffer>() };
  const trailer = { contentId: 'trailer', kids: [] as KeyId[], keys: new Map<string, Buffer>() };
  const foreign = { contentId: 'movie', kids: [] as KeyId[] };

  const admin = () => ({ Authorization: `Bearer ${t.adminToken}` });
  const claims = (over: Partial<TokenClaims> = {}): TokenClaims => ({
    iss: siteId,
    sub: 'user-42',
    cid: movie.contentId,
    iat: seconds(now),
    exp: seconds(now) + 600,
    ...over,
  });
  const licence = (token: string | undefined, body: unknown = { kids: movie.kids.map(b64Kid), type: 'temporary' }) => {
    const req = request(t.app).post(PATH).set('Content-Type', 'application/json');
    if (token !== undefined) req.set('Authorization', `Bearer ${token}`);
    return req.send(JSON.stringify(body));
  };

  async function makeContent(site: string, content: { contentId: string; kids: KeyId[]; keys?: Map<string, Buffer> }) {
    for (const trackType of ['VIDEO', 'AUDIO']) {
      const key = await t.services.contentKeys.getOrCreate(site, { contentId: content.contentId, kid: parseKeyId(randomUUID()), trackType });
      content.kids.push(key.kid);
      content.keys?.set(b64Kid(key.kid), key.key);
    }
  }

  beforeAll(async () => {
    t = createTestApp(logs.logger, undefined, {
      contentLicencePolicy: double.policy,
      licenceClock: () => now,
      auditSink: {
        async record(record) {
          if (failAudit) throw new DependencyUnavailable('ERR_STORE_UNAVAILABLE', 'key store unavailable');
          audits.push(record);
          return t.services.audit.record(record);
        },
      },
    });
    const created = await request(t.app)
      .post('/admin/v1/sites')
      .set(admin())
      .send({ name: 'ClearKey', options: { clearKeyAllowedOrigins: ['https://player.example', 'http://localhost:8000'] } });
    expect(created.status).toBe(201);
    siteId = created.body.site.id as string;
    otherSiteId = (await t.services.sites.createSite({ name: 'Other', options: { clearKeyAllowedOrigins: ['https://other.example'] } })).site.id;
    [hs, es, rs, otherSiteKey] = await Promise.all([
      registerTokenKey(t.app, t.adminToken, siteId, 'HS256'),
      registerTokenKey(t.app, t.adminToken, siteId, 'ES256'),
      registerTokenKey(t.app, t.adminToken, siteId, 'RS256'),
      registerTokenKey(t.app, t.adminToken, otherSiteId, 'HS256'),
    ]);
    await makeContent(siteId, movie);
    await makeContent(siteId, trailer);
    await makeContent(otherSiteId, foreign);
  });

  afterAll(async () => {
    await t.close();
  });

  beforeEach(() => {
    now = START;
    failAudit = false;
    audits.length = 0;
  });

  describe('licences', () => {
    it.each(['HS256', 'ES256', 'RS256'] as const)('%s: answers the JWK set of the requested keys (EME §9.1.4), JSON, and audits it', async (alg) => {
      const key = { HS256: hs, ES256: es, RS256: rs }[alg];
      const res = await licence(await mintToken(key, claims()));
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toEqual({
        keys: movie.kids.map((kid) => ({ kty: 'oct', kid: b64Kid(kid), k: movie.keys.get(b64Kid(kid))?.toString('base64url') })),
        type: 'temporary',
      });
      expect(audits).toEqual([
        {
          at: START.toISOString(),
          siteId,
          action: 'licence',
          credentialId: `${key.kid}:user-42`,
          clientAddress: expect.any(String),
          dialect: 'clearkey',
          contentId: 'movie',
          kids: movie.kids,
          periodIndexes: [],
          keysCreated: 0,
          requestId: res.headers['x-request-id'],
        },
      ]);
      // The audit trail as the admin API shows it: no key bytes anywhere in it.
      const trail = await request(t.app).get(`/admin/v1/sites/${siteId}/audit?limit=1`).set(admin());
      expect(trail.body.records[0]).toMatchObject({ action: 'licence', dialect: 'clearkey', kids: movie.kids });
      for (const keyBytes of movie.keys.values()) {
        for (const form of [keyBytes.toString('hex'), keyBytes.toString('base64'), keyBytes.toString('base64url')]) expect(trail.text).not.toContain(form);
      }
    });

    it('answers one KID of the content, repeats folded, in request order', async () => {
      const [first, second] = movie.kids.map(b64Kid);
      const res = await licence(await mintToken(hs, claims()), { kids: [second, first, second], type: 'temporary' });
      expect(res.status).toBe(200);
      expect((res.body.keys as { kid: string }[]).map((k) => k.kid)).toEqual([second, first]);
    });

    it('a token whose kids claim names the requested keys passes', async () => {
      const res = await licence(await mintToken(es, claims({ kids: movie.kids.map(b64Kid) })));
      expect(res.status).toBe(200);
    });

    it('tolerates 60 s of clock skew on exp and nbf, no more', async () => {
      const token = await mintToken(hs, claims({ iat: seconds(START) - 100, exp: seconds(START) - 30, nbf: seconds(START) - 100 }));
      expect((await licence(token)).status).toBe(200);
      const early = await mintToken(hs, claims({ nbf: seconds(START) + 50 }));
      expect((await licence(early)).status).toBe(200);
      now = new Date(START.getTime() + 61_000);
      expect((await licence(token)).status).toBe(401);
      now = START;
      expect((await licence(await mintToken(hs, claims({ nbf: seconds(START) + 61 })))).status).toBe(401);
    });

    it('accepts a content type of text/plain, application/octet-stream or none (the CDM message as it is)', async () => {
      const token = await mintToken(hs, claims());
      const body = JSON.stringify({ kids: movie.kids.map(b64Kid), type: 'temporary' });
      for (const type of ['text/plain', 'application/octet-stream']) {
        expect((await request(t.app).post(PATH).set('Authorization', `Bearer ${token}`).set('Content-Type', type).send(body)).status).toBe(200);
      }
      expect((await request(t.app).post(PATH).set('Authorization', `Bearer ${token}`).send(Buffer.from(body))).status).toBe(200);
    });
  });

  describe('tokens that do not verify: 401, nothing audited', () => {
    const expect401 = async (token: string | undefined) => {
      const res = await licence(token);
      expect({ status: res.status, code: res.body?.error?.code }).toEqual({ status: 401, code: 'ERR_AUTH_REQUIRED' });
      expect(res.headers['www-authenticate']).toBe('Bearer realm="cpix-kms clearkey"');
      expect(res.body.error.message).toBe('authentication failed');
      expect(audits).toEqual([]);
      return res;
    };

    it('no token, not a JWT, a KMS token', async () => {
      await expect401(undefined);
      await expect401('not-a-jwt');
      await expect401('a.b.c');
      const site = await t.services.sites.getSite(siteId);
      const kms = await t.services.sites.issueToken(site.id, 'packager');
      await expect401(kms.token);
    });

    it('expired (past the skew), or without exp', async () => {
      await expect401(await mintToken(hs, claims({ iat: seconds(START) - 700, exp: seconds(START) - 61 })));
      const { exp: _exp, ...noExp } = claims();
      await expect401(await mintToken(hs, noExp as TokenClaims));
    });

    it('lifetime over 24 hours: exp − iat, or exp − now without iat; iat in the future', async () => {
      await expect401(await mintToken(hs, claims({ iat: seconds(START), exp: seconds(START) + 86_401 })));
      const { iat: _iat, ...noIat } = claims({ exp: seconds(START) + 86_400 + 61 });
      await expect401(await mintToken(hs, noIat as TokenClaims));
      await expect401(await mintToken(hs, claims({ iat: seconds(START) + 61, exp: seconds(START) + 600 })));
      const { iat: _iat2, ...dayWithoutIat } = claims({ exp: seconds(START) + 86_400 });
      expect((await licence(await mintToken(hs, dayWithoutIat as TokenClaims))).status).toBe(200);
      expect((await licence(await mintToken(hs, claims({ iat: seconds(START) - 86_000, exp: seconds(START) + 400 })))).status).toBe(200);
    });

    it('missing or malformed claims: sub, cid, iss, kids', async () => {
      const { sub: _sub, ...noSub } = claims();
      await expect401(await mintToken(hs, noSub as TokenClaims));
      const { cid: _cid, ...noCid } = claims();
      await expect401(await mintToken(hs, noCid as TokenClaims));
      await expect401(await mintToken(hs, claims({ sub: 'line\nbreak' })));
      await expect401(await mintToken(hs, claims({ cid: 'x'.repeat(257) })));
      await expect401(await mintToken(hs, claims({ kids: ['not-a-kid'] })));
      await expect401(await mintToken(hs, claims({ kids: [] })));
      await expect401(await mintToken(hs, { ...claims(), iss: 'nobody' }));
    });

    it('alg none, with and without a signature', async () => {
      const header = { kid: hs.kid, typ: 'JWT' };
      await expect401(unsecuredToken(header, claims()));
      await expect401(`${unsecuredToken(header, claims())}c2ln`);
    });

    it('alg confusion: HS256 signed with the RSA (and EC) public key of an RS256 (ES256) key', async () => {
      const rsa = rsaKeyPair();
      const rsKey = await request(t.app)
        .post(`/admin/v1/sites/${siteId}/licence-token-keys`)
        .set(admin())
        .send({ alg: 'RS256', jwk: rsa.publicKey.export({ format: 'jwk' }) });
      const kid = rsKey.body.kid as string;
      const pem = rsa.publicKey.export({ type: 'spki', format: 'pem' });
      const der = rsa.publicKey.export({ type: 'spki', format: 'der' });
      const jwkText = JSON.stringify(rsa.publicKey.export({ format: 'jwk' }));
      for (const secret of [pem, der, jwkText]) await expect401(hmacToken({ alg: 'HS256', kid, typ: 'JWT' }, claims(), secret));
      const ec = ecKeyPair();
      const esKey = await request(t.app).post(`/admin/v1/sites/${siteId}/licence-token-keys`).set(admin()).send({ alg: 'ES256', jwk: ec.publicKey.export({ format: 'jwk' }) });
      await expect401(hmacToken({ alg: 'HS256', kid: esKey.body.kid, typ: 'JWT' }, claims(), ec.publicKey.export({ type: 'spki', format: 'pem' })));
      // And the other way: an RS256 header on an HS256 key's kid.
      await expect401(await mintToken({ alg: 'RS256', kid: hs.kid, privateKey: rsa.privateKey }, claims()));
    });

    it('a kid of another site: with that site as iss (its key, our content) or ours as iss', async () => {
      await expect401(await mintToken(otherSiteKey, claims()));
      // Signed by the other site's own key, naming the other site: verifies, but that site has no such content.
      const res = await licence(await mintToken(otherSiteKey, claims({ iss: otherSiteId })));
      expect(res.status).toBe(403);
      // Our kid, another site's iss: the key is looked up in the other site, where it does not exist.
      await expect401(await mintToken(hs, claims({ iss: otherSiteId })));
    });

    it('a wrong signature, tampered claims, an unknown kid, an odd typ or crit header', async () => {
      const token = await mintToken(hs, claims());
      const [header, payload, signature = ''] = token.split('.');
      await expect401(`${header}.${payload}.${signature.slice(0, -2)}AA`);
      const tampered = Buffer.from(JSON.stringify({ ...claims(), cid: 'trailer' })).toString('base64url');
      await expect401(`${header}.${tampered}.${signature}`);
      await expect401(await mintToken({ ...hs, kid: 'AAAAAAAAAAAAAAAA' } as SigningKey, claims()));
      await expect401(await mintToken(hs, claims(), { typ: 'at+jwt' }));
      await expect401(hmacToken({ alg: 'HS256', kid: hs.kid, crit: ['exp'], exp: 1 }, claims(), (hs as { secret: Buffer }).secret));
      await expect401(hmacToken({ alg: 'HS256', kid: hs.kid, b64: false, crit: ['b64'] }, claims(), (hs as { secret: Buffer }).secret));
    });

    it('huge tokens are refused unread; a header past node’s limit never reaches us', async () => {
      const big = await mintToken(hs, claims({ padding: 'x'.repeat(5000) }));
      expect(big.length).toBeGreaterThan(4096);
      await expect401(big);
      const huge = await licence(`${'a'.repeat(40_000)}.b.c`).catch((error: unknown) => error);
      expect(huge).toMatchObject({ status: 431 });
    });

    it('replay after the key is revoked: the same token that passed is refused', async () => {
      const key = await registerTokenKey(t.app, t.adminToken, siteId, 'HS256');
      const token = await mintToken(key, claims());
      expect((await licence(token)).status).toBe(200);
      audits.length = 0;
      expect((await request(t.app).delete(`/admin/v1/sites/${siteId}/licence-token-keys/${key.kid}`).set(admin())).status).toBe(204);
      await expect401(token);
    });

    it('two credentials in one request are refused', async () => {
      const res = await request(t.app)
        .post(PATH)
        .set('Authorization', `Bearer ${await mintToken(hs, claims())}`)
        .set('X-KMS-Token', 'kms1.x.y')
        .send(JSON.stringify({ kids: movie.kids.map(b64Kid), type: 'temporary' }));
      expect(res.status).toBe(401);
    });

    it('a disabled site gets 403', async () => {
      const site = await t.services.sites.createSite({ name: 'Disabled later' });
      const key = await registerTokenKey(t.app, t.adminToken, site.site.id, 'HS256');
      await t.services.sites.updateSite(site.site.id, { status: 'disabled' });
      const res = await licence(await mintToken(key, claims({ iss: site.site.id })));
      expect({ status: res.status, code: res.body.error.code }).toEqual({ status: 403, code: 'ERR_FORBIDDEN' });
    });
  });

  describe('keys the token does not grant: 403, one answer whether they exist or not', () => {
    const expectNotGranted = async (res: request.Response) => {
      expect({ status: res.status, body: res.body.error && { code: res.body.error.code, message: res.body.error.message } }).toEqual({
        status: 403,
        body: { code: 'ERR_FORBIDDEN', message: 'the licence token does not grant every requested key' },
      });
      expect(audits).toEqual([]);
    };

    it('KIDs of another content of the site, of another site, and KIDs that exist nowhere', async () => {
      const token = await mintToken(hs, claims());
      await expectNotGranted(await licence(token, { kids: trailer.kids.map(b64Kid), type: 'temporary' }));
      await expectNotGranted(await licence(token, { kids: [b64Kid(movie.kids[0] as string), b64Kid(trailer.kids[0] as string)], type: 'temporary' }));
      await expectNotGranted(await licence(token, { kids: foreign.kids.map(b64Kid), type: 'temporary' }));
      await expectNotGranted(await licence(token, { kids: [b64Kid(randomUUID())], type: 'temporary' }));
    });

    it('a token whose kids claim names keys of another content', async () => {
      // The claim cannot widen the token: it restricts, and the content is still cid's.
      const token = await mintToken(hs, claims({ kids: trailer.kids.map(b64Kid) }));
      await expectNotGranted(await licence(token, { kids: trailer.kids.map(b64Kid), type: 'temporary' }));
      await expectNotGranted(await licence(token, { kids: movie.kids.map(b64Kid), type: 'temporary' }));
    });

    it('a key of the content that the kids claim leaves out', async () => {
      const token = await mintToken(hs, claims({ kids: [b64Kid(movie.kids[0] as string)] }));
      await expectNotGranted(await licence(token, { kids: movie.kids.map(b64Kid), type: 'temporary' }));
      expect((await licence(token, { kids: [b64Kid(movie.kids[0] as string)], type: 'temporary' })).status).toBe(200);
    });
  });

  describe('content policy (the revocation and persistent-licence port, driven by a test double)', () => {
    afterEach(() => {
      double.revoked.clear();
      double.persistent.clear();
    });

    it('a revoked content answers 410, with no key and no audit record; the port is asked with the site, content and KIDs', async () => {
      double.revoked.add(`${siteId}/movie`);
      double.asked.length = 0;
      const res = await licence(await mintToken(hs, claims()));
      expect({ status: res.status, code: res.body.error.code, keys: res.body.keys }).toEqual({ status: 410, code: 'ERR_CONTENT_REVOKED', keys: undefined });
      expect(double.asked).toEqual([`isRevoked ${siteId} movie ${movie.kids.join(',')}`]);
      expect(audits).toEqual([]);
      expect((await licence(await mintToken(hs, claims({ cid: 'trailer' })), { kids: trailer.kids.map(b64Kid), type: 'temporary' })).status).toBe(200);
    });

    it('persistent-license is refused by default (403) and answered where the policy allows it', async () => {
      const token = await mintToken(hs, claims());
      const body = { kids: movie.kids.map(b64Kid), type: 'persistent-license' };
      const refused = await licence(token, body);
      expect({ status: refused.status, message: refused.body.error.message }).toEqual({ status: 403, message: 'persistent licences are not allowed for this content' });
      double.persistent.add(`${siteId}/movie`);
      const allowed = await licence(token, body);
      expect({ status: allowed.status, type: allowed.body.type, keys: allowed.body.keys.length }).toEqual({ status: 200, type: 'persistent-license', keys: 2 });
    });

    it('the default policy revokes nothing and allows no persistent licence', async () => {
      const plain = createTestApp(logs.logger);
      try {
        const site = await request(plain.app).post('/admin/v1/sites').set('Authorization', `Bearer ${plain.adminToken}`).send({ name: 'Default policy' });
        const id = site.body.site.id as string;
        const key = await registerTokenKey(plain.app, plain.adminToken, id, 'HS256');
        const content = await plain.services.contentKeys.getOrCreate(id, { contentId: 'film', kid: parseKeyId(randomUUID()) });
        const token = await mintToken(key, { iss: id, sub: 'u', cid: 'film', iat: seconds(new Date()), exp: seconds(new Date()) + 300 });
        const ask = (type: string) => request(plain.app).post(PATH).set('Authorization', `Bearer ${token}`).set('Content-Type', 'application/json').send(JSON.stringify({ kids: [b64Kid(content.kid)], type }));
        expect((await ask('temporary')).status).toBe(200);
        expect((await ask('persistent-license')).status).toBe(403);
      } finally {
        await plain.close();
      }
    });
  });

  describe('requests', () => {
    it.each([
      ['not JSON', '{kids:'],
      ['no kids', { type: 'temporary' }],
      ['empty kids', { kids: [], type: 'temporary' }],
      ['a padded KID', { kids: [`${b64Kid(randomUUID())}==`], type: 'temporary' }],
      ['a KID of 15 bytes', { kids: [Buffer.alloc(15).toString('base64url')], type: 'temporary' }],
      ['a KID in standard base64', { kids: ['+/+/+/+/+/+/+/+/+/+/+w'], type: 'temporary' }],
      ['a KID with non-zero trailing bits', { kids: ['AAAAAAAAAAAAAAAAAAAAAB'], type: 'temporary' }],
      ['65 KIDs', { kids: Array.from({ length: 65 }, () => b64Kid(randomUUID())), type: 'temporary' }],
      ['no type', { kids: [b64Kid(randomUUID())] }],
      ['another type', { kids: [b64Kid(randomUUID())], type: 'persistent-usage-record' }],
      ['an array', [1]],
    ])('400 for %s', async (_what, body) => {
      const res = await licence(await mintToken(hs, claims()), typeof body === 'string' ? undefined : body).send(typeof body === 'string' ? body : undefined);
      expect({ status: res.status, code: res.body.error.code }).toEqual({ status: 400, code: 'ERR_REQUEST_INVALID' });
    });

    it('415 for a form or XML body; 413 past 16 KiB; invalid UTF-8 is a 400', async () => {
      const token = await mintToken(hs, claims());
      const form = await request(t.app).post(PATH).set('Authorization', `Bearer ${token}`).set('Content-Type', 'application/x-www-form-urlencoded').send('kids=1');
      expect(form.status).toBe(415);
      const big = await request(t.app).post(PATH).set('Authorization', `Bearer ${token}`).set('Content-Type', 'application/json').send(' '.repeat(17 * 1024));
      expect(big.status).toBe(413);
      const bad = await request(t.app).post(PATH).set('Authorization', `Bearer ${token}`).set('Content-Type', 'application/json').send(Buffer.from([0x7b, 0xff, 0x7d]));
      expect(bad.status).toBe(400);
    });

    it('refuses the token before reading the body', async () => {
      const res = await request(t.app).post(PATH).set('Content-Type', 'application/json').send(' '.repeat(17 * 1024));
      expect(res.status).toBe(401);
    });

    it('fails closed when the audit record cannot be written: 503, no key', async () => {
      failAudit = true;
      const res = await licence(await mintToken(hs, claims()));
      expect({ status: res.status, keys: res.body.keys, retryAfter: res.headers['retry-after'] }).toEqual({ status: 503, keys: undefined, retryAfter: '1' });
    });
  });

  describe('CORS', () => {
    it('answers the preflight of an origin some site allows, never with a wildcard or credentials', async () => {
      const res = await request(t.app)
        .options(PATH)
        .set('Origin', 'https://player.example')
        .set('Access-Control-Request-Method', 'POST')
        .set('Access-Control-Request-Headers', 'authorization,content-type');
      expect(res.status).toBe(204);
      expect(res.headers).toMatchObject({
        'access-control-allow-origin': 'https://player.example',
        'access-control-allow-methods': 'POST',
        'access-control-allow-headers': 'Authorization, Content-Type',
        'access-control-max-age': '600',
        vary: 'Origin',
      });
      expect(res.headers['access-control-allow-credentials']).toBeUndefined();
      const other = await request(t.app).options(PATH).set('Origin', 'https://other.example').set('Access-Control-Request-Method', 'POST');
      expect(other.headers['access-control-allow-origin']).toBe('https://other.example');
    });

    it('gives an unlisted origin a preflight without permission', async () => {
      for (const origin of ['https://evil.example', 'null', 'https://player.example.evil.example', 'https://player.example:8443']) {
        const res = await request(t.app).options(PATH).set('Origin', origin).set('Access-Control-Request-Method', 'POST');
        expect({ origin, status: res.status, allow: res.headers['access-control-allow-origin'], methods: res.headers['access-control-allow-methods'] }).toEqual({
          origin,
          status: 204,
          allow: undefined,
          methods: undefined,
        });
      }
    });

    it("a licence is readable by the token site's origins; another site's origin gets 403 without permission", async () => {
      const token = await mintToken(hs, claims());
      const ok = await licence(token).set('Origin', 'http://localhost:8000');
      expect({ status: ok.status, allow: ok.headers['access-control-allow-origin'], vary: ok.headers.vary }).toEqual({ status: 200, allow: 'http://localhost:8000', vary: 'Origin' });
      expect(ok.headers['access-control-expose-headers']).toContain('X-Request-Id');
      const foreignOrigin = await licence(token).set('Origin', 'https://other.example');
      expect({ status: foreignOrigin.status, allow: foreignOrigin.headers['access-control-allow-origin'] }).toEqual({ status: 403, allow: undefined });
      const unknown = await licence(token).set('Origin', 'https://evil.example');
      expect({ status: unknown.status, allow: unknown.headers['access-control-allow-origin'] }).toEqual({ status: 403, allow: undefined });
      expect(audits).toHaveLength(1);
    });

    it('a listed origin can read refusals (a player learns its token expired)', async () => {
      const res = await licence('expired.token.here').set('Origin', 'https://player.example');
      expect({ status: res.status, allow: res.headers['access-control-allow-origin'] }).toEqual({ status: 401, allow: 'https://player.example' });
      double.revoked.add(`${siteId}/movie`);
      const gone = await licence(await mintToken(hs, claims())).set('Origin', 'https://player.example');
      double.revoked.clear();
      expect({ status: gone.status, allow: gone.headers['access-control-allow-origin'] }).toEqual({ status: 410, allow: 'https://player.example' });
    });

    it.each([['*'], ['https://player.example/'], ['https://player.example/path'], ['player.example'], ['null'], ['ftp://player.example'], ['https://*.example']])(
      'the site option refuses %s',
      async (origin) => {
        const res = await request(t.app).patch(`/admin/v1/sites/${siteId}`).set(admin()).send({ options: { clearKeyAllowedOrigins: [origin] } });
        expect({ status: res.status, code: res.body.error.code }).toEqual({ status: 400, code: 'ERR_REQUEST_INVALID' });
      },
    );
  });

  describe('licence-token keys (admin API)', () => {
    const path = () => `/admin/v1/sites/${siteId}/licence-token-keys`;

    it('HS256: a 32-byte secret shown once; the list shows no secret; the store holds it only sealed', async () => {
      const created = await request(t.app).post(path()).set(admin()).send({ alg: 'HS256' });
      expect(created.status).toBe(201);
      expect(created.body).toEqual({ kid: expect.stringMatching(/^[A-Za-z0-9_-]{16}$/), alg: 'HS256', createdAt: expect.any(String), secret: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
      const secret = Buffer.from(created.body.secret as string, 'base64url');
      expect(secret).toHaveLength(32);
      const list = await request(t.app).get(path()).set(admin());
      expect(list.status).toBe(200);
      const listed = (list.body.licenceTokenKeys as { kid: string }[]).find((key) => key.kid === created.body.kid);
      expect(listed).toEqual({ kid: created.body.kid, alg: 'HS256', createdAt: created.body.createdAt });
      expect(list.text).not.toContain(created.body.secret);
      const raw = readFileSync(t.storePath);
      for (const form of [secret, Buffer.from(secret.toString('hex')), Buffer.from(secret.toString('base64')), Buffer.from(created.body.secret as string)]) {
        expect(raw.includes(form)).toBe(false);
      }
    });

    it('ES256 and RS256: the public JWK is kept (public members only) and listed', async () => {
      const ec = ecKeyPair().publicKey.export({ format: 'jwk' });
      const res = await request(t.app).post(path()).set(admin()).send({ alg: 'ES256', jwk: { ...ec, alg: 'ES256', use: 'sig', kid: 'customer-name' } });
      expect(res.status).toBe(201);
      expect(res.body).toEqual({ kid: expect.stringMatching(/^[A-Za-z0-9_-]{16}$/), alg: 'ES256', jwk: ec, createdAt: expect.any(String) });
      expect(res.body.secret).toBeUndefined();
    });

    it.each([
      ['a private EC JWK', () => ({ alg: 'ES256', jwk: ecKeyPair().privateKey.export({ format: 'jwk' }) })],
      ['a private RSA JWK', () => ({ alg: 'RS256', jwk: rsaKeyPair().privateKey.export({ format: 'jwk' }) })],
      ['an RSA key of 1024 bits', () => ({ alg: 'RS256', jwk: rsaKeyPair(1024).publicKey.export({ format: 'jwk' }) })],
      ['an EC key for RS256', () => ({ alg: 'RS256', jwk: ecKeyPair().publicKey.export({ format: 'jwk' }) })],
      ['an RSA key for ES256', () => ({ alg: 'ES256', jwk: rsaKeyPair().publicKey.export({ format: 'jwk' }) })],
      ['a P-384 key', () => ({ alg: 'ES256', jwk: { kty: 'EC', crv: 'P-384', x: 'AA', y: 'AA' } })],
      ['an EC point not on the curve', () => ({ alg: 'ES256', jwk: { kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA' } })],
      ['a JWK naming another alg', () => ({ alg: 'ES256', jwk: { ...ecKeyPair().publicKey.export({ format: 'jwk' }), alg: 'RS256' } })],
      ['an oct JWK', () => ({ alg: 'HS256', jwk: { kty: 'oct', k: 'AAAA' } })],
      ['HS256 with a JWK', () => ({ alg: 'HS256', jwk: ecKeyPair().publicKey.export({ format: 'jwk' }) })],
      ['alg none', () => ({ alg: 'none' })],
      ['ES256 without a JWK', () => ({ alg: 'ES256' })],
      ['a caller-chosen kid', () => ({ alg: 'HS256', kid: 'mine' })],
    ])('400 for %s', async (_what, body) => {
      const res = await request(t.app).post(path()).set(admin()).send(body());
      expect({ status: res.status, code: res.body.error.code }).toEqual({ status: 400, code: 'ERR_REQUEST_INVALID' });
    });

    it('404 for an unknown site or key; 401 without the admin token; revocation is idempotent', async () => {
      expect((await request(t.app).post('/admin/v1/sites/ZZZ9/licence-token-keys').set(admin()).send({ alg: 'HS256' })).status).toBe(404);
      expect((await request(t.app).get('/admin/v1/sites/ZZZ9/licence-token-keys').set(admin())).status).toBe(404);
      expect((await request(t.app).get('/admin/v1/sites/bad!/licence-token-keys').set(admin())).status).toBe(404);
      expect((await request(t.app).delete(`${path()}/AAAAAAAAAAAAAAAA`).set(admin())).status).toBe(404);
      expect((await request(t.app).delete(`${path()}/${hs.kid}x`).set(admin())).status).toBe(404);
      expect((await request(t.app).post(path()).send({ alg: 'HS256' })).status).toBe(401);
      expect((await request(t.app).get(path())).status).toBe(401);
      // Another site's key cannot be revoked through this site.
      expect((await request(t.app).delete(`${path()}/${otherSiteKey.kid}`).set(admin())).status).toBe(404);
      const key = await registerTokenKey(t.app, t.adminToken, siteId, 'ES256');
      expect((await request(t.app).delete(`${path()}/${key.kid}`).set(admin())).status).toBe(204);
      expect((await request(t.app).delete(`${path()}/${key.kid}`).set(admin())).status).toBe(204);
      const listed = (await request(t.app).get(path()).set(admin())).body.licenceTokenKeys as { kid: string; revokedAt?: string }[];
      expect(listed.find((entry) => entry.kid === key.kid)?.revokedAt).toEqual(expect.any(String));
    });
  });

  it('never logs a token or a key', () => {
    const text = logs.text();
    expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
    for (const keyBytes of [...movie.keys.values(), ...trailer.keys.values()]) expect(text).not.toContain(keyBytes.toString('base64url'));
  });
});
