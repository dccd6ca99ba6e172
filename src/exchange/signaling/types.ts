/**
 * Inputs of the DRM-signaling step of a key exchange: which protocol answers (the dialect), the one
 * content key a `DRMSystem` references, and the per-site options that shape the values.
 */

import type { KeyId } from '../../keys/key-id';

/**
 * Which key-exchange protocol the response belongs to; it decides what a placeholder means and whether
 * missing elements may be added:
 * - `speke-v1`: AWS SPEKE v1 (CPIX 2.0 + `speke:` elements), docs/speke.md §3;
 * - `speke-v2`: AWS SPEKE v2.0/2.1 (CPIX 2.3), docs/speke.md §4;
 * - `cpix-api`: the PallyCon/DoveRunner CPIX API, docs/pallycon.md §1.3 and §5.
 */
export type SignalingDialect = 'speke-v1' | 'speke-v2' | 'cpix-api';

/** The content key a `DRMSystem` references, with what its signaling depends on. */
export interface SignalingKey {
  /** The key's KID (canonical lower-case UUID). */
  readonly kid: KeyId;
  /** 16-byte content key; only the PlayReady CHECKSUM reads it (and it never reaches a message). */
  readonly key: Buffer;
  /** `ContentKey@commonEncryptionScheme` (`cenc|cbc1|cens|cbcs`); absent means `cenc` (CPIX 2.3 §5.3.3). */
  readonly scheme?: string;
  /** The explicit IV (16 bytes), when the ContentKey carries or is given one. */
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
  /** HLS AES-128 key URI; the same placeholders as the `skd://` template (`{kid_hex}`, `{kid_uuid}`, `{kid_base64}`, `{content_id}`). */
  readonly aes128KeyUriTemplate: string;
  /**
   * WRMHEADER version for AESCTR (`cenc`) keys. Default: 4.3.0.0 for `cpix-api` (what PallyCon's KMS
   * returns today, V15) and 4.0.0.0 for SPEKE (Shaka, AWS and Kaltura samples; understood by every
   * PlayReady client). AESCBC (`cbcs`) always uses 4.3.0.0, the only version that can express it.
   */
  readonly playReadyHeaderVersion?: '4.0.0.0' | '4.3.0.0';
}
