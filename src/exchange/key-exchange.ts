/**
 * The key exchange shared by every key-issuing route (SPEKE v1/v2.x, the PallyCon CPIX API): a parsed
 * request in, the response CPIX out. Steps, in this order because of the durability rules:
 *
 * 1. plan one stored key per requested ContentKey (the encryptor's KID on SPEKE, a server-assigned
 *    one on the PallyCon API), bind each DRMSystem to one of them and run every check that can refuse
 *    the request — so a refused request creates no key; then get-or-create them all, durable before
 *    anything is answered;
 * 2. derive the response model from the request (echo-and-fill, speke.md §0 rule 2);
 * 3. encrypt the keys to the request's DeliveryData certificates, build, sign when the site wants it;
 * 4. write the audit record — if that fails, nothing is returned (fail closed).
 */

import type { X509Certificate } from 'node:crypto';
import type { AuditDialect, NewAuditRecord } from '../audit/ports';
import type { SigningConfig } from '../config/config';
import { buildCpix, XML_DECLARATION } from '../cpix/build';
import { encryptDocumentKeys } from '../cpix/delivery';
import type {
  ContentKey as CpixContentKey,
  ContentKeyUsageRule,
  CpixDocument,
  CpixTargetVersion,
  DrmSystem,
} from '../cpix/model';
import { signCpix } from '../cpix/signature';
import { CpixInvalid } from '../errors';
import { assertCertificatePolicy, DEFAULT_CERTIFICATE_POLICY, parseCertificate } from '../crypto/certificates';
import type { Clock, RandomSource } from '../crypto/random';
import type { ContentKey, ContentKeyService } from '../keys/content-key-service';
import { IV_LENGTH_BYTES } from '../keys/content-key-service';
import { parseKeyId, type KeyId } from '../keys/key-id';
import type { SiteView } from '../sites/site';
import { withoutUndefined } from '../objects';
import { assignPallyConKid } from './pallycon-kid';
import { fillDrmSystem, supportedSystemKind, systemNeedsIv, type SignalingDialect } from './signaling';

export type ExchangeDialect = Exclude<AuditDialect, 'license-export'>;

/** Where the audit record goes; `AuditService.record` in production. */
export interface AuditSink {
  record(record: NewAuditRecord): Promise<unknown>;
}

export interface KeyExchangeDeps {
  readonly contentKeys: ContentKeyService;
  readonly audit: AuditSink;
  readonly signing: SigningConfig;
  readonly random: RandomSource;
  readonly clock: Clock;
}

export interface ExchangeRequest {
  readonly site: SiteView;
  readonly credentialId: string;
  readonly clientAddress: string;
  readonly requestId: string;
  readonly dialect: ExchangeDialect;
  /** Parsed, and for SPEKE v2 validated, request. */
  readonly document: CpixDocument;
  /** PallyCon `?key-rotation=true`: keys per `ContentKeyPeriod@index` (pallycon.md §1.1). */
  readonly keyRotation?: boolean;
}

/** One requested ContentKey and the identity of the stored key that answers it. */
interface PlannedKey {
  readonly request: CpixContentKey;
  readonly kid: KeyId;
  /** The `kid` string of the response: the request's own spelling on SPEKE (echo rule), ours on the PallyCon API. */
  readonly responseKid: string;
  readonly trackType?: string;
  readonly periodIndex?: number;
}

/** A planned key once obtained from the store. */
interface IssuedKey extends PlannedKey {
  readonly content: ContentKey;
}

const SIGNALING_DIALECT: Readonly<Record<ExchangeDialect, SignalingDialect>> = {
  'speke-v1': 'speke-v1',
  'speke-v2.0': 'speke-v2',
  'speke-v2.1': 'speke-v2',
  'cpix-api-v1': 'cpix-api',
  'cpix-api-v2': 'cpix-api',
};

const GENERIC_TARGETS: readonly CpixTargetVersion[] = ['2.1', '2.2', '2.3', '2.4'];

function isPallyCon(dialect: ExchangeDialect): boolean {
  return dialect === 'cpix-api-v1' || dialect === 'cpix-api-v2';
}

/**
 * The CPIX version of the response: SPEKE v2.0 → 2.3 and v2.1 → 2.4 (speke.md §1); otherwise the
 * request's own `@version` when it names one we build, else 2.0 (root `id`, `speke:` elements —
 * SPEKE v1 and PallyCon, whose published responses use `speke:ProtectionHeader`).
 */
function targetVersion(dialect: ExchangeDialect, document: CpixDocument): CpixTargetVersion {
  if (dialect === 'speke-v2.0') return '2.3';
  if (dialect === 'speke-v2.1') return '2.4';
  const requested = GENERIC_TARGETS.find((version) => version === document.version);
  return requested ?? '2.0';
}

/** SPEKE v2 names the content by `@contentId`; SPEKE v1 and PallyCon by `@id` (pallycon.md §1.3). */
function contentIdOf(dialect: ExchangeDialect, document: CpixDocument): string {
  const contentId = dialect === 'speke-v2.0' || dialect === 'speke-v2.1' ? document.contentId : (document.id ?? document.contentId);
  if (contentId === undefined || contentId.length === 0) {
    throw new CpixInvalid(`CPIX@${dialect.startsWith('speke-v2') ? 'contentId' : 'id'} (the content ID) is required`);
  }
  return contentId;
}

function sameKid(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function usageRuleOf(document: CpixDocument, kid: string): ContentKeyUsageRule | undefined {
  return document.contentKeyUsageRuleList?.items.find((rule) => sameKid(rule.kid, kid));
}

/** `ContentKeyPeriod@index` of the first period the key's usage rule filters on, if any. */
function periodIndexOf(document: CpixDocument, rule: ContentKeyUsageRule | undefined): number | undefined {
  const periodId = rule?.keyPeriodFilters[0]?.periodId;
  if (periodId === undefined) return undefined;
  return document.contentKeyPeriodList?.items.find((period) => period.id === periodId)?.index;
}

function planKeys(request: ExchangeRequest, siteId: string, contentId: string): PlannedKey[] {
  const { document, dialect } = request;
  const keys = document.contentKeyList?.items ?? [];
  if (keys.length === 0) throw new CpixInvalid('ContentKeyList: at least one ContentKey is required');
  const planned = keys.map((key): PlannedKey => {
    const rule = usageRuleOf(document, key.kid);
    const trackType = rule?.intendedTrackType;
    const periodIndex = periodIndexOf(document, rule);
    if (!isPallyCon(dialect)) {
      return { request: key, kid: parseKeyId(key.kid), responseKid: key.kid, ...withoutUndefined({ trackType, periodIndex }) };
    }
    if (keys.length > 1 && trackType === undefined) {
      throw new CpixInvalid(`ContentKey[kid=${key.kid}]: a multi-key request needs a ContentKeyUsageRule@intendedTrackType per key`);
    }
    // Without ?key-rotation=true a period index is not a rotation request (pallycon.md §1.1).
    const rotatingIndex = request.keyRotation === true ? periodIndex : undefined;
    const kid = assignPallyConKid(siteId, contentId, trackType ?? '', rotatingIndex);
    return { request: key, kid, responseKid: kid, ...withoutUndefined({ trackType, periodIndex: rotatingIndex }) };
  });
  const seen = new Set<string>();
  for (const key of planned) {
    if (seen.has(key.kid)) {
      throw new CpixInvalid(`ContentKey[kid=${key.request.kid}]: two keys of the request ask for the same track type and period`);
    }
    seen.add(key.kid);
  }
  return planned;
}

/** Distinct `ContentKeyPeriod@index` values of a set of keys, for the audit record. */
export function distinctPeriodIndexes(keys: readonly { readonly periodIndex?: number | undefined }[]): number[] {
  return [...new Set(keys.flatMap((key) => (key.periodIndex === undefined ? [] : [key.periodIndex])))];
}

/**
 * The index in `planned` of each DRMSystem's key: the one its `@kid` names. PallyCon clients also send
 * DRMSystems whose kid names no ContentKey (pallycon.md §1.3 examples); with a single key that key is
 * meant.
 */
function bindSystemsToKeys(systems: readonly DrmSystem[], planned: readonly PlannedKey[], lenient: boolean): number[] {
  return systems.map((system) => {
    const match = planned.findIndex((key) => sameKid(key.request.kid, system.kid));
    if (match !== -1) return match;
    if (lenient && planned.length === 1) return 0;
    throw new CpixInvalid(`DRMSystem[systemId=${system.systemId}][kid=${system.kid}]@kid references no ContentKey`);
  });
}

/**
 * The checks that can refuse a request, run before any key is created, so a refused request leaves
 * no key behind (and no key without an audit record): every DRM system must be one we signal, every
 * recipient certificate must meet the policy (RSA ≥ 2048, no SHA-1). Returns the recipients.
 */
function refuseBeforeCreatingKeys(document: CpixDocument): X509Certificate[] {
  for (const system of document.drmSystemList?.items ?? []) supportedSystemKind(system.systemId);
  const recipients = (document.deliveryDataList?.items ?? []).flatMap((item) => item.certificates.map((der) => parseCertificate(der)));
  recipients.forEach((certificate, index) => assertCertificatePolicy(certificate, DEFAULT_CERTIFICATE_POLICY, `DeliveryData[${index}]`));
  return recipients;
}

export function createKeyExchange(deps: KeyExchangeDeps) {
  const { contentKeys, audit, signing, random, clock } = deps;

  async function obtain(site: SiteView, contentId: string, planned: readonly PlannedKey[]): Promise<(IssuedKey & { readonly created: boolean })[]> {
    // Every key gets an IV at creation — the request's, or a random one — persisted with it, so a
    // later request whose DRM system needs one (FairPlay, HLS AES-128) gets the same IV for the
    // same key. Never derived from the key (the reference server's IV == key bug, speke.md §5.3).
    const requests = planned.map((key) => ({
      contentId,
      kid: key.kid,
      iv: key.request.explicitIV ?? random(IV_LENGTH_BYTES),
      ...withoutUndefined({ trackType: key.trackType, periodIndex: key.periodIndex, scheme: key.request.commonEncryptionScheme }),
    }));
    const obtained = await contentKeys.getOrCreateAll(site.id, site.siteKeyVersion, requests);
    return planned.map((key, i) => {
      const found = obtained[i];
      if (!found) throw new Error('fewer keys obtained than planned');
      const { created, ...content } = found;
      return { ...key, content, created };
    });
  }

  /**
   * The response model: the request with each ContentKey given its key (and IV where needed) and each
   * DRMSystem filled for the key `systemKeys` binds it to (same order as the DRMSystemList).
   */
  function responseDocument(request: ExchangeRequest, contentId: string, issued: readonly IssuedKey[], systemKeys: readonly number[]): CpixDocument {
    const { document, dialect, site } = request;
    const pallyCon = isPallyCon(dialect);
    const systems = document.drmSystemList?.items ?? [];
    const keyOf = (systemIndex: number): IssuedKey => {
      const key = issued[systemKeys[systemIndex] ?? -1];
      if (!key) throw new Error('DRMSystem bound to no issued key');
      return key;
    };

    const filledSystems = systems.map((system, index) => {
      const key = keyOf(index);
      return fillDrmSystem(
        { ...system, kid: pallyCon ? key.responseKid : system.kid },
        {
          kid: key.kid,
          key: key.content.key,
          contentId,
          ...withoutUndefined({
            scheme: key.request.commonEncryptionScheme,
            iv: key.request.explicitIV ?? key.content.iv,
            periodIndex: key.periodIndex,
            trackType: key.trackType,
          }),
        },
        SIGNALING_DIALECT[dialect],
        site.options,
      );
    });

    const needsIv = (key: IssuedKey) =>
      systems.some((system, index) => keyOf(index) === key && systemNeedsIv(system.systemId, key.request.commonEncryptionScheme));
    const contentKeyItems = issued.map((key): CpixContentKey => {
      const { content } = key;
      // Echo a sent IV unchanged (V2-R6); add ours only where a DRM system needs one — a constant IV
      // handed to a `cenc` packager would invite keystream reuse. PallyCon always returns one (§1.3).
      const iv = key.request.explicitIV ?? (pallyCon || needsIv(key) ? content.iv : undefined);
      return { ...key.request, kid: key.responseKid, ...withoutUndefined({ explicitIV: iv }), data: { kind: 'plain', value: content.key } };
    });

    const rules = document.contentKeyUsageRuleList;
    return {
      ...document,
      contentKeyList: { ...document.contentKeyList, items: contentKeyItems },
      ...(document.drmSystemList && { drmSystemList: { ...document.drmSystemList, items: filledSystems } }),
      ...(rules && {
        contentKeyUsageRuleList: pallyCon
          ? { ...rules, items: rules.items.map((rule) => ({ ...rule, kid: responseKidFor(rule.kid, issued) })) }
          : rules,
      }),
    };
  }

  function responseKidFor(requestKid: string, planned: readonly PlannedKey[]): string {
    const key = planned.find((candidate) => sameKid(candidate.request.kid, requestKid));
    if (!key) throw new CpixInvalid(`ContentKeyUsageRule[kid=${requestKid}]@kid references no ContentKey`);
    return key.responseKid;
  }

  /** Encrypts to `recipients` (speke.md §8) when the request named any, builds, signs. */
  function serialize(document: CpixDocument, recipients: readonly X509Certificate[], target: CpixTargetVersion, sign: boolean): string {
    const { deliveryDataList: _requested, ...withoutDelivery } = document;
    const delivered = recipients.length > 0 ? encryptDocumentKeys(document, recipients, random) : withoutDelivery;
    const built = buildCpix(delivered, target, { willBeSigned: sign });
    return sign ? XML_DECLARATION + signCpix(built.canonical, signing) : built.xml;
  }

  return {
    /** Answers one key request; see the module comment for the order of steps. */
    async exchange(request: ExchangeRequest): Promise<string> {
      const siteId = request.site.id;
      const contentId = contentIdOf(request.dialect, request.document);
      const planned = planKeys(request, siteId, contentId);
      const systemKeys = bindSystemsToKeys(request.document.drmSystemList?.items ?? [], planned, isPallyCon(request.dialect));
      const recipients = refuseBeforeCreatingKeys(request.document);
      const issued = await obtain(request.site, contentId, planned);
      const sign = isPallyCon(request.dialect) ? request.site.options.signCpixApiResponses : request.site.options.signSpekeResponses;
      const xml = serialize(responseDocument(request, contentId, issued, systemKeys), recipients, targetVersion(request.dialect, request.document), sign);
      await audit.record({
        at: clock().toISOString(),
        siteId,
        action: 'issue',
        credentialId: request.credentialId,
        clientAddress: request.clientAddress,
        dialect: request.dialect,
        contentId,
        kids: planned.map((key) => key.kid),
        periodIndexes: distinctPeriodIndexes(planned),
        keysCreated: issued.filter((key) => key.created).length,
        requestId: request.requestId,
      });
      return xml;
    },
  };
}

export type KeyExchange = ReturnType<typeof createKeyExchange>;
