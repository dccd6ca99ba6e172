/**
 * Huawei WisePlay `pssh` (system ID `3d5e6d35-9b9a-41e8-b843-dd3c6e72c42c`, the DASH-IF registry's
 * ChinaDRM entry): a version 0 box whose data is one line of UTF-8 JSON (docs/pallycon-api.md,
 * "WisePlay"):
 *
 * ```
 * {"version":"V1.0","kids":["<base64 of the 16 KID bytes>"],"contentID":"<base64 of the content ID>","enschema":"cenc"}
 * ```
 *
 * The layout is the one Huawei's own WisePlay samples and the boxes of other WisePlay key servers
 * share; they differ in key order (JSON readers do not care) and in how a KID is written. We write
 * the boxes castLabs' DRMtoday serves through Unified Streaming byte for byte: this key order, the 16
 * raw KID bytes (as Huawei's OpenHarmony DRM tests too), and the scheme FourCC in lower case.
 */

import { assertKeyIdBytes, buildPsshBox } from './pssh';
import { WISEPLAY_SYSTEM_ID } from './system-ids';
import type { ProtectionScheme } from './widevine';

/** The only WisePlay header version in use. */
const WISEPLAY_HEADER_VERSION = 'V1.0';

export interface WisePlayPsshData {
  /** 16-byte KIDs, big-endian (UUID text order). */
  readonly keyIds: readonly Uint8Array[];
  readonly contentId: string;
  readonly scheme: ProtectionScheme;
}

/** The JSON data of a WisePlay `pssh` box. Throws `RangeError` for a KID that is not 16 bytes. */
export function encodeWisePlayPsshData(data: WisePlayPsshData): Buffer {
  assertKeyIdBytes(data.keyIds);
  // JSON.stringify of a literal keeps insertion order, so the bytes are those of the boxes we match.
  const json = JSON.stringify({
    version: WISEPLAY_HEADER_VERSION,
    kids: data.keyIds.map((kid) => Buffer.from(kid).toString('base64')),
    contentID: Buffer.from(data.contentId, 'utf8').toString('base64'),
    enschema: data.scheme,
  });
  return Buffer.from(json, 'utf8');
}

/** The WisePlay `pssh` box (version 0) around `encodeWisePlayPsshData`. */
export function buildWisePlayPsshBox(psshData: Uint8Array): Buffer {
  return buildPsshBox(WISEPLAY_SYSTEM_ID, psshData);
}
