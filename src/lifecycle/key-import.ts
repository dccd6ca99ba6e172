/**
 * Keys an operator brings (docs/content-policies.md, "Importing keys"): the PallyCon packager's
 * manual mode gives a content key as a 32-byte CEK, KEY ‖ IV (the form PallyCon's NCG and HLS key
 * answers use), other key servers give 16 key bytes and perhaps an IV. Both become a `KeyImport`.
 */

import { timingSafeEqual } from 'node:crypto';
import { RequestInvalid } from '../errors';
import { CONTENT_KEY_LENGTH_BYTES, IV_LENGTH_BYTES, type KeyImport } from '../keys/content-key-service';
import { keyIdFromBytes, parseKeyId, type KeyId } from '../keys/key-id';
import { importSlot } from '../keys/ports';

/** One key as the import body gives it (schemas/admin/key-import.schema.json). */
export interface KeyImportItem {
  /** A UUID, or its 32 hexadecimal digits. */
  readonly kid: string;
  /** Base64 of 16 bytes, or of 32: KEY ‖ IV. */
  readonly key: string;
  readonly iv?: string;
  readonly trackType?: string;
  readonly periodIndex?: number;
}

function kidOf(text: string): KeyId {
  return /^[0-9A-Fa-f]{32}$/.test(text) ? keyIdFromBytes(Buffer.from(text, 'hex')) : parseKeyId(text);
}

/**
 * The imports of a body the schema accepted. A 32-byte key is split into key and IV; an `iv` beside
 * it must then be that IV.
 * @throws RequestInvalid for a KID given twice, two keys for one track type and period, or an IV
 * that contradicts its 32-byte key (the messages name the item, never a key byte).
 */
export function keyImportsFrom(items: readonly KeyImportItem[]): KeyImport[] {
  const kids = new Set<KeyId>();
  const slots = new Set<string>();
  return items.map((item, index) => {
    const kid = kidOf(item.kid);
    if (kids.has(kid)) throw new RequestInvalid(`keys[${index}]: KID ${kid} is given twice`);
    kids.add(kid);
    if (item.trackType !== undefined || item.periodIndex !== undefined) {
      const slot = importSlot(item.trackType, item.periodIndex);
      if (slots.has(slot)) throw new RequestInvalid(`keys[${index}]: two keys for one track type and period`);
      slots.add(slot);
    }
    const bytes = Buffer.from(item.key, 'base64');
    const key = bytes.subarray(0, CONTENT_KEY_LENGTH_BYTES);
    const given = item.iv === undefined ? undefined : Buffer.from(item.iv, 'base64');
    const split = bytes.length === CONTENT_KEY_LENGTH_BYTES + IV_LENGTH_BYTES ? bytes.subarray(CONTENT_KEY_LENGTH_BYTES) : undefined;
    if (split !== undefined && given !== undefined && !timingSafeEqual(split, given)) {
      throw new RequestInvalid(`keys[${index}]: iv differs from the IV in the 32-byte key`);
    }
    const iv = split ?? given;
    return {
      kid,
      key: Buffer.from(key),
      ...(iv !== undefined && { iv: Buffer.from(iv) }),
      ...(item.trackType !== undefined && { trackType: item.trackType }),
      ...(item.periodIndex !== undefined && { periodIndex: item.periodIndex }),
    };
  });
}
