import { RequestInvalid } from '../errors';
import { isUuid } from '../uuid';

/** A key ID in canonical form: lowercase RFC 4122 textual UUID (8-4-4-4-12 hex). */
export type KeyId = string & { readonly __brand: 'KeyId' };

export const KEY_ID_LENGTH_BYTES = 128 / 8;

/** Accepts any letter case (CPIX `kid` is xs:string-typed UUID) and returns the canonical form. */
export function parseKeyId(text: string): KeyId {
  if (!isUuid(text)) throw new RequestInvalid('key ID must be a UUID');
  return text.toLowerCase() as KeyId;
}

/** The 16 key-ID bytes in big-endian (UUID text) order, as in `pssh` boxes and `cenc:default_KID`. */
export function keyIdToBytes(kid: KeyId): Buffer {
  return Buffer.from(kid.replace(/-/g, ''), 'hex');
}

export function keyIdFromBytes(bytes: Buffer): KeyId {
  if (bytes.length !== KEY_ID_LENGTH_BYTES) throw new RangeError('key ID must be 16 bytes');
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}` as KeyId;
}
