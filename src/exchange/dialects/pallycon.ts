/**
 * The PallyCon / DoveRunner CPIX API (docs/pallycon-api.md): what PallyCon's KMS answers and what its
 * official clients read. The request names the content by `CPIX@id` and tracks by
 * `ContentKeyUsageRule@intendedTrackType`; the server assigns one KID per (content, track type
 * [, period]) and answers each requested DRM system with the elements the clients dereference, in
 * CPIX 2.x without `@version` unless the request names one, `commonEncryptionScheme` echoed.
 */

import { versionProfile, type VersionProfile } from '../../cpix/build-context';
import type { CpixDocument } from '../../cpix/model';
import { CpixInvalid, CpixUnsupported } from '../../errors';
import type { ProtectionScheme } from '../../drm/widevine';
import { contentIdFrom, readKeyRequest, refuseUnnameableVersion, requestedOr, type Dialect, type KeyExchangeProtocol } from '../dialect';
import { protectionSchemeOf, systemKindOf, type SignalingRules, type SystemKind } from '../signaling';

/**
 * PallyCon's values: Widevine `pssh` data with `algorithm=AESCTR` and `track_type`, the content ID
 * with its `%016x` period suffix under rotation, "payload only" `ContentProtectionData`, WRMHEADER
 * 4.3.0.0 with `PERIOD_INDEX` under rotation, and the IV written into key-URL HLS lines (the
 * packager copies the line, and encrypts with that IV).
 */
const PALLYCON_SIGNALING: SignalingRules = {
  style: {
    widevinePsshData: 'pallycon',
    periodContentIdSuffix: true,
    contentProtectionData: 'pssh-payload',
    playReadyHeaderVersion: '4.3.0.0',
    playReadyPeriodIndex: true,
    hlsIdentityKeyIv: true,
  },
  fills: {
    widevine: ['pssh', 'contentProtectionData', 'hlsSignalingData'],
    playready: ['pssh', 'contentProtectionData', 'hlsSignalingData', 'smoothStreaming', 'spekeProtectionHeader'],
    fairplay: ['pssh', 'uriExtXKey', 'hlsSignalingData', 'spekeKeyFormat'],
    wiseplay: ['pssh', 'contentProtectionData'],
    aes128: ['pssh', 'uriExtXKey', 'hlsSignalingData', 'spekeKeyFormat'],
    'sample-aes': ['pssh', 'uriExtXKey', 'hlsSignalingData', 'spekeKeyFormat'],
    ncg: ['uriExtXKey'],
    common: ['pssh'],
  },
  /**
   * The children each system is answered with whatever the request had, which are exactly those the
   * official clients read (the Java client dereferences each without a null check): PlayReady's
   * `SmoothStreamingProtectionHeaderData` included, both HLS playlists for the HLS systems, the NCG CEK.
   */
  adds: {
    widevine: ['pssh', 'contentProtectionData'],
    playready: ['pssh', 'contentProtectionData', 'smoothStreaming', 'spekeProtectionHeader'],
    fairplay: ['uriExtXKey', 'hlsSignalingData'],
    wiseplay: ['pssh', 'contentProtectionData'],
    aes128: ['uriExtXKey', 'hlsSignalingData'],
    'sample-aes': ['uriExtXKey', 'hlsSignalingData'],
    ncg: ['uriExtXKey'],
    common: ['pssh'],
  },
  // PallyCon's published FairPlay answer drops the placeholders it has no value for; never leave one
  // empty (the Python client base64-decodes every HLSSignalingData it finds, and crashes on an empty one).
  unfilled: 'drop',
};

/**
 * The schemes a system can be packaged with, where it cannot take every one: FairPlay and SAMPLE-AES
 * are `cbcs` by definition (RFC 8216 §4.3.2.4, Apple's FairPlay Streaming), PlayReady has AESCTR and
 * AESCBC only. A key without a scheme suits every system (PallyCon's default sample sends none).
 */
const SCHEMES: Readonly<Partial<Record<SystemKind, { readonly name: string; readonly schemes: readonly ProtectionScheme[] }>>> = {
  fairplay: { name: 'FairPlay', schemes: ['cbcs'] },
  'sample-aes': { name: 'SAMPLE-AES', schemes: ['cbcs'] },
  playready: { name: 'PlayReady', schemes: ['cenc', 'cbcs'] },
};

/**
 * PallyCon's answer without `CPIX@version`: CPIX 2.x with the SPEKE v1 elements PallyCon writes
 * (`speke:ProtectionHeader`) and `ContentKey@commonEncryptionScheme`, which every official client
 * sends and relies on.
 */
const PALLYCON_PROFILE: VersionProfile = { ...versionProfile('2.0'), commonEncryptionScheme: 'any' };

/**
 * A version the answer can carry, or none; every key names a FourCC scheme or none; every DRM system
 * suits its key's scheme; a multi-key request names a track type per key (it is what the server
 * assigns KIDs by).
 */
function validate(document: CpixDocument): void {
  refuseUnnameableVersion(document);
  const keys = document.contentKeyList?.items ?? [];
  const schemeByKid = new Map<string, ProtectionScheme | undefined>();
  for (const key of keys) {
    schemeByKid.set(key.kid.toLowerCase(), key.commonEncryptionScheme === undefined ? undefined : protectionSchemeOf(key.commonEncryptionScheme, key.kid));
  }
  const single = keys.length === 1 ? keys[0] : undefined;
  for (const system of document.drmSystemList?.items ?? []) {
    const kind = systemKindOf(system.systemId);
    const rule = kind === undefined ? undefined : SCHEMES[kind];
    const kid = schemeByKid.has(system.kid.toLowerCase()) ? system.kid : single?.kid;
    const scheme = kid === undefined ? undefined : schemeByKid.get(kid.toLowerCase());
    if (rule !== undefined && scheme !== undefined && !rule.schemes.includes(scheme)) {
      throw new CpixUnsupported(
        `DRMSystem[systemId=${system.systemId}]: ${rule.name} needs commonEncryptionScheme ${rule.schemes.join(' or ')}, ContentKey[kid=${kid}] has ${scheme}`,
      );
    }
  }
  if (keys.length > 1) {
    const tracked = new Set((document.contentKeyUsageRuleList?.items ?? []).filter((rule) => rule.intendedTrackType !== undefined).map((rule) => rule.kid.toLowerCase()));
    const untracked = keys.find((key) => !tracked.has(key.kid.toLowerCase()));
    if (untracked !== undefined) {
      throw new CpixInvalid(`ContentKey[kid=${untracked.kid}]: a multi-key request needs a ContentKeyUsageRule@intendedTrackType per key`);
    }
  }
}

/** The single-key API (`/v1/`, and the legacy path the PallyCon packager and Wowza module use). */
function validateSingleKey(document: CpixDocument): void {
  if ((document.contentKeyList?.items.length ?? 0) > 1) {
    throw new CpixInvalid('ContentKeyList: the v1 CPIX API takes one key; multi-key requests go to /v2/');
  }
  validate(document);
}

const PALLYCON_COMMON = {
  contentIdOf: contentIdFrom('id', true),
  kids: 'server-assigned',
  unreferencedSystemsUseSingleKey: true,
  keyRotationParameter: true,
  ivs: 'always',
  responseProfile: requestedOr(PALLYCON_PROFILE),
  signs: (options) => options.signCpixApiResponses,
  signaling: PALLYCON_SIGNALING,
} as const satisfies Partial<Dialect>;

export const PALLYCON_V1: Dialect = { ...PALLYCON_COMMON, name: 'cpix-api-v1', validate: validateSingleKey };
export const PALLYCON_V2: Dialect = { ...PALLYCON_COMMON, name: 'cpix-api-v2', validate };

/** A PallyCon URL family: errors as JSON (the clients take any JSON body for an error), no extra headers. */
function pallyConProtocol(dialect: Dialect): KeyExchangeProtocol {
  return {
    errorFormat: 'json',
    responseHeaders: () => ({}),
    read: (input) => readKeyRequest(input, () => dialect),
  };
}

export const PALLYCON_API_V1: KeyExchangeProtocol = pallyConProtocol(PALLYCON_V1);
export const PALLYCON_API_V2: KeyExchangeProtocol = pallyConProtocol(PALLYCON_V2);
