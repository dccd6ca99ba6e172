/**
 * The CPIX document model (DASH-IF CPIX 2.0–2.4; CPIX 2.3 §5.2, Hierarchical Data Model), shared by the parser, the builder,
 * the signer and the key-delivery code. It is a plain readonly value: the parser produces it from
 * untrusted XML, protocol code derives a response model from it, and the builder serialises that.
 *
 * Echo rule (AWS SPEKE API v2, Customizations and constraints: the response carries back what the
 * encryptor sent; docs/key-exchange.md): identifier strings (`kid`, `systemId`, ids, `contentId`, `version`,
 * `commonEncryptionScheme`) are kept exactly as received; compare them case-insensitively, emit them
 * as received. List order is the order of the request.
 */

import type { Base64Encoded } from '../encoding/base64';
import type { XmlElement } from '../xml/tree';

/** CPIX versions the builder can emit. '2.0' is SPEKE v1's dialect (2.x layout plus `speke:` elements). */
export type CpixTargetVersion = '2.0' | '2.1' | '2.2' | '2.3' | '2.4';

/** `@id` and `@updateVersion`, carried by every list and most entities. */
export interface Identified {
  readonly id?: string;
  readonly updateVersion?: number;
}

/**
 * A signaling value: received bytes, or a value the key server made, carried as its base64 (see
 * `encoding/base64.ts`: made once, never decoded again). `undefined` = element absent; an empty
 * buffer = element present but empty, i.e. a placeholder the key server is asked to fill (an empty
 * base64Binary is valid CPIX).
 */
export type SignalBytes = Buffer | Base64Encoded;

/** `cpix:Data/pskc:Secret` of a content key. */
export type ContentKeyData =
  | { readonly kind: 'plain'; readonly value: Buffer }
  | {
      readonly kind: 'encrypted';
      /** `enc:EncryptionMethod@Algorithm`, normally `…xmlenc#aes256-cbc`. */
      readonly algorithm: string;
      /** IV(16) ‖ AES-256-CBC ciphertext. */
      readonly cipherValue: Buffer;
      /** `pskc:ValueMAC`: HMAC-SHA512 over `cipherValue`. */
      readonly valueMac?: Buffer;
    };

/** CPIX 2.4 `ContentKey/HDCPData`. */
export interface HdcpData {
  readonly hlsHdcpLevel?: string;
  /** Base64-decoded `HDCPOutputProtectionData` (an XML fragment). */
  readonly outputProtectionData?: Buffer;
}

export interface ContentKey extends Identified {
  /** As received (any letter case). */
  readonly kid: string;
  readonly explicitIV?: Buffer;
  readonly commonEncryptionScheme?: string;
  readonly dependsOnKey?: string;
  /** CPIX 2.4 per-key content ID. */
  readonly contentId?: string;
  /** PSKC `@Algorithm` (≤ 2.3.1 only). */
  readonly algorithm?: string;
  readonly hdcp?: HdcpData;
  /** Absent in key requests (`<ContentKey kid="…"/>`). */
  readonly data?: ContentKeyData;
}

/** One `HLSSignalingData` element. */
export interface HlsSignalingData {
  /** `master`/`media` (2.2–2.3.1), `multiVariant`/`media` (2.4), or absent. As received. */
  readonly playlist?: string;
  readonly value: SignalBytes;
}

/** The SPEKE v1 extension elements inside `DRMSystem` (namespace `urn:aws:amazon:com:speke`). */
export interface SpekeV1Signaling {
  readonly keyFormat?: SignalBytes;
  readonly keyFormatVersions?: SignalBytes;
  readonly protectionHeader?: SignalBytes;
}

/** An extension element we carry through without understanding it (its parsed subtree). */
export type OpaqueElement = XmlElement;

export interface DrmSystem extends Identified {
  /** As received (PallyCon sends upper case). */
  readonly systemId: string;
  /** As received. */
  readonly kid: string;
  readonly name?: string;
  /** CPIX 2.4 `@HLSAllowedCPC`. */
  readonly hlsAllowedCpc?: string;
  readonly pssh?: SignalBytes;
  readonly contentProtectionData?: SignalBytes;
  /** CPIX 2.4 `ContentProtectionData@robustness`. */
  readonly contentProtectionRobustness?: string;
  /** ≤ 2.3.1 only. */
  readonly uriExtXKey?: SignalBytes;
  readonly hlsSignalingData: readonly HlsSignalingData[];
  /** `xs:string`: already the base64 text of the MSS ProtectionHeader (never double-encoded). */
  readonly smoothStreamingProtectionHeaderData?: string;
  /** ≤ 2.3.1 only. */
  readonly hdsSignalingData?: SignalBytes;
  readonly speke?: SpekeV1Signaling;
  readonly extensions: readonly OpaqueElement[];
}

export interface ContentKeyPeriod extends Identified {
  readonly index?: number;
  /** xs:dateTime, as received. */
  readonly start?: string;
  readonly end?: string;
  /** CPIX 2.4. */
  readonly label?: string;
  /** CPIX 2.4 xs:duration values, as received. */
  readonly startOffset?: string;
  readonly endOffset?: string;
  readonly duration?: string;
}

export interface VideoFilter {
  readonly minPixels?: number;
  readonly maxPixels?: number;
  readonly minFps?: number;
  readonly maxFps?: number;
  readonly hdr?: boolean;
  readonly wcg?: boolean;
}

export interface AudioFilter {
  readonly minChannels?: number;
  readonly maxChannels?: number;
}

export interface BitrateFilter {
  readonly minBitrate?: number;
  readonly maxBitrate?: number;
}

export interface ContentKeyUsageRule extends Identified {
  /** As received. */
  readonly kid: string;
  readonly intendedTrackType?: string;
  readonly keyPeriodFilters: readonly { readonly periodId: string }[];
  readonly labelFilters: readonly { readonly label: string }[];
  readonly videoFilters: readonly VideoFilter[];
  readonly audioFilters: readonly AudioFilter[];
  readonly bitrateFilters: readonly BitrateFilter[];
  /**
   * Elements of other namespaces after the filters (the XSD's `xs:any`). Only the builder writes
   * them (the license export's grant); the parser refuses a usage-rule child it does not know, since
   * it could narrow the key's use in a way we would ignore.
   */
  readonly extensions?: readonly OpaqueElement[];
}

export interface UpdateHistoryItem {
  readonly id?: string;
  readonly updateVersion: number;
  readonly index: string;
  readonly source: string;
  readonly date: string;
}

export interface DocumentKey {
  readonly id?: string;
  /** CPIX 2.4: the KID this document key encrypts (the 2.4 XSD allows one UUID, though the prose says a list). */
  readonly encryptsKey?: string;
  /** ≤ 2.3.1 `@Algorithm` (`…xmlenc#aes256-cbc`). */
  readonly algorithm?: string;
  /** RSA-OAEP-wrapped 32-byte document key; absent in "encrypt to me" requests, which send only a `DeliveryKey`. */
  readonly encryptedValue?: Buffer;
}

export interface DeliveryData extends Identified {
  readonly name?: string;
  /** DER X.509 certificates of the recipient (`DeliveryKey/ds:X509Data/ds:X509Certificate`). */
  readonly certificates: readonly Buffer[];
  readonly documentKeys: readonly DocumentKey[];
  /** RSA-OAEP-wrapped 64-byte MAC key (any of the three MAC key shapes of ./parse-delivery.ts on input). */
  readonly macMethod?: { readonly algorithm: string; readonly encryptedKey?: Buffer };
  readonly description?: string;
  readonly sendingEntity?: string;
  readonly senderPointOfContact?: string;
  readonly receivingEntity?: string;
}

/** A list element: present (possibly empty) with its attributes, or absent. */
export interface CpixList<T> extends Identified {
  readonly items: readonly T[];
}

export interface CpixDocument {
  readonly id?: string;
  readonly contentId?: string;
  readonly version?: string;
  readonly name?: string;
  readonly deliveryDataList?: CpixList<DeliveryData>;
  readonly contentKeyList?: CpixList<ContentKey>;
  readonly drmSystemList?: CpixList<DrmSystem>;
  readonly contentKeyPeriodList?: CpixList<ContentKeyPeriod>;
  readonly contentKeyUsageRuleList?: CpixList<ContentKeyUsageRule>;
  readonly updateHistoryItemList?: CpixList<UpdateHistoryItem>;
  /** Namespaces declared on the received root (prefix → URI; '' = default), e.g. whether `speke` was. */
  readonly rootNamespaces?: Readonly<Record<string, string>>;
}
