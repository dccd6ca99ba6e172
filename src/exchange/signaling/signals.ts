/**
 * The signaling values one DRM system can be given for one content key, in a given dialect, built
 * from the `drm/` builders (docs/drm-signaling.md; docs/speke.md §5.2; docs/pallycon.md §1.3, §4).
 * Which of them a `DRMSystem` actually receives is decided by `fill.ts`; values are computed on
 * first use, so an unrequested value never costs (or fails) anything.
 */

import { CpixUnsupported } from '../../errors';
import { buildPlayReadyContentProtectionFragment, buildPsshContentProtectionFragment } from '../../drm/dash';
import {
  FAIRPLAY_KEY_FORMAT,
  type HlsKeyTagName,
  IDENTITY_KEY_FORMAT,
  KEY_FORMAT_VERSION_1,
  buildAes128KeyTag,
  buildFairPlayKeyTag,
  buildPlayReadyKeyTag,
  buildWidevineKeyTag,
  expandKeyUriTemplate,
  expandSkdUriTemplate,
} from '../../drm/hls';
import {
  type WrmHeaderCustomAttribute,
  type WrmHeaderVersion,
  buildPlayReadyObject,
  buildPlayReadyPsshBox,
  buildWrmHeader,
} from '../../drm/playready';
import { buildCommonPsshBox, buildPsshBox } from '../../drm/pssh';
import {
  type ProtectionScheme,
  type WidevinePsshData,
  buildWidevinePsshBox,
  encodeWidevinePsshData,
  pallyConRotationContentId,
} from '../../drm/widevine';
import { keyIdToBytes } from '../../keys/key-id';
import { type SystemKind, protectionSchemeOf } from './systems';
import type { SignalingDialect, SignalingKey, SignalingOptions } from './types';

/** What a system can put in each `DRMSystem` child; an absent member = nothing to say there. */
export interface SystemSignals {
  /** `cpix:PSSH`: the whole box. */
  readonly pssh?: () => Buffer;
  /** `cpix:ContentProtectionData` bytes (before base64), in the dialect's meaning. */
  readonly contentProtectionData?: () => Buffer;
  /** One `HLSSignalingData` line; throws `CpixUnsupported` when the key's scheme has no HLS method (`cens`, `cbc1`). */
  readonly hlsTag?: (tagName: HlsKeyTagName) => string;
  /** The key URI, for `URIExtXKey` (≤ 2.3.1 and SPEKE v1). */
  readonly keyUri?: () => string;
  /** SPEKE v1 `speke:KeyFormat` / `speke:KeyFormatVersions` (docs/speke.md V1-R4, V1-R5). */
  readonly hlsKeyFormat?: { readonly keyFormat: string; readonly keyFormatVersions: string };
  /** The PlayReady Object: `SmoothStreamingProtectionHeaderData` and `speke:ProtectionHeader`. */
  readonly playReadyObject?: () => Buffer;
  /** Whether HLS signaling exists for this key at all (false for Widevine/PlayReady under `cens`/`cbc1`). */
  readonly hlsSignalable: boolean;
}

interface SignalContext {
  /** `DRMSystem@systemId` as received (its bytes go into the HLS-only systems' `pssh`). */
  readonly systemId: string;
  readonly key: SignalingKey;
  readonly scheme: ProtectionScheme;
  readonly kidBytes: Buffer;
  readonly dialect: SignalingDialect;
  readonly options: SignalingOptions;
}

/** Memoizes a zero-argument builder. */
function lazy<T>(build: () => T): () => T {
  let done = false;
  let value: T | undefined;
  return () => {
    if (!done) {
      value = build();
      done = true;
    }
    return value as T;
  };
}

/** The fragment as the bytes `ContentProtectionData` carries: UTF-8, no BOM (docs/cpix.md §3). */
const fragmentBytes = (fragment: string): Buffer => Buffer.from(fragment, 'utf8');

/** HLS has METHODs only for `cbcs` (SAMPLE-AES) and `cenc` (SAMPLE-AES-CTR); see `hlsMethodForScheme`. */
const isHlsScheme = (scheme: ProtectionScheme): scheme is 'cenc' | 'cbcs' => scheme === 'cenc' || scheme === 'cbcs';

function unsupportedHlsScheme(ctx: SignalContext): CpixUnsupported {
  return new CpixUnsupported(
    `DRMSystem[systemId=${ctx.systemId}]/HLSSignalingData: HLS cannot signal ContentKey[kid=${ctx.key.kid}] scheme ${ctx.scheme}`,
  );
}

/** The signals of `kind` for `key`. @throws CpixUnsupported for a scheme that is not a CENC FourCC. */
export function signalsFor(
  kind: SystemKind,
  systemId: string,
  key: SignalingKey,
  dialect: SignalingDialect,
  options: SignalingOptions,
): SystemSignals {
  const ctx: SignalContext = {
    systemId,
    key,
    scheme: protectionSchemeOf(key.scheme, key.kid),
    kidBytes: keyIdToBytes(key.kid),
    dialect,
    options,
  };
  switch (kind) {
    case 'widevine':
      return widevineSignals(ctx);
    case 'playready':
      return playReadySignals(ctx);
    case 'fairplay':
      return fairPlaySignals(ctx);
    case 'aes128':
      return aes128Signals(ctx);
    case 'common':
      return commonSignals(ctx);
  }
}

/**
 * PallyCon (docs/pallycon.md §4, V1–V5): `algorithm=AESCTR`, KID, provider, content ID (CID + `%016x`
 * period under rotation), `track_type` from `intendedTrackType`, `crypto_period_index`; never
 * `protection_scheme`. SPEKE: no deprecated `algorithm` (Shaka, Bento4), the plain content ID, and
 * `protection_scheme` whenever the ContentKey names its scheme (Axinom; needed to tell `cbcs` apart).
 */
function widevinePsshData(ctx: SignalContext): WidevinePsshData {
  const { key, options } = ctx;
  if (ctx.dialect === 'cpix-api') {
    return {
      algorithm: 'AESCTR',
      keyIds: [ctx.kidBytes],
      provider: options.widevineProvider,
      contentId: key.periodIndex === undefined ? key.contentId : pallyConRotationContentId(key.contentId, key.periodIndex),
      trackType: key.trackType,
      cryptoPeriodIndex: key.periodIndex,
    };
  }
  return {
    keyIds: [ctx.kidBytes],
    provider: options.widevineProvider,
    contentId: key.contentId,
    cryptoPeriodIndex: key.periodIndex,
    protectionScheme: key.scheme === undefined ? undefined : ctx.scheme,
  };
}

function widevineSignals(ctx: SignalContext): SystemSignals {
  const data = lazy(() => widevinePsshData(ctx));
  const pssh = lazy(() => buildWidevinePsshBox(data()));
  const { scheme } = ctx;
  return {
    pssh,
    // PallyCon's CPD is the pssh payload only ("pssh_payload_only", V4b); SPEKE's is the DASH fragment
    // whose <cenc:pssh> equals cpix:PSSH (V2-R8).
    contentProtectionData:
      ctx.dialect === 'cpix-api'
        ? lazy(() => encodeWidevinePsshData(data()))
        : lazy(() => fragmentBytes(buildPsshContentProtectionFragment(pssh()))),
    hlsTag: (tagName) => {
      if (!isHlsScheme(scheme)) throw unsupportedHlsScheme(ctx);
      return buildWidevineKeyTag(tagName, { psshBox: pssh(), keyId: ctx.kidBytes, scheme });
    },
    hlsSignalable: isHlsScheme(scheme),
  };
}

/**
 * AESCTR for `cenc`, AESCBC for `cbcs` (docs/drm-signaling.md §4); PlayReady has no `cens`/`cbc1`.
 * AESCBC gets WRMHEADER 4.3.0.0 without CHECKSUM (docs/pallycon.md §5: the AESCBC checksum rule is
 * unverified, Shaka omits it).
 */
function wrmHeaderFor(ctx: SignalContext): string {
  const { key, options, scheme } = ctx;
  if (scheme !== 'cenc' && scheme !== 'cbcs') {
    throw new CpixUnsupported(`DRMSystem[systemId=${ctx.systemId}]: PlayReady cannot signal ContentKey[kid=${key.kid}] scheme ${scheme}`);
  }
  const pallyCon = ctx.dialect === 'cpix-api';
  const algorithm = scheme === 'cbcs' ? 'AESCBC' : 'AESCTR';
  const version: WrmHeaderVersion =
    algorithm === 'AESCBC' ? '4.3.0.0' : (options.playReadyHeaderVersion ?? (pallyCon ? '4.3.0.0' : '4.0.0.0'));
  // PallyCon marks a rotated key's header with its period (V12); the SPEKE dialects have no such convention.
  const customAttributes: WrmHeaderCustomAttribute[] =
    pallyCon && key.periodIndex !== undefined ? [{ name: 'PERIOD_INDEX', value: String(key.periodIndex) }] : [];
  return buildWrmHeader({
    version,
    keys: [{ keyId: ctx.kidBytes, contentKey: key.key }],
    algorithm,
    ...(options.playReadyLaUrl === undefined ? {} : { laUrl: options.playReadyLaUrl }),
    customAttributes,
  });
}

function playReadySignals(ctx: SignalContext): SystemSignals {
  const pro = lazy(() => buildPlayReadyObject(wrmHeaderFor(ctx)));
  const pssh = lazy(() => buildPlayReadyPsshBox(pro()));
  const { scheme } = ctx;
  return {
    pssh,
    // PallyCon: the PRO alone (docs/pallycon.md §1.3, V15b). SPEKE: <cenc:pssh> + <mspr:pro> ("must contain BOTH").
    contentProtectionData:
      ctx.dialect === 'cpix-api' ? pro : lazy(() => fragmentBytes(buildPlayReadyContentProtectionFragment(pssh(), pro()))),
    hlsTag: (tagName) => {
      if (!isHlsScheme(scheme)) throw unsupportedHlsScheme(ctx);
      return buildPlayReadyKeyTag(tagName, { playReadyObject: pro(), scheme });
    },
    playReadyObject: pro,
    hlsSignalable: isHlsScheme(scheme),
  };
}

/**
 * The `pssh` of an HLS-only system, for encryptors that ask for one (MediaPackage sends `<cpix:PSSH/>`
 * for FairPlay, and SPEKE v2 requires every requested element to carry a value, V2-R7): a version 1
 * box with the DRMSystem's own system ID and the KID, no data (as Shaka's FairPlay `pssh`).
 */
function hlsOnlyPsshSignals(ctx: SignalContext): Pick<SystemSignals, 'pssh' | 'contentProtectionData'> {
  const pssh = lazy(() => buildPsshBox(ctx.systemId, new Uint8Array(0), [ctx.kidBytes]));
  return {
    pssh,
    // PallyCon's payload-only CPD of an empty-data box would be empty: nothing to say.
    ...(ctx.dialect === 'cpix-api' ? {} : { contentProtectionData: lazy(() => fragmentBytes(buildPsshContentProtectionFragment(pssh()))) }),
  };
}

/** FairPlay: `skd://` URI from the site template, no IV attribute (the IV travels with the key, §5.3). */
function fairPlaySignals(ctx: SignalContext): SystemSignals {
  const uri = lazy(() => expandSkdUriTemplate(ctx.options.fairPlaySkdTemplate, { keyId: ctx.kidBytes, contentId: ctx.key.contentId }));
  return {
    ...hlsOnlyPsshSignals(ctx),
    keyUri: uri,
    hlsTag: (tagName) => buildFairPlayKeyTag(tagName, uri()),
    hlsKeyFormat: { keyFormat: FAIRPLAY_KEY_FORMAT, keyFormatVersions: KEY_FORMAT_VERSION_1 },
    hlsSignalable: true,
  };
}

/**
 * HLS AES-128 with a key URL: `KEYFORMAT="identity",KEYFORMATVERSIONS="1"` written out (AWS
 * MediaPackage; never the reference server's `KEYFORMAT=""`). SPEKE v2 forbids an IV attribute (the
 * encryptor writes it); on the PallyCon API the packager copies the line, so the explicit IV it
 * encrypts with is stated (RFC 8216 §5.2: without IV the client would use the media sequence number).
 */
function aes128Signals(ctx: SignalContext): SystemSignals {
  const uri = lazy(() =>
    expandKeyUriTemplate(ctx.options.aes128KeyUriTemplate, { keyId: ctx.kidBytes, contentId: ctx.key.contentId }, 'the AES-128 key URI template'),
  );
  const iv = ctx.dialect === 'cpix-api' ? ctx.key.iv : undefined;
  return {
    ...hlsOnlyPsshSignals(ctx),
    keyUri: uri,
    hlsTag: (tagName) => buildAes128KeyTag(tagName, { uri: uri(), explicitIdentityKeyFormat: true, ...(iv === undefined ? {} : { iv }) }),
    hlsKeyFormat: { keyFormat: IDENTITY_KEY_FORMAT, keyFormatVersions: KEY_FORMAT_VERSION_1 },
    hlsSignalable: true,
  };
}

/** W3C Common PSSH: v1 box listing the KID (docs/speke.md V1-R8); DASH only, no HLS. */
function commonSignals(ctx: SignalContext): SystemSignals {
  const pssh = lazy(() => buildCommonPsshBox([ctx.kidBytes]));
  return {
    pssh,
    ...(ctx.dialect === 'cpix-api' ? {} : { contentProtectionData: lazy(() => fragmentBytes(buildPsshContentProtectionFragment(pssh()))) }),
    hlsSignalable: false,
  };
}
