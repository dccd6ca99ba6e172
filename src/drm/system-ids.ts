/**
 * DRM system identifiers the service signals or recognises (the DASH-IF content protection identifier registry lists more). Each
 * constant is the lower-case dashed UUID that appears in CPIX `DRMSystem@systemId`, in a `pssh` box
 * SystemID and in an MPD `urn:uuid:` scheme.
 *
 * Callers compare with {@link sameSystemId} and echo whatever spelling they were sent: PallyCon sends
 * system IDs upper-case and matches the response by string equality (its official CPIX clients; docs/pallycon-api.md), so nothing in
 * this module ever rewrites a caller's string.
 */

import { isUuid } from '../uuid';

/** Widevine (DASH-IF registry; Shaka `protection_system_ids.h`). */
export const WIDEVINE_SYSTEM_ID = 'edef8ba9-79d6-4ace-a3c8-27dcd51d21ed';

/** PlayReady: CPIX `systemId`, `pssh` SystemID and MPD `schemeIdUri="urn:uuid:…"` with `value="MSPR 2.0"`. */
export const PLAYREADY_SYSTEM_ID = '9a04f079-9840-4286-ab92-e65be0885f95';

/** FairPlay as used in CPIX by PallyCon, SPEKE, EZDRM and DASH-IF. HLS only (`skd://` key URI). */
export const FAIRPLAY_SYSTEM_ID = '94ce86fb-07ff-4f43-adb8-93d2fa968ca2';

/** W3C Common PSSH (EME "cenc" initData): v1 box with a KID list and empty data. */
export const COMMON_PSSH_SYSTEM_ID = '1077efec-c0b2-4d02-ace3-3c1e52e2fb4b';

/** Huawei WisePlay (DoveRunner CPIX client `WISEPLAY_SYSTEM_ID`). */
export const WISEPLAY_SYSTEM_ID = '3d5e6d35-9b9a-41e8-b843-dd3c6e72c42c';

/** Irdeto (a DRM system of AWS MediaPackage v2; its signaling format is not public). */
export const IRDETO_SYSTEM_ID = '80a6be7e-1448-4c37-9e70-d5aebe04c8d2';

/** PallyCon NCG file DRM (vendor-specific; DoveRunner client `NCG_SYSTEM_ID`). */
export const PALLYCON_NCG_SYSTEM_ID = 'd9e4411a-e886-4909-a380-a77f28d52335';

/**
 * HLS AES-128 as an "implementation specific" SPEKE v1 ID: AWS speke-reference-server
 * `HLS_AES_128_SYSTEM_ID`, which PallyCon reuses for NCG-HLS AES-128.
 */
export const HLS_AES_128_SYSTEM_ID = '81376844-f976-481e-a84e-cc25d39b0b33';

/** PallyCon NCG-HLS SAMPLE-AES (DoveRunner client). */
export const PALLYCON_NCG_HLS_SAMPLE_AES_SYSTEM_ID = '48582a1d-1ff4-426e-8cd5-06424fcc578c';

/**
 * Clear AES-128 key delivery (`METHOD=AES-128` + HTTPS key URL): AWS speke-reference-server
 * `CLEAR_KEY_AES_128_SYSTEM_ID` = DoveRunner client `AES128_SYSTEM_ID`.
 */
export const CLEAR_AES_128_SYSTEM_ID = '3ea8778f-7742-4bf9-b18b-e834b2acbd47';

/** PallyCon clear SAMPLE-AES (DoveRunner client `SAMPLEAES_SYSTEM_ID`). */
export const PALLYCON_SAMPLE_AES_SYSTEM_ID = 'be58615b-19c4-4684-88b3-c8c57e99e957';

export const SYSTEM_ID_LENGTH_BYTES = 128 / 8;

/**
 * Whether two system ID spellings name the same system: UUIDs compare case-insensitively
 * (RFC 4122 §3), so `EDEF8BA9-…` (PallyCon) equals `edef8ba9-…`. Neither argument is modified.
 */
export function sameSystemId(a: string, b: string): boolean {
  return a.length === b.length && a.toLowerCase() === b.toLowerCase();
}

/**
 * The 16 SystemID bytes of a `pssh` box (UUID text order, big-endian; ISO/IEC 23001-7 §8.1.2).
 * Accepts any letter case. Throws `RangeError` for anything that is not a dashed UUID.
 */
export function systemIdToBytes(systemId: string): Buffer {
  if (!isUuid(systemId)) throw new RangeError('system ID must be a dashed UUID');
  return Buffer.from(systemId.replace(/-/g, ''), 'hex');
}
