import { createHash, randomUUID, X509Certificate } from 'node:crypto';
import request from 'supertest';
import type { AuditRecord, NewAuditRecord } from '../../src/audit/ports';
import { createTestApp, type TestApp } from '../support/app';
import { captureLogs, encodingsOf } from '../support/log-capture';
import { testCertificate } from '../support/services';

describe('admin API: license servers and the audit trail', () => {
  const logs = captureLogs();
  let t: TestApp;
  const secrets: string[] = [];
  const admin = () => ({ Authorization: `Bearer ${t.adminToken}` });
  const rsa2048 = testCertificate('rsa2048');

  beforeAll(() => {
    t = createTestApp(logs.logger);
    secrets.push(t.adminToken);
  });
  afterAll(async () => {
    await t.close();
  });

  async function createSite(name = 'Licensed'): Promise<string> {
    const { site, accessKey, token } = await t.services.sites.createSite({ name });
    secrets.push(accessKey, token.token);
    return site.id;
  }

  interface Registered {
    readonly licenseServer: { id: string; siteId: string; name: string; certificate: string; certificateThumbprint: string };
    readonly credential: string;
  }

  async function register(siteId: string, body: object = { name: 'license server', certificate: rsa2048 }): Promise<Registered> {
    const res = await request(t.app).post(`/admin/v1/sites/${siteId}/license-servers`).set(admin()).send(body).expect(201);
    secrets.push(res.body.credential);
    return res.body as Registered;
  }

  describe('authentication and addressing', () => {
    const routes: [string, string][] = [
      ['post', '/admin/v1/sites/ABCD/license-servers'],
      ['get', '/admin/v1/sites/ABCD/license-servers'],
      ['delete', '/admin/v1/sites/ABCD/license-servers/AAAAAAAAAAAAAAAA'],
      ['get', '/admin/v1/sites/ABCD/audit'],
    ];
    it.each(routes)('refuses %s %s without the admin token (401)', async (method, path) => {
      const res = await request(t.app)[method as 'get'](path).expect(401);
      expect(res.body.error).toMatchObject({ code: 'ERR_AUTH_REQUIRED', message: 'authentication failed' });
    });

    it.each(routes)('answers %s %s on an unknown site with 404', async (method, path) => {
      const res = await request(t.app)
        [method as 'get'](path.replace('ABCD', 'ZZZ9'))
        .set(admin())
        .send({ name: 'x', certificate: rsa2048 })
        .expect(404);
      expect(res.body.error.code).toBe('ERR_NOT_FOUND');
    });

    it('answers 404 for a malformed site ID without echoing it', async () => {
      const res = await request(t.app).get('/admin/v1/sites/%3Cscript%3E/license-servers').set(admin()).expect(404);
      expect(JSON.stringify(res.body)).not.toContain('script');
    });
  });

  describe('registration', () => {
    it('registers a PEM certificate and returns the view and the lsc1 credential once', async () => {
      const siteId = await createSite();
      const { licenseServer, credential } = await register(siteId, { name: 'Widevine proxy', certificate: rsa2048 });
      const expected = new X509Certificate(rsa2048);
      expect(licenseServer).toEqual({
        id: expect.stringMatching(/^[A-Za-z0-9_-]{16}$/),
        siteId,
        name: 'Widevine proxy',
        certificate: expected.toString(),
        certificateThumbprint: createHash('sha256').update(expected.raw).digest('hex'),
        createdAt: expect.any(String),
      });
      expect(credential).toMatch(new RegExp(`^lsc1\\.${licenseServer.id}\\.[A-Za-z0-9_-]{43}$`));
      await expect(t.services.licenseServers.authenticate(credential)).resolves.toMatchObject({ credentialId: licenseServer.id });
    });

    it('accepts the certificate as base64 of its DER', async () => {
      const siteId = await createSite();
      const der = new X509Certificate(rsa2048).raw;
      const { licenseServer } = await register(siteId, { name: 'DER', certificate: der.toString('base64') });
      expect(licenseServer.certificateThumbprint).toBe(createHash('sha256').update(der).digest('hex'));
    });

    it.each([
      ['RSA-1024', 'rsa1024', /RSA key of 1024 bits is below the minimum of 2048/],
      ['a SHA-1 signature', 'rsa2048-sha1', /signed with SHA-1/],
    ] as const)('refuses a certificate with %s (400 ERR_WEAK_CERTIFICATE)', async (_name, fixture, message) => {
      const siteId = await createSite();
      const res = await request(t.app)
        .post(`/admin/v1/sites/${siteId}/license-servers`)
        .set(admin())
        .send({ name: 'weak', certificate: testCertificate(fixture) })
        .expect(400);
      expect(res.body.error.code).toBe('ERR_WEAK_CERTIFICATE');
      expect(res.body.error.message).toMatch(message);
      expect(await t.services.licenseServers.list(siteId)).toEqual([]);
    });

    const [pemBody] = rsa2048.split('-----END CERTIFICATE-----');
    const derWithTrailingByte = Buffer.concat([new X509Certificate(rsa2048).raw, Buffer.from([0])]).toString('base64');
    it.each([
      ['no name', { certificate: rsa2048 }],
      ['no certificate', { name: 'x' }],
      ['an empty name', { name: '', certificate: rsa2048 }],
      ['a 101-character name', { name: 'n'.repeat(101), certificate: rsa2048 }],
      ['an unknown property', { name: 'x', certificate: rsa2048, secret: 'mine' }],
      ['a certificate that is not a string', { name: 'x', certificate: { pem: rsa2048 } }],
      ['a certificate over 16 KiB', { name: 'x', certificate: 'A'.repeat(16385) }],
      ['text that is not a certificate', { name: 'x', certificate: 'hello, world' }],
      ['base64 that is not a certificate', { name: 'x', certificate: Buffer.from('not DER').toString('base64') }],
      ['a truncated PEM', { name: 'x', certificate: pemBody }],
      ['two PEM certificates', { name: 'x', certificate: `${rsa2048}${rsa2048}` }],
      ['trailing bytes after the DER', { name: 'x', certificate: derWithTrailingByte }],
      ['an EC certificate', { name: 'x', certificate: testCertificate('ec-p256') }],
    ])('refuses %s (400 ERR_REQUEST_INVALID)', async (_name, body) => {
      const siteId = await createSite();
      const res = await request(t.app).post(`/admin/v1/sites/${siteId}/license-servers`).set(admin()).send(body).expect(400);
      expect(res.body.error.code).toBe('ERR_REQUEST_INVALID');
    });
  });

  describe('listing and revocation', () => {
    it('lists license servers oldest first with certificate and thumbprint, never a secret or its hash', async () => {
      const siteId = await createSite();
      const first = await register(siteId, { name: 'first', certificate: rsa2048 });
      const second = await register(siteId, { name: 'second', certificate: rsa2048 });
      await t.services.licenseServers.authenticate(first.credential);

      const res = await request(t.app).get(`/admin/v1/sites/${siteId}/license-servers`).set(admin()).expect(200);
      expect(res.body.licenseServers.map((s: { name: string }) => s.name)).toEqual(['first', 'second']);
      expect(res.body.licenseServers[0]).toMatchObject({ ...first.licenseServer, lastUsedAt: expect.any(String) });
      expect(res.body.licenseServers[1]).toEqual(second.licenseServer);
      const listed = JSON.stringify(res.body);
      expect(listed).not.toContain('secretHash');
      for (const { credential } of [first, second]) {
        const secret = credential.split('.')[2] as string;
        for (const form of [...encodingsOf(secret), ...encodingsOf(createHash('sha256').update(secret).digest())]) {
          expect(listed).not.toContain(form);
        }
      }
    });

    it('revokes a license server (204) so its credential no longer authenticates, and keeps it listed', async () => {
      const siteId = await createSite();
      const kept = await register(siteId);
      const revoked = await register(siteId);
      const path = `/admin/v1/sites/${siteId}/license-servers/${revoked.licenseServer.id}`;
      await request(t.app).delete(path).set(admin()).expect(204);
      await request(t.app).delete(path).set(admin()).expect(204);

      await expect(t.services.licenseServers.authenticate(revoked.credential)).rejects.toMatchObject({
        code: 'ERR_AUTH_REQUIRED',
      });
      await expect(t.services.licenseServers.authenticate(kept.credential)).resolves.toBeDefined();
      const res = await request(t.app).get(`/admin/v1/sites/${siteId}/license-servers`).set(admin()).expect(200);
      expect(res.body.licenseServers[1]).toMatchObject({ id: revoked.licenseServer.id, revokedAt: expect.any(String) });
      expect(res.body.licenseServers[0]).not.toHaveProperty('revokedAt');
    });

    it('answers 404 for a license server of another site, an unknown one and a malformed ID', async () => {
      const a = await createSite('A');
      const b = await createSite('B');
      const { licenseServer, credential } = await register(a);
      for (const [siteId, id] of [
        [b, licenseServer.id],
        [a, 'AAAAAAAAAAAAAAAA'],
        [a, 'not-an-id'],
      ] as const) {
        const res = await request(t.app).delete(`/admin/v1/sites/${siteId}/license-servers/${id}`).set(admin()).expect(404);
        expect(res.body.error.code).toBe('ERR_NOT_FOUND');
      }
      await expect(t.services.licenseServers.authenticate(credential)).resolves.toBeDefined();
    });

    it('refuses the credential of a disabled site (ERR_FORBIDDEN) until it is active again', async () => {
      const siteId = await createSite();
      const { credential } = await register(siteId);
      await t.services.sites.updateSite(siteId, { status: 'disabled' });
      await expect(t.services.licenseServers.authenticate(credential)).rejects.toMatchObject({ code: 'ERR_FORBIDDEN' });
      await t.services.sites.updateSite(siteId, { status: 'active' });
      await expect(t.services.licenseServers.authenticate(credential)).resolves.toBeDefined();
    });

    it.each([
      ['a KMS token', 'kms1.AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB'],
      ['an unknown ID', 'lsc1.AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB'],
      ['a malformed credential', 'lsc1.short.secret'],
    ])('refuses %s as a license-server credential', async (_name, presented) => {
      await expect(t.services.licenseServers.authenticate(presented)).rejects.toMatchObject({ code: 'ERR_AUTH_REQUIRED' });
    });

    it('refuses a known ID with the wrong secret', async () => {
      const siteId = await createSite();
      const { credential } = await register(siteId);
      const tampered = credential.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
      await expect(t.services.licenseServers.authenticate(tampered)).rejects.toMatchObject({ code: 'ERR_AUTH_REQUIRED' });
    });
  });

  describe('audit trail', () => {
    const record = (siteId: string, i: number): NewAuditRecord => ({
      at: new Date(Date.UTC(2030, 0, 1, 0, 0, i)).toISOString(),
      siteId,
      action: 'issue',
      credentialId: 'AAAAAAAAAAAAAAAA',
      clientAddress: '192.0.2.1',
      dialect: 'speke-v2.1',
      contentId: `content-${i}`,
      kids: [randomUUID()],
      periodIndexes: [],
      keysCreated: 1,
      requestId: randomUUID(),
    });

    let siteId: string;
    let appended: AuditRecord[];
    beforeAll(async () => {
      siteId = await createSite('Audited');
      const other = await createSite('Other');
      appended = [];
      for (let i = 0; i < 7; i += 1) {
        appended.push(await t.services.audit.record(record(siteId, i)));
        await t.services.audit.record(record(other, i));
      }
    });

    it('pages through a site’s records newest first with the next cursor', async () => {
      const pages: AuditRecord[][] = [];
      let next: string | undefined;
      do {
        const res = await request(t.app)
          .get(`/admin/v1/sites/${siteId}/audit`)
          .query({ limit: 3, ...(next !== undefined && { before: next }) })
          .set(admin())
          .expect(200);
        pages.push(res.body.records);
        next = res.body.next;
        if (next === undefined) expect(res.body).not.toHaveProperty('next');
      } while (next !== undefined);
      expect(pages.map((page) => page.length)).toEqual([3, 3, 1]);
      expect(pages.flat()).toEqual([...appended].reverse());
    });

    it('returns up to 50 records without a limit, and an empty list for a site without records', async () => {
      const res = await request(t.app).get(`/admin/v1/sites/${siteId}/audit`).set(admin()).expect(200);
      expect(res.body).toEqual({ records: [...appended].reverse() });
      const empty = await createSite('Quiet');
      await request(t.app).get(`/admin/v1/sites/${empty}/audit`).set(admin()).expect(200, { records: [] });
    });

    it.each([
      ['limit=0', 'limit=0'],
      ['limit=501', 'limit=501'],
      ['a non-numeric limit', 'limit=ten'],
      ['a negative limit', 'limit=-1'],
      ['a repeated limit', 'limit=1&limit=2'],
      ['a cursor we did not issue', 'before=abc'],
      ['a cursor with unsafe characters', 'before=1%3B%20DROP'],
      ['an unknown parameter', 'after=1'],
    ])('refuses %s (400)', async (_name, query) => {
      const res = await request(t.app).get(`/admin/v1/sites/${siteId}/audit?${query}`).set(admin()).expect(400);
      expect(res.body.error.code).toBe('ERR_REQUEST_INVALID');
    });
  });

  it('wrote no credential, token or secret into any log line', () => {
    expect(logs.lines.length).toBeGreaterThan(20);
    expect(secrets.filter((s) => s.startsWith('lsc1.')).length).toBeGreaterThan(5);
    const text = logs.text();
    for (const secret of secrets) {
      for (const form of [...encodingsOf(secret), ...encodingsOf(secret.split('.')[2] ?? secret)]) {
        expect(text).not.toContain(form);
      }
    }
  });
});
