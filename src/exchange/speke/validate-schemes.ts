/**
 * `ContentKey@commonEncryptionScheme` rules of SPEKE v2 (AWS SPEKE API v2 and v2.1, Standard payload components and error messages): which values exist
 * in each SPEKE version and which DRM systems can use them.
 */

import type { CpixDocument, DrmSystem } from '../../cpix/model';
import {
  CLEAR_AES_128_SYSTEM_ID,
  FAIRPLAY_SYSTEM_ID,
  IRDETO_SYSTEM_ID,
  PLAYREADY_SYSTEM_ID,
  WIDEVINE_SYSTEM_ID,
  sameSystemId,
} from '../../drm/system-ids';
import type { SpekeV2Version } from './version';

/** ISO/IEC 23001-7 protection scheme FourCCs: the only values SPEKE v2.0 allows (§1). */
const CENC_SCHEMES: readonly string[] = ['cenc', 'cbc1', 'cens', 'cbcs'];

/**
 * SPEKE v2.1 (CPIX 2.3.1+) also lets the encryptor state an HLS `METHOD` (AWS SPEKE API v2.1, Changes
 * from SPEKE v2.0; DASH-IF CPIX 2.3.1 frees the attribute). SAMPLE-AES-CTR is the HLS name of `cenc` content (as
 * Shaka Packager writes it). `NONE` is left out: it asks for no key at all.
 */
const HLS_METHODS: readonly string[] = ['SAMPLE-AES', 'SAMPLE-AES-CTR', 'AES-128'];

/**
 * Schemes each DRM system can decrypt, per MediaPackage's matrix (Implementing SPEKE v2.0 with AWS Elemental MediaPackage),
 * with the HLS methods that denote the same encryption in v2.1. Systems not listed accept any known
 * scheme: we have no evidence to refuse them with.
 */
const COMPATIBILITY: readonly { readonly systemId: string; readonly v20: readonly string[]; readonly v21: readonly string[] }[] = [
  { systemId: FAIRPLAY_SYSTEM_ID, v20: ['cbcs'], v21: ['SAMPLE-AES'] },
  { systemId: WIDEVINE_SYSTEM_ID, v20: ['cenc', 'cbcs'], v21: ['SAMPLE-AES', 'SAMPLE-AES-CTR'] },
  { systemId: PLAYREADY_SYSTEM_ID, v20: ['cenc', 'cbcs'], v21: ['SAMPLE-AES', 'SAMPLE-AES-CTR'] },
  // AWS "ClearKey AES-128": whole-segment AES-128-CBC, i.e. cbc1 in CENC terms.
  { systemId: CLEAR_AES_128_SYSTEM_ID, v20: ['cbc1'], v21: ['AES-128'] },
  // MediaPackage v2 offers Irdeto for CMAF cenc only.
  { systemId: IRDETO_SYSTEM_ID, v20: ['cenc'], v21: [] },
];

/**
 * Whether `scheme` is a value the SPEKE version defines. Compared exactly: FourCCs are case-sensitive
 * (ISO/IEC 14496-12 four-character codes) and HLS enumerated strings are upper-case (RFC 8216 §4.2).
 */
export function isKnownScheme(scheme: string, version: SpekeV2Version): boolean {
  return CENC_SCHEMES.includes(scheme) || (version === '2.1' && HLS_METHODS.includes(scheme));
}

/**
 * The first `DRMSystem` (document order) whose system cannot use the scheme of the key it references,
 * or `undefined`. A DRMSystem whose kid names no ContentKey is left to the contract checks.
 */
export function findIncompatibleDrmSystem(document: CpixDocument, version: SpekeV2Version): DrmSystem | undefined {
  const schemeByKid = new Map<string, string | undefined>();
  for (const key of document.contentKeyList?.items ?? []) schemeByKid.set(key.kid.toLowerCase(), key.commonEncryptionScheme);

  for (const system of document.drmSystemList?.items ?? []) {
    const scheme = schemeByKid.get(system.kid.toLowerCase());
    if (scheme === undefined) continue;
    const rule = COMPATIBILITY.find((entry) => sameSystemId(entry.systemId, system.systemId));
    if (rule === undefined) continue;
    const allowed = version === '2.1' ? [...rule.v20, ...rule.v21] : rule.v20;
    if (!allowed.includes(scheme)) return system;
  }
  return undefined;
}
