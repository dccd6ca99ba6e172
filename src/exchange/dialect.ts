/**
 * A key-exchange dialect: everything that makes one protocol's answer different from another's, in
 * one object. The key exchange (`key-exchange.ts`) runs the same steps for every dialect and asks the
 * dialect at each decision; a route only authenticates, hands the raw request to its protocol
 * (`KeyExchangeProtocol`) and passes what comes back to the exchange. Adding a protocol is adding
 * objects here, not branches there.
 */

import { createHash } from 'node:crypto';
import type { AuditDialect } from '../audit/ports';
import { versionProfile, type VersionProfile } from '../cpix/build-context';
import { parseCpixDocument } from '../cpix/parse';
import { checkReferences } from '../cpix/parse-references';
import type { CpixDocument, CpixTargetVersion } from '../cpix/model';
import { shownValue } from '../cpix/shown';
import { verifyCpixSignatures, type VerifiedCpixSignature } from '../cpix/verify-signature';
import { parseCertificate } from '../crypto/certificates';
import { CpixInvalid, CpixSignatureInvalid, CpixUnsupported, PayloadTooLarge, RequestSignatureRequired } from '../errors';
import { DEFAULT_XML_LIMITS } from '../xml/limits';
import { decodeXmlBytes } from '../xml/safe-parse';
import type { SiteOptions } from '../sites/site';
import { refuseExportNamespace } from './export-extensions';
import type { SignalingRules } from './signaling';

export type ExchangeDialect = Exclude<AuditDialect, 'license-export'>;

/** How a protocol writes its errors: SPEKE encryptors read text, PallyCon clients take any JSON for an error. */
export type ErrorFormat = 'text' | 'json';

export interface Dialect {
  /** The audit and metrics label. */
  readonly name: ExchangeDialect;
  /**
   * Protocol rules of a parsed request, run before the document's cross-references are checked
   * (SPEKE v2 words some broken references in its own strings). Refusals throw.
   */
  readonly validate?: (document: CpixDocument) => void;
  /** Where the content ID is; refuses a request without one. */
  readonly contentIdOf: (document: CpixDocument) => string;
  /**
   * Who chooses KIDs. `request`: the encryptor's KID is the stored key's identity and is echoed as
   * spelled. `server-assigned`: one key per (content, track type[, period]) under a KID of ours
   * (PallyCon, docs/pallycon-api.md), which replaces the request's KIDs everywhere in the answer.
   */
  readonly kids: 'request' | 'server-assigned';
  /**
   * A `DRMSystem` whose `kid` names no `ContentKey` is bound to the request's single key (PallyCon's
   * published requests have them) instead of being refused.
   */
  readonly unreferencedSystemsUseSingleKey: boolean;
  /** Reads `?key-rotation=true` (PallyCon): without it, a period index is not a rotation request. */
  readonly keyRotationParameter: boolean;
  /**
   * `ContentKey@explicitIV` in the answer: the stored IV `always`, or only where a DRM system of the
   * key needs one (a constant IV handed to a `cenc` packager would invite keystream reuse). An IV
   * the request sent is echoed either way.
   */
  readonly ivs: 'always' | 'when-needed';
  /** The CPIX version (and vocabulary) of the answer to `document`. */
  readonly responseProfile: (document: CpixDocument) => VersionProfile;
  /** Whether answers are XML-DSig signed, by the site's options. */
  readonly signs: (options: SiteOptions) => boolean;
  /** What each `DRMSystem` is answered with. */
  readonly signaling: SignalingRules;
}

/** What one key request may hold (BODY_LIMIT_BYTES, MAX_KEYS_PER_REQUEST). */
export interface KeyRequestLimits {
  readonly bodyBytes: number;
  readonly keys: number;
}

/** The raw request as a route received it; a protocol reads what it needs. */
export interface KeyRequestInput {
  readonly body: Buffer;
  readonly limits: KeyRequestLimits;
  /**
   * The authenticated site's `requestSignerCertificates` (PEM): when any, the request must carry a
   * whole-document signature by one of them.
   */
  readonly requiredSigners: readonly string[];
  /** A request header (names are case-insensitive). */
  header(name: string): string | undefined;
  /** A query parameter as the HTTP layer parsed it (a string, or an array when repeated). */
  query(name: string): unknown;
}

/** A parsed, validated key request and the dialect that answers it. */
export interface KeyRequest {
  readonly dialect: Dialect;
  readonly document: CpixDocument;
  /** PallyCon `?key-rotation=true`: keys per `ContentKeyPeriod@index`. */
  readonly keyRotation: boolean;
  /**
   * SHA-256 of the body, base64: with the dialect and `keyRotation`, everything of the request that
   * decides its answer (the key exchange remembers which requests it could answer).
   */
  readonly fingerprint: string;
}

/** One URL family: its error format, the headers of every answer, and how a request picks its dialect. */
export interface KeyExchangeProtocol {
  readonly errorFormat: ErrorFormat;
  /** Headers every answer carries, errors included (SPEKE: user agent, echoed version). */
  responseHeaders(input: Pick<KeyRequestInput, 'header'>, userAgent: string): Readonly<Record<string, string>>;
  /** Parses and validates the body; throws the protocol's refusals. */
  read(input: KeyRequestInput): KeyRequest;
}

/**
 * Elements one requested key brings at most in a real request: a MediaPackage-style SPEKE request
 * has a ContentKey, a usage rule with a filter and a period filter, a period, and per DRM system (three)
 * the DRMSystem with four signaling placeholders — 20; 24 leaves room for a fourth system's element.
 */
const XML_ELEMENTS_PER_KEY = 24;

/**
 * The parser's element limit for key requests: the hostile-input default, raised so that every
 * request within the key cap (MAX_KEYS_PER_REQUEST) fits and is answered, or refused by the cap in
 * its own words (413), never as "XML refused" (docs/decisions.md 80).
 */
export function maxElementsFor(maxKeys: number): number {
  return Math.max(DEFAULT_XML_LIMITS.maxElements, XML_ELEMENTS_PER_KEY * maxKeys + DEFAULT_XML_LIMITS.maxElements / 10);
}

/**
 * Recipient certificates one request may name (`DeliveryData`). Each costs two RSA-OAEP encryptions
 * per answer built (twice when the keys exist), and nothing else bounds them but the body size: a
 * megabyte of certificates held the event loop for a minute. SPEKE names one (its encryption
 * contract); 16 leave room for a DRM server answering for several license servers.
 */
export const MAX_RECIPIENTS_PER_REQUEST = 16;

/**
 * The parse → count → pick → validate → reference-check sequence every protocol shares: the body is
 * parsed without reference checks, a request for more keys or recipients than allowed is refused before anything
 * else looks at them (so is one carrying the license export's own elements), the dialect (which may depend on the document) validates it in its own words,
 * and only then are cross-references checked, once, in the dialect's mode.
 */
export function readKeyRequest(input: KeyRequestInput, pick: (document: CpixDocument) => Dialect): KeyRequest {
  const limits = { maxBytes: input.limits.bodyBytes, maxElements: maxElementsFor(input.limits.keys) };
  const document = parseCpixDocument(input.body, limits, { references: 'skip' });
  if (input.requiredSigners.length > 0) requireSignature(input, input.requiredSigners);
  const keys = document.contentKeyList?.items.length ?? 0;
  if (keys > input.limits.keys) throw new PayloadTooLarge(`ContentKeyList: ${keys} keys, at most ${input.limits.keys} per request`);
  const recipients = document.deliveryDataList?.items.reduce((count, item) => count + item.certificates.length, 0) ?? 0;
  if (recipients > MAX_RECIPIENTS_PER_REQUEST) {
    throw new PayloadTooLarge(`DeliveryDataList: ${recipients} recipient certificates, at most ${MAX_RECIPIENTS_PER_REQUEST} per request`);
  }
  refuseExportNamespace(document);
  const dialect = pick(document);
  dialect.validate?.(document);
  checkReferences(document, { allowUnboundDrmSystems: dialect.unreferencedSystemsUseSingleKey });
  return {
    dialect,
    document,
    keyRotation: dialect.keyRotationParameter && input.query('key-rotation') === 'true',
    fingerprint: createHash('sha256').update(input.body).digest('base64'),
  };
}

/**
 * A site that pins request signers accepts only a document signed as a whole (`URI=""`, enveloped)
 * by one of them; every signature the document carries must verify (`verifyCpixSignatures`: pinned
 * certificates only, never KeyInfo's; RSA with SHA-2). Runs on bytes the hardened parser accepted.
 *
 * @throws RequestSignatureRequired (401) without such a signature, or when one does not verify.
 */
function requireSignature(input: KeyRequestInput, signers: readonly string[]): void {
  const trusted = signers.map((pem, index) => parseCertificate(pem, `requestSignerCertificates[${index}]`));
  let signatures: readonly VerifiedCpixSignature[];
  try {
    ({ signatures } = verifyCpixSignatures(decodeXmlBytes(input.body, input.limits.bodyBytes), trusted));
  } catch (error) {
    if (error instanceof CpixSignatureInvalid) throw new RequestSignatureRequired(`request signature: ${error.message}`, { cause: error });
    throw error;
  }
  if (!signatures.some((signature) => signature.reference === '')) {
    throw new RequestSignatureRequired('this site accepts only requests signed as a whole by one of its request signer certificates');
  }
}

/** The content ID of `CPIX@<primary>`, else of the other attribute when `fallback` allows; refused when absent or empty. */
export function contentIdFrom(primary: 'id' | 'contentId', fallback: boolean): (document: CpixDocument) => string {
  const other = primary === 'id' ? 'contentId' : 'id';
  return (document) => {
    const contentId = document[primary] ?? (fallback ? document[other] : undefined);
    if (contentId === undefined || contentId.length === 0) throw new CpixInvalid(`CPIX@${primary} (the content ID) is required`);
    return contentId;
  };
}

/** CPIX versions a request may name to get an answer of that version: those that have `CPIX@version`. */
const NAMEABLE_VERSIONS: readonly CpixTargetVersion[] = ['2.3', '2.4'];

/** The version `CPIX@version` names, if it is one a request may ask its answer in. */
export function requestedVersion(document: CpixDocument): CpixTargetVersion | undefined {
  return NAMEABLE_VERSIONS.find((version) => version === document.version);
}

/**
 * Refuses a `CPIX@version` no answer can carry: the attribute exists from CPIX 2.3 on, so a request
 * naming anything but 2.3 or 2.4 names no version we could answer in.
 */
export function refuseUnnameableVersion(document: CpixDocument): void {
  if (document.version !== undefined && requestedVersion(document) === undefined) {
    throw new CpixUnsupported(`CPIX@version${shownValue(document.version)}: a request names 2.3 or 2.4, or no version`);
  }
}

/** `responseProfile` of a dialect that answers in the version the request names, else in `fallback`. */
export function requestedOr(fallback: VersionProfile): (document: CpixDocument) => VersionProfile {
  return (document) => {
    const requested = requestedVersion(document);
    return requested === undefined ? fallback : versionProfile(requested);
  };
}

/** `responseProfile` of a dialect that always answers in one version. */
export function fixedProfile(target: CpixTargetVersion): () => VersionProfile {
  const profile = versionProfile(target);
  return () => profile;
}
