import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { assertCertificatePolicy, DEFAULT_CERTIFICATE_POLICY, MAX_RSA_KEY_SIZE_BITS, parseCertificate } from '../../../src/crypto/certificates';
import { CpixInvalid, CpixUnsupported } from '../../../src/errors';
import { chosenKeyCertificate } from '../../support/chosen-key-certificate';

/** test/fixtures/certificates/license-server-rsa2048.pem as DER. */
const DER = Buffer.from(
  readFileSync(resolve(__dirname, '../../fixtures/certificates/license-server-rsa2048.pem'), 'utf8').replace(/-----[^-]+-----|\s/g, ''),
  'base64',
);
/** rsaEncryption (1.2.840.113549.1.1.1) and its NULL parameters, just before the key's BIT STRING. */
const RSA_ENCRYPTION = Buffer.from('2a864886f70d0101010500', 'hex');

/** The fixture with one byte changed: the RSAPublicKey SEQUENCE tag (0x30) inside the BIT STRING becomes a SET (0x31). */
function withUndecodableKey(): Buffer {
  const der = Buffer.from(DER);
  const bitString = der.indexOf(RSA_ENCRYPTION) + RSA_ENCRYPTION.length;
  // 03 82 01 0f 00 | 30 82 01 0a …: BIT STRING header, unused-bits byte, then the RSAPublicKey.
  expect(der.subarray(bitString, bitString + 6).toString('hex')).toBe('0382010f0030');
  der[bitString + 5] = 0x31;
  return der;
}

function refusal(input: Buffer): unknown {
  try {
    parseCertificate(input, 'DeliveryData[0]');
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('parseCertificate', () => {
  it('parses the fixture and its key', () => {
    expect(parseCertificate(DER).publicKey.asymmetricKeyType).toBe('rsa');
  });

  it.each([
    ['not DER at all', Buffer.from('not a certificate'), 'DeliveryData[0]: not an X.509 certificate'],
    // X509Certificate accepts this one and fails only when the key is first read (a 500 until the fuzzer found it).
    ['a certificate whose public key does not decode', withUndecodableKey(), "DeliveryData[0]: the certificate's public key cannot be read"],
  ])('refuses %s with CpixInvalid', (_name, input, message) => {
    const error = refusal(input);
    expect(error).toBeInstanceOf(CpixInvalid);
    expect(error).toMatchObject({ code: 'ERR_CPIX_INVALID', message });
  });
});

describe('assertCertificatePolicy: what one RSA operation may cost', () => {
  const check = (modulusBits: number, exponent: bigint) => () =>
    assertCertificatePolicy(parseCertificate(chosenKeyCertificate(modulusBits, exponent)), DEFAULT_CERTIFICATE_POLICY, 'DeliveryData[0]');

  it.each([
    ['the usual 2,048 bits and 65537', 2048, 65537n],
    [`${MAX_RSA_KEY_SIZE_BITS} bits`, MAX_RSA_KEY_SIZE_BITS, 65537n],
    ['an exponent of 2^32 - 1', 2048, 2n ** 32n - 1n],
  ])('accepts %s', (_name, bits, exponent) => {
    expect(check(bits, exponent)).not.toThrow();
  });

  it.each([
    [`${MAX_RSA_KEY_SIZE_BITS + 8} bits`, MAX_RSA_KEY_SIZE_BITS + 8, 65537n, `DeliveryData[0]: RSA key of ${MAX_RSA_KEY_SIZE_BITS + 8} bits is above the maximum of ${MAX_RSA_KEY_SIZE_BITS}`],
    ['an exponent of 2^32 + 1', 2048, 2n ** 32n + 1n, 'DeliveryData[0]: RSA public exponents above 2^32 are not supported'],
    ['an exponent of 3,071 bits', 3072, 2n ** 3070n + 1n, 'DeliveryData[0]: RSA public exponents above 2^32 are not supported'],
  ])('refuses %s with CpixUnsupported', (_name, bits, exponent, message) => {
    expect(check(bits, exponent)).toThrow(CpixUnsupported);
    expect(check(bits, exponent)).toThrow(message);
  });
});
