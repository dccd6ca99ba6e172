import { constants, publicEncrypt, type KeyObject } from 'node:crypto';

/**
 * RSA-OAEP as CPIX uses it for the document key and the MAC key (`…xmlenc#rsa-oaep-mgf1p`,
 * DASH-IF CPIX 2.3 §6.1.4, Mandatory Algorithms; W3C XML Encryption): OAEP digest SHA-1, MGF1 with
 * SHA-1, empty label. SHA-1 is fixed by the URI and every deployed consumer; inside OAEP it needs only
 * preimage resistance, which SHA-1 still has.
 */
const OAEP = { padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' } as const;

/** Wraps `key` to a recipient's RSA public key. A non-RSA key is a programmer error (`RangeError`). */
export function wrapKeyRsaOaep(publicKey: KeyObject, key: Buffer): Buffer {
  if (publicKey.asymmetricKeyType !== 'rsa') throw new RangeError('RSA-OAEP needs an RSA public key');
  return publicEncrypt({ key: publicKey, ...OAEP }, key);
}
