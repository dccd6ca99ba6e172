import { createCipheriv, createHmac } from 'node:crypto';
import { CBC_IV_LENGTH_BYTES, CONTENT_KEY_LENGTHS_BYTES, DOCUMENT_KEY_LENGTH_BYTES, MAC_KEY_LENGTH_BYTES } from '../cpix/constants';
import type { RandomSource } from './random';

/**
 * CPIX content-key protection (DASH-IF CPIX 2.3 §6.1, Key Encryption in the CPIX Document):
 * `CipherValue = IV(16) ‖ AES-256-CBC-PKCS7(documentKey, IV, key)` and `ValueMAC = HMAC-SHA512(macKey, CipherValue)`. This is encrypt-then-MAC over the IV and ciphertext, so a
 * recipient checks the MAC before any padding is looked at (no padding oracle).
 */
export interface EncryptedContentKey {
  /** IV(16) ‖ AES-256-CBC ciphertext: 48 bytes for a 16-byte key, 64 for a 32-byte key. */
  readonly cipherValue: Buffer;
  /** HMAC-SHA512 over `cipherValue` (64 bytes). */
  readonly valueMac: Buffer;
}

/** PKCS#7 pads a whole number of blocks with one more block, so a 16/32-byte key becomes 32/48 bytes of ciphertext. */
const AES_BLOCK_BYTES = 16;

/**
 * Encrypts one content key for a CPIX document. `random` supplies the per-key IV (one fresh 16-byte
 * draw per call; never reuse one, and never `explicitIV`, which is the content's IV). Wrong key lengths
 * are programmer errors (`RangeError`).
 */
export function encryptContentKey(
  documentKey: Buffer,
  macKey: Buffer,
  key: Buffer,
  random: RandomSource,
): EncryptedContentKey {
  if (documentKey.length !== DOCUMENT_KEY_LENGTH_BYTES) throw new RangeError('document key must be 32 bytes');
  if (macKey.length !== MAC_KEY_LENGTH_BYTES) throw new RangeError('MAC key must be 64 bytes');
  if (!CONTENT_KEY_LENGTHS_BYTES.includes(key.length)) throw new RangeError('content key must be 16 or 32 bytes');
  const iv = random(CBC_IV_LENGTH_BYTES);
  if (iv.length !== CBC_IV_LENGTH_BYTES) throw new RangeError('random source returned a wrong-sized IV');
  const cipher = createCipheriv('aes-256-cbc', documentKey, iv);
  const cipherValue = Buffer.concat([iv, cipher.update(key), cipher.final()]);
  if (cipherValue.length !== CBC_IV_LENGTH_BYTES + key.length + AES_BLOCK_BYTES) {
    throw new RangeError('CipherValue has an unexpected length');
  }
  return { cipherValue, valueMac: createHmac('sha512', macKey).update(cipherValue).digest() };
}
