import { createPrivateKey, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KMS_EXPORT_NAMESPACE } from '../../src/cpix/constants';
import { decryptDocumentKeys } from '../support/cpix-decrypt';
import { parseCpixDocument } from '../../src/cpix/parse';
import { createSelfSignedIdentityPem, signingConfigFromPem } from '../../src/dev-signing';
import { buildDoveRunnerRequest, DRM_TYPES, readAsJavaClient, readAsPythonClient } from '../support/doverunner-clients';
import { startRedisServer, stopAllRedisServers } from '../support/redis-server';
import { productionEnv, requireBuiltService, spawnService, type ServiceProcess } from '../support/service-process';
import { testExportSigningIdentity } from '../support/services';
import { buildSpekeV2Request } from '../support/speke-request';
import { describeWithXmlsec, xmlsecVerify } from '../support/xmlsec';

/**
 * Key import, revocation and content policies (docs/content-policies.md) end to end, on the built
 * service in production mode over its own Redis: a key imported as a 32-byte KEY ‖ IV is issued through
 * SPEKE v2 and through the PallyCon CPIX API (as NCG and as FairPlay, with the imported IV), and
 * exported to a license server with the content's policy in signed content (checked with xmlsec1
 * against the pinned export certificate); after revocation both key routes and the export answer 410,
 * and the revocation is in the listings and the audit trail.
 */

const FAIRPLAY = '94ce86fb-07ff-4f43-adb8-93d2fa968ca2';

describeWithXmlsec('key lifecycle end to end (built service, Redis)', () => {
  const adminToken = randomBytes(32).toString('base64url');
  const licenseServer = signingConfigFromPem(createSelfSignedIdentityPem('e2e license server'), 'license server');
  let cwd: string;
  let service: ServiceProcess;
  let url: string;

  const call = async (method: string, path: string, init: { body?: string; headers?: Record<string, string> } = {}) => {
    const res = await fetch(`${url}${path}`, { method, ...(init.body !== undefined && { body: init.body }), headers: init.headers ?? {} });
    return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
  };
  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await call(method, `/admin/v1${path}`, {
      headers: { Authorization: `Bearer ${adminToken}`, 'Content-Type': 'application/json' },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    return { ...res, json: res.text === '' ? undefined : (JSON.parse(res.text) as Record<string, unknown>) };
  };

  beforeAll(async () => {
    requireBuiltService();
    cwd = mkdtempSync(join(tmpdir(), 'cpix-kms-lifecycle-'));
    const redis = await startRedisServer({ appendonly: true, appendfsync: 'always' });
    service = spawnService(cwd, productionEnv(cwd, adminToken, { STORE: `redis://127.0.0.1:${redis.port}` }));
    url = await service.serving();
  });
  afterAll(async () => {
    if (service.child.exitCode === null) {
      service.child.kill('SIGTERM');
      await service.exit();
    }
    await stopAllRedisServers();
    rmSync(cwd, { recursive: true, force: true });
  });

  it('imports, issues, exports with the policy, revokes', async () => {
    const site = await admin('POST', '/sites', { name: 'lifecycle e2e' });
    expect(site.status).toBe(201);
    const siteId = (site.json?.site as { id: string }).id;
    const token = (site.json?.token as { token: string }).token;
    const ls = await admin('POST', `/sites/${siteId}/license-servers`, { name: 'ls', certificate: licenseServer.certificatePem });
    const credential = ls.json?.credential as string;
    expect((await admin('POST', `/sites/${siteId}/policies`, { name: 'premium', securityLevel: 'HIGH', persistentLicense: false, licenseDurationSeconds: 3600, rotationIntervalMinutes: 0 })).status).toBe(201);

    const contentId = `manual-${randomUUID()}`;
    const kid = randomUUID();
    const cek = randomBytes(32);
    const [key, iv] = [cek.subarray(0, 16).toString('base64'), cek.subarray(16).toString('base64')];
    expect((await admin('POST', `/sites/${siteId}/contents/${contentId}/keys`, { keys: [{ kid, key: cek.toString('base64'), trackType: 'HD' }] })).status).toBe(201);
    expect((await admin('PUT', `/sites/${siteId}/contents/${contentId}/policy`, { policy: 'premium' })).status).toBe(200);

    // SPEKE v2.0 naming the imported KID.
    // The suite-shaped request (a video and an audio key), its video key's KID made the imported one.
    const generated = buildSpekeV2Request(contentId, 'cbcs', [FAIRPLAY]);
    const spekeBody = generated.split(/kid="([0-9a-f-]{36})"/.exec(generated)?.[1] ?? '').join(kid);
    const speke = () => call('POST', '/speke/v2.0/copyProtection', { body: spekeBody, headers: { 'X-Speke-Version': '2.0', 'X-KMS-Token': token, 'Content-Type': 'application/xml' } });
    const issued = await speke();
    expect(issued.status).toBe(200);
    const answered = parseCpixDocument(issued.text).contentKeyList?.items.find((k) => k.kid === kid);
    expect([answered?.data?.kind === 'plain' ? answered.data.value.toString('base64') : '', answered?.explicitIV?.toString('base64')]).toEqual([key, iv]);

    // The PallyCon CPIX API, as its clients read the answers.
    const pallycon = (systemId: string, client: 'python' | 'java') =>
      call('POST', `/v2/cpix/pallycon/getKey/${token}`, {
        body: buildDoveRunnerRequest(contentId, ['HD'], { client, systemIds: [systemId], scheme: systemId === DRM_TYPES.FAIRPLAY ? 'CBCS' : 'NONE' }).xml,
        headers: { 'Content-Type': 'application/xml' },
      });
    const ncg = await pallycon(DRM_TYPES.NCG, 'python');
    expect(readAsPythonClient(ncg.text).keys).toEqual([expect.objectContaining({ key_id: kid, key, 'ncg:cpix:URIExtXKey': cek.toString('base64') })]);
    const fairplay = await pallycon(DRM_TYPES.FAIRPLAY, 'java');
    expect(readAsJavaClient(fairplay.text).keys).toEqual([expect.objectContaining({ key_id: kid, key, iv })]);

    // The export: signed by the pinned export identity, the imported key and IV, the policy.
    const exportKeys = () => call('GET', `/license/v1/sites/${siteId}/contents/${contentId}`, { headers: { Authorization: `Bearer ${credential}` } });
    const exported = await exportKeys();
    expect(exported.status).toBe(200);
    expect(xmlsecVerify(exported.text, 1, { pinnedCertPem: testExportSigningIdentity().certificatePem })).toMatchObject({ ok: true });
    const doc = decryptDocumentKeys(parseCpixDocument(exported.text), [{ certificate: licenseServer.certificate, privateKey: createPrivateKey(licenseServer.privateKeyPem) }]);
    const exportedKey = doc.contentKeyList?.items[0];
    expect([exportedKey?.kid, exportedKey?.data?.kind === 'plain' ? exportedKey.data.value.toString('base64') : '', exportedKey?.explicitIV?.toString('base64')]).toEqual([kid, key, iv]);
    const policy = doc.contentKeyUsageRuleList?.items[0]?.extensions?.find((node) => node.kind === 'element' && node.namespace === KMS_EXPORT_NAMESPACE && node.localName === 'ContentPolicy');
    expect(policy?.kind === 'element' && Object.fromEntries(policy.attributes.map((a) => [a.localName, a.value]))).toEqual({
      name: 'premium',
      securityLevel: 'HIGH',
      persistentLicense: 'false',
      licenseDurationSeconds: '3600',
      rotationIntervalMinutes: '0',
    });

    // Revoked: 410 on both key routes and the export; listed; audited.
    expect((await admin('POST', `/sites/${siteId}/contents/${contentId}/revoke`, { reason: 'e2e leak' })).status).toBe(201);
    const refused = await speke();
    expect({ status: refused.status, type: refused.type }).toEqual({ status: 410, type: expect.stringMatching(/^text\/plain/) });
    const refusedPallycon = await pallycon(DRM_TYPES.NCG, 'python');
    expect({ status: refusedPallycon.status, code: (JSON.parse(refusedPallycon.text) as { error: { code: string } }).error.code }).toEqual({ status: 410, code: 'ERR_CONTENT_REVOKED' });
    expect((await exportKeys()).status).toBe(410);
    const listed = await admin('GET', `/sites/${siteId}/revocations`);
    expect(listed.json?.revocations).toEqual([expect.objectContaining({ contentId, reason: 'e2e leak', credentialId: 'admin' })]);
    const polled = await call('GET', `/license/v1/sites/${siteId}/revocations`, { headers: { Authorization: `Bearer ${credential}` } });
    expect(JSON.parse(polled.text)).toEqual(listed.json);
    const keys = await admin('GET', `/sites/${siteId}/contents/${contentId}/keys`);
    expect(keys.json).toMatchObject({ revocationReason: 'e2e leak' });
    expect(keys.json?.keys).toContainEqual(expect.objectContaining({ kid, revocationReason: 'e2e leak' }));
    const audit = (await admin('GET', `/sites/${siteId}/audit`)).json?.records as { action: string; reason?: string; kids: string[] }[];
    expect(audit.map((r) => r.action)).toEqual(['revoke', 'export', 'issue', 'issue', 'issue', 'policy-assign', 'import', 'policy-create']);
    expect(audit[0]).toMatchObject({ reason: 'e2e leak', credentialId: 'admin' });
    expect(audit.find((r) => r.action === 'import')).toMatchObject({ kids: [kid], keysCreated: 1 });
    expect(service.stdout() + service.stderr()).not.toContain(cek.toString('base64'));
    expect(service.stdout() + service.stderr()).not.toContain(key);
  });
});
