/**
 * A small ISO BMFF box walker for tests that inspect what a real packager wrote: the box tree
 * (ISO/IEC 14496-12 §4.2), the `pssh` boxes (ISO/IEC 23001-7 §8.1) and the `tenc` box of each
 * protected sample entry (ISO/IEC 23001-7 §8.2). It descends only into the containers on the way to
 * those boxes, and throws on any size that does not add up, so a truncated file cannot pass as one
 * without boxes.
 */

export interface Mp4Box {
  readonly type: string;
  /** The whole box, header included (what a `pssh` is compared with). */
  readonly bytes: Buffer;
  /** The payload after the size/type header (and after `largesize` when present). */
  readonly payload: Buffer;
  readonly children: readonly Mp4Box[];
}

/** Plain containers: their payload is a list of boxes (ISO/IEC 14496-12 §8). */
const CONTAINERS = new Set(['moov', 'trak', 'mdia', 'minf', 'stbl', 'mvex', 'moof', 'traf', 'edts', 'dinf', 'sinf', 'schi']);

/**
 * Boxes whose child boxes come after a fixed-size prefix: `stsd` (FullBox header + entry_count), and
 * the sample entries a protected track carries (§8.5.2: SampleEntry's 8 bytes, plus VisualSampleEntry's
 * 70 or AudioSampleEntry's 20; `encv`/`enca` keep the layout of the entry they replace, 23001-7 §4.1).
 */
const PREFIXED: Readonly<Record<string, number>> = { stsd: 8, encv: 78, avc1: 78, enca: 28, mp4a: 28 };

/** Every box in `data`, in order, with the children of the containers above. */
export function readBoxes(data: Buffer): Mp4Box[] {
  const boxes: Mp4Box[] = [];
  let offset = 0;
  while (offset < data.length) {
    if (data.length - offset < 8) throw new Error(`truncated box header at offset ${offset}`);
    let size = data.readUInt32BE(offset);
    const type = data.toString('latin1', offset + 4, offset + 8);
    let header = 8;
    if (size === 1) {
      size = Number(data.readBigUInt64BE(offset + 8));
      header = 16;
    } else if (size === 0) {
      size = data.length - offset; // "box extends to the end of the file" (§4.2)
    }
    if (size < header || offset + size > data.length) throw new Error(`box ${type} at offset ${offset} has size ${size}, beyond the ${data.length} bytes`);
    const bytes = data.subarray(offset, offset + size);
    const payload = bytes.subarray(header);
    const prefix = CONTAINERS.has(type) ? 0 : PREFIXED[type];
    boxes.push({ type, bytes, payload, children: prefix === undefined ? [] : readBoxes(payload.subarray(prefix)) });
    offset += size;
  }
  return boxes;
}

/** Every box of `type` anywhere in the tree, depth first in file order. */
export function findBoxes(boxes: readonly Mp4Box[], type: string): Mp4Box[] {
  return boxes.flatMap((box) => [...(box.type === type ? [box] : []), ...findBoxes(box.children, type)]);
}

/** The fields of a TrackEncryptionBox (ISO/IEC 23001-7 §8.2.2); KID as a lower-case dashed UUID. */
export interface TrackEncryption {
  readonly version: number;
  readonly isProtected: number;
  readonly perSampleIvSize: number;
  readonly kid: string;
  /** Pattern encryption (version 1 only: `cbcs`/`cens`). */
  readonly cryptByteBlock?: number;
  readonly skipByteBlock?: number;
  /** Present when samples carry no IV of their own (`perSampleIvSize` 0), as `cbcs` does. */
  readonly constantIv?: Buffer;
}

export function parseTenc(box: Mp4Box): TrackEncryption {
  if (box.type !== 'tenc') throw new Error(`not a tenc box: ${box.type}`);
  const p = box.payload;
  const version = p.readUInt8(0);
  const pattern = p.readUInt8(5);
  const isProtected = p.readUInt8(6);
  const perSampleIvSize = p.readUInt8(7);
  const hex = p.toString('hex', 8, 24);
  const kid = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  let end = 24;
  let constantIv: Buffer | undefined;
  if (isProtected === 1 && perSampleIvSize === 0) {
    const ivSize = p.readUInt8(24);
    constantIv = p.subarray(25, 25 + ivSize);
    end = 25 + ivSize;
  }
  if (end !== p.length) throw new Error(`tenc payload has ${p.length} bytes, its fields ${end}`);
  return {
    version,
    isProtected,
    perSampleIvSize,
    kid,
    ...(version > 0 && { cryptByteBlock: pattern >> 4, skipByteBlock: pattern & 0x0f }),
    ...(constantIv !== undefined && { constantIv }),
  };
}
