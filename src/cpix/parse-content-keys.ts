/** `ContentKeyList/ContentKey` (DASH-IF CPIX 2.3 §5.2.5) and the `pskc:Secret` inside `cpix:Data`. */

import { CpixUnsupported } from '../errors';
import type { XmlElement } from '../xml/tree';
import {
  CBC_IV_LENGTH_BYTES,
  CONTENT_KEY_LENGTHS_BYTES,
  EXPLICIT_IV_LENGTH_BYTES,
  NS,
  VALUE_MAC_LENGTH_BYTES,
} from './constants';
import type { ContentKey, ContentKeyData, HdcpData } from './model';
import { attribute, elementsOf, isCpix, optionalChild, requiredAttribute, requiredChild, safeName, textContent } from './parse-element';
import { parseIdentified } from './parse-list';
import { decodeBase64, decodeBase64OfLength, invalid, itemStep, parseUuid } from './parse-values';

/** IV(16) ‖ AES-256-CBC-PKCS7(key) for a 16- or 32-byte key (DASH-IF CPIX 2.3 §6.1.2: the CipherValue is the IV and the encrypted key). */
const CIPHER_VALUE_LENGTHS_BYTES = CONTENT_KEY_LENGTHS_BYTES.map((keyLength) => CBC_IV_LENGTH_BYTES + keyLength + 16);

/** PSKC `KeyType` children (cpix:KeyType, ≤ 2.3.1) that carry no key-use meaning: accepted and dropped. */
const IGNORED_KEY_CHILDREN = new Set(['Issuer', 'AlgorithmParameters', 'KeyProfileId', 'KeyReference', 'FriendlyName', 'UserId']);

/**
 * PSKC children that restrict how a key may be used (`Policy`: start/expiry dates, usage limits) or whose
 * meaning is open-ended (`Extensions`). Ignoring them would release the key more broadly than the
 * document allows (the PSKC `Policy` of RFC 6030), so they are refused as unsupported.
 */
const NARROWING_KEY_CHILDREN = new Set(['Policy', 'Extensions']);

/**
 * Parses one `ContentKey`. `position` is 1-based and used in paths when the kid is unusable.
 *
 * @throws CpixInvalid for a bad kid/explicitIV/dependsOnKey, bad base64 or wrong key/IV/MAC lengths.
 * @throws CpixUnsupported for a PSKC `Policy` or `Extensions` child.
 */
export function parseContentKey(element: XmlElement, position: number): ContentKey {
  const rawKid = attribute(element, 'kid');
  const path = itemStep('ContentKey', position, { kid: rawKid });
  const kid = parseUuid(requiredAttribute(element, 'kid', path), `${path}@kid`);

  const explicitIVText = attribute(element, 'explicitIV');
  const dependsOnKey = attribute(element, 'dependsOnKey');
  let hdcp: HdcpData | undefined;
  let data: ContentKeyData | undefined;

  for (const child of elementsOf(element)) {
    const childPath = `${path}/${safeName(child)}`;
    if (isCpix(child, 'HDCPData')) {
      if (hdcp !== undefined) throw invalid(childPath, 'must not occur more than once');
      hdcp = parseHdcpData(child, childPath);
    } else if (isCpix(child, 'Data')) {
      if (data !== undefined) throw invalid(childPath, 'must not occur more than once');
      data = parseKeyData(child, childPath);
    } else if (child.namespace === NS.cpix && IGNORED_KEY_CHILDREN.has(child.localName)) {
      continue;
    } else if (child.namespace === NS.cpix && NARROWING_KEY_CHILDREN.has(child.localName)) {
      throw new CpixUnsupported(`${childPath}: key-usage restrictions are not supported`);
    } else {
      throw invalid(childPath, 'unexpected element');
    }
  }

  return {
    ...parseIdentified(element, path),
    kid,
    ...(explicitIVText === undefined
      ? {}
      : { explicitIV: decodeBase64OfLength(explicitIVText, `${path}@explicitIV`, [EXPLICIT_IV_LENGTH_BYTES]) }),
    ...optionalString(element, 'commonEncryptionScheme'),
    ...(dependsOnKey === undefined ? {} : { dependsOnKey: parseUuid(dependsOnKey, `${path}@dependsOnKey`) }),
    ...optionalString(element, 'contentId'),
    ...optionalString(element, 'Algorithm', 'algorithm'),
    ...(hdcp === undefined ? {} : { hdcp }),
    ...(data === undefined ? {} : { data }),
  };
}

function optionalString(element: XmlElement, name: string, key: string = name): Record<string, string> {
  const value = attribute(element, name);
  return value === undefined ? {} : { [key]: value };
}

function parseHdcpData(element: XmlElement, path: string): HdcpData {
  const level = attribute(element, 'HLSHDCPLevel');
  const protection = optionalChild(element, NS.cpix, 'HDCPOutputProtectionData', path);
  return {
    ...(level === undefined ? {} : { hlsHdcpLevel: level }),
    ...(protection === undefined
      ? {}
      : { outputProtectionData: decodeBase64(textContent(protection), `${path}/HDCPOutputProtectionData`) }),
  };
}

/**
 * `cpix:Data/pskc:Secret`: either `PlainValue` or `EncryptedValue`, then an optional `ValueMAC`.
 * A `Data` without a secret, or an empty `PlainValue`, is a request placeholder: no data.
 */
function parseKeyData(element: XmlElement, path: string): ContentKeyData | undefined {
  const secret = optionalChild(element, NS.pskc, 'Secret', path);
  if (secret === undefined) return undefined;
  const secretPath = `${path}/Secret`;
  const plain = optionalChild(secret, NS.pskc, 'PlainValue', secretPath);
  const encrypted = optionalChild(secret, NS.pskc, 'EncryptedValue', secretPath);
  const macElement = optionalChild(secret, NS.pskc, 'ValueMAC', secretPath);
  const valueMac =
    macElement === undefined
      ? undefined
      : decodeBase64OfLength(textContent(macElement), `${secretPath}/ValueMAC`, [VALUE_MAC_LENGTH_BYTES]);

  if (plain !== undefined && encrypted !== undefined) {
    throw invalid(secretPath, 'must hold either PlainValue or EncryptedValue, not both');
  }
  if (plain !== undefined) {
    const text = textContent(plain);
    if (text.trim() === '') return undefined;
    return { kind: 'plain', value: decodeBase64OfLength(text, `${secretPath}/PlainValue`, CONTENT_KEY_LENGTHS_BYTES) };
  }
  if (encrypted === undefined) return undefined;

  const encryptedPath = `${secretPath}/EncryptedValue`;
  const method = requiredChild(encrypted, NS.enc, 'EncryptionMethod', encryptedPath);
  const algorithm = requiredAttribute(method, 'Algorithm', `${encryptedPath}/EncryptionMethod`);
  const cipherData = requiredChild(encrypted, NS.enc, 'CipherData', encryptedPath);
  const cipherValue = requiredChild(cipherData, NS.enc, 'CipherValue', `${encryptedPath}/CipherData`);
  return {
    kind: 'encrypted',
    algorithm,
    cipherValue: decodeBase64OfLength(
      textContent(cipherValue),
      `${encryptedPath}/CipherData/CipherValue`,
      CIPHER_VALUE_LENGTHS_BYTES,
    ),
    ...(valueMac === undefined ? {} : { valueMac }),
  };
}
