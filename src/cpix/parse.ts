/**
 * The CPIX parser: untrusted XML → `CpixDocument` (src/cpix/model.ts), for CPIX 2.0–2.4 and the SPEKE
 * and PallyCon dialects (DASH-IF CPIX 2.3 §5, XSD Schema Definition; docs/key-exchange.md). Elements are matched by namespace and local name,
 * never by prefix; the root's lists may come in any order; values are decoded strictly.
 *
 * Two kinds of "no" (docs/architecture.md, CPIX engine): malformed input is `CpixInvalid`; well-formed CPIX that could
 * narrow key use in a way we do not understand (a proprietary usage-rule filter, a PSKC `Policy`) is
 * `CpixUnsupported`. Every message names the path of the problem and never echoes key material.
 *
 * `ds:Signature` elements are skipped here: signature verification works on the raw XML.
 */

import { CpixUnsupported } from '../errors';
import { parseXml } from '../xml/safe-parse';
import type { XmlLimits } from '../xml/limits';
import type { XmlElement } from '../xml/tree';
import { NS } from './constants';
import type { CpixDocument, CpixList } from './model';
import { parseContentKey } from './parse-content-keys';
import { parseDeliveryData } from './parse-delivery';
import { parseDrmSystem } from './parse-drm-systems';
import { attribute, elementsOf, isCpix, isElement, safeName } from './parse-element';
import { parseList } from './parse-list';
import { parseContentKeyPeriod, parseContentKeyUsageRule, parseUpdateHistoryItem } from './parse-usage-rules';
import { invalid, itemStep } from './parse-values';
import { checkReferences, type ReferenceCheck } from './parse-references';
import { isTableKey } from './table-key';

/** The root's lists, by local name, with the model field each fills. */
const LISTS = {
  DeliveryDataList: { field: 'deliveryDataList', item: 'DeliveryData', parse: parseDeliveryData },
  ContentKeyList: { field: 'contentKeyList', item: 'ContentKey', parse: parseContentKey },
  DRMSystemList: { field: 'drmSystemList', item: 'DRMSystem', parse: parseDrmSystem },
  ContentKeyPeriodList: { field: 'contentKeyPeriodList', item: 'ContentKeyPeriod', parse: parseContentKeyPeriod },
  ContentKeyUsageRuleList: { field: 'contentKeyUsageRuleList', item: 'ContentKeyUsageRule', parse: parseContentKeyUsageRule },
  UpdateHistoryItemList: { field: 'updateHistoryItemList', item: 'UpdateHistoryItem', parse: parseUpdateHistoryItem },
} as const;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };


/**
 * Builds the CPIX model from a parsed element tree (see `parseXml`).
 *
 * @throws CpixInvalid when the root is not `cpix:CPIX`, a list occurs twice, a value is malformed, a kid
 *   is duplicated or dangling, or clear keys are sent together with a `DeliveryDataList`.
 * @throws CpixUnsupported for an unknown CPIX root element, unknown usage-rule filters or filter
 *   attributes, or PSKC key-usage restrictions.
 */
export interface ParseCpixOptions {
  /**
   * Cross-reference checks (`checkReferences`): 'check' (default), or 'skip' for protocol layers that
   * must report a broken reference in their own words first and then run `checkReferences`
   * themselves (SPEKE v2: `Malformed encryption contract`, one of the error messages of AWS SPEKE API v2; docs/key-exchange.md).
   */
  readonly references?: ReferenceCheck;
}

export function parseCpix(root: XmlElement, options: ParseCpixOptions = {}): CpixDocument {
  if (!isCpix(root, 'CPIX')) throw invalid('CPIX', `root element must be CPIX in namespace ${NS.cpix}`);

  const document: Mutable<CpixDocument> = {};
  for (const name of ['id', 'contentId', 'version', 'name'] as const) {
    const value = attribute(root, name);
    if (value !== undefined) document[name] = value;
  }

  for (const child of elementsOf(root)) {
    if (isElement(child, NS.ds, 'Signature')) continue;
    const name = child.localName;
    if (child.namespace !== NS.cpix) throw invalid(`CPIX/${safeName(child)}`, 'unexpected element');
    if (!isTableKey(LISTS, name)) throw new CpixUnsupported(`CPIX/${safeName(child)}: unknown CPIX element`);
    const { field, item, parse } = LISTS[name];
    if (document[field] !== undefined) throw invalid(name, 'must not occur more than once');
    // Each entry pairs a field with its own item parser; TypeScript cannot correlate the two here.
    (document as Record<string, CpixList<unknown>>)[field] = parseList<unknown>(child, item, parse);
  }

  const rootNamespaces: Record<string, string> = {};
  for (const { prefix, uri } of root.namespaceDeclarations) rootNamespaces[prefix] = uri;
  document.rootNamespaces = rootNamespaces;

  checkUniqueIds(root);
  const references = options.references ?? 'check';
  if (references !== 'skip') checkReferences(document);
  return document;
}

/**
 * Every `id` of a CPIX element is an `xs:ID` (cpix.xsd), so no two may be equal anywhere in the
 * document. The answer repeats request IDs (ContentKeyPeriod, DRMSystem, usage rules), and a
 * duplicated one used to surface as an internal error of the canonical serializer (scripts/fuzz.mjs).
 */
function checkUniqueIds(root: XmlElement): void {
  const seen = new Set<string>();
  let position = 0;
  const walk = (element: XmlElement): void => {
    position += 1;
    const id = element.namespace === NS.cpix ? attribute(element, 'id') : undefined;
    if (id !== undefined) {
      if (seen.has(id)) throw invalid(`${itemStep(safeName(element), position, { id })}@id`, 'duplicates another id in the document (xs:ID)');
      seen.add(id);
    }
    for (const child of elementsOf(element)) walk(child);
  };
  walk(root);
}

/**
 * Convenience: `parseXml` (hardened intake, `limits` over the defaults) then `parseCpix`.
 *
 * @throws CpixInvalid / CpixUnsupported as `parseXml` and `parseCpix` do.
 */
export function parseCpixDocument(
  input: Buffer | string,
  limits?: Partial<XmlLimits>,
  options?: ParseCpixOptions,
): CpixDocument {
  return parseCpix(parseXml(input, limits), options);
}
