import { X509Certificate } from 'node:crypto';
import { encryptContentKey } from '../crypto/cbc-hmac';
import { assertCertificatePolicy, DEFAULT_CERTIFICATE_POLICY, type CertificatePolicy } from '../crypto/certificates';
import type { RandomSource } from '../crypto/random';
import { wrapKeyRsaOaep } from '../crypto/rsa-oaep';
import { ALGORITHM, DOCUMENT_KEY_LENGTH_BYTES, MAC_KEY_LENGTH_BYTES } from './constants';
import type { ContentKey, CpixDocument, DeliveryData, DocumentKey } from './model';

/**
 * CPIX encrypted key delivery (DASH-IF CPIX 2.3 §5.2.3, §6.1): content keys encrypted under one document key,
 * authenticated with one MAC key, both RSA-OAEP-wrapped to every recipient certificate. The service
 * only sends encrypted keys (license exports, answers to requests that name recipients); the recipient
 * side, which tests use to read them, is test/support/cpix-decrypt.ts.
 */

export interface EncryptDocumentKeysOptions {
  /** Recipient certificate policy; default `DEFAULT_CERTIFICATE_POLICY` (RSA ≥ 2048, no SHA-1). */
  readonly policy?: CertificatePolicy;
}

/**
 * Returns `doc` with every content key encrypted to `recipients`.
 *
 * One random 32-byte document key and one random 64-byte MAC key are drawn per document (one
 * MAC key even with several recipients, as there is one `ValueMAC` per key); each is RSA-OAEP-wrapped to
 * every recipient. Each content key gets a fresh IV (`encryptContentKey`). The resulting
 * `DeliveryDataList` has exactly one `DeliveryData` per recipient, in `recipients` order; a `DeliveryData`
 * of `doc` carrying the same certificate keeps its `id`, `name` and descriptive fields (the echo rule),
 * other existing entries are not carried over. `DocumentKey@Algorithm` is set to aes256-cbc; the builder
 * drops it for 2.4, whose XSD has no such attribute.
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

function encryptOne(key: ContentKey, documentKey: Buffer, macKey: Buffer, random: RandomSource): ContentKey {
  if (key.data?.kind !== 'plain') {
    throw new RangeError(`ContentKey[kid=${key.kid}] has no plain value to encrypt`);
  }
  const { cipherValue, valueMac } = encryptContentKey(documentKey, macKey, key.data.value, random);
  return { ...key, data: { kind: 'encrypted', algorithm: ALGORITHM.aes256Cbc, cipherValue, valueMac } };
}

/** Whether `item` carries `certificate`: identical DER, compared as bytes (no certificate parsed again per pair). */
function hasCertificate(item: DeliveryData, certificate: X509Certificate): boolean {
  return item.certificates.some((der) => der.equals(certificate.raw));
}
