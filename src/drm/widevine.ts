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

function varint(value: number): Buffer {
  if (!Number.isInteger(value) || value < 0 || value > UINT32_MAX) throw new RangeError(`${value} is not a uint32`);
  const bytes: number[] = [];
  let rest = value;
  do {
    let byte = rest & VARINT_PAYLOAD_MASK;
    rest >>>= VARINT_PAYLOAD_BITS;
    if (rest > 0) byte |= VARINT_CONTINUATION;
    bytes.push(byte);
  } while (rest > 0);
  return Buffer.from(bytes);
}

const tag = (field: number, wireType: number): Buffer => varint((field << 3) | wireType);
const varintField = (field: number, value: number): Buffer[] => [tag(field, WIRE_TYPE_VARINT), varint(value)];
const bytesField = (field: number, value: Uint8Array): Buffer[] => [
  tag(field, WIRE_TYPE_LENGTH_DELIMITED),
  varint(value.length),
  Buffer.from(value),
];
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

  const parts: Buffer[] = [];
  if (data.algorithm !== undefined) parts.push(...varintField(FIELD.algorithm, ALGORITHM_VALUE[data.algorithm]));
  for (const kid of keyIds) parts.push(...bytesField(FIELD.keyId, kid));
  if (data.provider !== undefined) parts.push(...bytesField(FIELD.provider, utf8(data.provider)));
  if (data.contentId !== undefined) parts.push(...bytesField(FIELD.contentId, utf8(data.contentId)));
  if (data.trackType !== undefined) parts.push(...bytesField(FIELD.trackType, utf8(data.trackType)));
  if (data.policy !== undefined) parts.push(...bytesField(FIELD.policy, utf8(data.policy)));
  if (data.cryptoPeriodIndex !== undefined) parts.push(...varintField(FIELD.cryptoPeriodIndex, data.cryptoPeriodIndex));
  if (data.groupedLicense !== undefined) parts.push(...bytesField(FIELD.groupedLicense, data.groupedLicense));
  if (data.protectionScheme !== undefined) {
    parts.push(...varintField(FIELD.protectionScheme, protectionSchemeFourCc(data.protectionScheme)));
  }
  if (data.cryptoPeriodSeconds !== undefined) {
    parts.push(...varintField(FIELD.cryptoPeriodSeconds, data.cryptoPeriodSeconds));
  }

  const size = parts.reduce((total, part) => total + part.length, 0);
  const out = new ByteWriter('WidevinePsshData', size);
  for (const part of parts) out.bytes(part);
  return out.finish();
}

/**
 * The Widevine `pssh` box: version 0 with the protobuf (`encodeWidevinePsshData`) as data, as
 * PallyCon, Shaka and Bento4 emit it (ISO/IEC 23001-7 §8.1). This is CPIX `<cpix:PSSH>` (base64)
 * and the HLS `data:` URI payload. Takes the encoded data, which PallyCon's answer also carries alone.
 */
export function buildWidevinePsshBox(psshData: Uint8Array): Buffer {
  return buildPsshBox(WIDEVINE_SYSTEM_ID, psshData);
}
