/**
 * Cross-references inside one CPIX document (DASH-IF CPIX 2.3 §5.2.4–5.2.13): kids are unique, every
 * DRMSystem, usage rule and `dependsOnKey` names an existing ContentKey, `(systemId, kid)` is unique
 * (Axinom and USP identify a DRMSystem by it), and every `KeyPeriodFilter@periodId` resolves (xs:IDREF,
 * P14). Kids and systemIds are compared case-insensitively (PallyCon sends system IDs in upper case) but reported as received.
 */

import type { CpixDocument } from './model';
import { invalid } from './parse-values';

export type ReferenceCheck = 'check' | 'skip';

/** @throws CpixInvalid naming the first broken reference. */
export function checkReferences(document: CpixDocument, options: { readonly allowUnboundDrmSystems?: boolean } = {}): void {
  const keys = document.contentKeyList?.items ?? [];
  const kids = new Set<string>();
  for (const key of keys) {
    const folded = key.kid.toLowerCase();
    if (kids.has(folded)) throw invalid(`ContentKey[kid=${key.kid}]@kid`, 'duplicates another ContentKey');
    kids.add(folded);
  }
  for (const key of keys) {
    if (key.dependsOnKey !== undefined && !kids.has(key.dependsOnKey.toLowerCase())) {
      throw invalid(`ContentKey[kid=${key.kid}]@dependsOnKey`, 'references no ContentKey');
    }
  }

  const systems = new Set<string>();
  for (const system of document.drmSystemList?.items ?? []) {
    const path = `DRMSystem[systemId=${system.systemId}][kid=${system.kid}]`;
    if (!kids.has(system.kid.toLowerCase()) && options.allowUnboundDrmSystems !== true) {
      throw invalid(`${path}@kid`, 'references no ContentKey');
    }
    const pair = `${system.systemId.toLowerCase()} ${system.kid.toLowerCase()}`;
    if (systems.has(pair)) throw invalid(path, 'duplicates another DRMSystem with the same systemId and kid');
    systems.add(pair);
  }

  const periodIds = new Set<string>();
  for (const period of document.contentKeyPeriodList?.items ?? []) {
    if (period.id !== undefined) periodIds.add(period.id);
  }
  for (const rule of document.contentKeyUsageRuleList?.items ?? []) {
    const path = `ContentKeyUsageRule[kid=${rule.kid}]`;
    if (!kids.has(rule.kid.toLowerCase())) throw invalid(`${path}@kid`, 'references no ContentKey');
    for (const filter of rule.keyPeriodFilters) {
      // xs:IDREF is case-sensitive, unlike kids.
      if (!periodIds.has(filter.periodId)) throw invalid(`${path}/KeyPeriodFilter@periodId`, 'references no ContentKeyPeriod');
    }
  }

  // Clear keys travel only without recipients, encrypted keys only with them (DASH-IF CPIX 2.3 §5.2.1: without a `DeliveryDataList` the keys are in the clear).
  const hasRecipients = document.deliveryDataList !== undefined;
  for (const key of keys) {
    if (key.data?.kind === 'plain' && hasRecipients) {
      throw invalid(`ContentKey[kid=${key.kid}]/Data/Secret/PlainValue`, 'clear key in a document with a DeliveryDataList');
    }
    if (key.data?.kind === 'encrypted' && !hasRecipients) {
      throw invalid(`ContentKey[kid=${key.kid}]/Data/Secret/EncryptedValue`, 'encrypted key without a DeliveryDataList');
    }
  }
}
