/**
 * Base64 (RFC 4648 §4, padded, one line) of the values the key server makes, each encoded once. A
 * `pssh` box goes into a CPIX `PSSH`, the DASH fragment and the HLS line of its DRM system, and a
 * PlayReady Object into four places: `EncodedBytes` keeps the base64 once made. Values made as text
 * (HLS lines, DASH fragments) go from the string to base64 through one scratch buffer, without a
 * Buffer of their own.
 */

/** A value whose base64 is known: what a document writes for it. */
export interface Base64Encoded {
  readonly base64: string;
}

/** Bytes, with their base64 made on first use and then kept. */
export class EncodedBytes implements Base64Encoded {
  #base64: string | undefined;

  constructor(readonly bytes: Buffer) {}

  get base64(): string {
    this.#base64 ??= this.bytes.toString('base64');
    return this.#base64;
  }
}

/** `bytes` as a Buffer over the same memory (no copy), for Buffer's encoders and readers. */
export function bufferView(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Base64 of bytes, or the base64 an `EncodedBytes` already holds; a Uint8Array is read in place, not copied. */
export function base64Of(value: Uint8Array | Base64Encoded): string {
  if (value instanceof Uint8Array) return bufferView(value).toString('base64');
  return value.base64;
}

/** Texts longer than this are encoded through a Buffer of their own, so the scratch buffer stays small. */
const SCRATCH_MAX_CHARS = 16 * 1024;
/** UTF-8 takes at most 3 bytes per UTF-16 code unit. */
const SCRATCH = Buffer.allocUnsafeSlow(SCRATCH_MAX_CHARS * 3);

/**
 * Base64 of the UTF-8 of `text`. The scratch buffer is shared by every call, which is safe because a
 * call never yields; it only ever holds signaling text that goes into a response, never key bytes.
 */
export function utf8Base64(text: string): string {
  if (text.length > SCRATCH_MAX_CHARS) return Buffer.from(text, 'utf8').toString('base64');
  const length = SCRATCH.write(text, 0, 'utf8');
  return SCRATCH.toString('base64', 0, length);
}

/** A text value as its base64 (see `utf8Base64`). */
export function encodedText(text: string): Base64Encoded {
  return { base64: utf8Base64(text) };
}
