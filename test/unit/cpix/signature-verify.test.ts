import { thrownBy } from '../../support/errors';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { signCpix } from '../../../src/cpix/signature';
import { SignedXml } from 'xml-crypto';
import { MAX_SIGNATURES, verifyCpixSignatures } from '../../../src/cpix/verify-signature';
import { CpixSignatureInvalid } from '../../../src/errors';
import { describeWithVectors, vectorPath } from '../../support/shared-vectors';
import { readXmlText } from './delivery-vectors';

const dir = (...parts: string[]) => vectorPath('dashif-cpix-test-vectors', ...parts);
const cert = (name: string) => new X509Certificate(readFileSync(dir('pem', `${name}.cert.pem`)));
const key = (name: string) => createPrivateKey(readFileSync(dir('pem', `${name}.key.pem`)));

function expectInvalid(run: () => unknown, message?: RegExp): void {
  const thrown = thrownBy(run);
  expect(thrown).toBeInstanceOf(CpixSignatureInvalid);
  if (message !== undefined) expect((thrown as Error).message).toMatch(message);
}

describeWithVectors('verifyCpixSignatures on the DASH-IF vectors', () => {
  const [cert1, cert2, cert3, cert4] = ['Cert1', 'Cert2', 'Cert3', 'Cert4'].map(cert) as [X509Certificate, X509Certificate, X509Certificate, X509Certificate];

  it('verifies all 9 signatures of Complex.xml (Cert3 and Cert4, document signature by Cert4)', () => {
    const { signatures } = verifyCpixSignatures(readXmlText(dir('Complex.xml')), [cert3, cert4]);
    expect(signatures.map((s) => s.reference)).toEqual([
      '#DeliveryDataList', '#DeliveryDataList', '#ContentKeyList', '#ContentKeyList', '#DRMSystemList', '#DRMSystemList',
      '#ContentKeyUsageRuleList', '#ContentKeyUsageRuleList', '',
    ]);
    expect(signatures.map((s) => (s.signer === cert3 ? 'Cert3' : 'Cert4'))).toEqual([
      'Cert3', 'Cert4', 'Cert3', 'Cert4', 'Cert3', 'Cert4', 'Cert3', 'Cert4', 'Cert4',
    ]);
  });

  it('verifies all 6 signatures of EvenMoreComplex.xml (UTF-16, odd prefixes, comments; signed by Cert1/Cert2, not the Cert3/Cert4 its Readme names)', () => {
    const { signatures } = verifyCpixSignatures(readXmlText(dir('EvenMoreComplex.xml')), [cert1, cert2]);
    expect(signatures).toHaveLength(6);
    expect(signatures[5]?.reference).toBe('');
  });

  it('fails when one signer is not pinned (Complex.xml trusting Cert3 only)', () => {
    expectInvalid(() => verifyCpixSignatures(readXmlText(dir('Complex.xml')), [cert3]), /^Signature\[1\]: signer certificate is not trusted$/);
  });

  it.each(['Invalid_BadContentKeysSignature.xml', 'Invalid_BadDocumentSignature.xml'])('rejects %s', (file) => {
    expectInvalid(() => verifyCpixSignatures(readXmlText(dir(file)), [cert1, cert2, cert3, cert4]), /does not verify/);
  });

  it('returns no signatures for an unsigned document', () => {
    expect(verifyCpixSignatures(readXmlText(dir('EncryptedContentKeys.xml')), [cert1]).signatures).toEqual([]);
  });
});

describeWithVectors('verifyCpixSignatures trust and shape rules', () => {
  const cert3 = cert('Cert3');
  const attacker = { certificate: cert('WeakCert_SmallKey'), privateKey: key('WeakCert_SmallKey') };
  const declarations = ' xmlns:cpix="urn:dashif:org:cpix"';
  const xml = '<cpix:CPIX xmlns:cpix="urn:dashif:org:cpix"><cpix:ContentKeyList id="keys"></cpix:ContentKeyList></cpix:CPIX>';
  const canonical = {
    xml,
    rootNamespaceDeclarations: declarations,
    idRanges: new Map([['keys', { start: xml.indexOf('<cpix:ContentKeyList'), end: xml.indexOf('</cpix:CPIX>') }]]),
    rootEndTagOffset: xml.indexOf('</cpix:CPIX>'),
  };
  const good = signCpix(canonical, { certificate: cert3, privateKey: key('Cert3') }, { listIds: ['keys'] });

  it('accepts our own output', () => {
    expect(verifyCpixSignatures(good, [cert3]).signatures.map((s) => s.reference)).toEqual(['#keys', '']);
  });

  it('rejects a valid signature whose certificate is not pinned', () => {
    const signed = signCpix(canonical, attacker);
    expectInvalid(() => verifyCpixSignatures(signed, [cert3]), /not trusted/);
  });

  it('rejects a signature whose KeyInfo carries an attacker certificate next to the pinned one', () => {
    // Signed by the attacker; KeyInfo names the pinned certificate: the pinned key must be used, so it fails.
    const signed = signCpix(canonical, attacker).replace(attacker.certificate.raw.toString('base64'), cert3.raw.toString('base64'));
    expectInvalid(() => verifyCpixSignatures(signed, [cert3]), /does not verify/);
    // Our valid signature with KeyInfo swapped to the attacker certificate: not trusted.
    const swapped = good.replace(cert3.raw.toString('base64'), attacker.certificate.raw.toString('base64'));
    expectInvalid(() => verifyCpixSignatures(swapped, [cert3]), /not trusted/);
  });

  it('rejects SHA-1 and HMAC algorithms, two References, a Signature outside the root and a non-list reference', () => {
    const variants = [
      good.replace('xmldsig-more#rsa-sha256', 'xmldsig#rsa-sha1'),
      good.replace('http://www.w3.org/2001/04/xmldsig-more#rsa-sha256', 'http://www.w3.org/2000/09/xmldsig#hmac-sha1'),
      good.replace('http://www.w3.org/2001/04/xmlenc#sha256', 'http://www.w3.org/2000/09/xmldsig#sha1'),
      good.replace(/(<Reference URI="#keys">.*?<\/Reference>)/, '$1$1'),
      good.replace('<cpix:ContentKeyList id="keys"></cpix:ContentKeyList>', '<cpix:ContentKeyList><cpix:X id="keys"></cpix:X></cpix:ContentKeyList>'),
      good.replace('<cpix:ContentKeyList id="keys"></cpix:ContentKeyList>', `<cpix:ContentKeyList id="keys">${good.slice(good.indexOf('<Signature'), good.indexOf('</Signature>') + 12)}</cpix:ContentKeyList>`),
    ];
    for (const variant of variants) expectInvalid(() => verifyCpixSignatures(variant, [cert3]));
  });

  // xml-crypto reads the whole document again for each signature it verifies: copies of one valid
  // signature (a megabyte of them held the event loop for two minutes) are refused before any is.
  describe('the work a document can ask for', () => {
    const listSignature = good.slice(good.indexOf('<Signature'), good.indexOf('</Signature>') + '</Signature>'.length);
    const withSignatures = (extra: number, document = good) => document.replace('</cpix:CPIX>', `${listSignature.repeat(extra)}</cpix:CPIX>`);
    let verifications: jest.SpyInstance;
    beforeEach(() => {
      verifications = jest.spyOn(SignedXml.prototype, 'checkSignature');
    });
    afterEach(() => verifications.mockRestore());

    /** `good` with the first character of its last (the document's) signature value changed. */
    const forged = (() => {
      const at = good.lastIndexOf('<SignatureValue>') + '<SignatureValue>'.length;
      return `${good.slice(0, at)}${good[at] === 'A' ? 'B' : 'A'}${good.slice(at + 1)}`;
    })();

    it.each([
      // A pinned certificate is public: copied into KeyInfo, it passes every check but the value's.
      ['a forged signature value after a valid signature', forged, /^Signature\[1\]: signature does not verify$/],
      ['a SignatureMethod named like an object property', good.replace('http://www.w3.org/2001/04/xmldsig-more#rsa-sha256', 'constructor'), /^Signature\[0\]: unsupported signature algorithm$/],
      ['one signer’s second signature of an element', withSignatures(1), /^two signatures of one signer cover the same element$/],
      [`more than ${MAX_SIGNATURES} signatures`, withSignatures(MAX_SIGNATURES - 1), new RegExp(`^at most ${MAX_SIGNATURES} signatures$`)],
      ['a malformed signature after valid ones', good.replace(/(<Signature(?:(?!<Signature).)*?)xmldsig-more#rsa-sha256((?:(?!<Signature).)*?URI="")/, '$1xmldsig#rsa-sha1$2'), /^Signature\[1\]: unsupported signature algorithm$/],
    ])('refuses %s before verifying any', (_name, document, message) => {
      expectInvalid(() => verifyCpixSignatures(document, [cert3]), message);
      expect(verifications).not.toHaveBeenCalled();
    });

    it('verifies each of the signatures it allows once', () => {
      expect(verifyCpixSignatures(good, [cert3]).signatures).toHaveLength(2);
      expect(verifications).toHaveBeenCalledTimes(2);
    });
  });
});
