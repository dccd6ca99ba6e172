import { createCipheriv, createDecipheriv } from 'node:crypto';
import { KeyIntegrityError } from '../errors';
import type { RandomSource } from './random';

/** AES-256-GCM parameters (NIST SP 800-38D): 96-bit random nonce, full 128-bit tag. */
export const AEAD_KEY_LENGTH_BYTES = 256 / 8;
const NONCE_LENGTH_BYTES = 96 / 8;
const TAG_LENGTH_BYTES = 128 / 8;
/** First byte of every sealed blob, so the format can change without guessing. */
const FORMAT_AES_256_GCM = 0x01;
const HEADER_LENGTH_BYTES = 1 + NONCE_LENGTH_BYTES;

/**
 * Encrypts `plaintext` under `key` with `associatedData` bound to it.
 * Layout: format(1) ‖ nonce(12) ‖ ciphertext(n) ‖ tag(16).
 * Random nonces are safe here: a site key wraps far fewer than 2^32 messages.
 */
export function seal(key: Buffer, plaintext: Buffer, associatedData: Buffer, random: RandomSource): Buffer {
  if (key.length !== AEAD_KEY_LENGTH_BYTES) throw new RangeError('AEAD key must be 32 bytes');
  const nonce = random(NONCE_LENGTH_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_LENGTH_BYTES });
  cipher.setAAD(associatedData);
  // Written in place into the one blob: a content key is sealed for every key a request asks for.
  const sealed = Buffer.allocUnsafe(HEADER_LENGTH_BYTES + plaintext.length + TAG_LENGTH_BYTES);
  sealed[0] = FORMAT_AES_256_GCM;
  let offset = 1 + nonce.copy(sealed, 1);
  offset += cipher.update(plaintext).copy(sealed, offset);
  offset += cipher.final().copy(sealed, offset);
  offset += cipher.getAuthTag().copy(sealed, offset);
  if (offset !== sealed.length || nonce.length !== NONCE_LENGTH_BYTES) throw new RangeError('sealed blob has an unexpected length');
  return sealed;
}

/**
 * Reverses `seal`. Any failure (format, length, tag, wrong key, other associated data) throws the
 * same opaque `KeyIntegrityError`, so callers cannot learn which check failed.
 */
export function open(key: Buffer, sealed: Buffer, associatedData: Buffer): Buffer {
  if (
    key.length !== AEAD_KEY_LENGTH_BYTES ||
    sealed.length < HEADER_LENGTH_BYTES + TAG_LENGTH_BYTES ||
    sealed[0] !== FORMAT_AES_256_GCM
  ) {
    throw new KeyIntegrityError();
  }
  try {
    const nonce = sealed.subarray(1, HEADER_LENGTH_BYTES);
    const tag = sealed.subarray(sealed.length - TAG_LENGTH_BYTES);
    const body = sealed.subarray(HEADER_LENGTH_BYTES, sealed.length - TAG_LENGTH_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_LENGTH_BYTES });
    decipher.setAAD(associatedData);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body), decipher.final()]);
  } catch {
    // The cause is dropped on purpose: OpenSSL's message would tell a tag failure from others.
    throw new KeyIntegrityError();
  }
}

/**
 * Encodes context fields unambiguously for use as associated data: each field is a 4-byte big-endian
 * length followed by its UTF-8 bytes, so ("a|b","c") and ("a","b|c") never collide.
 */
export function encodeContext(purpose: string, fields: readonly string[]): Buffer {
  let size = 4 + Buffer.byteLength(purpose, 'utf8');
  for (const field of fields) size += 4 + Buffer.byteLength(field, 'utf8');
  // One buffer, written field by field: this runs for every content key sealed or opened.
  const context = Buffer.alloc(size);
  let offset = 0;
  for (const field of [purpose, ...fields]) {
    const length = context.write(field, offset + 4, 'utf8');
    context.writeUInt32BE(length, offset);
    offset += 4 + length;
  }
  return context;
}
