/**
 * Inputs of the DRM-signaling step of a key exchange: the rules of the protocol that answers (which
 * `DRMSystem` children get values, and which flavour of each value), the one content key a
 * `DRMSystem` references, and the per-site options that shape the values.
 */

import type { KeyId } from '../../keys/key-id';

/** The DRM systems the key exchange can signal; see `systems.ts` for the system IDs of each. */
export type SystemKind = 'widevine' | 'playready' | 'fairplay' | 'wiseplay' | 'common' | 'aes128' | 'sample-aes' | 'ncg';

/** The `DRMSystem` children a value can go into. */
export type SignalChild =
  | 'pssh'
  | 'contentProtectionData'
  | 'uriExtXKey'
  | 'hlsSignalingData'
  | 'smoothStreaming'
  | 'spekeKeyFormat'
  | 'spekeProtectionHeader';

/**
 * How a protocol spells the values it shares with the others. Every field is a convention of one
 * protocol family (SPEKE: the AWS SPEKE v1 and v2 specifications; PallyCon: docs/pallycon-api.md).
 */
export interface SignalingStyle {
  /**
   * Widevine `pssh` data: PallyCon's (`algorithm=AESCTR`, `track_type`, never `protection_scheme`) or
   * the common one (no deprecated `algorithm`, `protection_scheme` whenever the key names its scheme).
   */
  readonly widevinePsshData: 'pallycon' | 'common';
  /**
   * Under rotation, the content ID in a `pssh` (Widevine, WisePlay) is followed by the period index as
   * 16 lower-case hex digits: PallyCon's license server tells the periods' keys apart by it.
   */
  readonly periodContentIdSuffix: boolean;
  /**
   * `ContentProtectionData`: the DASH `ContentProtection` children (`<cenc:pssh>`, `<mspr:pro>`),
   * which is its meaning in CPIX, or PallyCon's "payload only" (the `pssh` data; the PRO for PlayReady).
   */
  readonly contentProtectionData: 'dash-fragment' | 'pssh-payload';
  /** WRMHEADER version for AESCTR (`cenc`) keys when the site sets none; AESCBC always needs 4.3.0.0. */
  readonly playReadyHeaderVersion: '4.0.0.0' | '4.3.0.0';
  /** Mark a rotated key's WRMHEADER with `<CUSTOMATTRIBUTES><PERIOD_INDEX>` (PallyCon). */
  readonly playReadyPeriodIndex: boolean;
  /**
   * State the key's IV in AES-128 and SAMPLE-AES key lines. SPEKE v2 forbids it (the encryptor
   * writes the IV); on the PallyCon API the packager copies the line, so it must name the IV it
   * encrypts with (RFC 8216 §5.2: without IV a player would use the media sequence number).
   */
  readonly hlsIdentityKeyIv: boolean;
}

/**
 * What one protocol answers in a `DRMSystem`, per system kind. A kind with no entry in `fills` is
 * not signalled by that protocol (the request is refused before any key is created).
 */
export interface SignalingRules {
  readonly style: SignalingStyle;
  /** The children filled when the request has them empty (a placeholder asks for a value). */
  readonly fills: Readonly<Partial<Record<SystemKind, readonly SignalChild[]>>>;
  /** The children added when the request does not have them (PallyCon answers with its own element set). */
  readonly adds?: Readonly<Partial<Record<SystemKind, readonly SignalChild[]>>>;
  /**
   * A placeholder that is still empty after filling: `drop` it from the answer, or `refuse` the
   * request (SPEKE v2: "all elements … shall carry a valid value", AWS SPEKE API v2, Customizations and constraints).
   */
  readonly unfilled: 'drop' | 'refuse';
}

/** The content key a `DRMSystem` references, with what its signaling depends on. */
export interface SignalingKey {
  /** The key's KID (canonical lower-case UUID). */
  readonly kid: KeyId;
  /** 16-byte content key; read by the PlayReady CHECKSUM and the NCG CEK (and never put in a message). */
  readonly key: Buffer;
  /** `ContentKey@commonEncryptionScheme` (`cenc|cbc1|cens|cbcs`); absent is signalled as `cenc` (DASH-IF CPIX 2.3 §5.2.5 leaves it open). */
  readonly scheme?: string;
  /** The key's IV (16 bytes): the one the request sent, else the stored one. */
  readonly iv?: Buffer;
  /** CPIX `@contentId` (SPEKE v2) or `@id` (SPEKE v1, PallyCon CID). */
  readonly contentId: string;
  /** `ContentKeyPeriod@index` of the key's period when keys rotate. */
  readonly periodIndex?: number;
  /** `ContentKeyUsageRule@intendedTrackType` (PallyCon writes it into the Widevine `track_type`). */
  readonly trackType?: string;
}

/** The per-site options the values depend on (mapped from `SiteOptions` by the caller). */
export interface SignalingOptions {
  /** PlayReady WRMHEADER `LA_URL`; none when absent. */
  readonly playReadyLaUrl?: string;
  /** FairPlay key URI, e.g. `skd://{kid_hex}`; placeholders as in `expandSkdUriTemplate`. */
  readonly fairPlaySkdTemplate: string;
  /** Widevine `pssh` `provider` (PallyCon: `inkaentworks`). */
  readonly widevineProvider: string;
  /**
   * Key-delivery URI of the HLS systems whose key a player fetches itself (AES-128 and SAMPLE-AES
   * with `KEYFORMAT="identity"`, PallyCon's NCG-HLS); the placeholders of the `skd://` template.
   */
  readonly aes128KeyUriTemplate: string;
  /** WRMHEADER version for AESCTR (`cenc`) keys; the protocol's `playReadyHeaderVersion` when absent. */
  readonly playReadyHeaderVersion?: '4.0.0.0' | '4.3.0.0';
}
