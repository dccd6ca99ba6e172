/**
 * The grant a license export carries in signed content (docs/license-servers.md): for whom the keys
 * were exported — the site, the license server — when, and until when the document may be accepted.
 * It is one element in the service's own namespace inside each `ContentKeyUsageRule` (the XSD's
 * extension point there); a CPIX consumer that does not know it refuses the rule rather than use the
 * key more widely, as CPIX asks of unknown usage-rule content.
 *
 * Key-exchange answers can never carry it: a request holding anything in this namespace is refused.
 */

import { KMS_EXPORT_NAMESPACE } from '../cpix/constants';
import type { CpixDocument } from '../cpix/model';
import { CpixInvalid } from '../errors';
import type { XmlElement, XmlNode } from '../xml/tree';

const PREFIX = 'kms';
const ELEMENT = 'ExportGrant';

export interface ExportGrant {
  readonly siteId: string;
  readonly licenseServerId: string;
  /** xs:dateTime, UTC. */
  readonly issuedAt: string;
  readonly expiresAt: string;
}

/** `<kms:ExportGrant siteId licenseServerId issuedAt expiresAt/>`. */
export function exportGrantElement(grant: ExportGrant): XmlElement {
  const attribute = (name: string, value: string) => ({ name, prefix: '', localName: name, namespace: '', value });
  return {
    kind: 'element',
    name: `${PREFIX}:${ELEMENT}`,
    prefix: PREFIX,
    localName: ELEMENT,
    namespace: KMS_EXPORT_NAMESPACE,
    attributes: [
      attribute('siteId', grant.siteId),
      attribute('licenseServerId', grant.licenseServerId),
      attribute('issuedAt', grant.issuedAt),
      attribute('expiresAt', grant.expiresAt),
    ],
    namespaceDeclarations: [],
    children: [],
  };
}

function usesNamespace(node: XmlNode): boolean {
  if (node.kind !== 'element') return false;
  return (
    node.namespace === KMS_EXPORT_NAMESPACE ||
    node.attributes.some((attribute) => attribute.namespace === KMS_EXPORT_NAMESPACE) ||
    node.children.some(usesNamespace)
  );
}

/**
 * Refuses a key request that holds an element or attribute of the export namespace where a
 * key-exchange answer would repeat it: a DRMSystem's extension elements, passed through unread, and
 * a usage rule's grant.
 */
export function refuseExportNamespace(document: CpixDocument): void {
  const refuse = (path: string) => new CpixInvalid(`${path}: the ${KMS_EXPORT_NAMESPACE} namespace is the service's own`);
  for (const system of document.drmSystemList?.items ?? []) {
    if (system.extensions.some(usesNamespace)) throw refuse(`DRMSystem[systemId=${system.systemId}]`);
  }
  for (const rule of document.contentKeyUsageRuleList?.items ?? []) {
    if ((rule.extensions ?? []).length > 0) throw refuse(`ContentKeyUsageRule[kid=${rule.kid}]`);
  }
}
