/**
 * `DeliveryDataList` and `ContentKeyList` for the builder (DASH-IF CPIX 2.3 §5.2.2–5.2.5, §6.1): the
 * recipient envelope in the Axinom/DASH-IF shape and the content keys, per target version.
 */

import type { XmlElement, XmlNode } from '../xml/tree';
import { ALGORITHM } from './constants';
import { type BuildContext, base64, integer } from './build-context';
import type { ContentKey, ContentKeyData, DeliveryData, DocumentKey } from './model';
import { shownValue } from './shown';

/** One `DeliveryData` (recipient): DeliveryKey, DocumentKey(s), MACMethod, then the descriptive strings. */
export function buildDeliveryData(ctx: BuildContext, delivery: DeliveryData, path: string): XmlElement {
  const { profile } = ctx;
  if (!profile.cpix24 && delivery.documentKeys.length > 1) ctx.unsupported(`${path}/DocumentKey[2]`);

  const certificates = delivery.certificates.map((der) => ctx.textElement('ds', 'X509Certificate', base64(der)));
  const children: XmlNode[] = [ctx.element('cpix', 'DeliveryKey', [], [ctx.element('ds', 'X509Data', [], certificates)])];
  delivery.documentKeys.forEach((key, index) => children.push(buildDocumentKey(ctx, key, `${path}/DocumentKey[${index + 1}]`)));

  if (delivery.macMethod !== undefined) {
    const { algorithm, encryptedKey } = delivery.macMethod;
    // `cpix:Key/enc:…` (the DASH-IF test vectors' shape, see ./parse-delivery.ts): the only one Axinom can read.
    const key = encryptedKey === undefined ? [] : [ctx.element('cpix', 'Key', [], rsaOaepCipher(ctx, encryptedKey))];
    children.push(ctx.element('cpix', 'MACMethod', [['Algorithm', algorithm]], key));
  }
  const strings: readonly [string, string | undefined][] = [
    ['Description', delivery.description],
    ['SendingEntity', delivery.sendingEntity],
    ['SenderPointOfContact', delivery.senderPointOfContact],
    ['ReceivingEntity', delivery.receivingEntity],
  ];
  for (const [name, value] of strings) if (value !== undefined) children.push(ctx.textElement('cpix', name, value));

  return ctx.element(
    'cpix',
    'DeliveryData',
    [
      ['id', delivery.id],
      ['updateVersion', integer(delivery.updateVersion)],
      ['name', delivery.name],
    ],
    children,
  );
}

function buildDocumentKey(ctx: BuildContext, key: DocumentKey, path: string): XmlElement {
  const { profile } = ctx;
  if (!profile.cpix24 && key.encryptsKey !== undefined) ctx.unsupported(`${path}@encryptsKey`);
  const data =
    key.encryptedValue === undefined
      ? []
      : [ctx.element('cpix', 'Data', [], [ctx.element('pskc', 'Secret', [], [ctx.element('pskc', 'EncryptedValue', [], rsaOaepCipher(ctx, key.encryptedValue))])])];
  return ctx.element(
    'cpix',
    'DocumentKey',
    [
      ['id', key.id],
      // Axinom requires @Algorithm up to 2.3 and the 2.4 XSD forbids it, where AES-256-CBC is implied.
      ['Algorithm', profile.pskcKeyType ? (key.algorithm ?? ALGORITHM.aes256Cbc) : undefined],
      ['encryptsKey', key.encryptsKey],
    ],
    data,
  );
}

/** `enc:EncryptionMethod` (RSA-OAEP-MGF1P) + `enc:CipherData/enc:CipherValue`. */
function rsaOaepCipher(ctx: BuildContext, wrapped: Buffer): XmlElement[] {
  return [
    ctx.element('enc', 'EncryptionMethod', [['Algorithm', ALGORITHM.rsaOaepMgf1p]]),
    ctx.element('enc', 'CipherData', [], [ctx.textElement('enc', 'CipherValue', base64(wrapped))]),
  ];
}

/** One `ContentKey`: attributes per version, then (2.4) HDCPData and Data. */
export function buildContentKey(ctx: BuildContext, key: ContentKey): XmlElement {
  const { profile } = ctx;
  const path = `ContentKey[kid=${key.kid}]`;
  if (key.algorithm !== undefined && !profile.pskcKeyType) ctx.unsupported(`${path}@Algorithm`);
  if (key.contentId !== undefined && !profile.cpix24) ctx.unsupported(`${path}@contentId`);
  if (key.hdcp !== undefined && !profile.cpix24) ctx.unsupported(`${path}/HDCPData`);
  const scheme = key.commonEncryptionScheme;
  if (scheme !== undefined) {
    if (profile.commonEncryptionScheme === 'absent') ctx.unsupported(`${path}@commonEncryptionScheme`);
    // The 2.3 XSD types it as a string of length 4; HLS method names arrived in 2.3.1.
    if (profile.commonEncryptionScheme === 'length-4' && [...scheme].length !== 4) {
      ctx.unsupported(`${path}@commonEncryptionScheme${shownValue(scheme)}`);
    }
  }

  const children: XmlNode[] = [];
  if (key.hdcp !== undefined) {
    const { hlsHdcpLevel, outputProtectionData } = key.hdcp;
    const inner = outputProtectionData === undefined ? [] : [ctx.textElement('cpix', 'HDCPOutputProtectionData', base64(outputProtectionData))];
    children.push(ctx.element('cpix', 'HDCPData', [['HLSHDCPLevel', hlsHdcpLevel]], inner));
  }
  if (key.data !== undefined) children.push(ctx.element('cpix', 'Data', [], [buildSecret(ctx, key.data)]));

  return ctx.element(
    'cpix',
    'ContentKey',
    [
      ['id', key.id],
      ['Algorithm', key.algorithm],
      ['kid', key.kid],
      ['explicitIV', key.explicitIV === undefined ? undefined : base64(key.explicitIV)],
      ['dependsOnKey', key.dependsOnKey],
      ['commonEncryptionScheme', scheme],
      ['contentId', key.contentId],
    ],
    children,
  );
}

/** `pskc:Secret` with PlainValue, or EncryptedValue (AES-256-CBC, IV ‖ ciphertext) and ValueMAC. */
function buildSecret(ctx: BuildContext, data: ContentKeyData): XmlElement {
  if (data.kind === 'plain') return ctx.element('pskc', 'Secret', [], [ctx.textElement('pskc', 'PlainValue', base64(data.value))]);
  const encrypted = ctx.element(
    'pskc',
    'EncryptedValue',
    [],
    [
      ctx.element('enc', 'EncryptionMethod', [['Algorithm', data.algorithm]]),
      ctx.element('enc', 'CipherData', [], [ctx.textElement('enc', 'CipherValue', base64(data.cipherValue))]),
    ],
  );
  const mac = data.valueMac === undefined ? [] : [ctx.textElement('pskc', 'ValueMAC', base64(data.valueMac))];
  return ctx.element('pskc', 'Secret', [], [encrypted, ...mac]);
}
