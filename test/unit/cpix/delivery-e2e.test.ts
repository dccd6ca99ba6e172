import { spawnSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCpix, XML_DECLARATION } from '../../../src/cpix/build';
import { encryptDocumentKeys } from '../../../src/cpix/delivery';
import { decryptDocumentKeys } from '../../support/cpix-decrypt';
import type { CpixDocument } from '../../../src/cpix/model';
import { parseCpixDocument } from '../../../src/cpix/parse';
import { signCpix } from '../../../src/cpix/signature';
import { verifyCpixSignatures } from '../../../src/cpix/verify-signature';
import { cryptoRandom } from '../../../src/crypto/random';
import { describeWithVectors, sharedPath, vectorPath } from '../../support/shared-vectors';
import { describeWithXmlsec, xmlsecVerify } from '../../support/xmlsec';

const pemPath = (name: string) => vectorPath('dashif-cpix-test-vectors', 'pem', name);
const pair = (name: string) => ({
  certificate: new X509Certificate(readFileSync(pemPath(`${name}.cert.pem`))),
  privateKey: createPrivateKey(readFileSync(pemPath(`${name}.key.pem`))),
});
const DECRYPTOR = sharedPath('tools', 'e2e', '05-cpix-keys', 'decrypt-cpix-keys.sh');

const KEYS = [
  { kid: '40d02dd1-61a3-4787-a155-572325d47b80', value: Buffer.from('gPxt0PMwrHM4TdjwdQmhhQ==', 'base64') },
  { kid: '0a30ea4f-539d-4b02-94b2-2b3fba2576d3', value: Buffer.from('x/gaoS/fDi8BqGNIhkixwQ==', 'base64') },
];
const plainDocument: CpixDocument = {
  contentId: 'e2e-movie',
  contentKeyList: { id: 'ContentKeyList', items: KEYS.map(({ kid, value }) => ({ kid, data: { kind: 'plain', value } })) },
};

/** Builder → encrypt → sign → bytes on disk → independent tools (openssl-only decryptor, xmlsec1). */
describeWithVectors.each(['2.3', '2.4'] as const)('encrypted and signed CPIX %s end to end', (target) => {
  const encrypted = encryptDocumentKeys(plainDocument, [pair('Cert1').certificate], cryptoRandom);
  const built = buildCpix(encrypted, target, { willBeSigned: true });
  const signed = XML_DECLARATION + signCpix(built.canonical, pair('Cert3'), { listIds: ['ContentKeyList'], algorithm: 'rsa-sha512' });
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'cpix-e2e-'));
    writeFileSync(join(dir, 'doc.xml'), signed);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('decrypts with tools/e2e/05-cpix-keys/decrypt-cpix-keys.sh (openssl + xmllint only)', () => {
    const run = spawnSync('bash', [DECRYPTOR, join(dir, 'doc.xml'), pemPath('Cert1.key.pem')], { encoding: 'utf8' });
    expect(run.status).toBe(0);
    expect(run.stdout.trim().split('\n')).toEqual(KEYS.map(({ kid, value }) => `${kid} ${value.toString('base64')} mac=OK`));
    const wrongKey = spawnSync('bash', [DECRYPTOR, join(dir, 'doc.xml'), pemPath('Cert2.key.pem')], { encoding: 'utf8' });
    expect(wrongKey.status).toBe(2);
  });

  it('parses back with parseCpixDocument, verifies, and decrypts with our own code', () => {
    expect(verifyCpixSignatures(signed.slice(XML_DECLARATION.length), [pair('Cert3').certificate]).signatures.map((s) => s.reference)).toEqual([
      '#ContentKeyList',
      '',
    ]);
    const decrypted = decryptDocumentKeys(parseCpixDocument(signed), [pair('Cert1')]);
    expect(decrypted.contentKeyList?.items.map((key) => key.data)).toEqual(KEYS.map(({ value }) => ({ kind: 'plain', value })));
  });

  it('validates against the XSD of its version', () => {
    const xsd = vectorPath('cpix-schemas', target, 'cpix.xsd');
    const run = spawnSync('xmllint', ['--nonet', '--noout', '--schema', xsd, join(dir, 'doc.xml')], { encoding: 'utf8' });
    expect(run.stderr).toContain('validates');
  });

  describeWithXmlsec('xmlsec1', () => {
    it('verifies both signatures with the pinned Cert3 and fails after a 1-byte change of a CipherValue', () => {
      const options = { pinnedCertPem: readFileSync(pemPath('Cert3.cert.pem'), 'utf8'), idElements: ['ContentKeyList'] };
      expect(xmlsecVerify(signed, 1, options)).toMatchObject({ ok: true });
      expect(xmlsecVerify(signed, 2, options)).toMatchObject({ ok: true });
      const keyList = signed.indexOf('<cpix:ContentKeyList');
      const cipherValue = /<enc:CipherValue>([^<]+)<\/enc:CipherValue>/.exec(signed.slice(keyList))?.[1] ?? '';
      expect(cipherValue).not.toBe('');
      const flipped = (cipherValue[5] === 'A' ? 'B' : 'A');
      const tampered = signed.slice(0, keyList) + signed.slice(keyList).replace(cipherValue, cipherValue.slice(0, 5) + flipped + cipherValue.slice(6));
      expect(xmlsecVerify(tampered, 1, options).ok).toBe(false);
      expect(xmlsecVerify(tampered, 2, options).ok).toBe(false);
    });
  });
});

describeWithVectors('decryptDocumentKeys through the real parser', () => {
  it.each([
    ['EncryptedContentKeys.xml', 'Cert1', '3rWoHYasQubO6HbJGrGtLw=='],
    ['Complex.xml', 'Cert2', 'b1pkxdNYqPxljV68gohWcw=='],
    ['EvenMoreComplex.xml', 'Cert1', 'B+DoDP4r/j1NEr7b2aKXlw=='],
  ])('%s with %s', (file, cert, firstKey) => {
    const doc = parseCpixDocument(readFileSync(vectorPath('dashif-cpix-test-vectors', file)));
    const [first] = decryptDocumentKeys(doc, [pair(cert)]).contentKeyList?.items ?? [];
    expect(first?.data?.kind === 'plain' ? first.data.value.toString('base64') : undefined).toBe(firstKey);
  });
});
