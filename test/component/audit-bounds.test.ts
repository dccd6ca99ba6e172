/**
 * Audit records and audit pages do not grow with request size (docs/decisions.md, "Audit bounds"):
 * a 1,000-key request (MAX_KEYS_PER_REQUEST's default), also repeated, writes a record of the same
 * size as a 2-key one, and an admin page stays within its byte budget even over records written
 * before the bound, which list every KID. On the real app and SQLite file.
 */

import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import request from 'supertest';
import { AUDIT_PAGE_MAX_BYTES } from '../../src/audit/audit-service';
import type { AuditRecord } from '../../src/audit/ports';
import { AUDIT_LISTED_KIDS, auditRecordBytes } from '../../src/audit/summary';
import { createTestApp, type TestApp } from '../support/app';
import { captureLogs } from '../support/log-capture';

const NS = 'xmlns:cpix="urn:dashif:org:cpix" xmlns:pskc="urn:ietf:params:xml:ns:keyprov:pskc"';

/** A SPEKE v1 request for `kids`: only a ContentKeyList, which is all SPEKE v1 needs to issue keys. */
function spekeV1Request(contentId: string, kids: readonly string[]): string {
  const keys = kids.map((kid) => `<cpix:ContentKey kid="${kid}"/>`).join('');
  return `<?xml version="1.0" encoding="UTF-8"?><cpix:CPIX id="${contentId}" ${NS}><cpix:ContentKeyList>${keys}</cpix:ContentKeyList></cpix:CPIX>`;
}

/** The documented digest, computed the documented way (coreutils), not by the service's code. */
function shellDigest(kids: readonly string[]): string {
  const run = spawnSync('sh', ['-c', 'LC_ALL=C sort | sha256sum'], { input: kids.map((kid) => `${kid}\n`).join(''), encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`sort | sha256sum failed: ${run.stderr}`);
  return run.stdout.slice(0, 64);
}

describe('audit bounds', () => {
  const logs = captureLogs();
  let t: TestApp;
  let siteId: string;
  let token: string;
  beforeAll(async () => {
    t = createTestApp(logs.logger);
    const created = await t.services.sites.createSite({ name: 'audit bounds' });
    siteId = created.site.id;
    token = created.token.token;
  });
  afterAll(() => t.close());

  const admin = () => ({ Authorization: `Bearer ${t.adminToken}` });

  it('a 1000-key request writes a record of bounded size, with the count and digest of all its KIDs, and so does its repeat', async () => {
    const contentId = `thousand-${randomUUID()}`;
    const kids = Array.from({ length: 1000 }, () => randomUUID());
    const post = () =>
      request(t.app).post('/speke/copyProtection').set('Authorization', `Bearer ${token}`).set('Content-Type', 'application/xml').send(spekeV1Request(contentId, kids));
    expect((await post()).status).toBe(200);
    expect((await post()).status).toBe(200);

    const res = await request(t.app).get(`/admin/v1/sites/${siteId}/audit?limit=2`).set(admin()).expect(200);
    const records = (res.body as { records: AuditRecord[] }).records;
    expect(records.map((record) => [record.contentId, record.keysCreated])).toEqual([
      [contentId, 0],
      [contentId, 1000],
    ]);
    for (const record of records) {
      expect(record).toMatchObject({ kids: kids.slice(0, AUDIT_LISTED_KIDS), kidCount: 1000, kidsSha256: shellDigest(kids) });
      // The whole record, 16 KIDs included: about what a 16-key request's record was before the bound.
      expect(auditRecordBytes(record)).toBeLessThan(1_600);
    }
  });

  it('an admin page stays within its byte budget over records that list 10,000 KIDs each, and pages on through all', async () => {
    const { site } = await t.services.sites.createSite({ name: 'audit legacy pages' });
    // Five records as a 10,000-key request wrote them before the bound (about 390 KB each, 2 MB in
    // all), written into the file as that code did, between records written now.
    const db = new Database(t.storePath);
    const insert = db.prepare(
      `INSERT INTO audit_records (site_id, at, action, credential_id, client_address, dialect, content_id, kids,
         period_indexes, keys_created, request_id)
       VALUES (?, ?, 'issue', 'AAAAAAAAAAAAAAAA', '192.0.2.1', 'speke-v1', ?, ?, '[]', 0, ?)`,
    );
    const written: string[] = [];
    try {
      for (let i = 0; i < 5; i += 1) {
        const appended = await t.services.audit.record({
          at: new Date().toISOString(),
          siteId: site.id,
          action: 'issue',
          credentialId: 'AAAAAAAAAAAAAAAA',
          clientAddress: '192.0.2.1',
          dialect: 'speke-v1',
          contentId: `new-${i}`,
          kids: [randomUUID()],
          periodIndexes: [],
          keysCreated: 1,
          requestId: randomUUID(),
        });
        written.push(appended.id);
        const kids = JSON.stringify(Array.from({ length: 10_000 }, () => randomUUID()));
        written.push(String(insert.run(site.id, new Date().toISOString(), `legacy-${i}`, kids, randomUUID()).lastInsertRowid));
      }
    } finally {
      db.close();
    }

    const pages: { bytes: number; ids: string[] }[] = [];
    let before: string | undefined;
    do {
      const res = await request(t.app)
        .get(`/admin/v1/sites/${site.id}/audit`)
        .query({ limit: '500', ...(before !== undefined && { before }) })
        .set(admin())
        .expect(200);
      const body = res.body as { records: AuditRecord[]; next?: string };
      pages.push({ bytes: Buffer.byteLength(res.text), ids: body.records.map((record) => record.id) });
      before = body.next;
    } while (before !== undefined);

    // Every page within the budget (plus the envelope and commas), yet every record read, newest first, once.
    for (const page of pages) expect(page.bytes).toBeLessThan(AUDIT_PAGE_MAX_BYTES + 1024);
    expect(pages.flatMap((page) => page.ids)).toEqual([...written].reverse());
    expect(pages.length).toBeGreaterThan(1);
  });
});
