import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import request from 'supertest';
import { auditKidsDigest } from '../../src/audit/summary';
import { decryptDocumentKeys } from '../support/cpix-decrypt';
import type { CpixDocument } from '../../src/cpix/model';
import { parseCpixDocument } from '../../src/cpix/parse';
import { createTestApp, type TestApp } from '../support/app';
import { captureLogs, encodingsOf } from '../support/log-capture';
import {
  readCpix,
  signatureCount,
  type CpixView,
} from '../support/pallycon-cpix';
import { buildDoveRunnerRequest } from '../support/doverunner-clients';
import { TEST_EXPORT_VALIDITY_MS, testExportSigningIdentity, testSigningIdentity } from '../support/services';
import { describeWithVectors, vectorPath } from '../support/shared-vectors';
import { describeWithXmlsec, xmlsecVerify } from '../support/xmlsec';
import { describeWithXmllint, validateAgainstCpixXsd } from '../support/xsd';

/**
 * License-server key export (`GET /license/v1/sites/:siteId/contents/:contentId`) over HTTP on the
 * real app: keys issued through SPEKE v2 and the PallyCon API come back, encrypted to the license
 * server's registered certificate (a DASH-IF test certificate, RSA-4096, whose private key is
 * published with the vectors) and signed by the service.
 */

/**
 * DASH-IF Cert1/Cert2: RSA-4096, sha512WithRSA (as Dash-Industry-Forum/cpix-test-vectors publish them);
 * WeakCert_SmallKey would be the 2048-bit one.
 */
const dashIf = (name: 'Cert1' | 'Cert2') => ({
  certificatePem: readFileSync(vectorPath('dashif-cpix-test-vectors', 'pem', `${name}.cert.pem`), 'utf8'),
  keyPem: readFileSync(vectorPath('dashif-cpix-test-vectors', 'pem', `${name}.key.pem`), 'utf8'),
});

/** A SPEKE v2.0 suite request (5 cbcs keys, Widevine + PlayReady + FairPlay, period 0), read in place. */
const SPEKE_REQUEST = ['speke', 'awslabs-speke-reference-server', 'generated', 'live', 'test_case_2_p_v_3_a_2', '7_widevine_playready_fairplay.xml'];

interface Issued {
  readonly kid: string;
  readonly key: string;
  readonly iv?: string;
  readonly scheme?: string;
  readonly trackType?: string;
  readonly periodIndex?: number;
}

/** What the packager got, per KID, from a plain-key response. */
function issuedKeys(view: CpixView): Issued[] {
  return view.contentKeys.map((key) => {
    const rule = view.usageRules.find((candidate) => candidate.kid.toLowerCase() === key.kid.toLowerCase());
    const periodId = /KeyPeriodFilter periodId="([^"]+)"/.exec(rule?.filters.join('\n') ?? '')?.[1];
    const periodIndex = view.periods.find((period) => period.id === periodId)?.index;
    return {
      kid: key.kid.toLowerCase(),
      key: key.key?.toString('base64') ?? '',
      ...(key.explicitIV !== undefined && { iv: key.explicitIV.toString('base64') }),
      ...(key.commonEncryptionScheme !== undefined && { scheme: key.commonEncryptionScheme }),
      ...(rule?.intendedTrackType !== undefined && { trackType: rule.intendedTrackType }),
      ...(periodIndex !== undefined && { periodIndex }),
    };
  });
}

/** The export's keys after decryption with the license server's private key, in the same shape. */
function exportedKeys(doc: CpixDocument): Issued[] {
  const rules = doc.contentKeyUsageRuleList?.items ?? [];
  const periods = doc.contentKeyPeriodList?.items ?? [];
  return (doc.contentKeyList?.items ?? []).map((key) => {
    const rule = rules.find((candidate) => candidate.kid === key.kid);
    const periodIndex = periods.find((period) => period.id === rule?.keyPeriodFilters[0]?.periodId)?.index;
    return {
      kid: key.kid,
      key: key.data?.kind === 'plain' ? key.data.value.toString('base64') : `(${key.data?.kind ?? 'no data'})`,
      ...(key.explicitIV !== undefined && { iv: key.explicitIV.toString('base64') }),
      ...(key.commonEncryptionScheme !== undefined && { scheme: key.commonEncryptionScheme }),
      ...(rule?.intendedTrackType !== undefined && { trackType: rule.intendedTrackType }),
      ...(periodIndex !== undefined && { periodIndex }),
    };
  });
}

const byKid = (keys: readonly Issued[]) => [...keys].sort((a, b) => a.kid.localeCompare(b.kid));

describeWithVectors('license-server key export', () => {
  const logs = captureLogs();
  let t: TestApp;
  const secrets: string[] = [];
  const cert1 = dashIf('Cert1');
  const cert2 = dashIf('Cert2');
  const recipient = () => [{ certificate: new X509Certificate(cert1.certificatePem), privateKey: createPrivateKey(cert1.keyPem) }];

  let siteId: string;
  let kmsToken: string;
  let credential: string;
  let licenseServerId: string;
  const spekeContent = `speke-live-${Date.now()}`;
  const liveContent = `pallycon-live-${Date.now()}`;
  let spekeIssued: Issued[];
  let liveIssued: Issued[];

  async function createSite(name: string) {
    const created = await t.services.sites.createSite({ name });
    secrets.push(created.token.token, created.accessKey);
    return { siteId: created.site.id, token: created.token.token };
  }

  async function registerLicenseServer(site: string, certificate: string) {
    const res = await request(t.app)
      .post(`/admin/v1/sites/${site}/license-servers`)
      .set('Authorization', `Bearer ${t.adminToken}`)
      .send({ name: 'license server', certificate })
      .expect(201);
    secrets.push(res.body.credential);
    return { id: res.body.licenseServer.id as string, credential: res.body.credential as string };
  }

  function exportKeys(site: string, contentId: string, bearer: string | undefined, query: Record<string, string> | string = {}) {
    const req = request(t.app).get(`/license/v1/sites/${site}/contents/${encodeURIComponent(contentId)}`).query(query);
    return bearer === undefined ? req : req.set('Authorization', `Bearer ${bearer}`);
  }

  async function exportOk(contentId: string, query: Record<string, string> = {}) {
    const res = await exportKeys(siteId, contentId, credential, query);
    expect({ status: res.status, type: res.headers['content-type'] }).toEqual({ status: 200, type: 'application/xml' });
    const xml = res.text;
    return { xml, keys: exportedKeys(decryptDocumentKeys(parseCpixDocument(xml), recipient())) };
  }

  beforeAll(async () => {
    t = createTestApp(logs.logger);
    ({ siteId, token: kmsToken } = await createSite('exporting site'));

    // SPEKE v2.0 (MediaPackage): the suite request with a fresh content ID.
    const spekeBody = readFileSync(vectorPath(...SPEKE_REQUEST), 'utf8').replace(/contentId="[^"]*"/, `contentId="${spekeContent}"`);
    const speke = await request(t.app)
      .post('/speke/copyProtection')
      .set('X-Speke-Version', '2.0')
      .set('X-KMS-Token', kmsToken)
      .set('Content-Type', 'application/xml')
      .send(spekeBody);
    expect(speke.status).toBe(200);
    spekeIssued = issuedKeys(readCpix(speke.text));

    // PallyCon API with rotation: SD and HD for periods 5 and 6.
    liveIssued = [];
    for (const periodIndex of [5, 6]) {
      const res = await request(t.app)
        .post(`/v2/cpix/pallycon/getKey/${kmsToken}?key-rotation=true`)
        .set('Content-Type', 'application/xml')
        .send(buildDoveRunnerRequest(liveContent, ['SD', 'HD'], { periodIndex }).xml);
      expect(res.status).toBe(200);
      liveIssued.push(...issuedKeys(readCpix(res.text)));
    }

    ({ id: licenseServerId, credential } = await registerLicenseServer(siteId, cert1.certificatePem));
  });
  afterAll(() => t.close());

  it('issued what the export is compared with: 5 SPEKE keys and 4 rotated PallyCon keys, with IVs', () => {
    expect(spekeIssued).toHaveLength(5);
    expect(liveIssued).toHaveLength(4);
    expect(new Set([...spekeIssued, ...liveIssued].map((key) => key.kid)).size).toBe(9);
    // Every key was issued with an explicitIV: the PallyCon API always returns one, and the SPEKE request's
    // FairPlay systems need one; the SPEKE keys are cbcs, period 0, with the suite's track types.
    for (const key of [...spekeIssued, ...liveIssued]) expect(key.iv !== undefined && Buffer.from(key.iv, 'base64').length).toBe(16);
    expect(spekeIssued.map(({ scheme, trackType, periodIndex }) => ({ scheme, trackType, periodIndex }))).toEqual(
      ['SD', 'HD', 'UHD', 'STEREO_AUDIO', 'MULTICHANNEL_AUDIO'].map((trackType) => ({ scheme: 'cbcs', trackType, periodIndex: 0 })),
    );
  });

  describe('a full export', () => {
    it.each([
      ['SPEKE v2.0', () => spekeContent, () => spekeIssued],
      ['PallyCon rotation', () => liveContent, () => liveIssued],
    ])('%s: decrypts with the license server key to exactly the keys, IVs, schemes, tracks and periods issued', async (_name, content, issued) => {
      const { xml, keys } = await exportOk(content());
      expect(byKid(keys)).toEqual(byKid(issued()));
      expect(xml).not.toContain('PlainValue');
      for (const key of issued()) expect(xml).not.toContain(key.key);
    });

    it('is a signed CPIX 2.3 document for this content with one DeliveryData for the registered certificate', async () => {
      const { xml } = await exportOk(spekeContent);
      const view = readCpix(xml);
      expect(view.contentId).toBe(spekeContent);
      expect(signatureCount(view)).toBe(1);
      const doc = parseCpixDocument(xml);
      expect(doc.version).toBe('2.3');
      expect(doc.deliveryDataList?.items.map((item) => item.certificates.map((der) => der.toString('base64')))).toEqual([
        [new X509Certificate(cert1.certificatePem).raw.toString('base64')],
      ]);
    });

    it('cannot be decrypted with another DASH-IF private key (negative control)', async () => {
      const { xml } = await exportOk(spekeContent);
      const other = [{ certificate: new X509Certificate(cert2.certificatePem), privateKey: createPrivateKey(cert2.keyPem) }];
      expect(() => decryptDocumentKeys(parseCpixDocument(xml), other)).toThrow(expect.objectContaining({ code: 'ERR_CPIX_DECRYPTION_FAILED' }));
    });

    describeWithXmllint('XSD', () => {
      it.each([['SPEKE content', () => spekeContent], ['rotated content', () => liveContent]])(
        'validates against the CPIX 2.3 XSD (%s)',
        async (_name, content) => {
          const { xml } = await exportOk(content());
          expect(validateAgainstCpixXsd(xml, '2.3')).toMatchObject({ valid: true });
        },
      );
    });

    it('names, in every usage rule, the site, the license server, when it was made and until when it may be accepted', async () => {
      const before = Date.now();
      const { xml } = await exportOk(liveContent);
      const doc = parseCpixDocument(xml);
      const rules = doc.contentKeyUsageRuleList?.items ?? [];
      expect(rules.map((rule) => rule.kid).sort()).toEqual(liveIssued.map((key) => key.kid).sort());
      for (const rule of rules) {
        const [grant, ...others] = rule.extensions ?? [];
        expect(others).toEqual([]);
        const attributes = Object.fromEntries((grant?.attributes ?? []).map((a) => [a.name, a.value]));
        expect({ namespace: grant?.namespace, name: grant?.localName, siteId: attributes.siteId, licenseServerId: attributes.licenseServerId }).toEqual({
          namespace: 'urn:cpix-kms:license-export:1',
          name: 'ExportGrant',
          siteId,
          licenseServerId,
        });
        const issuedAt = Date.parse(attributes.issuedAt ?? '');
        expect(issuedAt).toBeGreaterThanOrEqual(before - 1000);
        expect(issuedAt).toBeLessThanOrEqual(Date.now());
        expect(Date.parse(attributes.expiresAt ?? '') - issuedAt).toBe(TEST_EXPORT_VALIDITY_MS);
      }
    });

    describeWithXmlsec('signature', () => {
      const pinned = () => ({ pinnedCertPem: testExportSigningIdentity().certificatePem });

      it('verifies with xmlsec1 against the pinned export certificate, and not against the key-exchange one', async () => {
        const { xml } = await exportOk(liveContent);
        expect(xmlsecVerify(xml, 1, pinned())).toMatchObject({ ok: true });
        expect(xmlsecVerify(xml, 1, { pinnedCertPem: testSigningIdentity().certificatePem }).ok).toBe(false);
      });

      it("cannot be forged by a tenant: site A's signed answer, shaped like site B's export, verifies only with the key-exchange certificate and carries no grant", async () => {
        // Site A asks the PallyCon API, in CPIX 2.3, for a content of site B, encrypted to B's license server.
        const attacker = await createSite('attacker');
        const forged = buildDoveRunnerRequest(liveContent, ['SD'])
          .xml.replace('<cpix:CPIX id=', `<cpix:CPIX version="2.3" contentId="${liveContent}" id=`)
          .replace(
            '<cpix:ContentKeyList>',
            `<cpix:DeliveryDataList><cpix:DeliveryData><cpix:DeliveryKey><ds:X509Data xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Certificate>${new X509Certificate(cert1.certificatePem).raw.toString('base64')}</ds:X509Certificate></ds:X509Data></cpix:DeliveryKey></cpix:DeliveryData></cpix:DeliveryDataList><cpix:ContentKeyList>`,
          );
        const res = await request(t.app).post(`/v2/cpix/pallycon/getKey/${attacker.token}`).set('Content-Type', 'application/xml').send(forged);
        expect(res.status).toBe(200);
        expect(xmlsecVerify(res.text, 1, { pinnedCertPem: testSigningIdentity().certificatePem })).toMatchObject({ ok: true });
        expect(xmlsecVerify(res.text, 1, pinned()).ok).toBe(false);
        expect(res.text).not.toContain('urn:cpix-kms:license-export:1');
      });

      it('fails xmlsec1 verification after one CipherValue character is changed (negative control)', async () => {
        const { xml } = await exportOk(liveContent);
        const tampered = xml.replace(/(<[a-z]+:CipherValue>[A-Za-z0-9+/]{10})(.)/, (_m, head: string, c: string) => `${head}${c === 'A' ? 'B' : 'A'}`);
        expect(tampered).not.toBe(xml);
        expect(xmlsecVerify(tampered, 1, pinned()).ok).toBe(false);
      });

      it('fails xmlsec1 verification against another certificate (negative control)', async () => {
        const { xml } = await exportOk(liveContent);
        expect(xmlsecVerify(xml, 1, { pinnedCertPem: cert1.certificatePem }).ok).toBe(false);
      });
    });

    it.each([
      ['a DRMSystem extension', (xml: string) => xml.replace(/<cpix:DRMSystem ([^>]*)\/>/, '<cpix:DRMSystem $1><kms:ExportGrant xmlns:kms="urn:cpix-kms:license-export:1" siteId="X"/></cpix:DRMSystem>')],
      ['a usage rule', (xml: string) => xml.replace(/<cpix:ContentKeyUsageRule ([^>]*)\/>/, '<cpix:ContentKeyUsageRule $1><kms:ExportGrant xmlns:kms="urn:cpix-kms:license-export:1" siteId="X"/></cpix:ContentKeyUsageRule>')],
    ])('refuses a key request carrying the export grant in %s (400), so no key-exchange answer ever holds one', async (_where, edit) => {
      const body = edit(buildDoveRunnerRequest(`grant-smuggling-${_where.length}`, ['HD']).xml);
      expect(body).toContain('kms:ExportGrant');
      const res = await request(t.app).post(`/v2/cpix/pallycon/getKey/${kmsToken}`).set('Content-Type', 'application/xml').send(body);
      expect({ status: res.status, code: res.body.error.code }).toEqual({ status: 400, code: 'ERR_CPIX_INVALID' });
    });
  });

  describe('filters', () => {
    const kidsOf = (keys: readonly Issued[]) => keys.map((key) => key.kid).sort();
    it.each([
      ['kid', () => liveContent, () => ({ kid: liveIssued[2]?.kid ?? '' }), (key: Issued) => key.kid === liveIssued[2]?.kid],
      ['kid in upper case', () => liveContent, () => ({ kid: (liveIssued[1]?.kid ?? '').toUpperCase() }), (key: Issued) => key.kid === liveIssued[1]?.kid],
      ['trackType', () => liveContent, () => ({ trackType: 'HD' }), (key: Issued) => key.trackType === 'HD'],
      ['period', () => liveContent, () => ({ period: '6' }), (key: Issued) => key.periodIndex === 6],
      ['trackType and period', () => liveContent, () => ({ trackType: 'SD', period: '5' }), (key: Issued) => key.trackType === 'SD' && key.periodIndex === 5],
      ['SPEKE trackType', () => spekeContent, () => ({ trackType: 'STEREO_AUDIO' }), (key: Issued) => key.trackType === 'STEREO_AUDIO'],
      ['SPEKE period 0', () => spekeContent, () => ({ period: '0' }), (key: Issued) => key.periodIndex === 0],
    ])('narrows by %s to exactly the matching keys', async (_name, content, query, matches) => {
      const all = content() === liveContent ? liveIssued : spekeIssued;
      const expected = all.filter(matches);
      expect(expected.length).toBeGreaterThan(0);
      const { keys } = await exportOk(content(), query());
      expect(kidsOf(keys)).toEqual(kidsOf(expected));
    });

    it('reads one key for a KID, never the content page by page', async () => {
      const pages = jest.spyOn(t.store.contentKeys, 'pageByContent');
      try {
        const { keys } = await exportOk(liveContent, { kid: liveIssued[3]?.kid ?? '' });
        expect(kidsOf(keys)).toEqual([liveIssued[3]?.kid]);
        expect(pages).not.toHaveBeenCalled();
      } finally {
        pages.mockRestore();
      }
    });

    it.each([
      ['a track type that has no key', { trackType: 'UHD2' }],
      ['a period that has no key', { period: '7' }],
      ['a KID of another content', { kid: '00000000-0000-4000-8000-000000000000' }],
    ])('answers 404 for %s', async (_name, query) => {
      const res = await exportKeys(siteId, liveContent, credential, query);
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('ERR_NOT_FOUND');
    });

    it.each([
      ['a kid that is not a UUID', 'kid=not-a-uuid'],
      ['a repeated kid', `kid=00000000-0000-4000-8000-000000000000&kid=00000000-0000-4000-8000-000000000001`],
      ['an empty trackType', 'trackType='],
      ['a 65-character trackType', `trackType=${'A'.repeat(65)}`],
      ['a negative period', 'period=-1'],
      ['a fractional period', 'period=1.5'],
      ['a period that is not a number', 'period=five'],
      ['a period with a leading zero', 'period=05'],
      // A misspelled filter would otherwise export the whole content.
      ['a filter in another letter case', 'KID=00000000-0000-4000-8000-000000000000'],
      ['a filter it does not know', 'kids=00000000-0000-4000-8000-000000000000'],
      ['a filter in brackets', 'trackType%5B%5D=HD'],
    ])('refuses %s with a JSON 400', async (_name, query) => {
      const res = await exportKeys(siteId, liveContent, credential, query);
      expect(res.status).toBe(400);
      expect(res.body.error).toEqual({ code: 'ERR_REQUEST_INVALID', message: expect.any(String), requestId: expect.any(String) });
    });
  });

  describe('access', () => {
    it('answers 404 for a content without keys, also when another site has keys under that content ID', async () => {
      const other = await createSite('other site');
      const res = await request(t.app)
        .post(`/v2/cpix/pallycon/getKey/${other.token}`)
        .set('Content-Type', 'application/xml')
        .send(buildDoveRunnerRequest('only-on-the-other-site', ['HD']).xml);
      expect(res.status).toBe(200);
      for (const content of ['never-issued', 'only-on-the-other-site']) {
        const answer = await exportKeys(siteId, content, credential);
        expect(answer.status).toBe(404);
        expect(answer.body.error.code).toBe('ERR_NOT_FOUND');
      }
    });

    it("answers 403 to another site's license server asking for this site's content", async () => {
      const other = await createSite('foreign');
      const foreign = await registerLicenseServer(other.siteId, cert2.certificatePem);
      const res = await exportKeys(siteId, liveContent, foreign.credential);
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('ERR_FORBIDDEN');
      expect(res.text).not.toContain('CipherValue');
      // Its own site's path with the same content ID has nothing for it.
      expect((await exportKeys(other.siteId, liveContent, foreign.credential)).status).toBe(404);
    });

    it.each([
      ['no Authorization header', () => undefined],
      ["the site's KMS token instead of a license-server credential", () => kmsToken],
      ['a license-server credential with one character changed', () => credential.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'))],
      ['an unknown lsc1 credential', () => 'lsc1.AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB'],
    ])('answers 401 to %s', async (_name, bearer) => {
      const res = await exportKeys(siteId, liveContent, bearer());
      expect(res.status).toBe(401);
      expect(res.body.error).toEqual({ code: 'ERR_AUTH_REQUIRED', message: 'authentication failed', requestId: expect.any(String) });
    });

    it('answers 401 to a revoked license server that could export before', async () => {
      const revoked = await registerLicenseServer(siteId, cert1.certificatePem);
      expect((await exportKeys(siteId, liveContent, revoked.credential)).status).toBe(200);
      await request(t.app)
        .delete(`/admin/v1/sites/${siteId}/license-servers/${revoked.id}`)
        .set('Authorization', `Bearer ${t.adminToken}`)
        .expect(204);
      const res = await exportKeys(siteId, liveContent, revoked.credential);
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('ERR_AUTH_REQUIRED');
    });
  });

  describe('audit trail', () => {
    it('records an export with the license server ID as credential, the exported KIDs and periods, and no key bytes', async () => {
      const { keys } = await exportOk(liveContent, { period: '5' });
      const { records } = await t.services.audit.list(siteId, { limit: 1 });
      const [record] = records;
      expect(record).toEqual({
        id: expect.any(String),
        at: expect.any(String),
        siteId,
        action: 'export',
        credentialId: licenseServerId,
        clientAddress: expect.any(String),
        dialect: 'license-export',
        contentId: liveContent,
        kids: keys.map((key) => key.kid),
        kidCount: keys.length,
        kidsSha256: auditKidsDigest(keys.map((key) => key.kid)),
        periodIndexes: [5],
        periodIndexCount: 1,
        keysCreated: 0,
        requestId: expect.any(String),
      });
      const serialized = JSON.stringify(record);
      for (const key of keys) {
        for (const form of [...encodingsOf(Buffer.from(key.key, 'base64')), ...encodingsOf(Buffer.from(key.iv ?? '', 'base64'))]) {
          expect(serialized).not.toContain(form);
        }
      }
    });

    it('records nothing for a refused export', async () => {
      const before = (await t.services.audit.list(siteId, { limit: 1 })).records[0]?.id;
      await exportKeys(siteId, liveContent, kmsToken).expect(401);
      await exportKeys(siteId, 'never-issued', credential).expect(404);
      expect((await t.services.audit.list(siteId, { limit: 1 })).records[0]?.id).toBe(before);
    });
  });

  it('wrote no credential, token or key into any log line', () => {
    const text = logs.text();
    expect(secrets.length).toBeGreaterThan(4);
    for (const secret of secrets) for (const form of encodingsOf(secret)) expect(text).not.toContain(form);
    for (const key of [...spekeIssued, ...liveIssued]) for (const form of encodingsOf(Buffer.from(key.key, 'base64'))) expect(text).not.toContain(form);
  });
});
