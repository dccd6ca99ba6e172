/**
 * The CPIX builder: a `CpixDocument` model → the document of the requested CPIX version, serialized
 * directly in canonical form so it can be signed as is (DASH-IF CPIX 2.3 §5 and §6.1.3; decision 14).
 *
 * Output rules: literal `cpix:`/`pskc:` prefixes declared on the root always (MediaPackage v2 requests
 * omit pskc, and some clients look elements up by qualified name), `enc:`/`ds:` only when used,
 * `speke:` only in '2.0' (SPEKE v1) documents; lists only when present in the model, with their
 * id/updateVersion; children in schema order; no whitespace between elements. A value the target
 * version's schema cannot carry is refused with `CpixUnsupported` naming it, never dropped silently
 * (exceptions: `DocumentKey@Algorithm` in 2.4 and SPEKE v1 elements outside '2.0').
 */

import { serializeCanonical } from '../xml/canonical';
import type { CanonicalDocument } from '../xml/canonical-document';
import type { XmlElement, XmlNamespaceDeclaration } from '../xml/tree';
import { BuildContext, type BuildPrefix, type VersionProfile, integer, versionProfile } from './build-context';
import { buildDrmSystem } from './build-drm';
import { buildContentKey, buildDeliveryData } from './build-keys';
import { buildContentKeyPeriod, buildContentKeyUsageRule, buildUpdateHistoryItem } from './build-rules';
import { NS } from './constants';
import type { CpixDocument, CpixList, CpixTargetVersion } from './model';
import { shownItem } from './shown';

/** The XML declaration we put before the canonical document; C14N ignores it, so signatures do too. */
export const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>';

export interface BuildCpixOptions {
  /**
   * Declare `ds:` on the root even when nothing in the model uses it, because `ds:Signature`
   * elements will be inserted at `rootEndTagOffset`: a root declaration added after signing would
   * break every signature (inclusive C14N renders the ancestors' namespace declarations).
   */
  readonly willBeSigned?: boolean;
}

export interface BuiltCpix {
  /** The canonical form the signer works on. */
  readonly canonical: CanonicalDocument;
  /** `XML_DECLARATION` + `canonical.xml`: the bytes to send when nothing is signed. */
  readonly xml: string;
}

/**
 * Builds `document` as a CPIX `target` document: a version, or a protocol's profile of one (what it
 * can carry, e.g. PallyCon's 2.x with `commonEncryptionScheme`). Deterministic: the same model and
 * options give the same bytes. Throws `CpixUnsupported` for model values the target cannot express
 * (e.g. `HDCPData` in 2.3, `URIExtXKey` in 2.4, an empty list in 2.4).
 */
export function buildCpix(document: CpixDocument, target: CpixTargetVersion | VersionProfile, options: BuildCpixOptions = {}): BuiltCpix {
  const ctx = new BuildContext(typeof target === 'string' ? versionProfile(target) : target);
  const root = buildRoot(ctx, document, options);
  const canonical = serializeCanonical(root);
  return { canonical, xml: XML_DECLARATION + canonical.xml };
}

function buildRoot(ctx: BuildContext, document: CpixDocument, options: BuildCpixOptions): XmlElement {
  if (document.version !== undefined && !ctx.profile.versionAttribute) ctx.unsupported('CPIX@version');

  const lists = [
    buildList(ctx, 'DeliveryDataList', document.deliveryDataList, (item, index) =>
      buildDeliveryData(ctx, item, shownItem('DeliveryData', item.id, index + 1)),
    ),
    buildList(ctx, 'ContentKeyList', document.contentKeyList, (item) => buildContentKey(ctx, item)),
    buildList(ctx, 'DRMSystemList', document.drmSystemList, (item) => buildDrmSystem(ctx, item)),
    buildList(ctx, 'ContentKeyPeriodList', document.contentKeyPeriodList, (item, index) => buildContentKeyPeriod(ctx, item, index)),
    buildList(ctx, 'ContentKeyUsageRuleList', document.contentKeyUsageRuleList, (item) => buildContentKeyUsageRule(ctx, item)),
    buildUpdateHistory(ctx, document),
  ].filter((list): list is XmlElement => list !== undefined);

  const cpix = ctx.element(
    'cpix',
    'CPIX',
    [
      ['id', document.id],
      ['contentId', document.contentId],
      ['version', document.version],
      ['name', document.name],
    ],
    lists,
  );
  return { ...cpix, namespaceDeclarations: rootNamespaces(ctx, options) };
}

function buildList<T>(
  ctx: BuildContext,
  name: string,
  list: CpixList<T> | undefined,
  buildItem: (item: T, index: number) => XmlElement,
): XmlElement | undefined {
  if (list === undefined) return undefined;
  if (list.items.length === 0 && ctx.profile.nonEmptyLists) ctx.unsupported(`empty ${name}`);
  return ctx.element(
    'cpix',
    name,
    [
      ['id', list.id],
      ['updateVersion', integer(list.updateVersion)],
    ],
    list.items.map(buildItem),
  );
}

/** `UpdateHistoryItemList` has `@id` only in every version's XSD. */
function buildUpdateHistory(ctx: BuildContext, document: CpixDocument): XmlElement | undefined {
  const list = document.updateHistoryItemList;
  if (list?.updateVersion !== undefined) ctx.unsupported('UpdateHistoryItemList@updateVersion');
  return buildList(ctx, 'UpdateHistoryItemList', list, (item) => buildUpdateHistoryItem(ctx, item));
}

function rootNamespaces(ctx: BuildContext, options: BuildCpixOptions): XmlNamespaceDeclaration[] {
  const prefixes = new Set<BuildPrefix>(['cpix', 'pskc']);
  if (ctx.usedPrefixes.has('enc')) prefixes.add('enc');
  if (ctx.usedPrefixes.has('ds') || options.willBeSigned === true) prefixes.add('ds');
  if (ctx.profile.spekeV1 || ctx.usedPrefixes.has('speke')) prefixes.add('speke');
  const declarations: XmlNamespaceDeclaration[] = [...prefixes].map((prefix) => ({ prefix, uri: NS[prefix] }));
  for (const [prefix, uri] of ctx.extensionNamespaces) declarations.push({ prefix, uri });
  return declarations;
}
