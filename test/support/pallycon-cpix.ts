import { createCipheriv } from 'node:crypto';
import { childElements, textOf, type XmlElement } from '../../src/xml/tree';
import { domToTree, parseDom } from './dom-to-tree';
import { parsePlayReadyObject, parsePsshBox, parseWidevinePsshData, playReadyKidToUuid } from './pssh-parser';

/**
 * Test-side reading of PallyCon CPIX API documents, independent of src/cpix: responses are read with
 * xmldom (what the packager's XML library would see). The official clients' requests, and how they
 * read answers, are in ./doverunner-clients.ts.
 */

export const NS = {
  cpix: 'urn:dashif:org:cpix',
  pskc: 'urn:ietf:params:xml:ns:keyprov:pskc',
  speke: 'urn:aws:amazon:com:speke',
  ds: 'http://www.w3.org/2000/09/xmldsig#',
} as const;

export const SYSTEM = {
  widevine: 'EDEF8BA9-79D6-4ACE-A3C8-27DCD51D21ED',
  playready: '9A04F079-9840-4286-AB92-E65BE0885F95',
  fairplay: '94CE86FB-07FF-4F43-ADB8-93D2FA968CA2',
} as const;

/** Widevine `WidevinePsshData` field numbers (`widevine_pssh_data.proto`, as Shaka Packager ships it). */
export const WV_FIELD = { algorithm: 1, keyId: 2, provider: 3, contentId: 4, trackType: 5, cryptoPeriodIndex: 7 } as const;

export interface CpixKey {
  readonly kid: string;
  readonly explicitIV?: Buffer;
  readonly commonEncryptionScheme?: string;
  /** Plain key bytes; undefined when the document carries no PlainValue. */
  readonly key?: Buffer;
}

export interface CpixDrmSystem {
  readonly kid: string;
  readonly systemId: string;
  readonly element: XmlElement;
  /** Local names of the child elements, in document order. */
  readonly childNames: readonly string[];
}

export interface CpixUsageRule {
  readonly kid: string;
  readonly intendedTrackType?: string;
  /** Each filter as `LocalName attr="value" …` (attributes sorted), in document order. */
  readonly filters: readonly string[];
}

export interface CpixView {
  readonly root: XmlElement;
  readonly id?: string;
  readonly contentId?: string;
  /** Local names of the root's children in document order (lists and `Signature`). */
  readonly rootChildren: readonly string[];
  readonly contentKeys: readonly CpixKey[];
  readonly drmSystems: readonly CpixDrmSystem[];
  readonly usageRules: readonly CpixUsageRule[];
  readonly periods: readonly { readonly id: string; readonly index?: number }[];
}

export function attr(element: XmlElement, name: string): string | undefined {
  return element.attributes.find((a) => a.namespace === '' && a.localName === name)?.value;
}

export function children(element: XmlElement, namespace: string, localName: string): XmlElement[] {
  return childElements(element).filter((child) => child.namespace === namespace && child.localName === localName);
}

export function child(element: XmlElement, namespace: string, localName: string): XmlElement | undefined {
  return children(element, namespace, localName)[0];
}

function listItems(root: XmlElement, list: string, item: string): XmlElement[] {
  const found = child(root, NS.cpix, list);
  return found === undefined ? [] : children(found, NS.cpix, item);
}

/** Base64 text content (whitespace ignored). */
export function base64Of(element: XmlElement | undefined): Buffer | undefined {
  return element === undefined ? undefined : Buffer.from(textOf(element).replace(/\s+/g, ''), 'base64');
}

function describeFilter(filter: XmlElement): string {
  const attributes = filter.attributes.map((a) => `${a.localName}="${a.value}"`).sort();
  return [filter.localName, ...attributes].join(' ');
}

/** Reads a CPIX document (request or response) with xmldom. */
export function readCpix(xml: string | Buffer): CpixView {
  const root = domToTree(parseDom(typeof xml === 'string' ? xml : xml.toString('utf8')));
  const optionalIndex = (value: string | undefined) => (value === undefined ? {} : { index: Number(value) });
  return {
    root,
    ...(attr(root, 'id') !== undefined && { id: attr(root, 'id') }),
    ...(attr(root, 'contentId') !== undefined && { contentId: attr(root, 'contentId') }),
    rootChildren: childElements(root).map((element) => element.localName),
    contentKeys: listItems(root, 'ContentKeyList', 'ContentKey').map((element): CpixKey => {
      const secret = child(child(element, NS.cpix, 'Data') ?? element, NS.pskc, 'Secret');
      const plain = secret === undefined ? undefined : child(secret, NS.pskc, 'PlainValue');
      const iv = attr(element, 'explicitIV');
      const scheme = attr(element, 'commonEncryptionScheme');
      return {
        kid: attr(element, 'kid') ?? '',
        ...(iv !== undefined && { explicitIV: Buffer.from(iv, 'base64') }),
        ...(scheme !== undefined && { commonEncryptionScheme: scheme }),
        ...(plain !== undefined && { key: base64Of(plain) }),
      };
    }),
    drmSystems: listItems(root, 'DRMSystemList', 'DRMSystem').map((element) => ({
      kid: attr(element, 'kid') ?? '',
      systemId: attr(element, 'systemId') ?? '',
      element,
      childNames: childElements(element).map((c) => c.localName),
    })),
    usageRules: listItems(root, 'ContentKeyUsageRuleList', 'ContentKeyUsageRule').map((element) => {
      const trackType = attr(element, 'intendedTrackType');
      return {
        kid: attr(element, 'kid') ?? '',
        ...(trackType !== undefined && { intendedTrackType: trackType }),
        filters: childElements(element).map(describeFilter),
      };
    }),
    periods: listItems(root, 'ContentKeyPeriodList', 'ContentKeyPeriod').map((element) => ({
      id: attr(element, 'id') ?? '',
      ...optionalIndex(attr(element, 'index')),
    })),
  };
}

/** Number of `ds:Signature` children of the root. */
export function signatureCount(view: CpixView): number {
  return children(view.root, NS.ds, 'Signature').length;
}

/** The `cpix:PSSH` box of a DRMSystem; throws when the system or its PSSH is missing. */
export function psshOf(system: CpixDrmSystem | undefined): Buffer {
  const box = system === undefined ? undefined : base64Of(child(system.element, NS.cpix, 'PSSH'));
  if (box === undefined) throw new Error(`no PSSH in DRMSystem ${system?.systemId ?? '(missing)'}`);
  return box;
}

export function uuidBytes(kid: string): Buffer {
  return Buffer.from(kid.replace(/-/g, ''), 'hex');
}

/** What a player reads from a Widevine `pssh`: key IDs (UUIDs), content ID, period, track type. */
export interface WidevineSignal {
  readonly keyIds: readonly string[];
  readonly provider?: string;
  readonly contentId?: string;
  readonly trackType?: string;
  readonly cryptoPeriodIndex?: number;
  readonly fieldNumbers: readonly number[];
}

export function readWidevinePsshData(data: Buffer): WidevineSignal {
  const fields = parseWidevinePsshData(data);
  const text = (n: number) => {
    const value = fields.get(n)?.[0];
    return Buffer.isBuffer(value) ? value.toString('latin1') : undefined;
  };
  const period = fields.get(WV_FIELD.cryptoPeriodIndex)?.[0];
  const hex = (value: number | Buffer) => (Buffer.isBuffer(value) ? value.toString('hex') : '');
  return {
    keyIds: (fields.get(WV_FIELD.keyId) ?? []).map((value) => hex(value).replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5')),
    ...(text(WV_FIELD.provider) !== undefined && { provider: text(WV_FIELD.provider) }),
    ...(text(WV_FIELD.contentId) !== undefined && { contentId: text(WV_FIELD.contentId) }),
    ...(text(WV_FIELD.trackType) !== undefined && { trackType: text(WV_FIELD.trackType) }),
    ...(typeof period === 'number' && { cryptoPeriodIndex: period }),
    fieldNumbers: [...fields.keys()].sort((a, b) => a - b),
  };
}

/** The Widevine signal of a `cpix:PSSH` box (checked to be a Widevine v0 box). */
export function readWidevinePssh(box: Buffer): WidevineSignal & { readonly psshData: Buffer } {
  const pssh = parsePsshBox(box);
  if (pssh.systemId !== SYSTEM.widevine.toLowerCase()) throw new Error(`not a Widevine pssh: ${pssh.systemId}`);
  return { ...readWidevinePsshData(pssh.data), psshData: pssh.data };
}

/** What a PlayReady client reads from a PRO: the header version, KIDs with CHECKSUM, custom attributes. */
export interface PlayReadySignal {
  readonly version: string;
  readonly kids: readonly { readonly kid: string; readonly checksum?: string; readonly algId?: string }[];
  readonly periodIndex?: number;
}

export function readPlayReadyObject(pro: Buffer): PlayReadySignal {
  const header = parsePlayReadyObject(pro);
  const version = /<WRMHEADER[^>]* version="([^"]+)"/.exec(header)?.[1] ?? '';
  const kids = [...header.matchAll(/<KID ([^>]*)>/g)].map((match) => {
    const attributes = match[1] ?? '';
    const value = (name: string) => new RegExp(`${name}="([^"]*)"`).exec(attributes)?.[1];
    const checksum = value('CHECKSUM');
    const algId = value('ALGID');
    return { kid: playReadyKidToUuid(value('VALUE') ?? ''), ...(checksum !== undefined && { checksum }), ...(algId !== undefined && { algId }) };
  });
  // 4.0.0.0 header: <KID>b64</KID><CHECKSUM>b64</CHECKSUM>
  const legacyKid = /<KID>([^<]+)<\/KID>/.exec(header)?.[1];
  const legacyChecksum = /<CHECKSUM>([^<]+)<\/CHECKSUM>/.exec(header)?.[1];
  if (legacyKid !== undefined) kids.push({ kid: playReadyKidToUuid(legacyKid), ...(legacyChecksum !== undefined && { checksum: legacyChecksum }) });
  const period = /<PERIOD_INDEX>([0-9]+)<\/PERIOD_INDEX>/.exec(header)?.[1];
  return { version, kids, ...(period !== undefined && { periodIndex: Number(period) }) };
}

/**
 * PlayReady AESCTR CHECKSUM: base64(AES-128-ECB(key, KID in GUID byte order)[0..8]) (Microsoft PlayReady
 * Header Specification; Shaka Packager's `playready_pssh_generator.cc`).
 */
export function playReadyChecksum(kid: string, key: Buffer): string {
  const be = uuidBytes(kid);
  const guid = Buffer.from(be);
  guid.writeUInt32LE(be.readUInt32BE(0), 0);
  guid.writeUInt16LE(be.readUInt16BE(4), 4);
  guid.writeUInt16LE(be.readUInt16BE(6), 6);
  const cipher = createCipheriv('aes-128-ecb', key, null);
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(guid), cipher.final()]).subarray(0, 8).toString('base64');
}
