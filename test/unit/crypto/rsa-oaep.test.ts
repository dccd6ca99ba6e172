import { constants, createPrivateKey, privateDecrypt, publicEncrypt, X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { wrapKeyRsaOaep } from '../../../src/crypto/rsa-oaep';
import { CpixDecryptionFailed, unwrapKeyRsaOaep } from '../../support/cpix-decrypt';
import { describeWithVectors, vectorPath } from '../../support/shared-vectors';

const pem = (name: string) => vectorPath('dashif-cpix-test-vectors', 'pem', name);

describeWithVectors('RSA-OAEP-MGF1P key wrapping', () => {
  const cert1 = new X509Certificate(readFileSync(pem('Cert1.cert.pem')));
  const key1 = createPrivateKey(readFileSync(pem('Cert1.key.pem')));
  const key2 = createPrivateKey(readFileSync(pem('Cert2.key.pem')));
  const secret = Buffer.alloc(32, 0x42);

  it('round-trips and checks the unwrapped length', () => {
    const wrapped = wrapKeyRsaOaep(cert1.publicKey, secret);
    expect(wrapped).toHaveLength(512);
    expect(unwrapKeyRsaOaep(key1, wrapped, 32)).toEqual(secret);
    expect(() => unwrapKeyRsaOaep(key1, wrapped, 64)).toThrow(CpixDecryptionFailed);
  });

  it('uses SHA-1 OAEP and MGF1 (what openssl pkeyutl -pkeyopt rsa_padding_mode:oaep decrypts)', () => {
    const wrapped = wrapKeyRsaOaep(cert1.publicKey, secret);
    const plain = execFileSync('openssl', ['pkeyutl', '-decrypt', '-inkey', pem('Cert1.key.pem'), '-pkeyopt', 'rsa_padding_mode:oaep'], {
      input: wrapped,
    });
    expect(plain).toEqual(secret);
    // And the reverse: a wrap with explicit SHA-1 OAEP parameters unwraps here.
    const theirs = publicEncrypt({ key: cert1.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, secret);
    expect(unwrapKeyRsaOaep(key1, theirs, 32)).toEqual(secret);
    // A SHA-256 OAEP wrap is a different scheme and must not unwrap.
    const sha256 = publicEncrypt({ key: cert1.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, secret);
    expect(() => unwrapKeyRsaOaep(key1, sha256, 32)).toThrow(CpixDecryptionFailed);
    expect(privateDecrypt({ key: key1, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, sha256)).toEqual(secret);
  });

  it('fails opaquely with the wrong private key or a tampered blob', () => {
    const wrapped = wrapKeyRsaOaep(cert1.publicKey, secret);
    expect(() => unwrapKeyRsaOaep(key2, wrapped, 32)).toThrow(new CpixDecryptionFailed());
    const tampered = Buffer.from(wrapped);
    tampered[100] = (tampered[100] ?? 0) ^ 1;
    expect(() => unwrapKeyRsaOaep(key1, tampered, 32)).toThrow(new CpixDecryptionFailed());
  });
});
