/**
 * ISO/IEC 23001-7 (Common Encryption) §8.1 Protection System Specific Header box (`pssh`), version 0
 * and version 1, plus the W3C Common PSSH, whose payload is fixed (W3C "cenc" Initialization Data Format; DASH-IF system ID registry).
 *
 * Key IDs are taken as raw 16-byte values in big-endian (UUID text) order, as the box stores them; use
 * `keyIdToBytes` from `keys/key-id` for a parsed `KeyId`.
 */

import { KEY_ID_LENGTH_BYTES } from '../keys/key-id';
import { ByteWriter, UINT32_MAX } from './byte-writer';
import { COMMON_PSSH_SYSTEM_ID, SYSTEM_ID_LENGTH_BYTES, systemIdToBytes } from './system-ids';

export const PSSH_BOX_TYPE = 'pssh';

const BOX_SIZE_FIELD_BYTES = 4;
const BOX_TYPE_BYTES = 4;
const FULL_BOX_VERSION_FLAGS_BYTES = 1 + 3;
const KID_COUNT_BYTES = 4;
const DATA_SIZE_BYTES = 4;

export type PsshVersion = 0 | 1;

/** A system ID as a dashed UUID string (any case) or its 16 bytes. */
export type SystemIdInput = string | Uint8Array;

function systemIdBytes(systemId: SystemIdInput): Uint8Array {
  if (typeof systemId === 'string') return systemIdToBytes(systemId);
  if (systemId.length !== SYSTEM_ID_LENGTH_BYTES) throw new RangeError('system ID must be 16 bytes');
  return systemId;
}

/** Throws `RangeError` unless every key ID is exactly 16 bytes. */
export function assertKeyIdBytes(keyIds: readonly Uint8Array[]): void {
  for (const kid of keyIds) {
    if (kid.length !== KEY_ID_LENGTH_BYTES) throw new RangeError(`key ID must be ${KEY_ID_LENGTH_BYTES} bytes, got ${kid.length}`);
  }
}

/**
 * Builds a `pssh` box. Version 1 (chosen by passing `keyIds`) lists the KIDs in the box header; version 0
 * has none. Layout (ISO/IEC 23001-7 §8.1.2, all integers big-endian):
 *
 * ```
 * uint32 size | 'pssh' | uint8 version | uint24 flags = 0 | SystemID[16]
 * [version 1: uint32 KID_count | KID[16] × KID_count]
 * uint32 DataSize | Data[DataSize]
 * ```
 *
 * Throws `RangeError` for a malformed system ID, a key ID that is not 16 bytes, or a box over 4 GiB.
 */
export function buildPsshBox(systemId: SystemIdInput, data: Uint8Array, keyIds?: readonly Uint8Array[]): Buffer {
  const system = systemIdBytes(systemId);
  const version: PsshVersion = keyIds === undefined ? 0 : 1;
  const kids = keyIds ?? [];
  assertKeyIdBytes(kids);

  const size =
    BOX_SIZE_FIELD_BYTES +
    BOX_TYPE_BYTES +
    FULL_BOX_VERSION_FLAGS_BYTES +
    SYSTEM_ID_LENGTH_BYTES +
    (version === 1 ? KID_COUNT_BYTES + KEY_ID_LENGTH_BYTES * kids.length : 0) +
    DATA_SIZE_BYTES +
    data.length;
  if (size > UINT32_MAX) throw new RangeError('pssh box does not fit a 32-bit size');

  const out = new ByteWriter('pssh box', size)
    .u32be(size)
    .bytes(Buffer.from(PSSH_BOX_TYPE, 'latin1'))
    .u8(version)
    .u24be(0)
    .bytes(system);
  if (version === 1) {
    out.u32be(kids.length);
    for (const kid of kids) out.bytes(kid);
  }
  return out.u32be(data.length).bytes(data).finish();
}

/**
 * W3C Common PSSH (EME "cenc" initialization data, `1077efec-…`): a version 1 box listing the KIDs with
 * empty data (W3C "cenc" Initialization Data Format; Shaka `kExpectedCommonPssh`). Needs at least one KID.
 */
export function buildCommonPsshBox(keyIds: readonly Uint8Array[]): Buffer {
  if (keyIds.length === 0) throw new RangeError('a common pssh box lists at least one key ID');
  return buildPsshBox(COMMON_PSSH_SYSTEM_ID, new Uint8Array(0), keyIds);
}
