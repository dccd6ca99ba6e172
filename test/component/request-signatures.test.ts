import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { createSelfSignedIdentityPem, signingConfigFromPem } from '../../src/dev-signing';
import { createTestApp, type TestApp } from '../support/app';
import { buildDoveRunnerRequest } from '../support/doverunner-clients';
import { captureLogs } from '../support/log-capture';
import { buildSpekeV2Request } from '../support/speke-request';
import { describeWithXmlsec, xmlsecSign } from '../support/xmlsec';

/**
 * Sites that pin request signers (`requestSignerCertificates`): every key request must be signed as a
 * whole by one of them. Requests are signed by xmlsec1, the independent XML-DSig implementation.
 */
const WIDEVINE = 'edef8ba9-79d6-4ace-a3c8-27dcd51d21ed';
const FIXTURES = join(__dirname, '..', 'fixtures', 'certificates');

describeWithXmlsec('signed key requests', () => {
  const logs = captureLogs();
  let t: TestApp;
  let siteId: string;
  let token: string;
  const packager = signingConfigFromPem(createSelfSignedIdentityPem('packager'), 'packager');
  const stranger = signingConfigFromPem(createSelfSignedIdentityPem('stranger'), 'stranger');
  const admin = () => ({ Authorization: `Bearer ${t.adminToken}` });

  beforeAll(async () => {
    t = createTestApp(logs.logger);
    const created = await t.services.sites.createSite({ name: 'signing packager', options: {} });
    ({ token } = created.token);
    siteId = created.site.id;
    await request(t.app)
      .patch(`/admin/v1/sites/${siteId}`)
      .set(admin())
      .send({ options: { requestSignerCertificates: [packager.certificatePem] } })
      .expect(200);
  });
  afterAll(() => t.close());

  const pallycon = (contentId: string) => buildDoveRunnerRequest(contentId, ['HD'], { scheme: 'CENC' }).xml.replace(/^<\?xml[^>]*>\n/, '');
  const postPallyCon = (xml: string) => request(t.app).post(`/v2/cpix/pallycon/getKey/${token}`).set('Content-Type', 'application/xml').send(xml);
  const postSpeke = (xml: string) =>
    request(t.app).post('/speke/copyProtection').set({ Authorization: `Bearer ${token}`, 'X-Speke-Version': '2.0', 'Content-Type': 'application/xml' }).send(xml);

  it.each([
    ['unsigned', (xml: string) => xml],
    ['signed by a certificate the site does not pin', (xml: string) => xmlsecSign(xml, stranger.privateKeyPem, stranger.certificatePem)],
    ['signed by the pinned key, then changed', (xml: string) => xmlsecSign(xml, packager.privateKeyPem, packager.certificatePem).replace(/="sig-/, '="sIg-')],
    [
      'signed by another key, naming the pinned certificate in KeyInfo',
      (xml: string) => {
        const signed = xmlsecSign(xml, stranger.privateKeyPem, stranger.certificatePem);
        const pinnedDer = packager.certificate.raw.toString('base64');
        return signed.replace(/<ds:X509Certificate>[^<]+<\/ds:X509Certificate>/, `<ds:X509Certificate>${pinnedDer}</ds:X509Certificate>`);
      },
    ],
  ])('refuses a request %s: 401 ERR_REQUEST_SIGNATURE_REQUIRED (PallyCon JSON, SPEKE text), no key', async (_name, sign) => {
    const contentId = `sig-${_name.length}`;
    const res = await postPallyCon(sign(pallycon(contentId)));
    expect({ status: res.status, code: res.body.error?.code }).toEqual({ status: 401, code: 'ERR_REQUEST_SIGNATURE_REQUIRED' });
    const speke = await postSpeke(sign(buildSpekeV2Request(`${contentId}-speke`, 'cenc', [WIDEVINE])));
    expect({ status: speke.status, type: speke.headers['content-type'] }).toEqual({ status: 401, type: 'text/plain; charset=utf-8' });
    for (const id of [contentId, `${contentId}-speke`, contentId.replace('sig-', 'sIg-')]) {
      expect(await t.services.contentKeys.listMetadata(siteId, id)).toEqual([]);
    }
  });

  it('answers a request signed as a whole by the pinned certificate, on every protocol', async () => {
    const res = await postPallyCon(xmlsecSign(pallycon('signed-ok'), packager.privateKeyPem, packager.certificatePem));
    expect(res.status).toBe(200);
    const speke = await postSpeke(xmlsecSign(buildSpekeV2Request('signed-ok-speke', 'cenc', [WIDEVINE]), packager.privateKeyPem, packager.certificatePem));
    expect(speke.status).toBe(200);
  });

  it('leaves sites without pinned signers as they were: unsigned requests are answered', async () => {
    const other = await t.services.sites.createSite({ name: 'no pinning', options: {} });
    const res = await request(t.app).post(`/v2/cpix/pallycon/getKey/${other.token.token}`).set('Content-Type', 'application/xml').send(pallycon('unpinned'));
    expect(res.status).toBe(200);
  });

  it.each([
    ['text that is no certificate', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', 'ERR_CPIX_INVALID'],
    ['an RSA-1024 certificate', readFileSync(join(FIXTURES, 'license-server-rsa1024.pem'), 'utf8'), 'ERR_WEAK_CERTIFICATE'],
    ['a certificate signed with SHA-1', readFileSync(join(FIXTURES, 'license-server-rsa2048-sha1.pem'), 'utf8'), 'ERR_WEAK_CERTIFICATE'],
  ])('refuses to pin %s (400), keeping the pinned one', async (_name, pem, code) => {
    const res = await request(t.app).patch(`/admin/v1/sites/${siteId}`).set(admin()).send({ options: { requestSignerCertificates: [pem] } });
    expect({ status: res.status, code: res.body.error.code }).toEqual({ status: 400, code });
    const site = await request(t.app).get(`/admin/v1/sites/${siteId}`).set(admin()).expect(200);
    expect(site.body.options.requestSignerCertificates).toEqual([packager.certificatePem]);
  });
});
