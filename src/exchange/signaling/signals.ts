/**
 * The signaling values one DRM system can be given for one content key, in a protocol's style, built
 * from the `drm/` builders (DASH-IF CPIX 2.3 §5.2.7; AWS SPEKE API v2; docs/pallycon-api.md).
 * Which of them a `DRMSystem` actually receives is decided by `fill.ts`; values are computed on
 * first use, so an unrequested value never costs (or fails) anything.
 */

import type { SignalBytes } from '../../cpix/model';
import { type Base64Encoded, EncodedBytes, encodedText } from '../../encoding/base64';
import { CpixUnsupported } from '../../errors';
import { buildPlayReadyContentProtectionFragment, buildPsshContentProtectionFragment } from '../../drm/dash';
import {
  FAIRPLAY_KEY_FORMAT,
  type HlsKeyTagName,
  IDENTITY_KEY_FORMAT,
  KEY_FORMAT_VERSION_1,
  buildFairPlayKeyTag,
  buildIdentityKeyTag,
  buildPlayReadyKeyTag,
  buildWidevineKeyTag,
  expandKeyUriTemplate,
  expandSkdUriTemplate,
  renameHlsKeyTag,
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
import { buildWisePlayPsshBox, encodeWisePlayPsshData } from '../../drm/wiseplay';
import { keyIdToBytes } from '../../keys/key-id';
import { protectionSchemeOf } from './systems';
import type { SignalingKey, SignalingOptions, SignalingStyle, SystemKind } from './types';

/**
 * What a system can put in each `DRMSystem` child; an absent member = nothing to say there. A value
 * several children share (a `pssh` box, the PlayReady Object) is made and base64-encoded once.
 */
export interface SystemSignals {
  /** `cpix:PSSH`: the whole box. */
  readonly pssh?: () => SignalBytes;
  /** `cpix:ContentProtectionData` bytes (before base64), in the style's meaning. */
  readonly contentProtectionData?: () => SignalBytes;
  /** One `HLSSignalingData` line; throws `CpixUnsupported` when the key's scheme has no HLS method (`cens`, `cbc1`). */
  readonly hlsTag?: (tagName: HlsKeyTagName) => string;
  /** `URIExtXKey` bytes (before base64): the key URI, or PallyCon's NCG CEK. */
  readonly uriExtXKey?: () => SignalBytes;
  /** SPEKE v1 `speke:KeyFormat` / `speke:KeyFormatVersions` (AWS SPEKE API v1). */
  readonly hlsKeyFormat?: { readonly keyFormat: string; readonly keyFormatVersions: string };
  /** The PlayReady Object: `SmoothStreamingProtectionHeaderData` and `speke:ProtectionHeader`. */
  readonly playReadyObject?: () => EncodedBytes;
  /** Whether HLS signaling exists for this key at all (false for Widevine/PlayReady under `cens`/`cbc1`). */
  readonly hlsSignalable: boolean;
}

interface SignalContext {
  /** `DRMSystem@systemId` as received (its bytes go into the HLS-only systems' `pssh`). */
  readonly systemId: string;
  readonly key: SignalingKey;
  readonly scheme: ProtectionScheme;
  readonly kidBytes: Buffer;
  readonly style: SignalingStyle;
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

/** Bytes built on first use, their base64 made once for every child that writes them. */
const encodedOnce = (build: () => Buffer): (() => EncodedBytes) => lazy(() => new EncodedBytes(build()));

/**
 * A system's `hlsTag`: the first line asked for is built, the other playlist's is that line renamed
 * (`renameHlsKeyTag`), so the attributes (a `pssh` box or PRO in base64, a key URI) are built once
 * per DRMSystem, not once per playlist.
 */
function keyLines(build: (tagName: HlsKeyTagName) => string): (tagName: HlsKeyTagName) => string {
  let built: string | undefined;
  return (tagName) => {
    built = built === undefined ? build(tagName) : renameHlsKeyTag(built, tagName);
    return built;
  };
}

/** HLS has METHODs only for `cbcs` (SAMPLE-AES) and `cenc` (SAMPLE-AES-CTR); see `hlsMethodForScheme`. */
const isHlsScheme = (scheme: ProtectionScheme): scheme is 'cenc' | 'cbcs' => scheme === 'cenc' || scheme === 'cbcs';

function unsupportedHlsScheme(ctx: SignalContext): CpixUnsupported {
  return new CpixUnsupported(
    `DRMSystem[systemId=${ctx.systemId}]/HLSSignalingData: HLS cannot signal ContentKey[kid=${ctx.key.kid}] scheme ${ctx.scheme}`,
  );
}

/** The signals of `kind` for `key`. @throws CpixUnsupported for a scheme that is not a CENC FourCC. */
export function signalsFor(kind: SystemKind, systemId: string, key: SignalingKey, style: SignalingStyle, options: SignalingOptions): SystemSignals {
  const ctx: SignalContext = {
    systemId,
    key,
    scheme: protectionSchemeOf(key.scheme, key.kid),
    kidBytes: keyIdToBytes(key.kid),
    style,
    options,
  };
  switch (kind) {
    case 'widevine':
      return widevineSignals(ctx);
    case 'playready':
      return playReadySignals(ctx);
    case 'fairplay':
      return fairPlaySignals(ctx);
    case 'wiseplay':
      return wisePlaySignals(ctx);
    case 'aes128':
      return keyUrlSignals(ctx, 'AES-128');
    case 'sample-aes':
      return keyUrlSignals(ctx, 'SAMPLE-AES');
    case 'ncg':
      return ncgSignals(ctx);
    case 'common':
      return commonSignals(ctx);
  }
}

/** The content ID a `pssh` names; see `SignalingStyle.periodContentIdSuffix`. */
function signalledContentId(ctx: SignalContext): string {
  const { key } = ctx;
  if (!ctx.style.periodContentIdSuffix || key.periodIndex === undefined) return key.contentId;
  return pallyConRotationContentId(key.contentId, key.periodIndex);
}

/** See `SignalingStyle.widevinePsshData`. */
function widevinePsshData(ctx: SignalContext): WidevinePsshData {
  const { key, options } = ctx;
  if (ctx.style.widevinePsshData === 'pallycon') {
    return {
      algorithm: 'AESCTR',
      keyIds: [ctx.kidBytes],
      provider: options.widevineProvider,
      contentId: signalledContentId(ctx),
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

/**
 * `ContentProtectionData` of a system signalled by one `pssh` box: its data, or the `<cenc:pssh>`
 * fragment (same box as `PSSH`). A fragment is carried as the base64 of its UTF-8, no BOM (DASH-IF
 * CPIX 2.3 §5.2.7), as every fragment below.
 */
function psshContentProtectionData(ctx: SignalContext, pssh: () => EncodedBytes, payload: () => Buffer): () => SignalBytes {
  return ctx.style.contentProtectionData === 'pssh-payload' ? payload : lazy(() => encodedText(buildPsshContentProtectionFragment(pssh())));
}

function widevineSignals(ctx: SignalContext): SystemSignals {
  const data = lazy(() => encodeWidevinePsshData(widevinePsshData(ctx)));
  const pssh = encodedOnce(() => buildWidevinePsshBox(data()));
  const { scheme } = ctx;
  return {
    pssh,
    contentProtectionData: psshContentProtectionData(ctx, pssh, data),
    hlsTag: keyLines((tagName) => {
      if (!isHlsScheme(scheme)) throw unsupportedHlsScheme(ctx);
      return buildWidevineKeyTag(tagName, { psshBox: pssh(), keyId: ctx.kidBytes, scheme });
    }),
    hlsSignalable: isHlsScheme(scheme),
  };
}

/**
 * AESCTR for `cenc`, AESCBC for `cbcs` (Microsoft PlayReady Header Specification); PlayReady has no `cens`/`cbc1`.
 * AESCBC gets WRMHEADER 4.3.0.0 without CHECKSUM (Shaka omits it; we have not checked an AESCBC
 * checksum rule against the Microsoft specification).
 */
function wrmHeaderFor(ctx: SignalContext): string {
  const { key, options, scheme, style } = ctx;
  if (scheme !== 'cenc' && scheme !== 'cbcs') {
    throw new CpixUnsupported(`DRMSystem[systemId=${ctx.systemId}]: PlayReady cannot signal ContentKey[kid=${key.kid}] scheme ${scheme}`);
  }
  const algorithm = scheme === 'cbcs' ? 'AESCBC' : 'AESCTR';
  const version: WrmHeaderVersion = algorithm === 'AESCBC' ? '4.3.0.0' : (options.playReadyHeaderVersion ?? style.playReadyHeaderVersion);
  const customAttributes: WrmHeaderCustomAttribute[] =
    style.playReadyPeriodIndex && key.periodIndex !== undefined ? [{ name: 'PERIOD_INDEX', value: String(key.periodIndex) }] : [];
  return buildWrmHeader({
    version,
    keys: [{ keyId: ctx.kidBytes, contentKey: key.key }],
    algorithm,
    ...(options.playReadyLaUrl === undefined ? {} : { laUrl: options.playReadyLaUrl }),
    customAttributes,
  });
}

function playReadySignals(ctx: SignalContext): SystemSignals {
  const pro = encodedOnce(() => buildPlayReadyObject(wrmHeaderFor(ctx)));
  const pssh = encodedOnce(() => buildPlayReadyPsshBox(pro().bytes));
  const { scheme } = ctx;
  return {
    pssh,
    // Payload only: the PRO (docs/pallycon-api.md). Fragment: <cenc:pssh> + <mspr:pro> ("must contain BOTH").
    contentProtectionData:
      ctx.style.contentProtectionData === 'pssh-payload'
        ? pro
        : lazy(() => encodedText(buildPlayReadyContentProtectionFragment(pssh(), pro()))),
    hlsTag: keyLines((tagName) => {
      if (!isHlsScheme(scheme)) throw unsupportedHlsScheme(ctx);
      return buildPlayReadyKeyTag(tagName, { playReadyObject: pro(), scheme });
    }),
    playReadyObject: pro,
    hlsSignalable: isHlsScheme(scheme),
  };
}

/** WisePlay: a `pssh` box whose data is the WisePlay JSON header (see `drm/wiseplay.ts`); DASH only. */
function wisePlaySignals(ctx: SignalContext): SystemSignals {
  const data = lazy(() => encodeWisePlayPsshData({ keyIds: [ctx.kidBytes], contentId: signalledContentId(ctx), scheme: ctx.scheme }));
  const pssh = encodedOnce(() => buildWisePlayPsshBox(data()));
  return { pssh, contentProtectionData: psshContentProtectionData(ctx, pssh, data), hlsSignalable: false };
}

/**
 * The `pssh` of an HLS-only system, for encryptors that ask for one (MediaPackage sends `<cpix:PSSH/>`
 * for FairPlay, and SPEKE v2 requires every requested element to carry a value: AWS SPEKE API v2, Customizations and constraints): a version 1
 * box with the DRMSystem's own system ID and the KID, no data (as Shaka's FairPlay `pssh`). Its
 * payload-only `ContentProtectionData` would be empty: nothing to say there.
 */
function hlsOnlyPsshSignals(ctx: SignalContext): Pick<SystemSignals, 'pssh' | 'contentProtectionData'> {
  const pssh = encodedOnce(() => buildPsshBox(ctx.systemId, new Uint8Array(0), [ctx.kidBytes]));
  return {
    pssh,
    ...(ctx.style.contentProtectionData === 'dash-fragment' && {
      contentProtectionData: lazy(() => encodedText(buildPsshContentProtectionFragment(pssh()))),
    }),
  };
}

const utf8Text = (uri: () => string) => (): Base64Encoded => encodedText(uri());

/** FairPlay: `skd://` URI from the site template, no IV attribute (the IV travels with the key). */
function fairPlaySignals(ctx: SignalContext): SystemSignals {
  const uri = lazy(() => expandSkdUriTemplate(ctx.options.fairPlaySkdTemplate, { keyId: ctx.kidBytes, contentId: ctx.key.contentId }));
  return {
    ...hlsOnlyPsshSignals(ctx),
    uriExtXKey: utf8Text(uri),
    hlsTag: keyLines((tagName) => buildFairPlayKeyTag(tagName, uri())),
    hlsKeyFormat: { keyFormat: FAIRPLAY_KEY_FORMAT, keyFormatVersions: KEY_FORMAT_VERSION_1 },
    hlsSignalable: true,
  };
}

/**
 * HLS with a key URL (`KEYFORMAT="identity",KEYFORMATVERSIONS="1"` written out, as AWS MediaPackage
 * does; never the reference server's `KEYFORMAT=""`): AES-128 whole-segment encryption or SAMPLE-AES.
 * The IV attribute as the style says (`hlsIdentityKeyIv`).
 */
function keyUrlSignals(ctx: SignalContext, method: 'AES-128' | 'SAMPLE-AES'): SystemSignals {
  const uri = lazy(() =>
    expandKeyUriTemplate(ctx.options.aes128KeyUriTemplate, { keyId: ctx.kidBytes, contentId: ctx.key.contentId }, 'the key-delivery URI template'),
  );
  const iv = ctx.style.hlsIdentityKeyIv ? ctx.key.iv : undefined;
  return {
    ...hlsOnlyPsshSignals(ctx),
    uriExtXKey: utf8Text(uri),
    hlsTag: keyLines((tagName) => buildIdentityKeyTag(tagName, { method, uri: uri(), explicitIdentityKeyFormat: true, ...(iv === undefined ? {} : { iv }) })),
    hlsKeyFormat: { keyFormat: IDENTITY_KEY_FORMAT, keyFormatVersions: KEY_FORMAT_VERSION_1 },
    hlsSignalable: true,
  };
}

/**
 * PallyCon NCG: `URIExtXKey` carries the 32-byte NCG CEK, the content key followed by its 16-byte IV
 * (docs/pallycon-api.md, "NCG"), so a file packaged with it and a stream packaged with the same key agree.
 */
function ncgSignals(ctx: SignalContext): SystemSignals {
  const { key, iv } = ctx.key;
  const cek = (): Buffer => {
    if (iv === undefined) throw new Error('an NCG key is signalled with its IV');
    return Buffer.concat([key, iv]);
  };
  return { uriExtXKey: cek, hlsSignalable: false };
}

/** W3C Common PSSH: v1 box listing the KID (W3C "cenc" Initialization Data Format); DASH only, no HLS. */
function commonSignals(ctx: SignalContext): SystemSignals {
  const pssh = encodedOnce(() => buildCommonPsshBox([ctx.kidBytes]));
  return {
    pssh,
    ...(ctx.style.contentProtectionData === 'dash-fragment' && {
      contentProtectionData: lazy(() => encodedText(buildPsshContentProtectionFragment(pssh()))),
    }),
    hlsSignalable: false,
  };
}
