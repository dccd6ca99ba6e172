/**
 * The dialects of the SPEKE URLs: AWS SPEKE v1 (CPIX 2.0 with `speke:` elements), SPEKE v2.0 and v2.1
 * (CPIX 2.3 / 2.4, selected by `X-Speke-Version`; AWS "SPEKE v2" specification), and a plain CPIX
 * client that names its `CPIX@version` without the SPEKE header. The encryptor chooses every KID; we
 * echo it.
 */

import { versionProfile } from '../../cpix/build-context';
import { parseSpekeVersionHeader, validateSpekeV2, type SpekeV2Version } from '../speke/validate-v2';
import {
  contentIdFrom,
  fixedProfile,
  readKeyRequest,
  refuseUnnameableVersion,
  requestedOr,
  requestedVersion,
  type Dialect,
  type KeyExchangeProtocol,
} from '../dialect';
import type { SignalingRules, SignalingStyle } from '../signaling';

/**
 * SPEKE's values: the common Widevine `pssh` (Shaka Packager, Bento4, Axinom),
 * `ContentProtectionData` in its CPIX meaning (the DASH fragment, whose `<cenc:pssh>` equals `PSSH`),
 * WRMHEADER 4.0.0.0 for AESCTR (AWS, Shaka, Kaltura samples; understood by every PlayReady client),
 * and no IV in AES-128 lines (the encryptor writes it).
 */
const SPEKE_STYLE: SignalingStyle = {
  widevinePsshData: 'common',
  periodContentIdSuffix: false,
  contentProtectionData: 'dash-fragment',
  playReadyHeaderVersion: '4.0.0.0',
  playReadyPeriodIndex: false,
  hlsIdentityKeyIv: false,
};

/**
 * SPEKE v1 and plain CPIX: every placeholder we have a value for, SPEKE v1's `speke:` elements
 * included (the builder writes them only into CPIX 2.0); one we have none for is left out of the
 * answer (the reference server meant to remove them too). The HLS-only systems answer with their key
 * URI and key format, as the reference server does: a `pssh` box has no reader there.
 */
const V1_SIGNALING: SignalingRules = {
  style: SPEKE_STYLE,
  fills: {
    widevine: ['pssh', 'contentProtectionData', 'hlsSignalingData'],
    playready: ['pssh', 'contentProtectionData', 'hlsSignalingData', 'smoothStreaming', 'spekeProtectionHeader'],
    fairplay: ['uriExtXKey', 'hlsSignalingData', 'spekeKeyFormat'],
    aes128: ['uriExtXKey', 'hlsSignalingData', 'spekeKeyFormat'],
    common: ['pssh', 'contentProtectionData'],
  },
  unfilled: 'drop',
};

/**
 * SPEKE v2: "When included in a CPIX request by the encryptor, all elements and attributes shall carry
 * a valid value in the key provider CPIX response", so the HLS-only systems also fill
 * `PSSH`/`ContentProtectionData`, and a placeholder we have no value for refuses the request. Never
 * `URIExtXKey` or `speke:` elements, which SPEKE v2 dropped.
 */
const V2_SIGNALING: SignalingRules = {
  style: SPEKE_STYLE,
  fills: {
    widevine: ['pssh', 'contentProtectionData', 'hlsSignalingData'],
    playready: ['pssh', 'contentProtectionData', 'hlsSignalingData', 'smoothStreaming'],
    fairplay: ['pssh', 'contentProtectionData', 'hlsSignalingData'],
    aes128: ['pssh', 'contentProtectionData', 'hlsSignalingData'],
    common: ['pssh', 'contentProtectionData'],
  },
  unfilled: 'refuse',
};

/** What every SPEKE-URL dialect shares: the encryptor's KIDs, IVs only where needed, `signSpekeResponses`. */
const SPEKE_COMMON = {
  kids: 'request',
  unreferencedSystemsUseSingleKey: false,
  keyRotationParameter: false,
  ivs: 'when-needed',
  signs: (options) => options.signSpekeResponses,
} as const satisfies Partial<Dialect>;

/**
 * SPEKE v1: CPIX 2.0 with `speke:` elements; the content ID is `CPIX@id`. Chosen for a request that
 * names no version, or one no answer can carry (refused).
 */
export const SPEKE_V1: Dialect = {
  ...SPEKE_COMMON,
  name: 'speke-v1',
  validate: refuseUnnameableVersion,
  contentIdOf: contentIdFrom('id', true),
  responseProfile: fixedProfile('2.0'),
  signaling: V1_SIGNALING,
};

/**
 * A CPIX client that names `CPIX@version` (2.3 or 2.4) on a SPEKE URL without `X-Speke-Version`:
 * answered in that version, every placeholder filled in its CPIX meaning.
 */
export const PLAIN_CPIX: Dialect = {
  ...SPEKE_COMMON,
  name: 'cpix',
  contentIdOf: contentIdFrom('contentId', true),
  responseProfile: requestedOr(versionProfile('2.0')),
  signaling: V1_SIGNALING,
};

function spekeV2(version: SpekeV2Version, name: 'speke-v2.0' | 'speke-v2.1'): Dialect {
  return {
    ...SPEKE_COMMON,
    name,
    validate: (document) => validateSpekeV2(document, version),
    contentIdOf: contentIdFrom('contentId', false),
    responseProfile: fixedProfile(version === '2.0' ? '2.3' : '2.4'),
    signaling: V2_SIGNALING,
  };
}

export const SPEKE_V2_0: Dialect = spekeV2('2.0', 'speke-v2.0');
export const SPEKE_V2_1: Dialect = spekeV2('2.1', 'speke-v2.1');
const SPEKE_V2: Readonly<Record<SpekeV2Version, Dialect>> = { '2.0': SPEKE_V2_0, '2.1': SPEKE_V2_1 };

/**
 * The SPEKE URLs: `X-Speke-Version` (2.0 / 2.1) selects SPEKE v2 with its request checks; without it
 * the request is SPEKE v1, or plain CPIX when it names a CPIX version. Every answer, errors included,
 * carries the user-agent headers and echoes `X-Speke-Version`, as SPEKE v2 requires.
 */
export const SPEKE: KeyExchangeProtocol = {
  errorFormat: 'text',
  responseHeaders(input, userAgent) {
    const version = input.header('x-speke-version');
    return { 'X-Speke-User-Agent': userAgent, 'Speke-User-Agent': userAgent, ...(version !== undefined && { 'X-Speke-Version': version }) };
  },
  read(input) {
    // The header is judged before the body: an unknown version is refused whatever the body holds.
    const version = parseSpekeVersionHeader(input.header('x-speke-version'));
    return readKeyRequest(input, (document) => {
      if (version !== undefined) return SPEKE_V2[version];
      return requestedVersion(document) === undefined ? SPEKE_V1 : PLAIN_CPIX;
    });
  },
};
