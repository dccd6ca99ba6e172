/** `DeliveryDataList/DeliveryData` (DASH-IF CPIX 2.3 §5.2.2–5.2.3): recipients and their wrapped keys. */

import type { XmlElement } from '../xml/tree';
import { NS } from './constants';
import type { DeliveryData, DocumentKey } from './model';
import {
  attribute,
  childrenNamed,
  elementsOf,
  firstDescendant,
  optionalChild,
  requiredAttribute,
  requiredChild,
  safeName,
  textContent,
} from './parse-element';
import { parseIdentified } from './parse-list';
import { decodeNonEmptyBase64, invalid, itemStep, parseUuid } from './parse-values';
import { isTableKey } from './table-key';

const TEXT_CHILDREN = {
  Description: 'description',
  SendingEntity: 'sendingEntity',
  SenderPointOfContact: 'senderPointOfContact',
  ReceivingEntity: 'receivingEntity',
} as const;

type TextChildName = keyof typeof TEXT_CHILDREN;

/**
 * Parses one `DeliveryData`. `DocumentKey` is optional: SPEKE "encrypt to me" requests carry only the
 * `DeliveryKey`, and `<DocumentKey/>` placeholders are accepted.
 *
 * @throws CpixInvalid for a missing `DeliveryKey`, bad certificate or wrapped-key base64, a bad
 *   `@encryptsKey`, or a repeated single-valued child.
 */
export function parseDeliveryData(element: XmlElement, position: number): DeliveryData {
  const path = itemStep('DeliveryData', position, { id: attribute(element, 'id') });
  const deliveryKey = requiredChild(element, NS.cpix, 'DeliveryKey', path);
  const documentKeys = childrenNamed(element, NS.cpix, 'DocumentKey').map((key, index) =>
    parseDocumentKey(key, `${path}/${itemStep('DocumentKey', index + 1, { id: attribute(key, 'id') })}`),
  );
  const macMethod = optionalChild(element, NS.cpix, 'MACMethod', path);
  const name = attribute(element, 'name');

  const texts: Partial<Record<(typeof TEXT_CHILDREN)[TextChildName], string>> = {};
  for (const child of elementsOf(element)) {
    if (child.namespace !== NS.cpix) throw invalid(`${path}/${safeName(child)}`, 'unexpected element');
    if (isTableKey(TEXT_CHILDREN, child.localName)) {
      const key = TEXT_CHILDREN[child.localName];
      if (texts[key] !== undefined) throw invalid(`${path}/${child.localName}`, 'must not occur more than once');
      texts[key] = textContent(child);
    } else if (!['DeliveryKey', 'DocumentKey', 'MACMethod'].includes(child.localName)) {
      throw invalid(`${path}/${safeName(child)}`, 'unexpected element');
    }
  }

  return {
    ...parseIdentified(element, path),
    ...(name === undefined ? {} : { name }),
    certificates: parseDeliveryKey(deliveryKey, `${path}/DeliveryKey`),
    documentKeys,
    ...(macMethod === undefined ? {} : { macMethod: parseMacMethod(macMethod, `${path}/MACMethod`) }),
    ...texts,
  };
}

/** `DeliveryKey` is a `ds:KeyInfoType`; only `ds:X509Data/ds:X509Certificate` (DER) is used in practice. */
function parseDeliveryKey(element: XmlElement, path: string): Buffer[] {
  const certificates: Buffer[] = [];
  for (const x509Data of childrenNamed(element, NS.ds, 'X509Data')) {
    for (const certificate of childrenNamed(x509Data, NS.ds, 'X509Certificate')) {
      certificates.push(decodeNonEmptyBase64(textContent(certificate), `${path}/X509Data/X509Certificate`));
    }
  }
  return certificates;
}

/**
 * `DocumentKey`: `Data/pskc:Secret/pskc:EncryptedValue/enc:CipherData/enc:CipherValue` holds the
 * RSA-OAEP-wrapped document key. Its length depends on the recipient's RSA modulus, so only
 * non-emptiness is checked here. `@encryptsKey` is one UUID per the 2.4 XSD, a space-separated list per
 * the prose: each token must be a UUID; the string is kept as received.
 */
function parseDocumentKey(element: XmlElement, path: string): DocumentKey {
  const id = attribute(element, 'id');
  const encryptsKey = attribute(element, 'encryptsKey');
  if (encryptsKey !== undefined) {
    const tokens = encryptsKey.split(/[ \t\r\n]+/).filter((token) => token !== '');
    if (tokens.length === 0) throw invalid(`${path}@encryptsKey`, 'must list at least one UUID');
    for (const token of tokens) parseUuid(token, `${path}@encryptsKey`);
  }
  const algorithm = attribute(element, 'Algorithm');
  const encryptedValue = wrappedKey(element, path);
  return {
    ...(id === undefined ? {} : { id }),
    ...(encryptsKey === undefined ? {} : { encryptsKey }),
    ...(algorithm === undefined ? {} : { algorithm }),
    ...(encryptedValue === undefined ? {} : { encryptedValue }),
  };
}

/**
 * The MAC key comes in three shapes (`cpix:Key/enc:…` in the DASH-IF test vectors, `cpix:Key/pskc:EncryptedValue/…`,
 * `pskc:MACKey/…`); all of them put the wrapped key in the first `enc:CipherValue` below `MACMethod`.
 */
function parseMacMethod(element: XmlElement, path: string): { algorithm: string; encryptedKey?: Buffer } {
  const algorithm = requiredAttribute(element, 'Algorithm', path);
  const encryptedKey = wrappedKey(element, path);
  return { algorithm, ...(encryptedKey === undefined ? {} : { encryptedKey }) };
}

/** The first `enc:CipherValue` below `element`; absent or empty means "not provided" (a placeholder). */
function wrappedKey(element: XmlElement, path: string): Buffer | undefined {
  const cipherValue = firstDescendant(element, NS.enc, 'CipherValue');
  if (cipherValue === undefined) return undefined;
  const text = textContent(cipherValue);
  if (text.trim() === '') return undefined;
  return decodeNonEmptyBase64(text, `${path}//CipherValue`);
}
