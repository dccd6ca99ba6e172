import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { AUDIT_PAGE_MAX_BYTES } from '../../src/audit/audit-service';
import type { AuditPage, AuditRecord, NewAuditRecord } from '../../src/audit/ports';
import { AUDIT_LISTED_KIDS, AUDIT_LISTED_PERIOD_INDEXES, auditRecordBytes } from '../../src/audit/summary';
import type { LicenseServerRecord } from '../../src/license-servers/ports';
import type { Store } from '../../src/store/store';
import { encodingsOf } from '../support/log-capture';
import { testCertificate, type buildServices } from '../support/services';
import type { StoreHarness } from './store-contract';

export interface ContractContext {
  readonly harness: StoreHarness;
  readonly store: Store;
  readonly services: ReturnType<typeof buildServices>;
}

/** The port's fields, in the order the stores write them: a record written now has exactly these, in this order. */
const AUDIT_RECORD_FIELDS = [
  'id',
  'at',
  'siteId',
  'action',
  'credentialId',
  'clientAddress',
  'dialect',
  'contentId',
  'kids',
  'kidCount',
  'kidsSha256',
  'periodIndexes',
  'periodIndexCount',
  'keysCreated',
  'requestId',
];

/** The service's page budget, which the tests below do not mean to reach unless they say so. */
const BUDGET = AUDIT_PAGE_MAX_BYTES;

/**
 * The documented digest, computed as the documentation says an operator would: the KIDs one per
 * line through `LC_ALL=C sort | sha256sum` (coreutils), not through the service's code.
 */
function shellDigest(kids: readonly string[]): string {
  const run = spawnSync('sh', ['-c', 'LC_ALL=C sort | sha256sum'], { input: kids.map((kid) => `${kid}\n`).join(''), encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`sort | sha256sum failed: ${run.stderr}`);
  return run.stdout.slice(0, 64);
}

/** Every page of a site's trail, following `next`. */
async function allPages(store: Store, siteId: string, limit: number, maxBytes: number): Promise<AuditPage[]> {
  const pages: AuditPage[] = [];
  let before: string | undefined;
  do {
    const page = await store.audit.list(siteId, { limit, maxBytes, ...(before !== undefined && { before }) });
    pages.push(page);
    before = page.next;
  } while (before !== undefined);
  return pages;
}

const pageBytes = (page: AuditPage) => page.records.reduce((sum, record) => sum + auditRecordBytes(record), 0);

function auditRecord(siteId: string, overrides: Partial<NewAuditRecord> = {}): NewAuditRecord {
  return {
    at: new Date().toISOString(),
    siteId,
    action: 'issue',
    credentialId: 'AAAAAAAAAAAAAAAA',
    clientAddress: '192.0.2.7',
    dialect: 'speke-v2.1',
    contentId: 'movie-1',
    kids: [randomUUID(), randomUUID()],
    periodIndexes: [],
    keysCreated: 1,
    requestId: randomUUID(),
    ...overrides,
  };
}

/** What a store answers for a record of this request, as `AuditRecord` describes it. */
const bounded = (record: NewAuditRecord, kids: readonly string[] = record.kids) => ({
  ...record,
  kids: record.kids.slice(0, AUDIT_LISTED_KIDS),
  kidCount: record.kids.length,
  kidsSha256: shellDigest(kids),
  periodIndexes: record.periodIndexes.slice(0, AUDIT_LISTED_PERIOD_INDEXES),
  periodIndexCount: record.periodIndexes.length,
});

/** The license-server and audit parts of the store contract (see `describeStoreContract`). */
export function describeAuditAndLicenseServerContract(context: () => ContractContext): void {
  describe('license servers', () => {
    const record = (siteId: string, name: string): LicenseServerRecord => ({
      id: randomUUID().replace(/-/g, '').slice(0, 16),
      siteId,
      name,
      certificate: Buffer.from(randomUUID()),
      secretHash: Buffer.alloc(32, 7),
      createdAt: new Date().toISOString(),
    });

    it('creates, gets and lists a site’s license servers oldest first, and only that site’s', async () => {
      const { store, services } = context();
      const { site } = await services.sites.createSite({ name: 'ls list' });
      const { site: other } = await services.sites.createSite({ name: 'ls other' });
      const first = record(site.id, 'first');
      const second = record(site.id, 'second');
      const foreign = record(other.id, 'foreign');
      for (const r of [first, foreign, second]) await store.licenseServers.create(r);

      expect(await store.licenseServers.get(first.id)).toEqual(first);
      expect(await store.licenseServers.get('nonexistent00000')).toBeUndefined();
      expect(await store.licenseServers.list(site.id)).toEqual([first, second]);
      expect(await store.licenseServers.list(other.id)).toEqual([foreign]);
      expect(await store.licenseServers.list('ZZZZ')).toEqual([]);
    });

    it('revokes idempotently (keeping the first time), only within its site, and records use', async () => {
      const { store, services } = context();
      const { site } = await services.sites.createSite({ name: 'ls revoke' });
      const { site: other } = await services.sites.createSite({ name: 'ls revoke other' });
      const server = record(site.id, 'to revoke');
      await store.licenseServers.create(server);

      expect(await store.licenseServers.revoke(other.id, server.id, '2030-01-01T00:00:00.000Z')).toBe(false);
      expect((await store.licenseServers.get(server.id))?.revokedAt).toBeUndefined();
      expect(await store.licenseServers.revoke(site.id, server.id, '2030-01-01T00:00:00.000Z')).toBe(true);
      expect(await store.licenseServers.revoke(site.id, server.id, '2031-01-01T00:00:00.000Z')).toBe(true);
      expect(await store.licenseServers.revoke(site.id, 'nonexistent00000', '2031-01-01T00:00:00.000Z')).toBe(false);

      await store.licenseServers.touch(server.id, '2030-06-01T00:00:00.000Z');
      await store.licenseServers.touch('nonexistent00000', '2030-06-01T00:00:00.000Z');
      expect(await store.licenseServers.get(server.id)).toEqual({
        ...server,
        revokedAt: '2030-01-01T00:00:00.000Z',
        lastUsedAt: '2030-06-01T00:00:00.000Z',
      });
      expect(await store.licenseServers.get('nonexistent00000')).toBeUndefined();
    });

    it('registers with a certificate, authenticates its credential, and refuses it once revoked', async () => {
      const { services } = context();
      const { site, token } = await services.sites.createSite({ name: 'ls auth' });
      const { licenseServer, credential } = await services.licenseServers.register(site.id, {
        name: 'license server',
        certificate: testCertificate('rsa2048'),
      });
      expect(credential).toMatch(new RegExp(`^lsc1\\.${licenseServer.id}\\.[A-Za-z0-9_-]{43}$`));
      await expect(services.licenseServers.authenticate(credential)).resolves.toMatchObject({
        credentialId: licenseServer.id,
        licenseServer: { id: licenseServer.id, siteId: site.id, name: 'license server' },
        site: { id: site.id },
      });
      // Neither kind of credential passes for the other.
      await expect(services.licenseServers.authenticate(token.token)).rejects.toMatchObject({ code: 'ERR_AUTH_REQUIRED' });
      await expect(services.sites.authenticate(credential)).rejects.toMatchObject({ code: 'ERR_AUTH_REQUIRED' });

      const [listed] = await services.licenseServers.list(site.id);
      expect(listed?.lastUsedAt).toBeDefined();
      expect(listed).not.toHaveProperty('secretHash');

      await services.licenseServers.revoke(site.id, licenseServer.id);
      await expect(services.licenseServers.authenticate(credential)).rejects.toMatchObject({ code: 'ERR_AUTH_REQUIRED' });
    });

    it('never stores a license-server credential secret', async () => {
      const { harness, services } = context();
      const { site } = await services.sites.createSite({ name: 'ls raw' });
      const { credential } = await services.licenseServers.register(site.id, {
        name: 'raw-check-ls',
        certificate: testCertificate('rsa2048'),
      });
      const raw = await harness.rawDump();
      expect(raw.includes(Buffer.from('raw-check-ls'))).toBe(true);
      const secret = credential.split('.')[2] as string;
      for (const form of [...encodingsOf(secret), ...encodingsOf(credential)]) {
        expect(raw.includes(Buffer.from(form))).toBe(false);
      }
    });
  });

  describe('audit trail', () => {
    it('lists a site’s records newest first, page by page, and only that site’s', async () => {
      const { store, services } = context();
      const { site } = await services.sites.createSite({ name: 'audit paging' });
      const { site: other } = await services.sites.createSite({ name: 'audit other' });
      const appended: AuditRecord[] = [];
      for (let i = 0; i < 5; i += 1) {
        appended.push(await store.audit.append(auditRecord(site.id, { contentId: `c-${i}` })));
        await store.audit.append(auditRecord(other.id, { contentId: `other-${i}` }));
      }
      const newestFirst = [...appended].reverse();

      const first = await store.audit.list(site.id, { maxBytes: BUDGET, limit: 2 });
      expect(first.records).toEqual(newestFirst.slice(0, 2));
      expect(first.next).toEqual(expect.any(String));
      const second = await store.audit.list(site.id, { maxBytes: BUDGET, limit: 2, before: first.next as string });
      expect(second.records).toEqual(newestFirst.slice(2, 4));
      const last = await store.audit.list(site.id, { maxBytes: BUDGET, limit: 2, before: second.next as string });
      expect(last).toEqual({ records: newestFirst.slice(4) });

      expect(await store.audit.list(site.id, { maxBytes: BUDGET, limit: 5 })).toEqual({ records: newestFirst });
      const others = await store.audit.list(other.id, { maxBytes: BUDGET, limit: 100 });
      expect(others.records.map((r) => r.contentId)).toEqual([4, 3, 2, 1, 0].map((i) => `other-${i}`));
      expect(await store.audit.list('ZZZZ', { maxBytes: BUDGET, limit: 10 })).toEqual({ records: [] });
    });

    it('returns exactly what was appended, whatever the identifiers hold', async () => {
      const { store, services } = context();
      const { site } = await services.sites.createSite({ name: 'audit round trip' });
      const written = auditRecord(site.id, {
        action: 'export',
        dialect: 'license-export',
        contentId: 'a:b{c}"quoted" Fußball 日本 \\ \n',
        credentialId: 'legacy-access-key',
        clientAddress: '2001:db8::1',
        kids: [],
        periodIndexes: [0, 7, 12],
        keysCreated: 0,
      });
      const appended = await store.audit.append(written);
      expect(appended).toEqual({ id: expect.any(String), ...bounded(written) });
      const { records } = await store.audit.list(site.id, { maxBytes: BUDGET, limit: 1 });
      expect(records).toEqual([appended]);
    });

    it('never stores fields beyond the port’s', async () => {
      const { harness, store, services } = context();
      const { site } = await services.sites.createSite({ name: 'audit fields' });
      const smuggled = `smuggled-${randomUUID()}`;
      const withExtras = { ...auditRecord(site.id), contentKey: smuggled, request: { body: smuggled } };
      const appended = await store.audit.append(withExtras);
      const { records } = await store.audit.list(site.id, { maxBytes: BUDGET, limit: 10 });
      for (const r of [appended, ...records]) expect(Object.keys(r)).toEqual(AUDIT_RECORD_FIELDS);
      expect((await harness.rawDump()).includes(Buffer.from(smuggled))).toBe(false);
    });

    it.each([0, 1, AUDIT_LISTED_KIDS, AUDIT_LISTED_KIDS + 1, 1000, 10_000])(
      'keeps a record of a %i-key response bounded: first KIDs, count, digest of all, and nothing more',
      async (count) => {
        const { harness, store, services } = context();
        const { site } = await services.sites.createSite({ name: `audit bound ${count}` });
        const kids = Array.from({ length: count }, () => randomUUID());
        // 13 digits: no run of digits elsewhere in the store (timestamps, other records) is one of these.
        const periodIndexes = Array.from({ length: count }, (_, i) => 4_000_000_000_000 + i);
        const written = auditRecord(site.id, { kids, periodIndexes, keysCreated: count });
        const appended = await store.audit.append(written);
        expect(appended).toEqual({ id: expect.any(String), ...bounded(written) });
        const { records } = await store.audit.list(site.id, { maxBytes: BUDGET, limit: 1 });
        expect(records).toEqual([appended]);
        // 16 KIDs, 16 period indexes and the summary: the same size whatever the request held.
        expect(auditRecordBytes(appended)).toBeLessThan(1_600);
        // Nothing beyond the listed KIDs and periods reaches the store, in any form.
        const raw = (await harness.rawDump()).toString('latin1');
        const storedKids = new Set(raw.match(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g));
        const storedNumbers = new Set(raw.match(/[0-9]+/g));
        expect(kids.filter((kid) => storedKids.has(kid))).toEqual(kids.slice(0, AUDIT_LISTED_KIDS));
        expect(periodIndexes.filter((index) => storedNumbers.has(String(index)))).toEqual(periodIndexes.slice(0, AUDIT_LISTED_PERIOD_INDEXES));
      },
    );

    it('digests the KIDs as a set: the same KIDs in any order give the same digest, others another', async () => {
      const { store, services } = context();
      const { site } = await services.sites.createSite({ name: 'audit digest' });
      const kids = Array.from({ length: 40 }, () => randomUUID());
      const digestOf = async (list: readonly string[]) => (await store.audit.append(auditRecord(site.id, { kids: list }))).kidsSha256;
      const digest = await digestOf(kids);
      expect(digest).toMatch(/^[0-9a-f]{64}$/);
      expect(await digestOf([...kids].reverse())).toBe(digest);
      expect(await digestOf([...kids.slice(20), ...kids.slice(0, 20)])).toBe(digest);
      expect(await digestOf(kids.slice(1))).not.toBe(digest);
      expect(await digestOf([...kids.slice(1), randomUUID()])).not.toBe(digest);
      // A fixed vector, so the definition cannot drift with the code that computes it.
      expect(
        await digestOf(['3f1c6f2e-2a8b-4d0e-9a51-7b2c9d4e6f10', '00000000-0000-0000-0000-000000000001', '9a0b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d']),
      ).toBe('32dea2e8bf2947a51ff9ed0464e12871a88d5459089fd6c5f8c948f159c20cc1');
      expect(await digestOf([])).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    });

    it('reads records written before the bound as they were: every KID, no summary fields', async () => {
      const { harness, store, services } = context();
      const { site } = await services.sites.createSite({ name: 'audit legacy' });
      const old = auditRecord(site.id, { kids: Array.from({ length: 2_000 }, () => randomUUID()), periodIndexes: [3, 4, 5] });
      const legacy = await harness.appendLegacyAuditRecord(old);
      expect(legacy).toEqual({ id: expect.any(String), ...old });
      const recent = await store.audit.append(auditRecord(site.id));
      const { records } = await store.audit.list(site.id, { maxBytes: BUDGET, limit: 10 });
      expect(records).toEqual([recent, legacy]);
      expect(records[1]?.kids).toHaveLength(2_000);
      expect(records[1]).not.toHaveProperty('kidCount');
    });

    it('bounds a page in bytes as well as in records; the cursor pages on through every record once', async () => {
      const { store, services } = context();
      const { site } = await services.sites.createSite({ name: 'audit page bytes' });
      const appended: AuditRecord[] = [];
      for (let i = 0; i < 12; i += 1) appended.push(await store.audit.append(auditRecord(site.id, { contentId: `bytes-${i}` })));
      const size = Math.max(...appended.map(auditRecordBytes));
      const maxBytes = Math.floor(size * 3.5);

      const pages = await allPages(store, site.id, 10, maxBytes);
      for (const page of pages) expect(pageBytes(page)).toBeLessThanOrEqual(maxBytes);
      expect(pages.map((page) => page.records.length)).toEqual([3, 3, 3, 3]);
      expect(pages.flatMap((page) => page.records)).toEqual([...appended].reverse());
      // The record limit still applies when the budget is not reached.
      expect((await allPages(store, site.id, 5, BUDGET)).map((page) => page.records.length)).toEqual([5, 5, 2]);
    });

    it('answers a record larger than the budget alone on its page, and pages on past it', async () => {
      const { harness, store, services } = context();
      const { site } = await services.sites.createSite({ name: 'audit huge record' });
      const older = await store.audit.append(auditRecord(site.id, { contentId: 'older' }));
      // A record as a 10,000-key request wrote it before the bound: about 390 KB.
      const huge = await harness.appendLegacyAuditRecord(auditRecord(site.id, { kids: Array.from({ length: 10_000 }, () => randomUUID()) }));
      const newer = [];
      for (let i = 0; i < 3; i += 1) newer.push(await store.audit.append(auditRecord(site.id, { contentId: `newer-${i}` })));
      const maxBytes = 64 * 1024;
      expect(auditRecordBytes(huge)).toBeGreaterThan(380_000);

      const pages = await allPages(store, site.id, 500, maxBytes);
      expect(pages.map((page) => page.records)).toEqual([[...newer].reverse(), [huge], [older]]);
      expect(pages.map((page) => page.next !== undefined)).toEqual([true, true, false]);
      // Starting at it: still a page of its own.
      const at = await store.audit.list(site.id, { limit: 500, maxBytes, before: newer[0]?.id as string });
      expect(at).toEqual({ records: [huge], next: huge.id });
    });

    it('numbers concurrent appends from two connections uniquely, in listing order', async () => {
      const { harness, store, services } = context();
      const { site } = await services.sites.createSite({ name: 'audit race' });
      const second = await harness.open();
      try {
        const appended = await Promise.all(
          Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? store : second).audit.append(auditRecord(site.id))),
        );
        expect(new Set(appended.map((r) => r.id)).size).toBe(20);
        const { records } = await store.audit.list(site.id, { maxBytes: BUDGET, limit: 50 });
        expect(records).toHaveLength(20);
        expect(records.map((r) => r.requestId).sort()).toEqual(appended.map((r) => r.requestId).sort());
        // Listing order is ID order: each page boundary is a strict "older than".
        const paged: AuditRecord[] = [];
        let before: string | undefined;
        do {
          const page = await second.audit.list(site.id, { maxBytes: BUDGET, limit: 3, ...(before !== undefined && { before }) });
          paged.push(...page.records);
          before = page.next;
        } while (before !== undefined);
        expect(paged).toEqual(records);
      } finally {
        await second.close();
      }
    });

    it('keeps records across a restart', async () => {
      const { harness, store, services } = context();
      const { site } = await services.sites.createSite({ name: 'audit restart' });
      const appended = await store.audit.append(auditRecord(site.id));
      const reopened = await harness.open();
      try {
        expect((await reopened.audit.list(site.id, { maxBytes: BUDGET, limit: 1 })).records).toEqual([appended]);
      } finally {
        await reopened.close();
      }
    });

    it.each(['abc', '0', '-1', '1.5', '99999999999999999', ''])('refuses the cursor %j', async (before) => {
      const { store } = context();
      await expect(store.audit.list('ZZZZ', { maxBytes: BUDGET, limit: 1, before })).rejects.toMatchObject({ code: 'ERR_REQUEST_INVALID' });
    });
  });
}
