/**
 * HLS key signaling: `#EXT-X-KEY` (media playlist) and `#EXT-X-SESSION-KEY` (multivariant playlist)
 * lines, which CPIX carries base64-encoded in `HLSSignalingData` (DASH-IF CPIX 2.3 §5.2.8; RFC 8216
 * §4.3.2.4, §4.3.4.5). Lines are built by {@link HlsTag}, which validates every attribute against
 * RFC 8216 §4.2 instead of interpolating caller strings (as shaka `hls/base/tag.cc` does).
 *
 * Invalid values throw a plain `RangeError`: they come from configuration or from code, never from a
 * request, so they are programmer/configuration errors.
 */

import { type EncodedBytes, base64Of, bufferView } from '../encoding/base64';
import { keyIdFromBytes } from '../keys/key-id';
import { assertKeyIdBytes } from './pssh';
import { WIDEVINE_SYSTEM_ID } from './system-ids';
import type { ProtectionScheme } from './widevine';

export type HlsKeyTagName = 'EXT-X-KEY' | 'EXT-X-SESSION-KEY';

/** RFC 8216 §4.3.2.4 METHOD values, plus `SAMPLE-AES-CTR` (CENC `cenc` in fMP4 HLS; Shaka, Bento4). */
export type HlsKeyMethod = 'NONE' | 'AES-128' | 'SAMPLE-AES' | 'SAMPLE-AES-CTR';
export const HLS_KEY_METHODS: readonly HlsKeyMethod[] = ['NONE', 'AES-128', 'SAMPLE-AES', 'SAMPLE-AES-CTR'];

export const FAIRPLAY_KEY_FORMAT = 'com.apple.streamingkeydelivery';
export const WIDEVINE_KEY_FORMAT = `urn:uuid:${WIDEVINE_SYSTEM_ID}`;
export const PLAYREADY_KEY_FORMAT = 'com.microsoft.playready';
/** RFC 8216 §4.3.2.4: the implied KEYFORMAT when absent (the key file is the 16 raw key bytes). */
export const IDENTITY_KEY_FORMAT = 'identity';
export const KEY_FORMAT_VERSION_1 = '1';

export const HLS_IV_LENGTH_BYTES = 128 / 8;
export const FAIRPLAY_URI_SCHEME = 'skd://';
export const WIDEVINE_DATA_URI_PREFIX = 'data:text/plain;base64,';
/** The PRO is UTF-16 XML inside, hence the charset (AWS MediaPackage guide; Bento4 `mp4-dash.py`). */
export const PLAYREADY_DATA_URI_PREFIX = 'data:text/plain;charset=UTF-16;base64,';

// RFC 8216 §4.2: AttributeName = [A-Z0-9-]; enumerated-string = no `"`, `,` or whitespace;
// quoted-string = no `"`, CR or LF; KEYFORMATVERSIONS = "/"-separated positive integers.
const TAG_NAME_PATTERN = /^EXT-X-[A-Z0-9-]+$/;
const ATTRIBUTE_NAME_PATTERN = /^[A-Z0-9-]+$/;
const FORBIDDEN_IN_QUOTED_STRING = /["\r\n]/;
const KEY_FORMAT_VERSIONS_PATTERN = /^[1-9][0-9]*(?:\/[1-9][0-9]*)*$/;

/**
 * One HLS tag line, attributes in the order they are added: `#NAME:A=1,B="x",C=0x…`. Refuses a
 * duplicate attribute name, a quoted string containing `"`, CR or LF, an enumerated value outside its
 * allowed set, and anything else RFC 8216 §4.2 cannot represent (`RangeError`).
 */
export class HlsTag {
  private readonly attributes: string[] = [];
  private readonly names = new Set<string>();

  constructor(private readonly name: string) {
    if (!TAG_NAME_PATTERN.test(name)) throw new RangeError(`not an HLS tag name: ${JSON.stringify(name)}`);
  }

  private add(name: string, value: string): this {
    if (!ATTRIBUTE_NAME_PATTERN.test(name)) throw new RangeError(`not an HLS attribute name: ${JSON.stringify(name)}`);
    if (this.names.has(name)) throw new RangeError(`attribute ${name} given twice`);
    this.names.add(name);
    this.attributes.push(`${name}=${value}`);
    return this;
  }

  /** `NAME=VALUE` where VALUE must be one of `allowed`. */
  enumerated(name: string, value: string, allowed: readonly string[]): this {
    if (!allowed.includes(value)) throw new RangeError(`${name} must be one of ${allowed.join(', ')}`);
    return this.add(name, value);
  }

  /** `NAME="VALUE"`; throws `RangeError` if VALUE holds `"`, CR or LF (it could end the line or the value). */
  quoted(name: string, value: string): this {
    if (FORBIDDEN_IN_QUOTED_STRING.test(value)) {
      throw new RangeError(`${name} must not contain a double quote, CR or LF`);
    }
    return this.add(name, `"${value}"`);
  }

  /** `NAME=0x…`, upper-case digits (RFC 8216 §4.2 hexadecimal-sequence). */
  hex(name: string, bytes: Uint8Array): this {
    if (bytes.length === 0) throw new RangeError(`${name} must not be empty`);
    return this.add(name, `0x${bufferView(bytes).toString('hex').toUpperCase()}`);
  }

  toString(): string {
    return this.attributes.length === 0 ? `#${this.name}` : `#${this.name}:${this.attributes.join(',')}`;
  }
}

/** Attributes of an `EXT-X-KEY` / `EXT-X-SESSION-KEY` (RFC 8216 §4.3.2.4, §4.3.4.5). */
export interface HlsKeyAttributes {
  readonly method: HlsKeyMethod;
  readonly uri?: string;
  /** 16 bytes. Omit for FairPlay: its IV travels with the key (Shaka `simple_hls_notifier.cc`). */
  readonly iv?: Uint8Array;
  /** 16-byte KID, big-endian; not in RFC 8216 but read by Widevine/CENC HLS clients (`KEYID=0x…`). */
  readonly keyId?: Uint8Array;
  readonly keyFormat?: string;
  readonly keyFormatVersions?: string;
}

/**
 * Builds the key line, attributes in the order METHOD, URI, IV, KEYID, KEYFORMAT, KEYFORMATVERSIONS
 * (the order of Bento4's and Shaka Packager's key lines; RFC 8216 does not fix an order). Throws `RangeError` when METHOD=NONE comes
 * with other attributes or on a session key, when another METHOD has no URI, for an IV or KEYID that is
 * not 16 bytes, a malformed KEYFORMATVERSIONS, or a quoted value with `"`, CR or LF.
 */
export function buildHlsKeyTag(tagName: HlsKeyTagName, attributes: HlsKeyAttributes): string {
  const { method, uri, iv, keyId, keyFormat, keyFormatVersions } = attributes;
  const tag = new HlsTag(tagName).enumerated('METHOD', method, HLS_KEY_METHODS);
  if (method === 'NONE') {
    if (tagName === 'EXT-X-SESSION-KEY') throw new RangeError('EXT-X-SESSION-KEY must not use METHOD=NONE');
    if (uri !== undefined || iv !== undefined || keyId !== undefined || keyFormat !== undefined || keyFormatVersions !== undefined) {
      throw new RangeError('METHOD=NONE takes no other attributes');
    }
    return tag.toString();
  }
  if (uri === undefined || uri === '') throw new RangeError(`METHOD=${method} needs a URI`);
  tag.quoted('URI', uri);
  if (iv !== undefined) {
    if (iv.length !== HLS_IV_LENGTH_BYTES) throw new RangeError(`IV must be ${HLS_IV_LENGTH_BYTES} bytes`);
    tag.hex('IV', iv);
  }
  if (keyId !== undefined) {
    assertKeyIdBytes([keyId]);
    tag.hex('KEYID', keyId);
  }
  if (keyFormat !== undefined) tag.quoted('KEYFORMAT', keyFormat);
  if (keyFormatVersions !== undefined) {
    if (!KEY_FORMAT_VERSIONS_PATTERN.test(keyFormatVersions)) throw new RangeError('KEYFORMATVERSIONS must be like "1" or "1/2/5"');
    tag.quoted('KEYFORMATVERSIONS', keyFormatVersions);
  }
  return tag.toString();
}

/**
 * `line` (a key line from {@link buildHlsKeyTag}) under the other tag name: `EXT-X-KEY` and
 * `EXT-X-SESSION-KEY` take the same attributes, so a key's line for the multivariant playlist is its
 * media line renamed, without building (and base64-encoding) the attributes again. Throws
 * `RangeError` for a line that is not a key line, or METHOD=NONE on a session key.
 */
export function renameHlsKeyTag(line: string, tagName: HlsKeyTagName): string {
  const colon = line.indexOf(':');
  const current = line.slice(1, colon);
  if (!line.startsWith('#') || (current !== 'EXT-X-KEY' && current !== 'EXT-X-SESSION-KEY')) throw new RangeError('not an HLS key line');
  if (current === tagName) return line;
  const attributes = line.slice(colon + 1);
  if (tagName === 'EXT-X-SESSION-KEY' && attributes === 'METHOD=NONE') throw new RangeError('EXT-X-SESSION-KEY must not use METHOD=NONE');
  return `#${tagName}:${attributes}`;
}

/**
 * The METHOD for a sample-encrypted scheme: `cbcs` → `SAMPLE-AES`, `cenc` → `SAMPLE-AES-CTR` (Shaka
 * `simple_hls_notifier.cc`). HLS has no method for `cens`/`cbc1`: `RangeError`.
 */
export function hlsMethodForScheme(scheme: ProtectionScheme): 'SAMPLE-AES' | 'SAMPLE-AES-CTR' {
  if (scheme === 'cbcs') return 'SAMPLE-AES';
  if (scheme === 'cenc') return 'SAMPLE-AES-CTR';
  throw new RangeError(`HLS cannot signal the ${scheme} scheme`);
}

/** Values for the placeholders of an `skd://` URI template. */
export interface SkdUriValues {
  /** 16-byte KID, big-endian. */
  readonly keyId: Uint8Array;
  readonly contentId?: string;
}

const SKD_PLACEHOLDER = /\{([^{}]*)\}/g;

/**
 * Expands a FairPlay asset URI template: `{kid_hex}` (32 lower-case hex digits), `{kid_uuid}` (dashed,
 * lower-case), `{kid_base64}` (standard base64 of the big-endian KID; PallyCon writes
 * `skd://{kid_base64}`, docs/pallycon-api.md) and `{content_id}` (percent-encoded as a URI
 * component, RFC 3986 §2.1). The template must start with `skd://`. Throws `RangeError` for an unknown
 * placeholder, `{content_id}` without a content ID, or a KID that is not 16 bytes.
 */
export function expandSkdUriTemplate(template: string, values: SkdUriValues): string {
  if (!template.startsWith(FAIRPLAY_URI_SCHEME)) throw new RangeError(`a FairPlay URI template must start with ${FAIRPLAY_URI_SCHEME}`);
  return expandKeyUriTemplate(template, values, 'the FairPlay URI template');
}

/**
 * Expands any HLS key URI template (e.g. the AES-128 key URL, `https://keys.example/{content_id}/{kid_uuid}`)
 * with the placeholders of {@link expandSkdUriTemplate}, without its `skd://` requirement. `what` names
 * the template in error messages. Throws `RangeError` as {@link expandSkdUriTemplate} does.
 */
export function expandKeyUriTemplate(template: string, values: SkdUriValues, what = 'the key URI template'): string {
  assertKeyIdBytes([values.keyId]);
  const kid = Buffer.from(values.keyId);
  return template.replace(SKD_PLACEHOLDER, (_match, name: string) => {
    switch (name) {
      case 'kid_hex':
        return kid.toString('hex');
      case 'kid_uuid':
        return keyIdFromBytes(kid);
      case 'kid_base64':
        return kid.toString('base64');
      case 'content_id':
        if (values.contentId === undefined) throw new RangeError('{content_id} used without a content ID');
        // The content ID is the client's text: encoded, it stays one path segment or query value
        // (`a/b?c#d` cannot change the URL's shape) and holds no quote or line break for the tag line.
        return encodeURIComponent(values.contentId);
      default:
        throw new RangeError(`unknown placeholder {${name}} in ${what}`);
    }
  });
}

/**
 * FairPlay: `METHOD=SAMPLE-AES,URI="skd://…",KEYFORMAT="com.apple.streamingkeydelivery",KEYFORMATVERSIONS="1"`,
 * no IV (FairPlay is `cbcs` only; the IV comes with the key).
 */
export function buildFairPlayKeyTag(tagName: HlsKeyTagName, skdUri: string): string {
  if (!skdUri.startsWith(FAIRPLAY_URI_SCHEME)) throw new RangeError(`a FairPlay key URI starts with ${FAIRPLAY_URI_SCHEME}`);
  return buildHlsKeyTag(tagName, {
    method: 'SAMPLE-AES',
    uri: skdUri,
    keyFormat: FAIRPLAY_KEY_FORMAT,
    keyFormatVersions: KEY_FORMAT_VERSION_1,
  });
}

/**
 * Widevine: `METHOD=SAMPLE-AES|SAMPLE-AES-CTR,URI="data:text/plain;base64,<pssh box>",KEYID=0x…,
 * KEYFORMAT="urn:uuid:edef8ba9-…",KEYFORMATVERSIONS="1"` (Bento4 `ComputeHlsWidevineKeyLine`).
 */
export function buildWidevineKeyTag(
  tagName: HlsKeyTagName,
  input: { readonly psshBox: Uint8Array | EncodedBytes; readonly keyId: Uint8Array; readonly scheme: ProtectionScheme },
): string {
  return buildHlsKeyTag(tagName, {
    method: hlsMethodForScheme(input.scheme),
    uri: WIDEVINE_DATA_URI_PREFIX + base64Of(input.psshBox),
    keyId: input.keyId,
    keyFormat: WIDEVINE_KEY_FORMAT,
    keyFormatVersions: KEY_FORMAT_VERSION_1,
  });
}

/**
 * PlayReady: `METHOD=…,URI="data:text/plain;charset=UTF-16;base64,<PRO>",KEYFORMAT="com.microsoft.playready",
 * KEYFORMATVERSIONS="1"`. The URI carries the PRO, not the `pssh` box (AWS MediaPackage guide).
 */
export function buildPlayReadyKeyTag(
  tagName: HlsKeyTagName,
  input: { readonly playReadyObject: Uint8Array | EncodedBytes; readonly scheme: ProtectionScheme },
): string {
  return buildHlsKeyTag(tagName, {
    method: hlsMethodForScheme(input.scheme),
    uri: PLAYREADY_DATA_URI_PREFIX + base64Of(input.playReadyObject),
    keyFormat: PLAYREADY_KEY_FORMAT,
    keyFormatVersions: KEY_FORMAT_VERSION_1,
  });
}

/**
 * A key line whose URI is where the player fetches the 16 raw key bytes itself (`KEYFORMAT="identity"`):
 * `METHOD=AES-128` (whole-segment CBC) or `METHOD=SAMPLE-AES` (sample encryption), `URI="<key url>"
 * [,IV=0x…]`. Without an IV the client uses the media sequence number (RFC 8216 §5.2).
 * `explicitIdentityKeyFormat` adds `KEYFORMAT="identity",KEYFORMATVERSIONS="1"`, which AWS MediaPackage
 * writes (never the reference server's `KEYFORMAT=""`).
 */
export function buildIdentityKeyTag(
  tagName: HlsKeyTagName,
  input: {
    readonly method: 'AES-128' | 'SAMPLE-AES';
    readonly uri: string;
    readonly iv?: Uint8Array;
    readonly explicitIdentityKeyFormat?: boolean;
  },
): string {
  return buildHlsKeyTag(tagName, {
    method: input.method,
    uri: input.uri,
    ...(input.iv === undefined ? {} : { iv: input.iv }),
    ...(input.explicitIdentityKeyFormat === true
      ? { keyFormat: IDENTITY_KEY_FORMAT, keyFormatVersions: KEY_FORMAT_VERSION_1 }
      : {}),
  });
}
