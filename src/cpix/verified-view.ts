import { CpixSignatureInvalid } from '../errors';
import type { CpixDocument, CpixList } from './model';
import type { VerifiedCpixSignature } from './verify-signature';

/** The lists of a CPIX document, by model property. */
export type CpixListName =
  | 'deliveryDataList'
  | 'contentKeyList'
  | 'drmSystemList'
  | 'contentKeyPeriodList'
  | 'contentKeyUsageRuleList'
  | 'updateHistoryItemList';

const LIST_NAMES: readonly CpixListName[] = [
  'deliveryDataList',
  'contentKeyList',
  'drmSystemList',
  'contentKeyPeriodList',
  'contentKeyUsageRuleList',
  'updateHistoryItemList',
];

/**
 * Reduces a parsed document to what its verified signatures cover — trust only what was verified
 * (node-saml `getVerifiedXml`; docs/style.md §4.3). A verified whole-document signature (`URI=""`)
 * covers everything. Otherwise a list is kept only if its `@id` is the target of a verified `#id`
 * reference; unsigned lists are dropped rather than trusted. Root attributes are kept: no list
 * signature covers them, so a caller that relies on `contentId` must require a document signature.
 *
 * `signatures` must come from `verifyCpixSignatures` on the same bytes `document` was parsed from.
 * @throws CpixSignatureInvalid when a list in `required` is present but not covered (or absent).
 */
export function keepVerifiedParts(
  document: CpixDocument,
  signatures: readonly VerifiedCpixSignature[],
  required: readonly CpixListName[] = [],
): CpixDocument {
  if (signatures.some((signature) => signature.reference === '')) return document;
  const signedIds = new Set(signatures.map((signature) => signature.reference.slice(1)));
  const covered = (list: CpixList<unknown> | undefined) => list?.id !== undefined && signedIds.has(list.id);

  const view: Record<string, unknown> = { ...document };
  for (const name of LIST_NAMES) {
    if (!covered(document[name])) delete view[name];
  }
  const missing = required.filter((name) => view[name] === undefined);
  if (missing.length > 0) {
    throw new CpixSignatureInvalid(`no verified signature covers ${missing.join(', ')}`);
  }
  return view as CpixDocument;
}
