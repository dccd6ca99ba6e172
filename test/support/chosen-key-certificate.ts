import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';

/**
 * A self-signed PEM certificate whose RSA public key is chosen rather than generated: a random odd
 * modulus of `modulusBits` bits (no primes needed, nothing is ever encrypted to it) and `exponent`.
 * What a hostile request can name as its recipient to make each RSA operation dear.
 */
export function chosenKeyCertificate(modulusBits: number, exponent: bigint): string {
  const modulus = randomBytes(Math.ceil(modulusBits / 8));
  modulus[0] = (modulus[0] ?? 0) | 0x80; // exactly `modulusBits` long when it is a multiple of 8
  modulus[modulus.length - 1] = (modulus[modulus.length - 1] ?? 0) | 1;
  const certificate = forge.pki.createCertificate();
  certificate.publicKey = forge.pki.setRsaPublicKey(
    new forge.jsbn.BigInteger(modulus.toString('hex'), 16),
    new forge.jsbn.BigInteger(exponent.toString(16), 16),
  );
  certificate.serialNumber = '01';
  certificate.validity.notBefore = new Date('2026-01-01T00:00:00Z');
  certificate.validity.notAfter = new Date('2036-01-01T00:00:00Z');
  const name = [{ name: 'commonName', value: 'chosen key' }];
  certificate.setSubject(name);
  certificate.setIssuer(name);
  const signer = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  certificate.sign(forge.pki.privateKeyFromPem(signer), forge.md.sha256.create());
  return forge.pki.certificateToPem(certificate);
}
