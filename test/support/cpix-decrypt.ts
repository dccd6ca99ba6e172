import { constants, createDecipheriv, createHmac, privateDecrypt, timingSafeEqual, type KeyObject, type X509Certificate } from 'node:crypto';
import {
  ALGORITHM,
  CBC_IV_LENGTH_BYTES,
  CONTENT_KEY_LENGTHS_BYTES,
  DOCUMENT_KEY_LENGTH_BYTES,
  MAC_KEY_LENGTH_BYTES,
  VALUE_MAC_LENGTH_BYTES,
} from '../../src/cpix/constants';
import type { ContentKey, CpixDocument, DeliveryData, DocumentKey } from '../../src/cpix/model';

/**
 * The recipient side of CPIX encrypted key delivery (DASH-IF CPIX 2.3 §6.1, Key Encryption in the CPIX
 * Document), as a license server or a
 * packager runs it. The service only encrypts (`cpix/delivery.ts`); tests decrypt what it sends with
 * this, and check it on the DASH-IF vectors (test/unit/cpix/delivery.test.ts) so that a round trip
 * proves the service's output is what a real recipient reads. It is written from the specification,
 * not from the service's encryption code, and fails the way a recipient must: one opaque error,
 * whichever check failed.
 */

/** One of a recipient's identities: the certificate a sender encrypts to and its private key. */
export interface RecipientKeyPair {
  readonly certificate: X509Certificate;
  readonly privateKey: KeyObject;
}

/** Any failure to decrypt CPIX keys (no matching recipient, MAC, padding): one opaque error. */
export class CpixDecryptionFailed extends Error {
  readonly code = 'ERR_CPIX_DECRYPTION_FAILED';
  /** Which step failed, for a failing test's report; the message never says. */
  readonly detail: string | undefined;

  constructor(options: { readonly detail?: string } = {}) {
    super('encrypted CPIX keys could not be decrypted');
    this.name = 'CpixDecryptionFailed';
    this.detail = options.detail;
  }
}

/** `…xmlenc#rsa-oaep-mgf1p` (DASH-IF CPIX 2.3 §6.1.4, Mandatory Algorithms): OAEP and MGF1 with SHA-1, empty label. */
const RSA_OAEP_MGF1P = { padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' } as const;
const AES_BLOCK_BYTES = 16;
/** PKCS#7 always adds 1..16 bytes, so a 16/32-byte key becomes 32/48 bytes of ciphertext after the IV. */
const CIPHER_VALUE_LENGTHS_BYTES: readonly number[] = CONTENT_KEY_LENGTHS_BYTES.map((length) => CBC_IV_LENGTH_BYTES + length + AES_BLOCK_BYTES);

/**
 * Returns `doc` with every encrypted content key decrypted, using the first `DeliveryData` whose
 * certificate (DER) is one of `ourKeys`. Order of checks: unwrap the 32-byte document key and the
 * 64-byte MAC key, then per key verify `ValueMAC` in constant time before decrypting (DASH-IF CPIX 2.3
 * §6.1.2, Authenticated Encryption). The result has no `deliveryDataList` (plain keys next to
 * DeliveryData would be a malformed document).
 * A document without encrypted keys is returned unchanged.
 * @throws CpixDecryptionFailed on any failure (no matching recipient, no MAC key, unknown algorithm,
 *   unwrap, lengths, MAC, padding).
 */
export function decryptDocumentKeys(doc: CpixDocument, ourKeys: readonly RecipientKeyPair[]): CpixDocument {
  const keys = doc.contentKeyList?.items ?? [];
  if (!keys.some((key) => key.data?.kind === 'encrypted')) return doc;

  let recipient: DeliveryData | undefined;
  let ours: RecipientKeyPair | undefined;
  for (const item of doc.deliveryDataList?.items ?? []) {
    ours = ourKeys.find((pair) => item.certificates.some((der) => der.equals(pair.certificate.raw)));
    if (ours !== undefined) {
      recipient = item;
      break;
    }
  }
  if (recipient === undefined || ours === undefined) {
    throw new CpixDecryptionFailed({ detail: 'no DeliveryData carries one of our certificates' });
  }
  const mac = recipient.macMethod;
  if (mac?.encryptedKey === undefined || mac.algorithm !== ALGORITHM.hmacSha512) {
    throw new CpixDecryptionFailed({ detail: 'DeliveryData has no HMAC-SHA512 MAC key' });
  }
  const macKey = unwrapKeyRsaOaep(ours.privateKey, mac.encryptedKey, MAC_KEY_LENGTH_BYTES);
  const documentKeys = new Map<DocumentKey, Buffer>();
  try {
    const items = keys.map((key): ContentKey => {
      if (key.data?.kind !== 'encrypted') return key;
      if (key.data.algorithm !== ALGORITHM.aes256Cbc) {
        throw new CpixDecryptionFailed({ detail: 'content key encryption algorithm is not aes256-cbc' });
      }
      const entry = documentKeyFor(recipient, key.kid);
      let documentKey = documentKeys.get(entry);
      if (documentKey === undefined) {
        if (entry.encryptedValue === undefined) throw new CpixDecryptionFailed({ detail: 'DocumentKey is empty' });
        documentKey = unwrapKeyRsaOaep(ours.privateKey, entry.encryptedValue, DOCUMENT_KEY_LENGTH_BYTES);
        documentKeys.set(entry, documentKey);
      }
      return { ...key, data: { kind: 'plain', value: decryptContentKey(documentKey, macKey, key.data) } };
    });
    const { deliveryDataList: _dropped, ...rest } = doc;
    return { ...rest, contentKeyList: { ...doc.contentKeyList, items } };
  } finally {
    macKey.fill(0);
    for (const documentKey of documentKeys.values()) documentKey.fill(0);
  }
}

/**
 * ≤ 2.3.1 has one document key for all keys; 2.4 may have several, each naming the KID it encrypts
 * (`@encryptsKey`: the 2.4 prose allows a space-separated list, the 2.4 XSD only one UUID). A single
 * document key without `@encryptsKey` covers all.
 */
function documentKeyFor(recipient: DeliveryData, kid: string): DocumentKey {
  const entries = recipient.documentKeys;
  const only = entries.length === 1 ? entries[0] : undefined;
  if (only !== undefined && only.encryptsKey === undefined) return only;
  const matching = entries.filter((entry) => entry.encryptsKey?.toLowerCase() === kid.toLowerCase());
  const [match] = matching;
  if (matching.length !== 1 || match === undefined) {
    throw new CpixDecryptionFailed({ detail: 'no unambiguous DocumentKey for a content key' });
  }
  return match;
}

/**
 * Unwraps an RSA-OAEP-MGF1P-wrapped key and checks its length. Any failure (wrong key, tampered blob,
 * unexpected length) throws the opaque `CpixDecryptionFailed` without a cause.
 */
export function unwrapKeyRsaOaep(privateKey: KeyObject, wrapped: Buffer, expectedLengthBytes: number): Buffer {
  if (privateKey.asymmetricKeyType !== 'rsa') throw new CpixDecryptionFailed();
  let key: Buffer;
  try {
    key = privateDecrypt({ key: privateKey, ...RSA_OAEP_MGF1P }, wrapped);
  } catch {
    throw new CpixDecryptionFailed();
  }
  if (key.length !== expectedLengthBytes) throw new CpixDecryptionFailed();
  return key;
}

/**
 * Decrypts one content key (`CipherValue = IV(16) ‖ AES-256-CBC(documentKey, IV, key)`, `ValueMAC =
 * HMAC-SHA512(macKey, CipherValue)`, DASH-IF CPIX 2.3 §6.1): checks every length, verifies `valueMac` in
 * constant time **before** decrypting (CPIX: "shall be verified before attempting to decrypt"), then
 * decrypts. Every failure (lengths, missing or wrong MAC, padding, plaintext size) throws the same
 * opaque `CpixDecryptionFailed` with no cause, so a caller cannot tell a MAC failure from a padding failure.
 */
export function decryptContentKey(
  documentKey: Buffer,
  macKey: Buffer,
  encrypted: { readonly cipherValue: Buffer; readonly valueMac?: Buffer | undefined },
): Buffer {
  const { cipherValue, valueMac } = encrypted;
  if (
    documentKey.length !== DOCUMENT_KEY_LENGTH_BYTES ||
    macKey.length !== MAC_KEY_LENGTH_BYTES ||
    !CIPHER_VALUE_LENGTHS_BYTES.includes(cipherValue.length) ||
    valueMac === undefined ||
    valueMac.length !== VALUE_MAC_LENGTH_BYTES
  ) {
    throw new CpixDecryptionFailed();
  }
  if (!timingSafeEqual(createHmac('sha512', macKey).update(cipherValue).digest(), valueMac)) throw new CpixDecryptionFailed();
  let key: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-cbc', documentKey, cipherValue.subarray(0, CBC_IV_LENGTH_BYTES));
    key = Buffer.concat([decipher.update(cipherValue.subarray(CBC_IV_LENGTH_BYTES)), decipher.final()]);
  } catch {
    // Dropped on purpose: OpenSSL's "bad decrypt" would distinguish padding from MAC failures.
    throw new CpixDecryptionFailed();
  }
  if (!CONTENT_KEY_LENGTHS_BYTES.includes(key.length)) throw new CpixDecryptionFailed();
  return key;
}
