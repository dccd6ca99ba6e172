import { DOMParser, type Document, type Element } from '@xmldom/xmldom';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  compareFrameMd5,
  createRecipientIdentity,
  decryptCpixKeys,
  describeWithMediaTools,
  encryptCenc,
  makeTestClip,
  videoFrameMd5,
  WRONG_KEY_HEX,
  type TestClip,
} from '../support/media';
import { bareEnv, requireBuiltService, signingEnv, spawnService, type ServiceProcess } from '../support/service-process';
import { vectorPath } from '../support/shared-vectors';
import { xmlsecVerify } from '../support/xmlsec';

/**
 * The whole key path with real, independent tools (ffmpeg, xmlsec1, openssl; see test/support/media.ts): a packager
 * gets keys over SPEKE v2 and encrypts a clip with ffmpeg; a license server gets the same keys through
 * the signed, encrypted license export, checks the signature with xmlsec1, decrypts the key with
 * openssl, and ffmpeg decrypts the clip back to identical frames with it.
 *
 * The service runs as production does (NODE_ENV=production, configured master key, admin token and
 * signing identity, SQLite in a temp DATA_DIR), so the signature is pinned to the certificate we
 * configured rather than to a generated development identity.
 */
const CPIX_NS = 'urn:dashif:org:cpix';
const PSKC_NS = 'urn:ietf:params:xml:ns:keyprov:pskc';
/** A real SPEKE v2 request (AWS reference suite): Widevine, one video and one audio key, cenc. */
const SPEKE_REQUEST = vectorPath('speke/awslabs-speke-reference-server/generated/vod/test_case_1_p_v_1_a_1/1_widevine.xml');
/** CPIX lists that may carry an `id` an export signature could reference (xmlsec1 must be told each ID attribute). */
const ID_ELEMENTS = ['DeliveryDataList', 'ContentKeyList', 'DRMSystemList', 'ContentKeyPeriodList', 'ContentKeyUsageRuleList', 'UpdateHistoryItemList'];

const hexOfUuid = (uuid: string) => uuid.replace(/-/g, '').toLowerCase();
const hexOfBase64 = (base64: string) => Buffer.from(base64, 'base64').toString('hex');

function parseXml(xml: string): Document {
  return new DOMParser().parseFromString(xml, 'text/xml');
}

function contentKeys(doc: Document): Element[] {
  return Array.from(doc.getElementsByTagNameNS(CPIX_NS, 'ContentKey'));
}

function rootSignatureCount(doc: Document): number {
  const root = doc.documentElement;
  if (root === null) return 0;
  return Array.from(root.childNodes).filter(
    (node) => node.nodeType === node.ELEMENT_NODE && (node as Element).localName === 'Signature' && (node as Element).namespaceURI === 'http://www.w3.org/2000/09/xmldsig#',
  ).length;
}

describeWithMediaTools('media round trip: SPEKE v2 keys → ffmpeg CENC → license export → ffmpeg decryption', () => {
  const adminToken = randomBytes(32).toString('base64url');
  const contentId = `media-roundtrip-${randomUUID()}`;
  let dir: string;
  let service: ServiceProcess | undefined;
  let url: string;
  /** The export signing certificate a license server pins. */
  let signingCertPem: string;
  let clip: TestClip;
  let siteId: string;
  let kmsToken: string;
  /** The first key of the SPEKE response (KID and key, hex) and all the KIDs it answered. */
  let speke: { kid: string; key: string; kids: string[] };
  let exportFile: string;
  let recipient: { certFile: string; keyFile: string };

  const admin = (path: string, body: object) =>
    fetch(`${url}/admin/v1${path}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${adminToken}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });

  beforeAll(async () => {
    requireBuiltService();
    dir = mkdtempSync(join(tmpdir(), 'cpix-kms-media-'));
    const signing = signingEnv(dir);
    signingCertPem = readFileSync(signing.EXPORT_SIGNING_CERT_FILE, 'utf8');
    service = spawnService(
      dir,
      bareEnv({
        NODE_ENV: 'production',
        DATA_DIR: join(dir, 'data'),
        MASTER_KEY: randomBytes(32).toString('base64'),
        ADMIN_TOKEN: adminToken,
        ...signing,
      }),
    );
    // The clip and the license server's key pair are made while the service starts.
    const [listening, madeClip, identity] = await Promise.all([
      service.serving(),
      makeTestClip(dir),
      createRecipientIdentity(dir, 'license-server'),
    ]);
    url = listening;
    clip = madeClip;
    recipient = identity;
    await videoFrameMd5(clip.file, join(dir, 'clear-v.md5'));

    const created = await admin('/sites', { name: 'media round trip' });
    expect(created.status).toBe(201);
    const site = (await created.json()) as { site: { id: string }; token: { token: string } };
    siteId = site.site.id;
    kmsToken = site.token.token;
  }, 20_000);

  afterAll(async () => {
    if (service !== undefined && service.child.exitCode === null) {
      service.child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const stopped = await Promise.race([service.exit().then(() => true), new Promise<false>((done) => (timer = setTimeout(done, 5_000, false)))]);
      clearTimeout(timer);
      if (!stopped) service.child.kill('SIGKILL');
    }
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  }, 10_000);

  it('issues keys for the requested KIDs over SPEKE v2 (clear PlainValue to the packager)', async () => {
    const requestXml = readFileSync(SPEKE_REQUEST, 'utf8').replace(/contentId="[^"]*"/, `contentId="${contentId}"`);
    expect(requestXml).toContain(`contentId="${contentId}"`);
    const requestedKids = contentKeys(parseXml(requestXml)).map((key) => key.getAttribute('kid') as string);
    expect(requestedKids).toHaveLength(2);

    const res = await fetch(`${url}/speke/copyProtection`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/xml', 'X-Speke-Version': '2.0', 'X-KMS-Token': kmsToken },
      body: requestXml,
    });
    const body = await res.text();
    expect({ status: res.status, body }).toMatchObject({ status: 200 });
    expect(res.headers.get('x-speke-version')).toBe('2.0');

    const keys = contentKeys(parseXml(body));
    const kids = keys.map((key) => key.getAttribute('kid') as string);
    expect(kids).toEqual(requestedKids);
    const first = keys[0] as Element;
    const plain = first.getElementsByTagNameNS(PSKC_NS, 'PlainValue')[0]?.textContent?.trim() ?? '';
    expect(Buffer.from(plain, 'base64')).toHaveLength(16);
    speke = { kid: hexOfUuid(kids[0] as string), key: hexOfBase64(plain), kids };
    expect(speke.key).toMatch(/^[0-9a-f]{32}$/);
    expect(speke.key).not.toBe(WRONG_KEY_HEX);
  }, 10_000);

  it('exports the keys to a registered license server, signed by the configured identity (xmlsec1, pinned)', async () => {
    const registered = await admin(`/sites/${siteId}/license-servers`, {
      name: 'round-trip license server',
      certificate: readFileSync(recipient.certFile, 'utf8'),
    });
    expect(registered.status).toBe(201);
    const { credential } = (await registered.json()) as { credential: string };

    const res = await fetch(`${url}/license/v1/sites/${siteId}/contents/${encodeURIComponent(contentId)}`, {
      headers: { Authorization: `Bearer ${credential}` },
    });
    const xml = Buffer.from(await res.arrayBuffer());
    expect({ status: res.status, body: xml.toString('utf8') }).toMatchObject({ status: 200 });
    expect(res.headers.get('content-type')).toMatch(/^application\/xml/);
    exportFile = join(dir, 'export.xml');
    writeFileSync(exportFile, xml);

    const text = xml.toString('utf8');
    const doc = parseXml(text);
    expect(doc.documentElement?.getAttribute('contentId')).toBe(contentId);
    expect(contentKeys(doc).map((key) => key.getAttribute('kid'))).toEqual(expect.arrayContaining(speke.kids));
    // Keys travel encrypted to the license server only.
    expect(text).not.toContain('PlainValue');
    expect(text).not.toContain(Buffer.from(speke.key, 'hex').toString('base64'));

    // Every root signature verifies against the pinned service certificate (xmlsec1 checks one per run: loop over all).
    const count = rootSignatureCount(doc);
    expect(count).toBeGreaterThanOrEqual(1);
    const options = { pinnedCertPem: signingCertPem, idElements: ID_ELEMENTS };
    for (let index = 1; index <= count; index++) {
      expect({ index, ...xmlsecVerify(text, index, options) }).toMatchObject({ index, ok: true });
    }
    // Negative controls: a changed contentId, and another signer's certificate.
    const tampered = text.replace(`contentId="${contentId}"`, `contentId="${contentId}-x"`);
    expect(tampered).not.toBe(text);
    expect(xmlsecVerify(tampered, count, options).ok).toBe(false);
    expect(xmlsecVerify(text, count, { ...options, pinnedCertPem: readFileSync(recipient.certFile, 'utf8') }).ok).toBe(false);
  }, 15_000);

  it("decrypts the exported key with openssl and the license server's private key: it is the SPEKE key", async () => {
    const decrypted = await decryptCpixKeys(exportFile, recipient.keyFile);
    expect(decrypted).toMatchObject({ exitCode: 0 });
    expect(decrypted.keys.map((key) => hexOfUuid(key.kid)).sort()).toEqual(speke.kids.map(hexOfUuid).sort());
    expect(decrypted.keys.every((key) => key.macOk)).toBe(true);
    const exported = decrypted.keys.find((key) => hexOfUuid(key.kid) === speke.kid);
    expect(exported).toBeDefined();
    expect(hexOfBase64((exported as { keyBase64: string }).keyBase64)).toBe(speke.key);

    // Negative control: another private key cannot unwrap the document key.
    const stranger = await createRecipientIdentity(dir, 'stranger');
    const refused = await decryptCpixKeys(exportFile, stranger.keyFile);
    expect(refused.exitCode).toBe(2);
    expect(refused.keys).toEqual([]);
  }, 15_000);

  it('ffmpeg: the clip encrypted with the SPEKE key decrypts with the exported key to identical frames', async () => {
    const decrypted = await decryptCpixKeys(exportFile, recipient.keyFile);
    const exportedKey = hexOfBase64(decrypted.keys.find((key) => hexOfUuid(key.kid) === speke.kid)?.keyBase64 ?? '');
    expect(exportedKey).toBe(speke.key);

    const encrypted = join(dir, 'enc.mp4');
    await encryptCenc(clip.file, encrypted, speke.kid, speke.key);
    expect(readFileSync(encrypted).includes(Buffer.from(speke.kid, 'hex'))).toBe(true); // tenc carries the KID

    await videoFrameMd5(encrypted, join(dir, 'dec-v.md5'), { key: exportedKey });
    expect(await compareFrameMd5(join(dir, 'clear-v.md5'), join(dir, 'dec-v.md5'))).toEqual({ matching: clip.frameCount, total: clip.frameCount });

    // Negative controls: no key, and a wrong key, match no frame at all.
    await videoFrameMd5(encrypted, join(dir, 'nokey-v.md5'), { tolerateErrors: true });
    await videoFrameMd5(encrypted, join(dir, 'wrong-v.md5'), { key: WRONG_KEY_HEX, tolerateErrors: true });
    expect(await compareFrameMd5(join(dir, 'clear-v.md5'), join(dir, 'nokey-v.md5'))).toEqual({ matching: 0, total: clip.frameCount });
    expect(await compareFrameMd5(join(dir, 'clear-v.md5'), join(dir, 'wrong-v.md5'))).toEqual({ matching: 0, total: clip.frameCount });
  }, 20_000);
});
