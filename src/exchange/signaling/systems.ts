/**
 * The DRM systems the key exchange can signal, by kind, and the content-key properties they need
 * (docs/speke.md §5.1; docs/drm-signaling.md §1). System IDs are compared case-insensitively and never
 * rewritten: PallyCon sends them upper-case and matches the response by string equality.
 */

import { CpixUnsupported } from '../../errors';
import {
  CLEAR_AES_128_SYSTEM_ID,
  COMMON_PSSH_SYSTEM_ID,
  FAIRPLAY_SYSTEM_ID,
  HLS_AES_128_SYSTEM_ID,
  PLAYREADY_SYSTEM_ID,
  WIDEVINE_SYSTEM_ID,
} from '../../drm/system-ids';
import type { ProtectionScheme } from '../../drm/widevine';
import { isUuid } from '../../uuid';

/**
 * - `widevine`, `playready`: DASH (`pssh`) and HLS;
 * - `fairplay`: HLS `skd://` (`94ce86fb-…`);
 * - `common`: W3C Common PSSH (`1077efec-…`), DASH/CENC only;
 * - `aes128`: HLS AES-128 with a key URL, both the SPEKE v1 "implementation specific" ID (`81376844-…`,
 *   PallyCon NCG-HLS) and the AWS/DoveRunner clear AES-128 ID (`3ea8778f-…`).
 *
 * Deliberately absent: PallyCon NCG, NCG-HLS SAMPLE-AES, clear SAMPLE-AES and WisePlay (formats not
 * published, docs/pallycon.md §1.3), Irdeto (docs/speke.md §14), and the in-`pssh` FairPlay ID
 * `29701fe4-…`, which no key-exchange client sends as a `DRMSystem`.
 */
export type SystemKind = 'widevine' | 'playready' | 'fairplay' | 'common' | 'aes128';

const SYSTEM_KINDS: readonly (readonly [string, SystemKind])[] = [
  [WIDEVINE_SYSTEM_ID, 'widevine'],
  [PLAYREADY_SYSTEM_ID, 'playready'],
  [FAIRPLAY_SYSTEM_ID, 'fairplay'],
  [COMMON_PSSH_SYSTEM_ID, 'common'],
  [HLS_AES_128_SYSTEM_ID, 'aes128'],
  [CLEAR_AES_128_SYSTEM_ID, 'aes128'],
];

/** Systems whose signaling lands in an HLS playlist, where a `cbcs` IV has to be known up front. */
const HLS_KINDS: ReadonlySet<SystemKind> = new Set(['widevine', 'playready', 'fairplay', 'aes128']);

const PROTECTION_SCHEMES: readonly ProtectionScheme[] = ['cenc', 'cbc1', 'cens', 'cbcs'];
/** CPIX 2.3 §5.3.3: a ContentKey without `@commonEncryptionScheme` is `cenc`. */
export const DEFAULT_PROTECTION_SCHEME: ProtectionScheme = 'cenc';

/** `SYSTEM_KINDS` by lower-case ID: looked up for every DRMSystem, several times per request. */
const KIND_BY_SYSTEM_ID: ReadonlyMap<string, SystemKind> = new Map(SYSTEM_KINDS.map(([id, kind]) => [id.toLowerCase(), kind]));

/** The kind of a system ID (any letter case, RFC 4122 §3), or `undefined` for one we cannot signal. */
export function systemKindOf(systemId: string): SystemKind | undefined {
  return KIND_BY_SYSTEM_ID.get(systemId.toLowerCase());
}

/** Whether `fillDrmSystem` can signal this system ID (any letter case). */
export function isSupportedSystem(systemId: string): boolean {
  return systemKindOf(systemId) !== undefined;
}

/**
 * The kind of a system ID `fillDrmSystem` can signal; `CpixUnsupported` naming it (only when it is a
 * UUID: this module is not the parser and does not echo arbitrary text) for one it cannot.
 */
export function supportedSystemKind(systemId: string): SystemKind {
  const kind = systemKindOf(systemId);
  if (kind === undefined) {
    throw new CpixUnsupported(`DRMSystem[systemId=${isUuid(systemId) ? systemId : '(not a UUID)'}]: DRM system not supported`);
  }
  return kind;
}

/**
 * Whether a key used by this system must carry an explicit IV in the response: FairPlay (the license
 * server and packager share it, the playlist does not carry it, docs/speke.md §5.3), HLS AES-128 (the
 * IV otherwise defaults to the media sequence number, RFC 8216 §5.2, which a packager given an
 * `explicitIV` would not use), and any HLS-signaled system under `cbcs` (constant IV).
 */
export function systemNeedsIv(systemId: string, scheme?: string): boolean {
  const kind = systemKindOf(systemId);
  if (kind === undefined) return false;
  if (kind === 'fairplay' || kind === 'aes128') return true;
  return scheme === 'cbcs' && HLS_KINDS.has(kind);
}

/**
 * The key's scheme as a FourCC. FourCCs are case-sensitive (ISO/IEC 23001-7 §4.2), so only the four
 * lower-case spellings are accepted.
 *
 * @throws CpixUnsupported for any other value (the message names the KID, not the value).
 */
export function protectionSchemeOf(scheme: string | undefined, kid: string): ProtectionScheme {
  if (scheme === undefined) return DEFAULT_PROTECTION_SCHEME;
  const known = PROTECTION_SCHEMES.find((candidate) => candidate === scheme);
  if (known === undefined) {
    throw new CpixUnsupported(`ContentKey[kid=${kid}]@commonEncryptionScheme must be one of ${PROTECTION_SCHEMES.join(', ')}`);
  }
  return known;
}
