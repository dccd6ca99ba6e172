import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { signCpix, type CanonicalizationVersion, type SignatureAlgorithmName } from '../../../src/cpix/signature';
import { verifyCpixSignatures } from '../../../src/cpix/verify-signature';
import { CpixSignatureInvalid } from '../../../src/errors';
import type { CanonicalDocument } from '../../../src/xml/canonical-document';
import { describeWithVectors, vectorPath } from '../../support/shared-vectors';
import { describeWithXmlsec, xmlsecVerify } from '../../support/xmlsec';

const pem = (name: string) => readFileSync(vectorPath('dashif-cpix-test-vectors', 'pem', name), 'utf8');
const signer = (name: string) => ({
  certificate: new X509Certificate(pem(`${name}.cert.pem`)),
  privateKey: createPrivateKey(pem(`${name}.key.pem`)),
});

const CPIX = 'urn:dashif:org:cpix';
const PSKC = 'urn:ietf:params:xml:ns:keyprov:pskc';
const KEY_VALUE = 'gPxt0PMwrHM4TdjwdQmhhQ==';

/**
 * A hand-written canonical CPIX document (independent of src/xml/canonical.ts), in two namespace
 * styles: literal `cpix:` prefix, or CPIX as the root's default namespace (Axinom style), which the
 * Signature's own default namespace overrides.
 */
function canonicalDocument(style: 'prefixed' | 'default'): CanonicalDocument {
  const p = style === 'prefixed' ? 'cpix:' : '';
  const declarations =
    style === 'prefixed'
      ? ` xmlns:cpix="${CPIX}" xmlns:pskc="${PSKC}"`
      : ` xmlns="${CPIX}" xmlns:pskc="${PSKC}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"`;
  const idRanges = new Map<string, { start: number; end: number }>();
  let xml = `<${p}CPIX${declarations} contentId="movie &amp; co" version="2.3">`;
  const element = (id: string, body: string) => {
    const start = xml.length;
    xml += body;
    idRanges.set(id, { start, end: xml.length });
  };
  element(
    'ContentKeyList',
    `<${p}ContentKeyList id="ContentKeyList">\n<${p}ContentKey commonEncryptionScheme="cenc" kid="40d02dd1-61a3-4787-a155-572325d47b80">` +
      `<${p}Data><pskc:Secret><pskc:PlainValue>${KEY_VALUE}</pskc:PlainValue></pskc:Secret></${p}Data></${p}ContentKey></${p}ContentKeyList>`,
  );
  element(
    'DRMSystemList',
    `<${p}DRMSystemList id="DRMSystemList"><${p}DRMSystem kid="40d02dd1-61a3-4787-a155-572325d47b80" systemId="edef8ba9-79d6-4ace-a3c8-27dcd51d21ed">` +
      `<${p}PSSH>AAAAAA==</${p}PSSH></${p}DRMSystem></${p}DRMSystemList>`,
  );
  const rootEndTagOffset = xml.length;
  xml += `</${p}CPIX>`;
  return { xml, rootNamespaceDeclarations: declarations, idRanges, rootEndTagOffset };
}

const LISTS = ['ContentKeyList', 'DRMSystemList'];
const combos: [SignatureAlgorithmName, CanonicalizationVersion, 'prefixed' | 'default'][] = [];
for (const algorithm of ['rsa-sha256', 'rsa-sha512'] as const)
  for (const c14n of ['1.0', '1.1'] as const) for (const style of ['prefixed', 'default'] as const) combos.push([algorithm, c14n, style]);

const tamperKey = (xml: string) => xml.replace(KEY_VALUE, `h${KEY_VALUE.slice(1)}`);

describeWithVectors('signCpix', () => {
  const cert3 = signer('Cert3');

  it('appends the list signatures, then the document signature, before the root end tag', () => {
    const canonical = canonicalDocument('prefixed');
    const signed = signCpix(canonical, cert3, { listIds: LISTS });
    expect(signed.startsWith(canonical.xml.slice(0, canonical.rootEndTagOffset))).toBe(true);
    expect(signed.endsWith('</Signature></cpix:CPIX>')).toBe(true);
    expect(signed.match(/<Signature xmlns="http:\/\/www.w3.org\/2000\/09\/xmldsig#">/g)).toHaveLength(3);
    expect([...signed.matchAll(/<Reference URI="([^"]*)">/g)].map((m) => m[1])).toEqual(['#ContentKeyList', '#DRMSystemList', '']);
    expect(signed).not.toContain('<?xml');
  });

  it.each(combos)('%s, C14N %s, %s root: verifies with verifyCpixSignatures (xml-crypto) and fails after a 1-byte change', (algorithm, c14n, style) => {
    const signed = signCpix(canonicalDocument(style), cert3, { listIds: LISTS, algorithm, c14n });
    const result = verifyCpixSignatures(signed, [cert3.certificate]);
    expect(result.signatures.map((s) => s.reference)).toEqual(['#ContentKeyList', '#DRMSystemList', '']);
    expect(result.signatures.every((s) => s.signer === cert3.certificate)).toBe(true);
    expect(() => verifyCpixSignatures(tamperKey(signed), [cert3.certificate])).toThrow(CpixSignatureInvalid);
  });

  it('refuses an unknown list id and a key that is not the certificate’s', () => {
    expect(() => signCpix(canonicalDocument('prefixed'), cert3, { listIds: ['Nope'] })).toThrow(RangeError);
    expect(() => signCpix(canonicalDocument('prefixed'), { ...cert3, privateKey: signer('Cert4').privateKey })).toThrow(RangeError);
  });
});

describeWithVectors('signCpix output in xmlsec1 (independent C14N and XML-DSig)', () => {
  describeWithXmlsec('xmlsec1 --verify, pinned certificate, every signature', () => {
    const cert3 = signer('Cert3');
    const pinned = { pinnedCertPem: pem('Cert3.cert.pem'), idElements: LISTS };

    it.each(combos)('%s, C14N %s, %s root: all 3 signatures OK, and FAIL after a 1-byte change', (algorithm, c14n, style) => {
      const signed = signCpix(canonicalDocument(style), cert3, { listIds: LISTS, algorithm, c14n });
      for (const index of [1, 2, 3]) {
        const result = xmlsecVerify(signed, index, pinned);
        expect({ index, ok: result.ok, output: result.ok ? '' : result.output }).toEqual({ index, ok: true, output: '' });
      }
      const tampered = tamperKey(signed);
      expect(xmlsecVerify(tampered, 1, pinned).ok).toBe(false); // #ContentKeyList
      expect(xmlsecVerify(tampered, 2, pinned).ok).toBe(true); // #DRMSystemList does not cover the key
      expect(xmlsecVerify(tampered, 3, pinned).ok).toBe(false); // whole document
    });

    it('also verifies with --trusted-pem (the KeyInfo certificate chains to the anchor)', () => {
      const signed = signCpix(canonicalDocument('default'), cert3, { listIds: LISTS, algorithm: 'rsa-sha512' });
      for (const index of [1, 2, 3]) expect(xmlsecVerify(signed, index, { trustedPem: [pem('Cert3.cert.pem')], idElements: LISTS }).ok).toBe(true);
      expect(xmlsecVerify(signed, 3, { pinnedCertPem: pem('Cert4.cert.pem'), idElements: LISTS }).ok).toBe(false);
    });
  });
});
