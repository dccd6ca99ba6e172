import { createHash } from 'node:crypto';
import { encodeContext } from '../crypto/aead';
import { keyIdFromBytes, type KeyId } from '../keys/key-id';

const PALLYCON_KID_PURPOSE = 'cpix-kms/pallycon-kid/v1';

/**
 * The KID the PallyCon CPIX API assigns (docs/pallycon-api.md: the server replaces the request's KIDs, one key per
 * (site, CID, track type[, period]); decision 17). Derived, not stored: a hash of exactly that tuple, so every
 * request for it — concurrent first requests from several pods included — names the same KID, and
 * the content-key store's atomic get-or-create on (site, content, KID) then yields one key. The
 * fields are length-prefixed (`encodeContext`) so no two tuples hash alike.
 *
 * KIDs are public (they travel in manifests and PSSH boxes), so deriving them from public inputs
 * gives nothing away; the site ID in the tuple keeps two tenants' KIDs apart. The result is marked
 * as an RFC 9562 version-8 ("custom") UUID: 122 hash bits.
 */
export function assignPallyConKid(siteId: string, contentId: string, trackType: string, periodIndex: number | undefined): KeyId {
  const context = encodeContext(PALLYCON_KID_PURPOSE, [siteId, contentId, trackType, periodIndex === undefined ? '-' : `+${periodIndex}`]);
  const bytes = createHash('sha256').update(context).digest().subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x80;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  return keyIdFromBytes(Buffer.from(bytes));
}
