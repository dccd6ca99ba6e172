import { randomUUID } from 'node:crypto';
import type { AuditRecord, NewAuditRecord } from '../../src/audit/ports';
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

/** The port's fields, in the port's order: a stored record must have exactly these. */
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
  'periodIndexes',
  'keysCreated',
  'requestId',
].sort();

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

const withoutId = ({ id: _id, ...record }: AuditRecord): NewAuditRecord => record;

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

      const first = await store.audit.list(site.id, { limit: 2 });
      expect(first.records).toEqual(newestFirst.slice(0, 2));
      expect(first.next).toEqual(expect.any(String));
      const second = await store.audit.list(site.id, { limit: 2, before: first.next as string });
      expect(second.records).toEqual(newestFirst.slice(2, 4));
      const last = await store.audit.list(site.id, { limit: 2, before: second.next as string });
      expect(last).toEqual({ records: newestFirst.slice(4) });

      expect(await store.audit.list(site.id, { limit: 5 })).toEqual({ records: newestFirst });
      const others = await store.audit.list(other.id, { limit: 100 });
      expect(others.records.map((r) => r.contentId)).toEqual([4, 3, 2, 1, 0].map((i) => `other-${i}`));
      expect(await store.audit.list('ZZZZ', { limit: 10 })).toEqual({ records: [] });
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
      expect(withoutId(appended)).toEqual(written);
      const { records } = await store.audit.list(site.id, { limit: 1 });
      expect(records).toEqual([appended]);
    });

    it('never stores fields beyond the port’s', async () => {
      const { harness, store, services } = context();
      const { site } = await services.sites.createSite({ name: 'audit fields' });
      const smuggled = `smuggled-${randomUUID()}`;
      const withExtras = { ...auditRecord(site.id), contentKey: smuggled, request: { body: smuggled } };
      const appended = await store.audit.append(withExtras);
      const { records } = await store.audit.list(site.id, { limit: 10 });
      for (const r of [appended, ...records]) expect(Object.keys(r).sort()).toEqual(AUDIT_RECORD_FIELDS);
      expect((await harness.rawDump()).includes(Buffer.from(smuggled))).toBe(false);
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
        const { records } = await store.audit.list(site.id, { limit: 50 });
        expect(records).toHaveLength(20);
        expect(records.map((r) => r.requestId).sort()).toEqual(appended.map((r) => r.requestId).sort());
        // Listing order is ID order: each page boundary is a strict "older than".
        const paged: AuditRecord[] = [];
        let before: string | undefined;
        do {
          const page = await second.audit.list(site.id, { limit: 3, ...(before !== undefined && { before }) });
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
        expect((await reopened.audit.list(site.id, { limit: 1 })).records).toEqual([appended]);
      } finally {
        await reopened.close();
      }
    });

    it.each(['abc', '0', '-1', '1.5', '99999999999999999', ''])('refuses the cursor %j', async (before) => {
      const { store } = context();
      await expect(store.audit.list('ZZZZ', { limit: 1, before })).rejects.toMatchObject({ code: 'ERR_REQUEST_INVALID' });
    });
  });
}
