import request from 'supertest';
import { createTestApp, type TestApp } from '../support/app';
import { captureLogs, findSecretLeaks, type NamedSecret } from '../support/log-capture';

/**
 * Credentials where no route expects them, over HTTP on the real app: the access line of every
 * request is written with the URL redacted (http/redact.ts), whatever the route, the parameter name or
 * the percent-encoding, and a request ID that holds a secret is replaced instead of logged.
 */
describe('credentials in unexpected places never reach a log line', () => {
  const logs = captureLogs();
  let t: TestApp;
  let token: string;
  let other: string;
  const secrets: NamedSecret[] = [];

  beforeAll(async () => {
    t = createTestApp(logs.logger);
    const one = await t.services.sites.createSite({ name: 'one' });
    const two = await t.services.sites.createSite({ name: 'two' });
    token = one.token.token;
    other = two.token.token;
    const secretPart = (credential: string) => credential.slice(credential.lastIndexOf('.') + 1);
    secrets.push(
      { name: 'token', value: token },
      { name: 'token secret part', value: secretPart(token) },
      { name: 'other token', value: other },
      { name: 'other token secret part', value: secretPart(other) },
      { name: 'admin token', value: t.adminToken },
    );
  });
  afterAll(() => t.close());

  /** The access lines `send` causes. */
  async function accessLinesOf(send: () => request.Test): Promise<string[]> {
    const before = logs.lines.length;
    const res = await send();
    expect(res.status).toBeLessThan(500);
    const written = logs.lines.slice(before).filter((line) => line.includes('"msg":"request"'));
    expect(written).toHaveLength(1);
    return written;
  }

  it.each([
    ['inside a path segment', () => request(t.app).get(`/status/token:${token}/x`)],
    ['after getKey, split by a raw slash', () => request(t.app).post(`/v2/cpix/pallycon/getKey/${token.replace('.', '/')}`)],
    ['in an unknown query parameter', () => request(t.app).get(`/speke/copyProtection?next=${token}`)],
    ['in a bracketed enc-token', () => request(t.app).post(`/speke/copyProtection?enc-token[0]=${other}`).set('Authorization', `Bearer ${token}`)],
    ['in a repeated enc-token', () => request(t.app).post(`/speke/copyProtection?enc-token=${token}&enc-token=${other}`)],
    ['percent-encoded twice', () => request(t.app).get(`/x/${encodeURIComponent(encodeURIComponent(`id=${token}`))}`)],
    ['the admin token in a query', () => request(t.app).get(`/admin/v1/sites?access_token=${t.adminToken}`)],
    ['the secret part alone, in X-Request-Id', () => request(t.app).get('/healthz').set('X-Request-Id', token.slice(token.lastIndexOf('.') + 1))],
  ])('%s', async (_name, send) => {
    expect(findSecretLeaks(await accessLinesOf(send), secrets)).toEqual([]);
  });

  it('redacts short values of credential-named query parameters and keeps the others', async () => {
    const [line] = await accessLinesOf(() => request(t.app).get('/x?client_secret=s3cr3t&api-key=k3y&Authorization=Bearer%20abc&key-rotation=true'));
    expect(JSON.parse(line ?? '{}').url).toBe('/x?client_secret=[redacted]&api-key=[redacted]&Authorization=[redacted]&key-rotation=true');
  });

  it('keeps a plain request ID (a UUID) and replaces one that holds a credential', async () => {
    const uuid = '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0';
    expect((await request(t.app).get('/healthz').set('X-Request-Id', uuid)).headers['x-request-id']).toBe(uuid);
    const replaced = await request(t.app).get('/healthz').set('X-Request-Id', token.slice(0, 60));
    expect(replaced.headers['x-request-id']).not.toContain('kms1.');
  });

  it('leaves no credential in any line of the run', () => {
    expect(logs.lines.length).toBeGreaterThan(10);
    expect(findSecretLeaks(logs.lines, secrets)).toEqual([]);
  });
});
