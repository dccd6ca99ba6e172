import { X509Certificate, type KeyObject } from 'node:crypto';
import { decryptContentKey, encryptContentKey } from '../crypto/cbc-hmac';
import {
  assertCertificatePolicy,
  DEFAULT_CERTIFICATE_POLICY,
  sameCertificate,
  type CertificatePolicy,
} from '../crypto/certificates';
import type { RandomSource } from '../crypto/random';
import { unwrapKeyRsaOaep, wrapKeyRsaOaep } from '../crypto/rsa-oaep';
import { CpixDecryptionFailed } from '../errors';
import { ALGORITHM, DOCUMENT_KEY_LENGTH_BYTES, MAC_KEY_LENGTH_BYTES } from './constants';
import type { ContentKey, CpixDocument, DeliveryData, DocumentKey } from './model';

/**
 * CPIX encrypted key delivery (docs/cpix.md §3.2, §4): content keys encrypted under one document key,
 * authenticated with one MAC key, both RSA-OAEP-wrapped to every recipient certificate.
 */

/** One of our own recipient identities: the certificate a sender encrypts to and its private key. */
export interface RecipientKeyPair {
  readonly certificate: X509Certificate;
  readonly privateKey: KeyObject;
}

export interface EncryptDocumentKeysOptions {
  /** Recipient certificate policy; default `DEFAULT_CERTIFICATE_POLICY` (RSA ≥ 2048, no SHA-1). */
  readonly policy?: CertificatePolicy;
}

/**
 * Returns `doc` with every content key encrypted to `recipients`.
 *
 * One random 32-byte document key and one random 64-byte MAC key are drawn per document (P21: one
 * MAC key even with several recipients, as there is one `ValueMAC` per key); each is RSA-OAEP-wrapped to
 * every recipient. Each content key gets a fresh IV (`encryptContentKey`). The resulting
 * `DeliveryDataList` has exactly one `DeliveryData` per recipient, in `recipients` order; a `DeliveryData`
 * of `doc` carrying the same certificate keeps its `id`, `name` and descriptive fields (the echo rule),
 * other existing entries are not carried over. `DocumentKey@Algorithm` is set to aes256-cbc; the builder
 * drops it for 2.4 (P2).
 *
 * Throws `WeakCertificate` / `CpixUnsupported` naming the `DeliveryData[i]` whose certificate fails
 * `policy`. A content key without a plain value, or no recipients, is a programmer error (`RangeError`).
 */
export function encryptDocumentKeys(
  doc: CpixDocument,
  recipients: readonly X509Certificate[],
  random: RandomSource,
  options: EncryptDocumentKeysOptions = {},
): CpixDocument {
  if (recipients.length === 0) throw new RangeError('encryptDocumentKeys needs at least one recipient');
  const policy = options.policy ?? DEFAULT_CERTIFICATE_POLICY;
  recipients.forEach((certificate, index) => assertCertificatePolicy(certificate, policy, `DeliveryData[${index}]`));

  const documentKey = random(DOCUMENT_KEY_LENGTH_BYTES);
  const macKey = random(MAC_KEY_LENGTH_BYTES);
  if (documentKey.length !== DOCUMENT_KEY_LENGTH_BYTES || macKey.length !== MAC_KEY_LENGTH_BYTES) {
    throw new RangeError('random source returned a wrong-sized key');
  }
  try {
    const existing = doc.deliveryDataList?.items ?? [];
    const deliveryData = recipients.map((certificate): DeliveryData => {
      const previous = existing.find((item) => hasCertificate(item, certificate));
      const documentKeyEntry: DocumentKey = {
        ...(previous?.documentKeys[0]?.id === undefined ? {} : { id: previous.documentKeys[0].id }),
        algorithm: ALGORITHM.aes256Cbc,
        encryptedValue: wrapKeyRsaOaep(certificate.publicKey, documentKey),
      };
      return {
        ...previous,
        certificates: [certificate.raw],
        documentKeys: [documentKeyEntry],
        macMethod: { algorithm: ALGORITHM.hmacSha512, encryptedKey: wrapKeyRsaOaep(certificate.publicKey, macKey) },
      };
    });
    const contentKeyList =
      doc.contentKeyList === undefined
        ? undefined
        : {
            ...doc.contentKeyList,
            items: doc.contentKeyList.items.map((key) => encryptOne(key, documentKey, macKey, random)),
          };
    return {
      ...doc,
      deliveryDataList: { ...doc.deliveryDataList, items: deliveryData },
      ...(contentKeyList === undefined ? {} : { contentKeyList }),
    };
  } finally {
    documentKey.fill(0);
    macKey.fill(0);
  }
}

/**
 * Returns `doc` with every encrypted content key decrypted, using the first `DeliveryData` whose
 * certificate (DER) is one of `ourKeys`. Order of checks (docs/cpix.md §4.3): unwrap the 32-byte
 * document key and the 64-byte MAC key, then per key verify `ValueMAC` in constant time before
 * decrypting. The result has no `deliveryDataList` (plain keys next to DeliveryData are malformed, §4.3).
 *
 * Any failure (no matching recipient, no MAC key, unknown algorithm, unwrap, lengths, MAC, padding)
 * throws the one opaque `CpixDecryptionFailed`; only its internal `detail` says which step failed.
 * A document without encrypted keys is returned unchanged.
 */
export function decryptDocumentKeys(doc: CpixDocument, ourKeys: readonly RecipientKeyPair[]): CpixDocument {
  const keys = doc.contentKeyList?.items ?? [];
  if (!keys.some((key) => key.data?.kind === 'encrypted')) return doc;

  let recipient: DeliveryData | undefined;
  let ours: RecipientKeyPair | undefined;
  for (const item of doc.deliveryDataList?.items ?? []) {
    ours = ourKeys.find((pair) => hasCertificate(item, pair.certificate));
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

function encryptOne(key: ContentKey, documentKey: Buffer, macKey: Buffer, random: RandomSource): ContentKey {
  if (key.data?.kind !== 'plain') {
    throw new RangeError(`ContentKey[kid=${key.kid}] has no plain value to encrypt`);
  }
  const { cipherValue, valueMac } = encryptContentKey(documentKey, macKey, key.data.value, random);
  return { ...key, data: { kind: 'encrypted', algorithm: ALGORITHM.aes256Cbc, cipherValue, valueMac } };
}

function hasCertificate(item: DeliveryData, certificate: X509Certificate): boolean {
  return item.certificates.some((der) => {
    try {
      return sameCertificate(new X509Certificate(der), certificate);
    } catch {
      return false;
    }
  });
}

/**
 * ≤ 2.3.1 has one document key for all keys; 2.4 may have several, each naming the KID it encrypts
 * (`@encryptsKey`, one UUID per the XSD, P3). A single document key without `@encryptsKey` covers all.
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
