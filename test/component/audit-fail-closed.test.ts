import { readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import request from 'supertest';
import { createTestApp, type TestApp } from '../support/app';
import { captureLogs, encodingsOf } from '../support/log-capture';
import { buildDoveRunnerRequest } from '../support/doverunner-clients';
import { testCertificate } from '../support/services';
import { describeWithVectors, vectorPath } from '../support/shared-vectors';
import { freshContentId, readAwslabs, withContentId } from '../support/speke-http';

/**
 * Fail closed (Vault's rule): when the audit record cannot be written, no key leaves the service, on
 * every route that hands keys out. The failure is the real store's: a trigger makes SQLite refuse
 * every audit insert, as a full disk or a broken table would. A key request writes its keys and its
 * audit record in one transaction, so the refused attempt created no key; once the audit table works
 * again the same requests are answered (an export with the keys that existed all along).
 */
const LIVE_V2 = 'generated/live/test_case_2_p_v_3_a_2/7_widevine_playready_fairplay.xml';
const V1_LIVE = (): string => readFileSync(vectorPath('speke', 'aws-speke-v1-docs', 'live_request_clear.xml'), 'utf8');

interface Route {
  readonly name: string;
  /** Sends the request for `contentId` with `token` (KMS token, or the license server's credential). */
  readonly send: (t: TestApp, credentials: Credentials, contentId: string) => request.Test;
  /** Whether the route creates keys (the export only reads existing ones). */
  readonly creates: boolean;
}

interface Credentials {
  readonly siteId: string;
  readonly token: string;
  readonly licenseServer: string;
}

const xml = (test: request.Test) => test.set('Content-Type', 'application/xml').buffer(true).parse((res, done) => {
  const chunks: Buffer[] = [];
  res.on('data', (chunk: Buffer) => chunks.push(chunk));
  res.on('end', () => done(null, Buffer.concat(chunks).toString('utf8')));
});

const ROUTES: readonly Route[] = [
  {
    name: 'SPEKE v2 (Bearer)',
    creates: true,
    send: (t, c, contentId) =>
      xml(request(t.app).post('/speke/v2.0/copyProtection')).set('Authorization', `Bearer ${c.token}`).set('X-Speke-Version', '2.0')
        .send(withContentId(readAwslabs(LIVE_V2), contentId)),
  },
  {
    name: 'SPEKE v1',
    creates: true,
    send: (t, c, contentId) =>
      xml(request(t.app).post('/speke/copyProtection')).set('X-KMS-Token', c.token).send(withContentId(V1_LIVE(), contentId, 'id')),
  },
  {
    name: 'PallyCon SPEKE (/cpix/getKey?enc-token=)',
    creates: true,
    send: (t, c, contentId) =>
      xml(request(t.app).post('/cpix/getKey')).query({ 'enc-token': c.token }).set('X-Speke-Version', '2.0')
        .send(withContentId(readAwslabs(LIVE_V2), contentId)),
  },
  {
    name: 'PallyCon CPIX API v1',
    creates: true,
    send: (t, c, contentId) => xml(request(t.app).post(`/v1/cpix/pallycon/getKey/${c.token}`)).send(buildDoveRunnerRequest(contentId, ['HD']).xml),
  },
  {
    name: 'PallyCon CPIX API v2',
    creates: true,
    send: (t, c, contentId) =>
      xml(request(t.app).post(`/v2/cpix/pallycon/getKey/${c.token}`)).send(buildDoveRunnerRequest(contentId, ['SD', 'HD', 'AUDIO']).xml),
  },
  {
    name: 'DoveRunner CPIX API v2 with key rotation',
    creates: true,
    send: (t, c, contentId) =>
      xml(request(t.app).post(`/v2/cpix/doverunner/getKey/${c.token}`)).query({ 'key-rotation': 'true' })
        .send(buildDoveRunnerRequest(contentId, ['SD', 'HD'], { periodIndex: 3 }).xml),
  },
  {
    name: 'license export',
    creates: false,
    send: (t, c, contentId) =>
      xml(request(t.app).get(`/license/v1/sites/${c.siteId}/contents/${encodeURIComponent(contentId)}`)).set('Authorization', `Bearer ${c.licenseServer}`),
  },
];

describeWithVectors('audit fails closed on every key route', () => {
  const logs = captureLogs();
  let t: TestApp;
  let raw: Database.Database;
  let credentials: Credentials;
  /** A content whose keys exist before the audit breaks, for the export (which creates none). */
  let exportedContent: string;

  const breakAudit = () => raw.exec(`CREATE TRIGGER audit_broken BEFORE INSERT ON audit_records BEGIN SELECT RAISE(ABORT, 'audit disk full'); END`);
  const repairAudit = () => raw.exec('DROP TRIGGER IF EXISTS audit_broken');
  const auditCount = () => (raw.prepare('SELECT COUNT(*) AS n FROM audit_records').get() as { n: number }).n;

  beforeAll(async () => {
    t = createTestApp(logs.logger);
    const created = await t.services.sites.createSite({ name: 'audited' });
    const { credential } = await t.services.licenseServers.register(created.site.id, { name: 'license', certificate: testCertificate('rsa2048') });
    credentials = { siteId: created.site.id, token: created.token.token, licenseServer: credential };
    exportedContent = freshContentId('exported');
    const pallycon = ROUTES.find((route) => route.name === 'PallyCon CPIX API v2');
    expect((await pallycon?.send(t, credentials, exportedContent))?.status).toBe(200);
    raw = new Database(t.storePath);
  });
  afterAll(async () => {
    raw.close();
    await t.close();
  });
  afterEach(repairAudit);

  it.each(ROUTES)('$name: 503 with Retry-After and no key while audit writes fail, the same keys once they work', async (route) => {
    const contentId = route.creates ? freshContentId('fail-closed') : exportedContent;
    const auditsBefore = auditCount();
    breakAudit();
    const refused = await route.send(t, credentials, contentId);
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toMatch(/^[1-9]\d*$/);
    const body = String(refused.body);
    expect(body).not.toMatch(/CPIX|PlainValue|EncryptedValue|<\?xml|<cpix:/);
    expect(auditCount()).toBe(auditsBefore);

    // A key request stores its keys and its audit record in one step: none of its keys was created.
    // The export's keys existed before; none of them is in the answer.
    const stored = await t.services.contentKeys.listMatching(credentials.siteId, contentId, () => true, 1000);
    expect(stored.length > 0).toBe(!route.creates);
    for (const key of stored) for (const form of encodingsOf(key.key)) expect(body).not.toContain(form);

    repairAudit();
    const answered = await route.send(t, credentials, contentId);
    expect(answered.status).toBe(200);
    expect(auditCount()).toBe(auditsBefore + 1);
    const after = await t.services.contentKeys.listMatching(credentials.siteId, contentId, () => true, 1000);
    if (route.creates) expect(after.length).toBeGreaterThan(0);
    else expect(after.map((key) => key.kid).sort()).toEqual(stored.map((key) => key.kid).sort());
    if (route.name !== 'license export') {
      for (const key of after) expect(String(answered.body)).toContain(key.key.toString('base64'));
    }
  });
});
