/**
 * The key exchange shared by every key-issuing route (SPEKE v1/v2.x, plain CPIX, the PallyCon CPIX
 * API): a parsed request and its dialect in, the response CPIX out. Steps, in this order because of
 * the durability rules:
 *
 * 1. plan one stored key per requested ContentKey (the encryptor's KID, or one the dialect assigns),
 *    bind each DRMSystem to one of them, check the recipients' certificates, draw the key bytes and
 *    IV each key gets if it is new, and build the whole answer with them (echo-and-fill, encryption
 *    to the request's DeliveryData certificates) — every refusal a request can cause happens there,
 *    so a refused request creates no key (and no key exists without an audit record);
 * 2. in one atomic store step (one round trip): check again that the site is active and the token
 *    not revoked (authentication may have read them from a short-lived cache), that the content is
 *    not revoked and no imported key holds a slot a KID was assigned for, then get-or-create the keys
 *    with those candidates and write the audit record — durable before anything is answered, and
 *    nothing written when any check refuses (an imported slot: plan again with its KID);
 * 3. if every key was new, the answer of step 1 is the answer; otherwise it is built again with the
 *    stored keys. Signed when the dialect and site want it.
 *
 * Whether step 1 refuses depends on the request's bytes, its dialect, PallyCon's rotation flag and
 * the site's options, never on key bytes; a request answered once (same site revision) skips it
 * when it comes again, and its answer is built once, with the stored keys. Live packagers ask for
 * the same period's keys again and again, and a repeat otherwise cost two builds. Everything else
 * (rotation policy, recipients, the plan, the store step's checks) runs on every request.
 *
 * Work is linear in the request: every lookup by KID or period goes through a map built once.
 */

import type { X509Certificate } from 'node:crypto';
import { createExpiringCache } from '../cache/expiring-cache';
import type { SigningConfig } from '../config/config';
import { buildCpix, XML_DECLARATION, type BuiltCpix } from '../cpix/build';
import type { VersionProfile } from '../cpix/build-context';
import { encryptDocumentKeys } from '../cpix/delivery';
import type { ContentKey as CpixContentKey, ContentKeyPeriod, ContentKeyUsageRule, CpixDocument, DrmSystem } from '../cpix/model';
import { periodBounds } from '../content-policy/rotation';
import type { ContentPolicy } from '../content-policy/ports';
import type { PoliciesByRevision } from '../content-policy/policy-cache';
import { signCpix } from '../cpix/signature';
import { UINT32_MAX } from '../drm/byte-writer';
import { CpixInvalid, CpixUnsupported, KeyConflict } from '../errors';
import { assertCertificatePolicy, DEFAULT_CERTIFICATE_POLICY, parseCertificate } from '../crypto/certificates';
import type { Clock, RandomSource } from '../crypto/random';
import type { ContentKeyService } from '../keys/content-key-service';
import { CONTENT_KEY_LENGTH_BYTES, IV_LENGTH_BYTES } from '../keys/content-key-service';
import { parseKeyId, type KeyId } from '../keys/key-id';
import type { SiteView } from '../sites/site';
import { withoutUndefined } from '../objects';
import type { KeyRequest } from './dialect';
import { assignPallyConKid } from './pallycon-kid';
import { fillDrmSystem, supportedSystemKind, systemNeedsIv } from './signaling';

export type { ExchangeDialect } from './dialect';

export interface KeyExchangeDeps {
  readonly contentKeys: ContentKeyService;
  /** The content's policy as of the site revision the request was authenticated with, read when it rotates keys. */
  readonly policies: PoliciesByRevision;
  readonly signing: SigningConfig;
  readonly random: RandomSource;
  readonly clock: Clock;
}

export interface ExchangeRequest extends KeyRequest {
  readonly site: SiteView;
  readonly credentialId: string;
  /** The site's revision as authentication read it (`AuthenticatedSite.siteRevision`). */
  readonly siteRevision: number;
  readonly clientAddress: string;
  readonly requestId: string;
}

/** One requested ContentKey and the identity of the stored key that answers it. */
interface PlannedKey {
  readonly request: CpixContentKey;
  readonly kid: KeyId;
  /** The `kid` string of the answer: the request's own spelling (echo rule), or the assigned KID. */
  readonly responseKid: string;
  readonly trackType?: string;
  readonly periodIndex?: number;
  /** Whether a DRM system bound to this key needs its IV (`systemNeedsIv`). */
  readonly needsIv: boolean;
}

/** The key bytes and IV a planned key is answered with. */
interface KeyMaterial {
  readonly key: Buffer;
  readonly iv?: Buffer | undefined;
}

/** A planned key with its material: stand-ins while checking, the stored key once obtained. */
interface IssuedKey extends PlannedKey {
  readonly material: KeyMaterial;
}

/** A parsed request with its lookups by (lower-case) KID and period id, built once. */
interface RequestIndex {
  readonly keys: readonly CpixContentKey[];
  readonly systems: readonly DrmSystem[];
  readonly ruleByKid: ReadonlyMap<string, ContentKeyUsageRule>;
  readonly periodById: ReadonlyMap<string, ContentKeyPeriod>;
}

function indexRequest(document: CpixDocument): RequestIndex {
  const keys = document.contentKeyList?.items ?? [];
  if (keys.length === 0) throw new CpixInvalid('ContentKeyList: at least one ContentKey is required');
  const ruleByKid = new Map<string, ContentKeyUsageRule>();
  // The first rule of a key counts, as a client reading the list in order would see it.
  for (const rule of document.contentKeyUsageRuleList?.items ?? []) {
    const kid = rule.kid.toLowerCase();
    if (!ruleByKid.has(kid)) ruleByKid.set(kid, rule);
  }
  const periodById = new Map<string, ContentKeyPeriod>();
  for (const period of document.contentKeyPeriodList?.items ?? []) {
    if (period.id !== undefined) periodById.set(period.id, period);
  }
  return { keys, systems: document.drmSystemList?.items ?? [], ruleByKid, periodById };
}

/**
 * The index in `keys` of each DRMSystem's key: the one its `@kid` names; with `singleKey`, a
 * DRMSystem whose kid names no ContentKey is bound to a request's only key.
 */
function bindSystemsToKeys(index: RequestIndex, singleKey: boolean): number[] {
  const position = new Map(index.keys.map((key, i) => [key.kid.toLowerCase(), i]));
  return index.systems.map((system) => {
    const match = position.get(system.kid.toLowerCase());
    if (match !== undefined) return match;
    if (singleKey && index.keys.length === 1) return 0;
    throw new CpixInvalid(`DRMSystem[systemId=${system.systemId}][kid=${system.kid}]@kid references no ContentKey`);
  });
}

/**
 * One stored key per requested ContentKey, in request order. The usage rule of a key gives its track
 * type and (first KeyPeriodFilter) period index; server-assigned KIDs count a period only when the
 * request asked for rotation (PallyCon's `?key-rotation=true`).
 */
/** What a requested key is for: its track type and (when keys rotate) period. */
interface KeySlot {
  readonly trackType?: string;
  readonly periodIndex?: number;
  /** The request's period, for the checks against the content's rotation policy. */
  readonly period?: ContentKeyPeriod;
}

/**
 * The slot of each requested ContentKey, in request order: its usage rule's track type and (first
 * KeyPeriodFilter) period. Server-assigned KIDs count a period only when the request asked for
 * rotation (PallyCon's `?key-rotation=true`).
 */
function slotsOf(request: KeyRequest, index: RequestIndex): KeySlot[] {
  return index.keys.map((key) => {
    const rule = index.ruleByKid.get(key.kid.toLowerCase());
    const periodId = rule?.keyPeriodFilters[0]?.periodId;
    const period = periodId === undefined ? undefined : index.periodById.get(periodId);
    const periodIndex = request.dialect.kids === 'server-assigned' && !request.keyRotation ? undefined : period?.index;
    if (periodIndex !== undefined && periodIndex > UINT32_MAX) {
      // Widevine `crypto_period_index` and the other period signals are 32-bit fields.
      throw new CpixUnsupported(`ContentKeyPeriod@index above ${UINT32_MAX} cannot be signalled`);
    }
    return withoutUndefined({ trackType: rule?.intendedTrackType, periodIndex, period: periodIndex === undefined ? undefined : period });
  });
}

/**
 * One stored key per requested ContentKey, in request order, for its slot: the encryptor's KID, or
 * for server-assigned KIDs the key imported into that slot, else the KID the site derives for it.
 */
function planKeys(
  request: KeyRequest,
  index: RequestIndex,
  systemKeys: readonly number[],
  slots: readonly KeySlot[],
  imported: readonly (KeyId | undefined)[],
  siteId: string,
  contentId: string,
): PlannedKey[] {
  const { dialect } = request;
  const needsIv = index.keys.map(() => false);
  index.systems.forEach((system, i) => {
    const keyIndex = systemKeys[i] ?? -1;
    const kind = supportedSystemKind(system.systemId, dialect.signaling);
    if (systemNeedsIv(kind, index.keys[keyIndex]?.commonEncryptionScheme)) needsIv[keyIndex] = true;
  });
  const planned = index.keys.map((key, i): PlannedKey => {
    const { trackType, periodIndex } = slots[i] ?? {};
    const shared = { request: key, needsIv: needsIv[i] === true, ...withoutUndefined({ trackType, periodIndex }) };
    if (dialect.kids === 'request') return { ...shared, kid: parseKeyId(key.kid), responseKid: key.kid };
    const kid = imported[i] ?? assignPallyConKid(siteId, contentId, trackType ?? '', periodIndex);
    return { ...shared, kid, responseKid: kid };
  });
  const seen = new Map<string, number>();
  planned.forEach((key, i) => {
    const other = seen.get(key.kid);
    if (other === undefined) {
      seen.set(key.kid, i);
    } else if (imported[i] !== undefined || imported[other] !== undefined) {
      // The request is sound; the content's keys are not: an operator imported a key under the KID
      // the site derives for another of the request's slots.
      throw new KeyConflict(
        `ContentKey[kid=${key.request.kid}]: the key imported for one of this request's track types and periods has the KID of another; import it under another KID`,
      );
    } else {
      throw new CpixInvalid(`ContentKey[kid=${key.request.kid}]: two keys of the request ask for the same track type and period`);
    }
  });
  return planned;
}

/**
 * How many periods after the current one a rotating content's keys may be asked for: enough for a
 * packager that fetches the next keys ahead of a period change, never a harvest of keys for periods
 * to come (docs/content-policies.md).
 */
export const ROTATION_LOOKAHEAD_PERIODS = 2;

/**
 * Plans a request gets: the first with the KIDs the site derives, a second with the KIDs of keys
 * imported into its slots (the store answers those instead of creating keys); a third only if an
 * import raced the second.
 */
const PLAN_ATTEMPTS = 3;

/**
 * A content whose policy (DRM group) rotates keys does so in periods of the policy's interval,
 * period i covering [i·I, (i+1)·I) since 1970-01-01T00:00:00Z (docs/content-policies.md): a period's
 * `start`/`end`, when the request gives them (SPEKE v2.1 live), must be exactly its bounds, and no
 * period may start more than `ROTATION_LOOKAHEAD_PERIODS` after the current one. A policy without an
 * interval, or no policy, sets no constraint: the encryptor's periods are taken as they come.
 */
function checkRotation(policy: ContentPolicy | undefined, slots: readonly KeySlot[], now: Date): void {
  const intervalMs = (policy?.rotationIntervalMinutes ?? 0) * 60_000;
  if (policy === undefined || intervalMs === 0) return;
  const lastAllowed = Math.floor(now.getTime() / intervalMs) + ROTATION_LOOKAHEAD_PERIODS;
  for (const { periodIndex, period } of slots) {
    if (periodIndex === undefined) continue;
    const bounds = periodBounds(periodIndex, intervalMs);
    if (periodIndex > lastAllowed) {
      throw new CpixUnsupported(
        `ContentKeyPeriod[index=${periodIndex}]: the content rotates every ${policy.rotationIntervalMinutes} min; this period starts ${bounds.start}, more than ${ROTATION_LOOKAHEAD_PERIODS} periods ahead`,
      );
    }
    const mismatch = (value: string | undefined, expected: string) => value !== undefined && Date.parse(value) !== Date.parse(expected);
    if (mismatch(period?.start, bounds.start) || mismatch(period?.end, bounds.end)) {
      throw new CpixUnsupported(
        `ContentKeyPeriod[index=${periodIndex}]: the content rotates every ${policy.rotationIntervalMinutes} min, so this period is ${bounds.start} to ${bounds.end}`,
      );
    }
  }
}

/** Distinct `ContentKeyPeriod@index` values of a set of keys, for the audit record. */
export function distinctPeriodIndexes(keys: readonly { readonly periodIndex?: number | undefined }[]): number[] {
  return [...new Set(keys.flatMap((key) => (key.periodIndex === undefined ? [] : [key.periodIndex])))];
}

/**
 * The recipients' certificates (at most MAX_RECIPIENTS_PER_REQUEST, `readKeyRequest`), each checked
 * against the policy (RSA of 2,048 to 8,192 bits, no SHA-1).
 */
function recipientsOf(document: CpixDocument): X509Certificate[] {
  // A certificate named twice is one recipient: the answer has one DeliveryData per recipient, and
  // two would carry the id of the request's first one (the echo rule), an answer that cannot be written.
  const distinct = new Map<string, Buffer>();
  for (const item of document.deliveryDataList?.items ?? []) for (const der of item.certificates) distinct.set(der.toString('base64'), der);
  const recipients = [...distinct.values()].map((der) => parseCertificate(der));
  recipients.forEach((certificate, index) => assertCertificatePolicy(certificate, DEFAULT_CERTIFICATE_POLICY, `DeliveryData[${index}]`));
  return recipients;
}

/**
 * How long, and for how many requests, a process remembers that it could answer a request. A miss
 * only costs the check build again; the bound keeps a tenant sending endless distinct requests from
 * growing the process.
 */
const ANSWERABLE_REQUESTS = { ttlMs: 10 * 60_000, maxEntries: 4_096 } as const;

export function createKeyExchange(deps: KeyExchangeDeps) {
  const { contentKeys, policies, signing, random, clock } = deps;
  const answerable = createExpiringCache<true>({ clock, ...ANSWERABLE_REQUESTS });

  /**
   * The key bytes and IV each planned key gets if it is new. The IV is the request's, or a random
   * one, persisted with the key, so a later request whose DRM system needs one (FairPlay, HLS
   * AES-128) gets the same IV for the same key; never derived from the key (the AWS reference
   * server's IV == key bug).
   */
  function candidatesFor(planned: readonly PlannedKey[]): IssuedKey[] {
    return planned.map((key) => ({ ...key, material: { key: random(CONTENT_KEY_LENGTH_BYTES), iv: key.request.explicitIV ?? random(IV_LENGTH_BYTES) } }));
  }

  /**
   * Gets or creates every planned key, each created one with its candidate material, in one step
   * with the request's checks and audit record; or the KIDs of imported keys to plan with instead.
   */
  async function obtain(
    request: ExchangeRequest,
    contentId: string,
    candidates: readonly IssuedKey[],
  ): Promise<{ readonly issued: IssuedKey[]; readonly created: number } | { readonly imported: readonly (KeyId | undefined)[] }> {
    const { site, dialect } = request;
    const requests = candidates.map((key) => ({
      contentId,
      kid: key.kid,
      key: key.material.key,
      iv: key.material.iv,
      ivMustMatch: key.request.explicitIV !== undefined,
      slotAssigned: dialect.kids === 'server-assigned',
      ...withoutUndefined({ trackType: key.trackType, periodIndex: key.periodIndex, scheme: key.request.commonEncryptionScheme }),
    }));
    const outcome = await contentKeys.issue(site.id, site.siteKeyVersion, requests, {
      credentialId: request.credentialId,
      siteRevision: request.siteRevision,
      audit: {
        at: clock().toISOString(),
        siteId: site.id,
        action: 'issue',
        credentialId: request.credentialId,
        clientAddress: request.clientAddress,
        dialect: dialect.name,
        contentId,
        kids: candidates.map((key) => key.kid),
        periodIndexes: distinctPeriodIndexes(candidates),
        requestId: request.requestId,
      },
    });
    if (outcome.kind === 'slot-imported') return { imported: outcome.kids };
    let created = 0;
    const issued = candidates.map((key, i): IssuedKey => {
      const found = outcome.keys[i];
      if (!found) throw new Error('fewer keys obtained than planned');
      if (found.created) created += 1;
      return found.created ? key : { ...key, material: { key: found.key, iv: found.iv } };
    });
    return { issued, created };
  }

  /**
   * The answer model: the request with each ContentKey given its key (and IV where the dialect
   * answers one) and each DRMSystem filled for the key `systemKeys` binds it to.
   */
  function responseDocument(request: ExchangeRequest, contentId: string, issued: readonly IssuedKey[], systemKeys: readonly number[]): CpixDocument {
    const { document, dialect, site } = request;
    const assigned = dialect.kids === 'server-assigned';
    const systems = document.drmSystemList?.items ?? [];

    const filledSystems = systems.map((system, index) => {
      const key = issued[systemKeys[index] ?? -1];
      if (!key) throw new Error('DRMSystem bound to no issued key');
      return fillDrmSystem(
        { ...system, kid: assigned ? key.responseKid : system.kid },
        {
          kid: key.kid,
          key: key.material.key,
          contentId,
          ...withoutUndefined({
            scheme: key.request.commonEncryptionScheme,
            iv: key.request.explicitIV ?? key.material.iv,
            periodIndex: key.periodIndex,
            trackType: key.trackType,
          }),
        },
        dialect.signaling,
        site.options,
      );
    });

    const contentKeyItems = issued.map((key): CpixContentKey => {
      // Echo a sent IV unchanged (AWS SPEKE API v2; decision 18); add ours where the dialect answers one.
      const iv = key.request.explicitIV ?? (dialect.ivs === 'always' || key.needsIv ? key.material.iv : undefined);
      return { ...key.request, kid: key.responseKid, ...withoutUndefined({ explicitIV: iv }), data: { kind: 'plain', value: key.material.key } };
    });

    const rules = document.contentKeyUsageRuleList;
    const responseKidOf = new Map(issued.map((key) => [key.request.kid.toLowerCase(), key.responseKid]));
    return {
      ...document,
      contentKeyList: { ...document.contentKeyList, items: contentKeyItems },
      ...(document.drmSystemList && { drmSystemList: { ...document.drmSystemList, items: filledSystems } }),
      ...(rules && {
        contentKeyUsageRuleList: assigned
          ? { ...rules, items: rules.items.map((rule) => ({ ...rule, kid: responseKidOf.get(rule.kid.toLowerCase()) ?? rule.kid })) }
          : rules,
      }),
    };
  }

  /** Encrypts to `recipients` when the request named any, and builds (ready to be signed when `sign`). */
  function build(document: CpixDocument, recipients: readonly X509Certificate[], profile: VersionProfile, sign: boolean): BuiltCpix {
    const { deliveryDataList: _requested, ...withoutDelivery } = document;
    const delivered = recipients.length > 0 ? encryptDocumentKeys(document, recipients, random) : withoutDelivery;
    return buildCpix(delivered, profile, { willBeSigned: sign });
  }

  return {
    /** Answers one key request; see the module comment for the order of steps. */
    async exchange(request: ExchangeRequest): Promise<string> {
      const { dialect, document, site } = request;
      const contentId = dialect.contentIdOf(document);
      const index = indexRequest(document);
      const systemKeys = bindSystemsToKeys(index, dialect.unreferencedSystemsUseSingleKey);
      const slots = slotsOf(request, index);
      // The content's policy is read only when the request rotates keys.
      if (slots.some((slot) => slot.periodIndex !== undefined)) {
        checkRotation(await policies.policyAt(site.id, request.siteRevision, contentId), slots, clock());
      }
      const recipients = recipientsOf(document);
      const profile = dialect.responseProfile(document);
      const sign = dialect.signs(site.options);
      // The site revision stands for the site's options; the content ID and KIDs are in the body.
      const answerableKey = `${site.id}\n${request.siteRevision}\n${dialect.name}\n${request.keyRotation}\n${request.fingerprint}`;
      const knownAnswerable = answerable.get(answerableKey) === true;
      let imported: readonly (KeyId | undefined)[] = [];
      for (let attempt = 0; attempt < PLAN_ATTEMPTS; attempt += 1) {
        const planned = planKeys(request, index, systemKeys, slots, imported, site.id, contentId);
        const candidates = candidatesFor(planned);
        // Built before any key exists: whatever would refuse the answer (signaling, what the version
        // can carry) refuses here. The answer's shape never depends on key bytes, and for new keys
        // these are the bytes they get.
        const first = knownAnswerable ? undefined : build(responseDocument(request, contentId, candidates, systemKeys), recipients, profile, sign);
        const obtained = await obtain(request, contentId, candidates);
        if ('imported' in obtained) {
          imported = obtained.imported;
          continue;
        }
        // Remembered once the store step, too, took the request: only what was answered.
        answerable.set(answerableKey, true);
        const { issued, created } = obtained;
        const built =
          first !== undefined && created === issued.length ? first : build(responseDocument(request, contentId, issued, systemKeys), recipients, profile, sign);
        return sign ? XML_DECLARATION + signCpix(built.canonical, signing) : built.xml;
      }
      throw new KeyConflict('keys of this content were imported while the request was answered; retry');
    },
  };
}

export type KeyExchange = ReturnType<typeof createKeyExchange>;
