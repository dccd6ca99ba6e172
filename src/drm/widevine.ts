/**
 * Widevine `pssh` data: the `WidevinePsshData` protobuf (proto2), serialized by hand because only a
 * handful of scalar fields are needed (Widevine's `widevine_pssh_data.proto`, as in Shaka
 * `packager/media/base/widevine_pssh_data.proto`).
 */

import { ByteWriter, UINT32_MAX } from './byte-writer';
import { assertKeyIdBytes, buildPsshBox } from './pssh';
import { WIDEVINE_SYSTEM_ID } from './system-ids';

/** `WidevinePsshData.Algorithm` (deprecated field 1; PallyCon still sends `AESCTR`). */
export type WidevineAlgorithm = 'UNENCRYPTED' | 'AESCTR';

/** The Common Encryption schemes of ISO/IEC 23001-7 §10, as FourCCs. */
export type ProtectionScheme = 'cenc' | 'cens' | 'cbc1' | 'cbcs';

/** Fields of `WidevinePsshData`; each is emitted only when given. */
export interface WidevinePsshData {
  /** Field 1. Deprecated; PallyCon/DoveRunner emit `AESCTR` (`08 01`), Shaka and Bento4 omit it. */
  readonly algorithm?: WidevineAlgorithm;
  /** Field 2, repeated: 16-byte KIDs in big-endian (UUID text) order. */
  readonly keyIds?: readonly Uint8Array[];
  /** Field 3: `inkaentworks` (PallyCon), `movidone` (EZDRM), … */
  readonly provider?: string;
  /**
   * Field 4 (bytes). A string is written as UTF-8. Under PallyCon key rotation this is
   * {@link pallyConRotationContentId}.
   */
  readonly contentId?: string | Uint8Array;
  /** Field 5, `track_type_deprecated`: PallyCon's `intendedTrackType` (`HD`, `SD`, `AUDIO`, …). */
  readonly trackType?: string;
  /** Field 6. */
  readonly policy?: string;
  /** Field 7 (uint32): the key period index under rotation (`38 80 01` = 128). */
  readonly cryptoPeriodIndex?: number;
  /** Field 8 (bytes). */
  readonly groupedLicense?: Uint8Array;
  /** Field 9 (uint32): the scheme FourCC as a big-endian integer; `cbcs` → `48 f3 c6 89 9b 06`. */
  readonly protectionScheme?: ProtectionScheme;
  /** Field 10 (uint32), newer Google proto. */
  readonly cryptoPeriodSeconds?: number;
}

const ALGORITHM_VALUE: Readonly<Record<WidevineAlgorithm, number>> = { UNENCRYPTED: 0, AESCTR: 1 };

// Protobuf wire types (protobuf encoding guide, "Message Structure").
const WIRE_TYPE_VARINT = 0;
const WIRE_TYPE_LENGTH_DELIMITED = 2;
const VARINT_PAYLOAD_BITS = 7;
const VARINT_PAYLOAD_MASK = 0x7f;
const VARINT_CONTINUATION = 0x80;

const FIELD = {
  algorithm: 1,
  keyId: 2,
  provider: 3,
  contentId: 4,
  trackType: 5,
  policy: 6,
  cryptoPeriodIndex: 7,
  groupedLicense: 8,
  protectionScheme: 9,
  cryptoPeriodSeconds: 10,
} as const;

/** PallyCon's rotation suffix is the period index as 16 zero-padded lower-case hex digits (`%016x`). */
const PALLYCON_PERIOD_SUFFIX_HEX_DIGITS = 16;

/** The FourCC of a Common Encryption scheme as the uint32 that `protection_scheme` carries. */
export function protectionSchemeFourCc(scheme: ProtectionScheme): number {
  return Buffer.from(scheme, 'latin1').readUInt32BE(0);
}

/**
 * The `content_id` PallyCon writes under key rotation: the CID followed by the period index as
 * 16 zero-padded lower-case hex digits (`cpix-test-cid` + `0000000000000080` for index 128, as PallyCon's KMS answers; docs/pallycon-api.md).
 */
export function pallyConRotationContentId(contentId: string, periodIndex: number): string {
  if (!Number.isSafeInteger(periodIndex) || periodIndex < 0) {
    throw new RangeError('period index must be a non-negative integer');
  }
  return contentId + periodIndex.toString(16).padStart(PALLYCON_PERIOD_SUFFIX_HEX_DIGITS, '0');
}

/** A protobuf field as written: tag, then a varint value or a length-delimited byte string. */
type ProtobufField = readonly [field: number, value: number | Uint8Array];

function assertUint32(value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > UINT32_MAX) throw new RangeError(`${value} is not a uint32`);
}

/** Bytes of `value` (a uint32) as a varint: 7 payload bits per byte. */
function varintLength(value: number): number {
  let length = 1;
  for (let rest = value >>> VARINT_PAYLOAD_BITS; rest > 0; rest >>>= VARINT_PAYLOAD_BITS) length += 1;
  return length;
}

function writeVarint(out: ByteWriter, value: number): ByteWriter {
  let rest = value;
  while (rest > VARINT_PAYLOAD_MASK) {
    out.u8((rest & VARINT_PAYLOAD_MASK) | VARINT_CONTINUATION);
    rest >>>= VARINT_PAYLOAD_BITS;
  }
  return out.u8(rest);
}

const tagOf = ([field, value]: ProtobufField): number => (field << 3) | (typeof value === 'number' ? WIRE_TYPE_VARINT : WIRE_TYPE_LENGTH_DELIMITED);

/** The message of `fields`, in the order given, sized first and written into one buffer. */
function encodeMessage(what: string, fields: readonly ProtobufField[]): Buffer {
  let size = 0;
  for (const field of fields) {
    const value = field[1];
    if (typeof value === 'number') assertUint32(value);
    size += varintLength(tagOf(field)) + (typeof value === 'number' ? varintLength(value) : varintLength(value.length) + value.length);
  }
  const out = new ByteWriter(what, size);
  for (const field of fields) {
    const value = field[1];
    writeVarint(out, tagOf(field));
    if (typeof value === 'number') writeVarint(out, value);
    else writeVarint(out, value.length).bytes(value);
  }
  return out.finish();
}

const utf8 = (value: string | Uint8Array): Uint8Array => (typeof value === 'string' ? Buffer.from(value, 'utf8') : value);

/**
 * Serializes `WidevinePsshData`: each given field as `tag(field << 3 | wire type) [length] value`, in
 * ascending field number as protobuf `SerializeAsString` does (so output is byte-identical to Shaka,
 * Bento4 and the PallyCon KMS). Throws `RangeError` for a KID that is not 16 bytes or an integer that is
 * not a uint32.
 */
export function encodeWidevinePsshData(data: WidevinePsshData): Buffer {
  const keyIds = data.keyIds ?? [];
  assertKeyIdBytes(keyIds);

  const fields: ProtobufField[] = [];
  if (data.algorithm !== undefined) fields.push([FIELD.algorithm, ALGORITHM_VALUE[data.algorithm]]);
  for (const kid of keyIds) fields.push([FIELD.keyId, kid]);
  if (data.provider !== undefined) fields.push([FIELD.provider, utf8(data.provider)]);
  if (data.contentId !== undefined) fields.push([FIELD.contentId, utf8(data.contentId)]);
  if (data.trackType !== undefined) fields.push([FIELD.trackType, utf8(data.trackType)]);
  if (data.policy !== undefined) fields.push([FIELD.policy, utf8(data.policy)]);
  if (data.cryptoPeriodIndex !== undefined) fields.push([FIELD.cryptoPeriodIndex, data.cryptoPeriodIndex]);
  if (data.groupedLicense !== undefined) fields.push([FIELD.groupedLicense, data.groupedLicense]);
  if (data.protectionScheme !== undefined) fields.push([FIELD.protectionScheme, protectionSchemeFourCc(data.protectionScheme)]);
  if (data.cryptoPeriodSeconds !== undefined) fields.push([FIELD.cryptoPeriodSeconds, data.cryptoPeriodSeconds]);
  return encodeMessage('WidevinePsshData', fields);
}

/**
 * The Widevine `pssh` box: version 0 with the protobuf (`encodeWidevinePsshData`) as data, as
 * PallyCon, Shaka and Bento4 emit it (ISO/IEC 23001-7 §8.1). This is CPIX `<cpix:PSSH>` (base64)
 * and the HLS `data:` URI payload. Takes the encoded data, which PallyCon's answer also carries alone.
 */
export function buildWidevinePsshBox(psshData: Uint8Array): Buffer {
  return buildPsshBox(WIDEVINE_SYSTEM_ID, psshData);
}
