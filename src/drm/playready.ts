/**
 * PlayReady signaling: KIDs in GUID byte order, the header CHECKSUM, the WRMHEADER XML (versions
 * 4.0.0.0–4.3.0.0) and the PlayReady Object (PRO) that carries it (Microsoft
 * "PlayReady Header Specification"; Shaka `playready_pssh_generator.cc`; Bento4 `ComputePlayReadyHeader`).
 */

import { createCipheriv } from 'node:crypto';

import { KEY_ID_LENGTH_BYTES } from '../keys/key-id';
import { ByteWriter, UINT16_MAX } from './byte-writer';
import { assertKeyIdBytes, buildPsshBox } from './pssh';
import { PLAYREADY_SYSTEM_ID } from './system-ids';
import { XmlFragmentWriter } from './xml-writer';

export const PLAYREADY_HEADER_NAMESPACE = 'http://schemas.microsoft.com/DRM/2007/03/PlayReadyHeader';
export const PLAYREADY_CONTENT_KEY_LENGTH_BYTES = 128 / 8;
/** CHECKSUM is the first 8 bytes of the AES-ECB block (PlayReady Header spec, KID/@CHECKSUM). */
export const PLAYREADY_CHECKSUM_LENGTH_BYTES = 8;

/** PRO record type of a Rights Management header (the WRMHEADER). */
const PRO_RECORD_TYPE_RM_HEADER = 1;
const PRO_LENGTH_FIELD_BYTES = 4;
const PRO_RECORD_COUNT_BYTES = 2;
const PRO_RECORD_TYPE_BYTES = 2;
const PRO_RECORD_LENGTH_BYTES = 2;
/** WRMHEADER 4.0 states the key length in bytes (`<KEYLEN>16</KEYLEN>`). */
const WRMHEADER_4_0_KEYLEN_BYTES = 16;

export type WrmHeaderVersion = '4.0.0.0' | '4.1.0.0' | '4.2.0.0' | '4.3.0.0';

/** `AESCTR` for `cenc`; `AESCBC` for `cbcs`, which only WRMHEADER 4.3.0.0 can express. */
export type PlayReadyAlgorithm = 'AESCTR' | 'AESCBC';

function assertLength(what: string, bytes: Uint8Array, length: number): void {
  if (bytes.length !== length) throw new RangeError(`${what} must be ${length} bytes, got ${bytes.length}`);
}

/**
 * Converts a 16-byte KID from big-endian (UUID text) order to Microsoft GUID order, in which the first
 * three groups (bytes 0–3, 4–5, 6–7) are little-endian and bytes 8–15 are unchanged (`Guid.ToByteArray`).
 * Every KID a PlayReady header carries is in this order. Throws `RangeError` unless 16 bytes.
 */
export function toPlayReadyGuidBytes(keyIdBigEndian: Uint8Array): Buffer {
  assertLength('key ID', keyIdBigEndian, KEY_ID_LENGTH_BYTES);
  const kid = Buffer.from(keyIdBigEndian);
  const guid = Buffer.from(kid);
  guid.writeUInt32LE(kid.readUInt32BE(0), 0);
  guid.writeUInt16LE(kid.readUInt16BE(4), 4);
  guid.writeUInt16LE(kid.readUInt16BE(6), 6);
  return guid;
}

/**
 * The header CHECKSUM for an AESCTR key: the first 8 bytes of AES-128-ECB(key = content key,
 * block = KID in GUID order). Throws `RangeError` unless the KID and the key are 16 bytes.
 */
export function computePlayReadyChecksum(keyId: Uint8Array, contentKey: Uint8Array): Buffer {
  assertLength('content key', contentKey, PLAYREADY_CONTENT_KEY_LENGTH_BYTES);
  const cipher = createCipheriv('aes-128-ecb', contentKey, null).setAutoPadding(false);
  const block = Buffer.concat([cipher.update(toPlayReadyGuidBytes(keyId)), cipher.final()]);
  return block.subarray(0, PLAYREADY_CHECKSUM_LENGTH_BYTES);
}

/** One key of a WRMHEADER. `contentKey` is needed only for a CHECKSUM. */
export interface WrmHeaderKey {
  /** 16 bytes, big-endian (UUID text) order; converted to GUID order here. */
  readonly keyId: Uint8Array;
  readonly contentKey?: Uint8Array;
}

/** A child of `<CUSTOMATTRIBUTES>`, e.g. PallyCon's `{ name: 'PERIOD_INDEX', value: '128' }`. */
export interface WrmHeaderCustomAttribute {
  readonly name: string;
  readonly value: string;
}

export interface WrmHeaderOptions {
  readonly version: WrmHeaderVersion;
  /** Exactly one key for 4.0 and 4.1; one or more for 4.2 and 4.3. */
  readonly keys: readonly WrmHeaderKey[];
  /** Default `AESCTR`. `AESCBC` needs version 4.3.0.0. */
  readonly algorithm?: PlayReadyAlgorithm;
  /**
   * Whether each KID carries a CHECKSUM. Default: yes for AESCTR (Shaka, PallyCon), no for AESCBC
   * (Shaka omits it; we have not checked an AESCBC checksum rule against the Microsoft specification).
   * Bento4 emits it for AESCBC too: pass `true`.
   */
  readonly checksum?: boolean;
  readonly laUrl?: string;
  readonly luiUrl?: string;
  readonly dsId?: string;
  readonly customAttributes?: readonly WrmHeaderCustomAttribute[];
}

/**
 * Builds the WRMHEADER XML: no declaration, no whitespace, attributes in alphabetical order (PlayReady
 * Header spec, "Syntax Requirements"), every caller value escaped by the writer. Element order inside
 * `DATA`, as PallyCon and Bento4 write it:
 *
 * ```
 * 4.0.0.0  PROTECTINFO(KEYLEN, ALGID) KID [CHECKSUM] [LA_URL] [LUI_URL] [DS_ID] [CUSTOMATTRIBUTES]
 * 4.1.0.0  PROTECTINFO(KID@ALGID,CHECKSUM,VALUE) [LA_URL] …
 * 4.2/4.3  PROTECTINFO(KIDS(KID@ALGID,CHECKSUM,VALUE …)) [LA_URL] …
 * ```
 *
 * Throws `RangeError` for a key count or algorithm the version cannot express, a KID or key that is not
 * 16 bytes, a CHECKSUM without a content key, or a custom attribute name that is not an XML name.
 */
export function buildWrmHeader(options: WrmHeaderOptions): string {
  const { version, keys } = options;
  const algorithm = options.algorithm ?? 'AESCTR';
  const withChecksum = options.checksum ?? algorithm === 'AESCTR';

  if (keys.length === 0) throw new RangeError('a PlayReady header needs at least one key');
  if ((version === '4.0.0.0' || version === '4.1.0.0') && keys.length !== 1) {
    throw new RangeError(`WRMHEADER ${version} carries exactly one key`);
  }
  if (algorithm === 'AESCBC' && version !== '4.3.0.0') throw new RangeError('AESCBC needs WRMHEADER 4.3.0.0');
  assertKeyIdBytes(keys.map((key) => key.keyId));

  const value = (key: WrmHeaderKey): string => toPlayReadyGuidBytes(key.keyId).toString('base64');
  const checksum = (key: WrmHeaderKey): string => {
    if (key.contentKey === undefined) throw new RangeError('a PlayReady CHECKSUM needs the content key');
    return computePlayReadyChecksum(key.keyId, key.contentKey).toString('base64');
  };
  const kidAttributes = (key: WrmHeaderKey): Record<string, string> => ({
    ALGID: algorithm,
    ...(withChecksum ? { CHECKSUM: checksum(key) } : {}),
    VALUE: value(key),
  });

  const xml = new XmlFragmentWriter()
    .start('WRMHEADER', { version }, [{ prefix: '', uri: PLAYREADY_HEADER_NAMESPACE }])
    .start('DATA')
    .start('PROTECTINFO');
  const [first] = keys;
  if (version === '4.0.0.0' && first !== undefined) {
    xml.element('KEYLEN', String(WRMHEADER_4_0_KEYLEN_BYTES)).element('ALGID', algorithm).end();
    xml.element('KID', value(first));
    if (withChecksum) xml.element('CHECKSUM', checksum(first));
  } else if (version === '4.1.0.0' && first !== undefined) {
    xml.element('KID', '', kidAttributes(first)).end();
  } else {
    xml.start('KIDS');
    for (const key of keys) xml.element('KID', '', kidAttributes(key));
    xml.end().end();
  }

  if (options.laUrl !== undefined) xml.element('LA_URL', options.laUrl);
  if (options.luiUrl !== undefined) xml.element('LUI_URL', options.luiUrl);
  if (options.dsId !== undefined) xml.element('DS_ID', options.dsId);
  if (options.customAttributes !== undefined && options.customAttributes.length > 0) {
    xml.start('CUSTOMATTRIBUTES');
    for (const attribute of options.customAttributes) xml.element(attribute.name, attribute.value);
    xml.end();
  }
  return xml.end().end().toString();
}

/**
 * Wraps a WRMHEADER in a PlayReady Object with one Rights Management header record. Layout (all
 * integers little-endian; PlayReady Header spec, "PlayReady Object"):
 *
 * ```
 * uint32 length (whole PRO = 10 + recordLength) | uint16 recordCount = 1
 * uint16 recordType = 1 (RM header) | uint16 recordLength | WRMHEADER as UTF-16LE, no BOM
 * ```
 *
 * The PRO is the PlayReady `pssh` data, the DASH `<mspr:pro>`, the Smooth Streaming protection header
 * and the HLS `data:text/plain;charset=UTF-16;base64,` payload. Throws `RangeError` if the header
 * exceeds a uint16 record length.
 */
export function buildPlayReadyObject(wrmHeader: string): Buffer {
  const record = Buffer.from(wrmHeader, 'utf16le');
  if (record.length > UINT16_MAX) throw new RangeError('WRMHEADER exceeds the 64 KiB PRO record limit');
  const size = PRO_LENGTH_FIELD_BYTES + PRO_RECORD_COUNT_BYTES + PRO_RECORD_TYPE_BYTES + PRO_RECORD_LENGTH_BYTES + record.length;
  return new ByteWriter('PlayReady Object', size)
    .u32le(size)
    .u16le(1)
    .u16le(PRO_RECORD_TYPE_RM_HEADER)
    .u16le(record.length)
    .bytes(record)
    .finish();
}

/** The PlayReady `pssh` box: version 0 with the PRO as data (PallyCon, Shaka, Bento4). */
export function buildPlayReadyPsshBox(playReadyObject: Uint8Array): Buffer {
  return buildPsshBox(PLAYREADY_SYSTEM_ID, playReadyObject);
}
