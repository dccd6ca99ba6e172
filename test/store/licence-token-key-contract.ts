import { Conflict } from '../../src/errors';
import type { LicenceTokenKeyRecord } from '../../src/licence/ports';
import type { ContractContext } from './audit-license-server-contract';

/** The licence-token-key part of the store contract (docs/clearkey.md; see `describeStoreContract`). */
export function describeLicenceTokenKeyContract(context: () => ContractContext): void {
  describe('licence-token keys', () => {
    let counter = 0;
    const kid = () => `kid${String((counter += 1)).padStart(4, '0')}${Math.random().toString(36).slice(2, 11).padEnd(9, '0')}`;
    const hs256 = (siteId: string, createdAt: string): LicenceTokenKeyRecord => ({
      siteId,
      kid: kid(),
      alg: 'HS256',
      secret: { siteKeyVersion: 1, sealed: Buffer.from('sealed secret bytes') },
      createdAt,
    });
    const es256 = (siteId: string, createdAt: string): LicenceTokenKeyRecord => ({
      siteId,
      kid: kid(),
      alg: 'ES256',
      publicJwk: '{"kty":"EC","crv":"P-256","x":"x","y":"y"}',
      createdAt,
    });

    it('stores and reads records of every kind exactly, per site', async () => {
      const { store, services } = context();
      const { site } = await services.sites.createSite({ name: 'licence keys' });
      const a = hs256(site.id, '2026-12-07T10:00:00.000Z');
      const b = es256(site.id, '2026-12-07T10:00:01.000Z');
      await store.licenceTokenKeys.create(b);
      await store.licenceTokenKeys.create(a);
      expect(await store.licenceTokenKeys.get(site.id, a.kid)).toEqual(a);
      expect(await store.licenceTokenKeys.get(site.id, b.kid)).toEqual(b);
      expect(await store.licenceTokenKeys.list(site.id)).toEqual([a, b]);
      const { site: other } = await services.sites.createSite({ name: 'licence keys, other' });
      expect(await store.licenceTokenKeys.get(other.id, a.kid)).toBeUndefined();
      expect(await store.licenceTokenKeys.list(other.id)).toEqual([]);
    });

    it('refuses a second key with a kid the site has; another site may have it', async () => {
      const { store, services } = context();
      const { site } = await services.sites.createSite({ name: 'licence keys, conflict' });
      const { site: other } = await services.sites.createSite({ name: 'licence keys, conflict 2' });
      const first = hs256(site.id, new Date().toISOString());
      await store.licenceTokenKeys.create(first);
      await expect(store.licenceTokenKeys.create({ ...es256(site.id, new Date().toISOString()), kid: first.kid })).rejects.toBeInstanceOf(Conflict);
      expect(await store.licenceTokenKeys.get(site.id, first.kid)).toEqual(first);
      await store.licenceTokenKeys.create({ ...first, siteId: other.id });
      expect(await store.licenceTokenKeys.get(other.id, first.kid)).toEqual({ ...first, siteId: other.id });
    });

    it('revokes idempotently, keeping the first time, only within the site', async () => {
      const { store, services } = context();
      const { site } = await services.sites.createSite({ name: 'licence keys, revoke' });
      const { site: other } = await services.sites.createSite({ name: 'licence keys, revoke 2' });
      const record = es256(site.id, new Date().toISOString());
      await store.licenceTokenKeys.create(record);
      expect(await store.licenceTokenKeys.revoke(other.id, record.kid, '2026-12-07T11:00:00.000Z')).toBe(false);
      expect(await store.licenceTokenKeys.revoke(site.id, 'AAAAAAAAAAAAAAAA', '2026-12-07T11:00:00.000Z')).toBe(false);
      expect(await store.licenceTokenKeys.revoke(site.id, record.kid, '2026-12-07T11:00:00.000Z')).toBe(true);
      expect(await store.licenceTokenKeys.revoke(site.id, record.kid, '2026-12-07T12:00:00.000Z')).toBe(true);
      expect(await store.licenceTokenKeys.get(site.id, record.kid)).toEqual({ ...record, revokedAt: '2026-12-07T11:00:00.000Z' });
      expect(await store.licenceTokenKeys.list(site.id)).toEqual([{ ...record, revokedAt: '2026-12-07T11:00:00.000Z' }]);
      expect(await store.licenceTokenKeys.list(other.id)).toEqual([]);
    });

    it('holds an HS256 secret only sealed; it verifies after a site-key rotation and after a restart', async () => {
      const { harness, store, services } = context();
      const { site } = await services.sites.createSite({ name: 'licence keys, sealed' });
      const created = await services.licenceTokenKeys.create(site.id, { alg: 'HS256' });
      const secret = Buffer.from(created.secret ?? '', 'base64url');
      expect(secret).toHaveLength(32);
      const dump = await harness.rawDump();
      for (const form of [secret, Buffer.from(secret.toString('hex')), Buffer.from(secret.toString('base64')), Buffer.from(created.secret ?? '')]) {
        expect(dump.includes(form)).toBe(false);
      }
      await services.contentKeys.rotateSiteKey(site.id);
      expect(await services.licenceTokenKeys.verificationKey(site.id, created.kid)).toEqual({ alg: 'HS256', key: secret });
      const reopened = await harness.open();
      try {
        expect((await reopened.licenceTokenKeys.list(site.id)).map((key) => key.kid)).toEqual([created.kid]);
      } finally {
        await reopened.close();
      }
      // A sealed blob moved to another key does not open.
      const { site: other } = await services.sites.createSite({ name: 'licence keys, moved' });
      const stored = await store.licenceTokenKeys.get(site.id, created.kid);
      if (stored === undefined) throw new Error('stored key missing');
      await store.licenceTokenKeys.create({ ...stored, siteId: other.id });
      await expect(services.licenceTokenKeys.verificationKey(other.id, created.kid)).rejects.toMatchObject({ code: 'ERR_KEY_UNWRAP_FAILED' });
    });
  });
}
