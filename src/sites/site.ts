import type { WrappedSiteKey } from '../crypto/kms/master-key';
import { assertCertificatePolicy, DEFAULT_CERTIFICATE_POLICY, parseCertificate } from '../crypto/certificates';
import { expandKeyUriTemplate, expandSkdUriTemplate } from '../drm/hls';
import { RequestInvalid } from '../errors';
import { KEY_ID_LENGTH_BYTES } from '../keys/key-id';
import type { RandomSource } from '../crypto/random';

/** PallyCon's site ID shape: 4 uppercase letters or digits, like the `DEMO` site of its documentation. */
export const SITE_ID_PATTERN = /^[A-Z0-9]{4}$/;
const SITE_ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const SITE_ID_LENGTH = 4;

export type SiteStatus = 'active' | 'disabled';

/** Per-site behaviour of the key-exchange endpoints. Defaults in `DEFAULT_SITE_OPTIONS`. */
export interface SiteOptions {
  /** XML-DSig on PallyCon CPIX API responses (PallyCon itself never signs; we do by default). */
  readonly signCpixApiResponses: boolean;
  /** XML-DSig on SPEKE responses; off because SPEKE v1/v2 clients do not accept signatures. */
  readonly signSpekeResponses: boolean;
  /** PlayReady license acquisition URL put into WRMHEADER `LA_URL`; none by default. */
  readonly playReadyLaUrl?: string;
  /** FairPlay key URI; `{kid_hex}`, `{kid_uuid}`, `{kid_base64}` and `{content_id}` are substituted. */
  readonly fairPlaySkdTemplate: string;
  /**
   * HLS AES-128 key URI (ClearKey AES-128 `3ea8778f-…`, SPEKE v1 `81376844-…`): where players fetch the
   * raw key, so it must point at the operator's key-delivery service; same placeholders as the skd
   * template. The default is under the reserved `.invalid` TLD so a forgotten setting fails visibly.
   */
  readonly aes128KeyUriTemplate: string;
  /** Widevine PSSH `provider` field. */
  readonly widevineProvider: string;
  /** Accept PallyCon's legacy KMS token form base64({"site_id","access_key"}). */
  readonly acceptLegacyToken: boolean;
  /**
   * PEM certificates of the site's packagers. When any is set, every key request of the site must
   * carry an enveloped XML-DSig signature over the whole document by one of them (as pinned here,
   * never from the request's KeyInfo); none by default.
   */
  readonly requestSignerCertificates: readonly string[];
  /**
   * Web origins (`https://player.example`) whose pages may read this site's ClearKey licences
   * (`POST /clearkey/v1/license`, CORS): exact serialised origins, never a wildcard; none by default.
   */
  readonly clearKeyAllowedOrigins: readonly string[];
}

export const DEFAULT_SITE_OPTIONS: SiteOptions = Object.freeze({
  signCpixApiResponses: true,
  signSpekeResponses: false,
  fairPlaySkdTemplate: 'skd://{kid_hex}',
  aes128KeyUriTemplate: 'https://key-delivery.invalid/{content_id}/{kid_uuid}',
  widevineProvider: 'cpix-kms',
  acceptLegacyToken: false,
  requestSignerCertificates: [],
  clearKeyAllowedOrigins: [],
});

/**
 * Whether `origin` is a serialised web origin (RFC 6454 §6.2) of an http(s) page: scheme, host and a
 * non-default port only, as browsers send it in `Origin`. `*` and `null` are not origins.
 */
export function isWebOrigin(origin: string): boolean {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  // The WHATWG parser keeps some characters in hosts (`*`) that no browser sends as an origin.
  const host = /^(\[[0-9a-f:.]+\]|[a-z0-9-]+(\.[a-z0-9-]+)*)$/.test(url.hostname);
  return (url.protocol === 'https:' || url.protocol === 'http:') && host && url.origin === origin;
}

/**
 * Refuses options that would make every key request fail later: a key URI template that does not
 * expand (an unknown `{placeholder}`), checked by expanding it for a sample key, and a request signer
 * certificate that is not one, or is weak (RSA < 2048, SHA-1).
 *
 * @throws RequestInvalid naming the option and the problem; CpixInvalid / WeakCertificate for a certificate.
 */
export function checkSiteOptions(options: SiteOptions): void {
  options.requestSignerCertificates.forEach((pem, index) => {
    const path = `options.requestSignerCertificates[${index}]`;
    assertCertificatePolicy(parseCertificate(pem, path), DEFAULT_CERTIFICATE_POLICY, path);
  });
  options.clearKeyAllowedOrigins.forEach((origin, index) => {
    if (!isWebOrigin(origin)) {
      throw new RequestInvalid(`options.clearKeyAllowedOrigins[${index}] must be an origin such as https://player.example (no path, no wildcard)`);
    }
  });
  const sample = { keyId: Buffer.alloc(KEY_ID_LENGTH_BYTES), contentId: 'content' };
  const templates: readonly [keyof SiteOptions, () => string][] = [
    ['fairPlaySkdTemplate', () => expandSkdUriTemplate(options.fairPlaySkdTemplate, sample)],
    ['aes128KeyUriTemplate', () => expandKeyUriTemplate(options.aes128KeyUriTemplate, sample)],
  ];
  for (const [name, expand] of templates) {
    try {
      expand();
    } catch (error) {
      if (error instanceof RangeError) throw new RequestInvalid(`options.${name}: ${error.message}`);
      throw error;
    }
  }
}

export interface StoredSiteKey {
  readonly version: number;
  readonly wrapped: WrappedSiteKey;
  readonly createdAt: string;
}

/** A site (tenant) as stored. Secrets appear only hashed (access key) or wrapped (site keys). */
export interface SiteRecord {
  readonly id: string;
  readonly name: string;
  readonly status: SiteStatus;
  readonly options: SiteOptions;
  readonly accessKeyHash: Buffer;
  /** All versions, oldest first; the last one is current. */
  readonly siteKeys: readonly StoredSiteKey[];
  readonly createdAt: string;
  readonly updatedAt: string;
  /**
   * Counts the site's changes (status, options, name, site keys); 0 for a new site. A key request
   * authenticated from a cached record names the revision it saw, and its store step refuses when
   * the site changed since (`IssueContext`).
   */
  readonly revision: number;
}

/** What the admin API shows of a site. */
export interface SiteView {
  readonly id: string;
  readonly name: string;
  readonly status: SiteStatus;
  readonly options: SiteOptions;
  readonly siteKeyVersion: number;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export function toSiteView(site: SiteRecord): SiteView {
  return {
    id: site.id,
    name: site.name,
    status: site.status,
    // Records written before an option existed lack it; they get its default.
    options: { ...DEFAULT_SITE_OPTIONS, ...site.options },
    siteKeyVersion: currentSiteKey(site).version,
    createdAt: site.createdAt,
    updatedAt: site.updatedAt,
  };
}

export function currentSiteKey(site: SiteRecord): StoredSiteKey {
  const current = site.siteKeys[site.siteKeys.length - 1];
  if (!current) throw new Error(`site ${site.id} has no site key`);
  return current;
}

/** A random site ID; rejection sampling keeps every character equally likely. */
export function generateSiteId(random: RandomSource): string {
  let id = '';
  while (id.length < SITE_ID_LENGTH) {
    for (const byte of random(8)) {
      // 252 = 7 × 36: bytes above it would bias the first characters.
      if (byte < 252 && id.length < SITE_ID_LENGTH) id += SITE_ID_ALPHABET[byte % SITE_ID_ALPHABET.length];
    }
  }
  return id;
}
