import express, { type Express } from 'express';
import request from 'supertest';
import { errorHandler } from '../../src/http/error-mapping';
import { readCpixBody } from '../../src/http/cpix-body';
import { authenticatedSite, requireKmsToken } from '../../src/http/kms-auth';
import { requestContext } from '../../src/http/request-context';
import { createTestApp, type TestApp } from '../support/app';
import { captureLogs, encodingsOf } from '../support/log-capture';

/**
 * KMS-token authentication and CPIX body intake as the key-exchange routes will mount them, over
 * real HTTP on a real SQLite store.
 */
describe('KMS token authentication and CPIX body intake', () => {
  const logs = captureLogs();
  let t: TestApp;
  let app: Express;
  let siteId: string;
  let token: string;
  const secrets: string[] = [];
  const BODY_LIMIT = 4096;
  const xml = '<?xml version="1.0"?><CPIX xmlns="urn:dashif:org:cpix"/>';

  beforeAll(async () => {
    t = createTestApp(logs.logger);
    const created = await t.services.sites.createSite({ name: 'packager' });
    siteId = created.site.id;
    token = created.token.token;
    secrets.push(token, created.accessKey);
    app = express();
    app.use(requestContext(logs.logger));
    const handler: express.RequestHandler = (req, res) => {
      res.json({ siteId: authenticatedSite(res).site.id, bytes: (req.body as Buffer).length });
    };
    const guard = requireKmsToken(t.services.sites, t.authFailures);
    app.post('/v2/cpix/pallycon/getKey/:token', guard, ...readCpixBody(BODY_LIMIT), handler);
    app.post('/speke/copyProtection', guard, ...readCpixBody(BODY_LIMIT), handler);
    app.use(errorHandler(logs.logger));
  });
  afterAll(() => t.close());

  const speke = () => request(app).post('/speke/copyProtection').set('Content-Type', 'application/xml');

  it.each([
    ['an Authorization bearer', () => speke().set('Authorization', `Bearer ${token}`)],
    ['an X-KMS-Token header', () => speke().set('X-KMS-Token', token)],
    ['an enc-token query parameter', () => speke().query({ 'enc-token': token })],
    ['the getKey path', () => request(app).post(`/v2/cpix/pallycon/getKey/${token}`).set('Content-Type', 'application/xml')],
  ])('authenticates a token in %s', async (_name, send) => {
    const res = await send().send(xml).expect(200);
    expect(res.body).toEqual({ siteId, bytes: Buffer.byteLength(xml) });
  });

  it('accepts a body without a content type (PallyCon Python client)', async () => {
    const res = await request(app).post('/speke/copyProtection').set('X-KMS-Token', token).send(Buffer.from(xml)).unset('Content-Type');
    expect(res.status).toBe(200);
  });

  it.each([
    ['no credential', () => speke(), 401, 'ERR_AUTH_REQUIRED'],
    ['an unknown token', () => speke().set('X-KMS-Token', 'kms1.AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB'), 401, 'ERR_AUTH_REQUIRED'],
    ['a garbage token', () => speke().set('Authorization', 'Bearer not-a-token'), 401, 'ERR_AUTH_REQUIRED'],
    ['two different credentials', () => speke().set('X-KMS-Token', token).query({ 'enc-token': 'other' }), 401, 'ERR_AUTH_REQUIRED'],
    ['an oversized credential', () => speke().set('X-KMS-Token', 'x'.repeat(2000)), 401, 'ERR_AUTH_REQUIRED'],
  ])('refuses %s', async (_name, send, status, code) => {
    const res = await send().send(xml).expect(status);
    expect(res.body.error.code).toBe(code);
  });

  it('refuses a revoked token (401) and a disabled site (403)', async () => {
    const other = await t.services.sites.createSite({ name: 'to revoke' });
    secrets.push(other.token.token);
    await t.services.sites.revokeToken(other.site.id, other.token.id);
    await speke().set('X-KMS-Token', other.token.token).send(xml).expect(401);

    const disabled = await t.services.sites.createSite({ name: 'to disable' });
    secrets.push(disabled.token.token);
    await t.services.sites.updateSite(disabled.site.id, { status: 'disabled' });
    const res = await speke().set('X-KMS-Token', disabled.token.token).send(xml).expect(403);
    expect(res.body.error.code).toBe('ERR_FORBIDDEN');
  });

  it.each([
    ['a body above the limit', 'application/xml', 'x'.repeat(BODY_LIMIT + 1), 413, 'ERR_PAYLOAD_TOO_LARGE'],
    ['a JSON body', 'application/json', '{"a":1}', 415, 'ERR_UNSUPPORTED_MEDIA_TYPE'],
    ['an empty body', 'application/xml', '', 400, 'ERR_REQUEST_INVALID'],
  ])('refuses %s', async (_name, type, body, status, code) => {
    const res = await speke().set('X-KMS-Token', token).set('Content-Type', type).send(body).expect(status);
    expect(res.body.error.code).toBe(code);
  });

  it('writes no token or access key into any log line, also when the token is in the URL', () => {
    const text = logs.text();
    expect(text).toContain('/v2/cpix/pallycon/getKey/[redacted]');
    expect(text).toContain('enc-token=[redacted]');
    for (const secret of secrets) for (const form of encodingsOf(secret)) expect(text).not.toContain(form);
  });
});
