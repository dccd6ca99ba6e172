import { X509Certificate } from 'node:crypto';
import { certificateSerialHex, createSelfSignedIdentityPem } from '../../../src/dev-signing';

/**
 * The development/test signing certificate must be valid DER whatever the random serial bytes are:
 * a "00"-prefixed serial was refused by OpenSSL ("illegal padding") when the bytes began with 00
 * and a byte below 0x80.
 */
describe('self-signed identity serial numbers', () => {
  it.each([
    ['all zero', Buffer.alloc(16)],
    ['00 01 … (the case that broke)', Buffer.concat([Buffer.from([0x00, 0x01]), Buffer.alloc(14, 0x22)])],
    ['all ones', Buffer.alloc(16, 0xff)],
  ])('%s → a positive 16-octet serial that OpenSSL parses', (_name, random) => {
    const hex = certificateSerialHex(random);
    expect(hex).toMatch(/^[4-7][0-9a-f]{31}$/);
    const pem = createSelfSignedIdentityPem('serial test', random);
    const certificate = new X509Certificate(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)?.[0] ?? '');
    expect(certificate.serialNumber.toLowerCase()).toBe(hex);
  });
});
