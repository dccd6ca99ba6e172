/**
 * What a license export says beyond CPIX, in signed content (docs/license-servers.md), as elements
 * in the service's own namespace inside each `ContentKeyUsageRule` (the XSD's extension point there);
 * a CPIX consumer that does not know them refuses the rule rather than use the key more widely, as
 * CPIX asks of unknown usage-rule content:
 * - the grant: for whom the keys were exported — the site, the license server — when, and until when
 *   the document may be accepted;
 * - the content's policy (DRM group, docs/content-policies.md), which the license server enforces.
 *
 * Key-exchange answers can never carry them: a request holding anything in this namespace is refused.
 */

import type { ContentPolicy } from '../content-policy/ports';
import { KMS_EXPORT_NAMESPACE } from '../cpix/constants';
import type { CpixDocument } from '../cpix/model';
import { CpixInvalid } from '../errors';
import type { XmlElement, XmlNode } from '../xml/tree';

const PREFIX = 'kms';

export interface ExportGrant {
  readonly siteId: string;
  readonly licenseServerId: string;
  /** xs:dateTime, UTC. */
  readonly issuedAt: string;
  readonly expiresAt: string;
}

function kmsElement(localName: string, attributes: readonly (readonly [string, string])[]): XmlElement {
  return {
    kind: 'element',
    name: `${PREFIX}:${localName}`,
    prefix: PREFIX,
    localName,
    namespace: KMS_EXPORT_NAMESPACE,
    attributes: attributes.map(([name, value]) => ({ name, prefix: '', localName: name, namespace: '', value })),
    namespaceDeclarations: [],
    children: [],
  };
}

/** `<kms:ExportGrant siteId licenseServerId issuedAt expiresAt/>`. */
export function exportGrantElement(grant: ExportGrant): XmlElement {
  return kmsElement('ExportGrant', [
    ['siteId', grant.siteId],
    ['licenseServerId', grant.licenseServerId],
    ['issuedAt', grant.issuedAt],
    ['expiresAt', grant.expiresAt],
  ]);
}

/**
 * `<kms:ContentPolicy name securityLevel persistentLicense licenseDurationSeconds
 * rotationIntervalMinutes/>`: every field of the policy, by name, as XML Schema lexical values.
 */
export function contentPolicyElement(policy: ContentPolicy): XmlElement {
  return kmsElement('ContentPolicy', [
    ['name', policy.name],
    ['securityLevel', policy.securityLevel],
    ['persistentLicense', String(policy.persistentLicense)],
    ['licenseDurationSeconds', String(policy.licenseDurationSeconds)],
    ['rotationIntervalMinutes', String(policy.rotationIntervalMinutes)],
  ]);
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
