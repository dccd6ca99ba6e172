/**
 * The SPEKE v2 encryption contract: the `ContentKeyUsageRuleList` that says which key encrypts which
 * tracks (AWS SPEKE API v2, Encryption contract and Standard payload components). The encryptor defines it and we
 * must never modify it, so all we do is refuse contracts that are absent, malformed or that we cannot honour.
 *
 * Every key request is parsed with `references: 'skip'` and `checkReferences` runs only after these
 * checks, so a broken reference that belongs to the contract (a DRMSystem or rule naming no
 * ContentKey, a `KeyPeriodFilter@periodId` naming no ContentKeyPeriod) is reported here in SPEKE's
 * words. Duplicate kids and `dependsOnKey` stay with `checkReferences` (`CpixInvalid`).
 */

import type { ContentKeyUsageRule, CpixDocument } from '../../cpix/model';
import { SpekeRejected } from '../../errors';

export const MISSING_CONTRACT = 'Missing CPIX encryption contract';
export const MALFORMED_CONTRACT = 'Malformed encryption contract';
export const CONTRACT_NOT_SUPPORTED = 'Requested CPIX encryption contract not supported';

/** `intendedTrackType` of the SHARED preset: one key for every audio and video track (AWS SPEKE v2 presets). */
const SHARED_TRACK_TYPE = 'ALL';

/**
 * Runs the contract checks in the order missing → malformed → not supported.
 *
 * @throws SpekeRejected with `Missing CPIX encryption contract`, `Malformed encryption contract` or
 *   `Requested CPIX encryption contract not supported`; `detail` says which rule failed.
 */
export function checkEncryptionContract(document: CpixDocument): void {
  const rules = document.contentKeyUsageRuleList?.items ?? [];
  // "No VideoFilter/AudioFilter anywhere" (`Missing CPIX encryption contract`) also covers an absent or empty rule list: the
  // suite's "remove ContentKeyUsageRuleList / every ContentKeyUsageRule" negatives land here.
  if (!rules.some((rule) => rule.videoFilters.length + rule.audioFilters.length > 0)) {
    throw new SpekeRejected(MISSING_CONTRACT, { detail: 'no ContentKeyUsageRule carries a VideoFilter or AudioFilter' });
  }
  checkStructure(document, rules);
  checkRules(rules);
  checkSecurityLevels(rules);
}

function malformed(detail: string): SpekeRejected {
  return new SpekeRejected(MALFORMED_CONTRACT, { detail });
}

/**
 * Cardinalities of the v2.0 payload table (AWS SPEKE API v2, Standard payload components): each list present with ≥ 1 item, every reference
 * resolved, one rule per key.
 */
function checkStructure(document: CpixDocument, rules: readonly ContentKeyUsageRule[]): void {
  const keys = document.contentKeyList?.items ?? [];
  const systems = document.drmSystemList?.items ?? [];
  if (keys.length === 0) throw malformed('ContentKeyList is missing or empty');
  if (systems.length === 0) throw malformed('DRMSystemList is missing or empty');

  const rulesPerKid = new Map<string, number>(keys.map((key) => [key.kid.toLowerCase(), 0]));
  for (const system of systems) {
    if (!rulesPerKid.has(system.kid.toLowerCase())) throw malformed(`DRMSystem[kid=${system.kid}] references no ContentKey`);
  }
  // xs:IDREF, so compared case-sensitively (unlike kids).
  const periodIds = new Set((document.contentKeyPeriodList?.items ?? []).map((period) => period.id));
  for (const rule of rules) {
    const count = rulesPerKid.get(rule.kid.toLowerCase());
    if (count === undefined) throw malformed(`ContentKeyUsageRule[kid=${rule.kid}] references no ContentKey`);
    rulesPerKid.set(rule.kid.toLowerCase(), count + 1);
    if (rule.keyPeriodFilters.some((filter) => !periodIds.has(filter.periodId))) {
      throw malformed(`ContentKeyUsageRule[kid=${rule.kid}]/KeyPeriodFilter@periodId references no ContentKeyPeriod`);
    }
  }
  // "Every ContentKey has one ContentKeyUsageRule" (AWS SPEKE API v2, Encryption contract): a second rule would make the key's use
  // depend on the encryptor's "last matching rule wins" order, and a key without one would encrypt nothing.
  for (const key of keys) {
    const count = rulesPerKid.get(key.kid.toLowerCase()) ?? 0;
    if (count !== 1) throw malformed(`ContentKey[kid=${key.kid}] has ${count} ContentKeyUsageRules, expected 1`);
  }
}

/** Per-rule shape (AWS SPEKE API v2: the ContentKeyUsageRule row of Standard payload components; Encryption contract for `ALL` and uniqueness). */
function checkRules(rules: readonly ContentKeyUsageRule[]): void {
  const trackTypes = new Set<string>();
  for (const rule of rules) {
    const path = `ContentKeyUsageRule[kid=${rule.kid}]`;
    const trackType = rule.intendedTrackType;
    if (trackType === undefined || trackType === '') throw malformed(`${path} has no intendedTrackType`);
    // Track types are opaque labels (PallyCon, Norsk use their own), so compared exactly.
    if (trackTypes.has(trackType)) throw malformed(`${path}@intendedTrackType duplicates another rule`);
    trackTypes.add(trackType);
    // Only KeyPeriodFilter, VideoFilter and AudioFilter are SPEKE filters (AWS SPEKE API v2, Standard payload components;
    // LabelFilter is not among them). BitrateFilter is not in the table either; refusing it beats
    // applying a key to tracks the encryptor meant to exclude.
    if (rule.labelFilters.length > 0) throw malformed(`${path} uses a LabelFilter`);
    if (rule.bitrateFilters.length > 0) throw malformed(`${path} uses a BitrateFilter`);
    if (rule.videoFilters.length + rule.audioFilters.length === 0) throw malformed(`${path} has no VideoFilter or AudioFilter`);
  }

  const shared = rules.find((rule) => rule.intendedTrackType === SHARED_TRACK_TYPE);
  if (shared === undefined) return;
  // The suite's shared-video/shared-audio negatives (awslabs/speke-reference-server, SPEKE v2 verification suite): `ALL` is the whole contract or nothing.
  if (rules.length > 1) throw malformed('intendedTrackType ALL is combined with other rules');
  // AWS SPEKE API v2, Encryption contract: the ALL rule "must contain exactly a bare <AudioFilter/> and a bare <VideoFilter/>".
  const bare = (filter: object): boolean => Object.values(filter).every((value) => value === undefined);
  const exact =
    shared.videoFilters.length === 1 &&
    shared.audioFilters.length === 1 &&
    shared.videoFilters.every(bare) &&
    shared.audioFilters.every(bare);
  if (!exact) throw malformed('the ALL rule is not exactly one bare VideoFilter and one bare AudioFilter');
}

/**
 * DRM security levels (`Requested CPIX encryption contract not supported`, e.g. one key for audio+UHD): outside the SHARED preset a key covers
 * either audio or video tracks, never both, so a weakly protected audio licence cannot unlock video.
 */
function checkSecurityLevels(rules: readonly ContentKeyUsageRule[]): void {
  for (const rule of rules) {
    if (rule.intendedTrackType === SHARED_TRACK_TYPE) continue;
    if (rule.videoFilters.length > 0 && rule.audioFilters.length > 0) {
      throw new SpekeRejected(CONTRACT_NOT_SUPPORTED, {
        detail: `ContentKeyUsageRule[kid=${rule.kid}] covers audio and video tracks with one key`,
      });
    }
  }
}
