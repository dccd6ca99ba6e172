/**
 * A minimal namespace-resolved XML element tree: what the hardened parser produces and what the
 * canonical serializer consumes. Comments and processing instructions are not kept (C14N without
 * comments drops them anyway); CDATA sections become text.
 */

export interface XmlAttribute {
  /** Qualified name as written (`kid`, `xml:lang`, `foo:bar`). */
  readonly name: string;
  readonly prefix: string;
  readonly localName: string;
  /** Namespace URI; '' for an unprefixed attribute (attributes do not take the default namespace). */
  readonly namespace: string;
  readonly value: string;
}

export interface XmlNamespaceDeclaration {
  /** '' for the default namespace. */
  readonly prefix: string;
  readonly uri: string;
}

export interface XmlElement {
  readonly kind: 'element';
  /** Qualified name as written (`cpix:ContentKey`, `ContentKey`, `aa:ContentKey`). */
  readonly name: string;
  readonly prefix: string;
  readonly localName: string;
  /** Resolved namespace URI; '' when in no namespace. */
  readonly namespace: string;
  /** Attributes other than namespace declarations, in document order. */
  readonly attributes: readonly XmlAttribute[];
  /** Namespace declarations made on this element, in document order. */
  readonly namespaceDeclarations: readonly XmlNamespaceDeclaration[];
  readonly children: readonly XmlNode[];
}

export interface XmlText {
  readonly kind: 'text';
  readonly text: string;
}

export type XmlNode = XmlElement | XmlText;

/** Text content of an element: its text children concatenated (no descent into child elements). */
export function textOf(element: XmlElement): string {
  let text = '';
  for (const child of element.children) if (child.kind === 'text') text += child.text;
  return text;
}

export function childElements(element: XmlElement): XmlElement[] {
  return element.children.filter((child): child is XmlElement => child.kind === 'element');
}
