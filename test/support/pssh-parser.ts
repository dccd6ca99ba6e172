/**
 * Test-only decoders for the signaling the service writes, written from the public layouts (ISO/IEC
 * 23001-7 §8.1 `pssh`, Widevine's `WidevinePsshData` protobuf, the Microsoft PlayReady Header
 * Specification's PlayReady Object and WRMHEADER), not from src/drm, so tests can check what a player
 * would read.
 */

export interface ParsedPssh {
  readonly version: number;
  /** Lower-case dashed UUID. */
  readonly systemId: string;
  /** v1 KIDs, lower-case dashed UUIDs. */
  readonly keyIds: readonly string[];
  readonly data: Buffer;
}

const uuid = (bytes: Buffer): string => {
  const h = bytes.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};

/** ISO/IEC 23001-7 §8.1.2; throws on any inconsistency (size field, trailing bytes, type). */
export function parsePsshBox(box: Buffer): ParsedPssh {
  if (box.readUInt32BE(0) !== box.length) throw new Error('pssh size field does not match the box length');
  if (box.subarray(4, 8).toString('latin1') !== 'pssh') throw new Error('not a pssh box');
  const version = box.readUInt8(8);
  if (box.readUIntBE(9, 3) !== 0) throw new Error('pssh flags must be 0');
  const systemId = uuid(box.subarray(12, 28));
  let offset = 28;
  const keyIds: string[] = [];
  if (version === 1) {
    const count = box.readUInt32BE(offset);
    offset += 4;
    for (let i = 0; i < count; i++, offset += 16) keyIds.push(uuid(box.subarray(offset, offset + 16)));
  }
  const size = box.readUInt32BE(offset);
  offset += 4;
  if (offset + size !== box.length) throw new Error('pssh data size does not match the box length');
  return { version, systemId, keyIds, data: box.subarray(offset) };
}

/** Protobuf fields of `WidevinePsshData` by number: varints as numbers, length-delimited as buffers. */
export function parseWidevinePsshData(data: Buffer): Map<number, (number | Buffer)[]> {
  const fields = new Map<number, (number | Buffer)[]>();
  let offset = 0;
  const varint = (): number => {
    let value = 0;
    let shift = 0;
    for (;;) {
      const byte = data.readUInt8(offset++);
      value += (byte & 0x7f) * 2 ** shift;
      shift += 7;
      if ((byte & 0x80) === 0) return value;
    }
  };
  while (offset < data.length) {
    const tag = varint();
    const field = Math.floor(tag / 8);
    const wireType = tag % 8;
    let value: number | Buffer;
    if (wireType === 0) value = varint();
    else if (wireType === 2) {
      const length = varint();
      value = data.subarray(offset, offset + length);
      offset += length;
    } else throw new Error(`unexpected wire type ${wireType}`);
    fields.set(field, [...(fields.get(field) ?? []), value]);
  }
  return fields;
}

/** The WRMHEADER XML inside a PlayReady Object (PRO), checking its little-endian length fields. */
export function parsePlayReadyObject(pro: Buffer): string {
  if (pro.readUInt32LE(0) !== pro.length) throw new Error('PRO length field does not match');
  if (pro.readUInt16LE(4) !== 1 || pro.readUInt16LE(6) !== 1) throw new Error('expected one RM header record');
  const recordLength = pro.readUInt16LE(8);
  if (10 + recordLength !== pro.length) throw new Error('PRO record length does not match');
  return pro.subarray(10).toString('utf16le');
}

/** GUID-order base64 KID (WRMHEADER `VALUE`) → big-endian UUID. */
export function playReadyKidToUuid(valueBase64: string): string {
  const guid = Buffer.from(valueBase64, 'base64');
  const be = Buffer.from(guid);
  be.writeUInt32BE(guid.readUInt32LE(0), 0);
  be.writeUInt16BE(guid.readUInt16LE(4), 4);
  be.writeUInt16BE(guid.readUInt16LE(6), 6);
  return uuid(be);
}
