import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { parseKeyId } from '../../src/keys/key-id';
import { createTestApp, type TestApp } from '../support/app';
import { captureLogs, encodingsOf } from '../support/log-capture';

describe('admin API /admin/v1', () => {
  const logs = captureLogs();
  let t: TestApp;
  const secrets: string[] = [];
  const admin = () => ({ Authorization: `Bearer ${t.adminToken}` });

  beforeAll(() => {
    t = createTestApp(logs.logger);
    secrets.push(t.adminToken);
  });
  afterAll(async () => {
    await t.close();
  });

  async function createSite(body: object = { name: 'Example' }) {
    const res = await request(t.app).post('/admin/v1/sites').set(admin()).send(body).expect(201);
    secrets.push(res.body.accessKey, res.body.token.token);
    return res.body as { site: { id: string }; accessKey: string; token: { id: string; token: string } };
  }

  describe('authentication', () => {
    const routes: [string, string][] = [
      ['post', '/admin/v1/sites'],
      ['get', '/admin/v1/sites'],
      ['get', '/admin/v1/sites/ABCD'],
      ['patch', '/admin/v1/sites/ABCD'],
      ['post', '/admin/v1/sites/ABCD/tokens'],
      ['get', '/admin/v1/sites/ABCD/tokens'],
      ['delete', '/admin/v1/sites/ABCD/tokens/xyz'],
      ['post', '/admin/v1/sites/ABCD/site-key/rotate'],
      ['get', '/admin/v1/sites/ABCD/contents/movie/keys'],
    ];
    it.each(routes)('refuses %s %s without the admin token (401)', async (method, path) => {
      const res = await request(t.app)[method as 'get'](path).expect(401);
      expect(res.body).toEqual({ error: { code: 'ERR_AUTH_REQUIRED', message: 'authentication failed', requestId: expect.any(String) } });
      expect(res.headers['www-authenticate']).toMatch(/^Bearer /);
    });
    it.each([
      ['a wrong token', 'Bearer not-the-admin-token'],
      ['a KMS-shaped token', 'Bearer kms1.AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB'],
      ['another scheme', 'Basic YWRtaW46YWRtaW4='],
    ])('refuses %s (401)', async (_name, authorization) => {
      await request(t.app).get('/admin/v1/sites').set('Authorization', authorization).expect(401);
    });
  });

  describe('sites', () => {
    it('creates a site with a generated ID and returns its access key and first KMS token once', async () => {
      const created = await createSite({ name: 'Generated' });
      expect(created.site).toMatchObject({ id: expect.stringMatching(/^[A-Z0-9]{4}$/), name: 'Generated', status: 'active', siteKeyVersion: 1 });
      expect(created.site).toHaveProperty('options.signCpixApiResponses', true);
      expect(created.site).toHaveProperty('options.signSpekeResponses', false);
      expect(created.accessKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(created.token.token).toMatch(/^kms1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{43}$/);

      const fetched = await request(t.app).get(`/admin/v1/sites/${created.site.id}`).set(admin()).expect(200);
      expect(fetched.body).toEqual(created.site);
      expect(JSON.stringify(fetched.body)).not.toContain(created.accessKey);
    });

    it('creates a site with a chosen ID and options, and refuses the ID a second time (409)', async () => {
      const id = `Q${randomUUID().replace(/[^0-9]/g, '').slice(0, 3)}`;
      const { site } = await createSite({ id, name: 'Chosen', options: { playReadyLaUrl: 'https://pr.example.com/rightsmanager.asmx' } });
      expect(site).toMatchObject({ id, options: { playReadyLaUrl: 'https://pr.example.com/rightsmanager.asmx' } });
      const res = await request(t.app).post('/admin/v1/sites').set(admin()).send({ id, name: 'again' }).expect(409);
      expect(res.body.error.code).toBe('ERR_ALREADY_EXISTS');
    });

    it.each([
      ['no name', {}],
      ['a lowercase ID', { id: 'abcd', name: 'x' }],
      ['a 5-character ID', { id: 'ABCDE', name: 'x' }],
      ['an unknown property', { name: 'x', colour: 'blue' }],
      ['an unknown option', { name: 'x', options: { signEverything: true } }],
      ['a non-http LA_URL', { name: 'x', options: { playReadyLaUrl: 'javascript:alert(1)' } }],
      ['a quote in the skd template', { name: 'x', options: { fairPlaySkdTemplate: 'skd://"{kid_hex}' } }],
      ['an unknown placeholder in the skd template', { name: 'x', options: { fairPlaySkdTemplate: 'skd://{foo}' } }],
      ['an unknown placeholder in the key-delivery template', { name: 'x', options: { aes128KeyUriTemplate: 'https://k.example/{kid}' } }],
    ])('refuses a site with %s (400)', async (_name, body) => {
      const res = await request(t.app).post('/admin/v1/sites').set(admin()).send(body).expect(400);
      expect(res.body.error.code).toBe('ERR_REQUEST_INVALID');
    });

    it('refuses to save a key URI template that would fail every key request, naming the option, and keeps the old one', async () => {
      const { site } = await createSite({ name: 'templates' });
      const res = await request(t.app).patch(`/admin/v1/sites/${site.id}`).set(admin()).send({ options: { fairPlaySkdTemplate: 'skd://{foo}' } }).expect(400);
      expect(res.body.error).toMatchObject({ code: 'ERR_REQUEST_INVALID', message: 'options.fairPlaySkdTemplate: unknown placeholder {foo} in the FairPlay URI template' });
      const current = await request(t.app).get(`/admin/v1/sites/${site.id}`).set(admin()).expect(200);
      expect(current.body.options.fairPlaySkdTemplate).toBe('skd://{kid_hex}');
    });

    it.each([
      ['ends too early', '{"name":', 'request body is not valid JSON (it ends too early)'],
      ['a property name without quotes', '{name: "x"}', 'request body is not valid JSON (at byte offset 1)'],
      ['a trailing comma', '{"name":"secret-ish",}', 'request body is not valid JSON (at byte offset 21)'],
    ])('refuses malformed JSON (%s) with 400 and where it stops, never echoing the body', async (_name, body, message) => {
      const res = await request(t.app).post('/admin/v1/sites').set(admin()).set('Content-Type', 'application/json').send(body).expect(400);
      expect(res.body.error).toMatchObject({ code: 'ERR_REQUEST_INVALID', message });
      expect(JSON.stringify(res.body)).not.toContain('secret-ish');
    });

    it.each([
      ['text/plain', '{"name":"x"}'],
      ['application/x-www-form-urlencoded', 'name=x'],
      ['application/xml', '<site name="x"/>'],
    ])('refuses a body sent as %s with 415, on every admin route', async (type, body) => {
      for (const path of ['/admin/v1/sites', '/admin/v1/sites/ABCD/licence-token-keys', '/admin/v1/sites/ABCD/contents/c/keys']) {
        const res = await request(t.app).post(path).set(admin()).set('Content-Type', type).send(body);
        expect([path, res.status, res.body.error?.code]).toEqual([path, 415, 'ERR_UNSUPPORTED_MEDIA_TYPE']);
      }
      // A JSON type with parameters or a +json suffix is JSON; a request without a body needs no type.
      await request(t.app).post('/admin/v1/sites').set(admin()).set('Content-Type', 'application/json; charset=utf-8').send('{"name":"typed"}').expect(201);
      await request(t.app).post('/admin/v1/sites').set(admin()).set('Content-Type', 'application/merge-patch+json').send('{"name":"suffixed"}').expect(201);
    });

    it('refuses a body that is too large (413)', async () => {
      const res = await request(t.app)
        .post('/admin/v1/sites')
        .set(admin())
        .send({ name: 'x'.repeat(300 * 1024) })
        .expect(413);
      expect(res.body.error.code).toBe('ERR_PAYLOAD_TOO_LARGE');
    });

    it('lists, updates and disables sites', async () => {
      const { site } = await createSite({ name: 'To change' });
      const list = await request(t.app).get('/admin/v1/sites').set(admin()).expect(200);
      expect(list.body.sites.map((s: { id: string }) => s.id)).toContain(site.id);

      const updated = await request(t.app)
        .patch(`/admin/v1/sites/${site.id}`)
        .set(admin())
        .send({ name: 'Changed', options: { widevineProvider: 'acme' } })
        .expect(200);
      expect(updated.body).toMatchObject({ name: 'Changed', options: { widevineProvider: 'acme', signCpixApiResponses: true } });

      const disabled = await request(t.app).patch(`/admin/v1/sites/${site.id}`).set(admin()).send({ status: 'disabled' }).expect(200);
      expect(disabled.body.status).toBe('disabled');
      await request(t.app).patch(`/admin/v1/sites/${site.id}`).set(admin()).send({}).expect(400);
      await request(t.app).patch(`/admin/v1/sites/${site.id}`).set(admin()).send({ status: 'deleted' }).expect(400);
    });

    it.each([
      ['get', ''],
      ['patch', ''],
      ['get', '/tokens'],
      ['post', '/tokens'],
      ['delete', '/tokens/abc'],
      ['post', '/site-key/rotate'],
      ['get', '/contents/movie/keys'],
    ])('answers 404 for %s on an unknown site%s', async (method, suffix) => {
      const res = await request(t.app)[method as 'get'](`/admin/v1/sites/ZZZ9${suffix}`).set(admin()).send({ name: 'x' }).expect(404);
      expect(res.body.error.code).toBe('ERR_NOT_FOUND');
    });

    it('answers 404 for a malformed site ID', async () => {
      await request(t.app).get('/admin/v1/sites/not-a-site').set(admin()).expect(404);
    });
  });

  describe('KMS tokens', () => {
    it('issues further tokens, lists them without secrets, and revokes one so it no longer authenticates', async () => {
      const { site, token: first } = await createSite({ name: 'Tokens' });
      const issued = await request(t.app).post(`/admin/v1/sites/${site.id}/tokens`).set(admin()).send({ name: 'packager-2' }).expect(201);
      secrets.push(issued.body.token);
      expect(issued.body).toMatchObject({ siteId: site.id, name: 'packager-2', token: expect.stringMatching(/^kms1\./) });

      await t.services.sites.authenticate(first.token);
      const list = await request(t.app).get(`/admin/v1/sites/${site.id}/tokens`).set(admin()).expect(200);
      expect(list.body.tokens.map((k: { id: string }) => k.id)).toEqual([first.id, issued.body.id]);
      expect(list.body.tokens[0]).toHaveProperty('lastUsedAt');
      const listed = JSON.stringify(list.body);
      for (const secret of [first.token, issued.body.token]) expect(listed).not.toContain(secret.split('.')[2]);
      expect(listed).not.toContain('secretHash');

      await request(t.app).delete(`/admin/v1/sites/${site.id}/tokens/${first.id}`).set(admin()).expect(204);
      await expect(t.services.sites.authenticate(first.token)).rejects.toMatchObject({ code: 'ERR_AUTH_REQUIRED' });
      await expect(t.services.sites.authenticate(issued.body.token)).resolves.toMatchObject({ credentialId: issued.body.id });
      const after = await request(t.app).get(`/admin/v1/sites/${site.id}/tokens`).set(admin()).expect(200);
      expect(after.body.tokens[0].revokedAt).toEqual(expect.any(String));
    });

    it('answers 404 when revoking a token of another site', async () => {
      const a = await createSite({ name: 'A' });
      const b = await createSite({ name: 'B' });
      await request(t.app).delete(`/admin/v1/sites/${b.site.id}/tokens/${a.token.id}`).set(admin()).expect(404);
      await expect(t.services.sites.authenticate(a.token.token)).resolves.toBeDefined();
    });

    it('refuses a whole token pasted in place of its ID without echoing it, and keeps the token valid', async () => {
      const { site, token } = await createSite({ name: 'Pasted' });
      const res = await request(t.app).delete(`/admin/v1/sites/${site.id}/tokens/${encodeURIComponent(token.token)}`).set(admin()).expect(404);
      const secret = token.token.split('.')[2] ?? '';
      for (const form of encodingsOf(secret)) {
        expect(res.text).not.toContain(form);
        expect(logs.text()).not.toContain(form);
      }
      await expect(t.services.sites.authenticate(token.token)).resolves.toMatchObject({ site: { id: site.id } });
    });

    it('refuses tokens of a disabled site (403) and accepts them again once re-enabled', async () => {
      const { site, token } = await createSite({ name: 'Disable me' });
      await request(t.app).patch(`/admin/v1/sites/${site.id}`).set(admin()).send({ status: 'disabled' }).expect(200);
      await expect(t.services.sites.authenticate(token.token)).rejects.toMatchObject({ code: 'ERR_FORBIDDEN' });
      await request(t.app).patch(`/admin/v1/sites/${site.id}`).set(admin()).send({ status: 'active' }).expect(200);
      await expect(t.services.sites.authenticate(token.token)).resolves.toMatchObject({ site: { id: site.id } });
    });

    it('accepts a legacy PallyCon token only when the site opted in', async () => {
      const { site, accessKey } = await createSite({ name: 'Legacy' });
      const legacy = Buffer.from(JSON.stringify({ access_key: accessKey, site_id: site.id })).toString('base64');
      secrets.push(legacy);
      await expect(t.services.sites.authenticate(legacy)).rejects.toMatchObject({ code: 'ERR_AUTH_REQUIRED' });
      await request(t.app).patch(`/admin/v1/sites/${site.id}`).set(admin()).send({ options: { acceptLegacyToken: true } }).expect(200);
      await expect(t.services.sites.authenticate(legacy)).resolves.toMatchObject({ credentialId: 'legacy-access-key' });
      const wrong = Buffer.from(JSON.stringify({ site_id: site.id, access_key: `${accessKey}x` })).toString('base64');
      await expect(t.services.sites.authenticate(wrong)).rejects.toMatchObject({ code: 'ERR_AUTH_REQUIRED' });
    });
  });

  describe('site keys and content keys', () => {
    it('rotates a site key, keeping every content key identical, and lists key metadata without key bytes', async () => {
      const { site } = await createSite({ name: 'Keys' });
      const kids = [parseKeyId(randomUUID()), parseKeyId(randomUUID())];
      const keys = [
        await t.services.contentKeys.getOrCreate(site.id, { contentId: 'movie 1', kid: kids[0]!, trackType: 'HD', scheme: 'cenc' }),
        await t.services.contentKeys.getOrCreate(site.id, { contentId: 'movie 1', kid: kids[1]!, trackType: 'AUDIO', periodIndex: 3 }),
      ];
      for (const key of keys) secrets.push(key.key.toString('hex'));

      const listed = await request(t.app).get(`/admin/v1/sites/${site.id}/contents/movie%201/keys`).set(admin()).expect(200);
      expect(listed.body).toEqual({
        siteId: site.id,
        contentId: 'movie 1',
        keys: [
          { kid: kids[0], trackType: 'HD', scheme: 'cenc', createdAt: expect.any(String) },
          { kid: kids[1], trackType: 'AUDIO', periodIndex: 3, createdAt: expect.any(String) },
        ],
      });
      for (const key of keys) {
        for (const form of encodingsOf(key.key)) expect(JSON.stringify(listed.body)).not.toContain(form);
      }

      const rotated = await request(t.app).post(`/admin/v1/sites/${site.id}/site-key/rotate`).set(admin()).expect(200);
      expect(rotated.body).toEqual({ version: 2, rewrapped: 2 });
      for (const key of keys) {
        const after = await t.services.contentKeys.get(site.id, key.contentId, key.kid);
        expect(after?.key.equals(key.key)).toBe(true);
      }
      const fetched = await request(t.app).get(`/admin/v1/sites/${site.id}`).set(admin()).expect(200);
      expect(fetched.body.siteKeyVersion).toBe(2);
    });

    it('answers 404 for a content without keys', async () => {
      const { site } = await createSite({ name: 'Empty' });
      await request(t.app).get(`/admin/v1/sites/${site.id}/contents/nothing/keys`).set(admin()).expect(404);
    });
  });

  describe('HTTP skeleton', () => {
    it('answers /healthz and /readyz', async () => {
      await request(t.app).get('/healthz').expect(200, { status: 'ok' });
      await request(t.app).get('/readyz').expect(200, { status: 'ready', checks: { store: 'ok', masterKey: 'ok' } });
    });

    it('echoes a plain request ID and replaces an unsafe one', async () => {
      const plain = await request(t.app).get('/healthz').set('X-Request-Id', 'abc-123').expect(200);
      expect(plain.headers['x-request-id']).toBe('abc-123');
      const unsafe = await request(t.app).get('/healthz').set('X-Request-Id', 'a b {"injected": 1}').expect(200);
      expect(unsafe.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    });

    it('answers unknown routes with the JSON error shape', async () => {
      const res = await request(t.app).get('/nope').expect(404);
      expect(res.body.error).toMatchObject({ code: 'ERR_NOT_FOUND' });
    });
  });

  it('wrote no admin token, access key, KMS token or content key into any log line', () => {
    expect(logs.lines.length).toBeGreaterThan(20);
    const text = logs.text();
    for (const secret of secrets) {
      for (const form of encodingsOf(secret)) expect(text).not.toContain(form);
    }
  });
});
