/**
 * The DRM systems the key exchange can signal, by kind, and the content-key properties they need
 * (DASH-IF content protection identifier registry; docs/pallycon-api.md). System IDs are compared
 * case-insensitively and never rewritten: PallyCon sends them upper-case and matches the response by
 * string equality. Which kinds a protocol answers is the protocol's choice (`SignalingRules.fills`).
 */

import { CpixUnsupported } from '../../errors';
import {
  CLEAR_AES_128_SYSTEM_ID,
  COMMON_PSSH_SYSTEM_ID,
  FAIRPLAY_SYSTEM_ID,
  HLS_AES_128_SYSTEM_ID,
  PALLYCON_NCG_HLS_SAMPLE_AES_SYSTEM_ID,
  PALLYCON_NCG_SYSTEM_ID,
  PALLYCON_SAMPLE_AES_SYSTEM_ID,
  PLAYREADY_SYSTEM_ID,
  WIDEVINE_SYSTEM_ID,
  WISEPLAY_SYSTEM_ID,
} from '../../drm/system-ids';
import type { ProtectionScheme } from '../../drm/widevine';
import { isUuid } from '../../uuid';
import type { SignalingRules, SystemKind } from './types';

export type { SystemKind } from './types';

/**
 * - `widevine`, `playready`: DASH (`pssh`) and HLS;
 * - `fairplay`: HLS `skd://` (`94ce86fb-…`);
 * - `wiseplay`: Huawei WisePlay `pssh` (`3d5e6d35-…`);
 * - `common`: W3C Common PSSH (`1077efec-…`), DASH/CENC only;
 * - `aes128`: HLS AES-128 with a key URL: the SPEKE v1 "implementation specific" ID (`81376844-…`,
 *   PallyCon NCG-HLS) and the AWS/DoveRunner clear AES-128 ID (`3ea8778f-…`);
 * - `sample-aes`: HLS SAMPLE-AES with a key URL (`KEYFORMAT="identity"`): DoveRunner's clear
 *   SAMPLE-AES (`be58615b-…`) and NCG-HLS SAMPLE-AES (`48582a1d-…`);
 * - `ncg`: PallyCon NCG file DRM (`d9e4411a-…`), whose only signal is the 32-byte NCG CEK.
 *
 * Deliberately absent: Irdeto (its signaling format is not public) and the in-`pssh` FairPlay ID
 * `29701fe4-…`, which no key-exchange client sends as a `DRMSystem`.
 */
const SYSTEM_KINDS: readonly (readonly [string, SystemKind])[] = [
  [WIDEVINE_SYSTEM_ID, 'widevine'],
  [PLAYREADY_SYSTEM_ID, 'playready'],
  [FAIRPLAY_SYSTEM_ID, 'fairplay'],
  [WISEPLAY_SYSTEM_ID, 'wiseplay'],
  [COMMON_PSSH_SYSTEM_ID, 'common'],
  [HLS_AES_128_SYSTEM_ID, 'aes128'],
  [CLEAR_AES_128_SYSTEM_ID, 'aes128'],
  [PALLYCON_SAMPLE_AES_SYSTEM_ID, 'sample-aes'],
  [PALLYCON_NCG_HLS_SAMPLE_AES_SYSTEM_ID, 'sample-aes'],
  [PALLYCON_NCG_SYSTEM_ID, 'ncg'],
];

/** Systems whose signaling lands in an HLS playlist, where a `cbcs` IV has to be known up front. */
const HLS_KINDS: ReadonlySet<SystemKind> = new Set(['widevine', 'playready', 'fairplay', 'aes128', 'sample-aes']);

/**
 * Systems that need the key's IV whatever the scheme: FairPlay (the license server and packager share
 * it, the playlist does not carry it), the key-URL HLS methods (the IV otherwise
 * defaults to the media sequence number, RFC 8216 §5.2, which a packager given an IV would not use)
 * and NCG, whose CEK is the key followed by its IV.
 */
const IV_KINDS: ReadonlySet<SystemKind> = new Set(['fairplay', 'aes128', 'sample-aes', 'ncg']);

const PROTECTION_SCHEMES: readonly ProtectionScheme[] = ['cenc', 'cbc1', 'cens', 'cbcs'];
/** A ContentKey without `@commonEncryptionScheme` may use any scheme (DASH-IF CPIX 2.3 §5.2.5); we signal it as `cenc`. */
export const DEFAULT_PROTECTION_SCHEME: ProtectionScheme = 'cenc';

/** `SYSTEM_KINDS` by lower-case ID: looked up for every DRMSystem, several times per request. */
const KIND_BY_SYSTEM_ID: ReadonlyMap<string, SystemKind> = new Map(SYSTEM_KINDS.map(([id, kind]) => [id.toLowerCase(), kind]));

/** The kind of a system ID (any letter case, RFC 4122 §3), or `undefined` for one no protocol signals. */
export function systemKindOf(systemId: string): SystemKind | undefined {
  return KIND_BY_SYSTEM_ID.get(systemId.toLowerCase());
}

/**
 * The kind of a system ID that `rules` signal; `CpixUnsupported` naming it (only when it is a UUID:
 * this module is not the parser and does not echo arbitrary text) for one they do not.
 */
export function supportedSystemKind(systemId: string, rules: SignalingRules): SystemKind {
  const kind = systemKindOf(systemId);
  if (kind === undefined || rules.fills[kind] === undefined) {
    throw new CpixUnsupported(`DRMSystem[systemId=${isUuid(systemId) ? systemId : '(not a UUID)'}]: DRM system not supported`);
  }
  return kind;
}

/**
 * Whether a key used by this system must carry an explicit IV in the response: the systems of
 * `IV_KINDS`, and any HLS-signaled system under `cbcs` (constant IV).
 */
export function systemNeedsIv(kind: SystemKind, scheme?: string): boolean {
  return IV_KINDS.has(kind) || (scheme === 'cbcs' && HLS_KINDS.has(kind));
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
