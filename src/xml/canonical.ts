/**
 * Inclusive Canonical XML 1.0 (W3C REC-xml-c14n-20010315, without comments) written directly from an
 * `XmlElement` tree, so a document can be signed without a parse/serialize round trip
 * (W3C Canonical XML 1.0; decision 14; contract in ./canonical-document.ts).
 *
 * The tree is a whole document, so every node is in the node-set and the C14N rules reduce to
 * (§2.3, §1.1): no XML declaration, no self-closing tags, namespace declarations before attributes
 * sorted by prefix with the default first, attributes sorted by (namespace URI, local name), a
 * declaration rendered only when it changes what the nearest output ancestor has in scope, and the
 * fixed escaping of §2.3.
 */

import { inOrder } from '../objects';
import type { CanonicalDocument } from './canonical-document';
import type { XmlAttribute, XmlElement, XmlNamespaceDeclaration } from './tree';

/** The `xml` prefix is bound by definition (Namespaces in XML §3) and never declared in C14N output. */
const XML_NAMESPACE = 'http://www.w3.org/XML/1998/namespace';
const NO_DECLARATIONS: readonly XmlNamespaceDeclaration[] = Object.freeze([]);

/**
 * Serializes `root` as the inclusive Canonical XML 1.0 of a document whose document element it is.
 *
 * Offsets in the result (`idRanges`, `rootEndTagOffset`) are JavaScript string indices into `xml`.
 * Throws `Error` (a programmer error, not a client one) when an element or attribute prefix is not
 * bound to its namespace in the tree, or when two elements carry the same `id`: both would make the
 * output unsignable.
 */
export function serializeCanonical(root: XmlElement): CanonicalDocument {
  const writer = new CanonicalWriter();
  const rootDeclarations = writer.writeElement(root, new Map([['', '']]), true);
  return {
    xml: writer.output,
    rootNamespaceDeclarations: rootDeclarations,
    idRanges: writer.idRanges,
    rootEndTagOffset: writer.rootEndTagOffset,
  };
}

/** Prefix → URI as rendered by the output ancestors; '' → '' means "no default namespace". */
type Scope = ReadonlyMap<string, string>;

class CanonicalWriter {
  output = '';
  rootEndTagOffset = -1;
  readonly idRanges = new Map<string, { readonly start: number; readonly end: number }>();

  /** Writes one element and its subtree; returns the namespace declarations rendered on it. */
  writeElement(element: XmlElement, inherited: Scope, isRoot: boolean): string {
    const start = this.output.length;
    const declarations = renderedDeclarations(element.namespaceDeclarations, inherited);
    // Most elements declare nothing (CPIX output declares on the root only): share the parent's scope.
    let scope = inherited;
    if (declarations.length > 0) {
      const extended = new Map(inherited);
      for (const { prefix, uri } of declarations) extended.set(prefix, uri);
      scope = extended;
    }
    assertBound(element.name, element.prefix, element.namespace, scope);

    let namespaceText = '';
    for (const { prefix, uri } of declarations) {
      namespaceText += prefix === '' ? ` xmlns="${escapeAttribute(uri)}"` : ` xmlns:${prefix}="${escapeAttribute(uri)}"`;
    }
    let tag = `<${element.name}${namespaceText}`;
    for (const attribute of sortAttributes(element.attributes)) {
      if (attribute.prefix !== '') assertBound(attribute.name, attribute.prefix, attribute.namespace, scope);
      tag += ` ${attribute.name}="${escapeAttribute(attribute.value)}"`;
    }
    this.output += `${tag}>`;

    for (const child of element.children) {
      if (child.kind === 'text') this.output += escapeText(child.text);
      else this.writeElement(child, scope, false);
    }

    if (isRoot) this.rootEndTagOffset = this.output.length;
    this.output += `</${element.name}>`;
    this.recordId(element, start);
    return namespaceText;
  }

  private recordId(element: XmlElement, start: number): void {
    const id = element.attributes.find((attribute) => attribute.namespace === '' && attribute.localName === 'id');
    if (id === undefined) return;
    // Signature references resolve `#id` by value; a duplicate is the signature-wrapping shape
    // xml-crypto refuses (it will not verify a document whose `id` values repeat), so it is never produced.
    if (this.idRanges.has(id.value)) throw new Error(`canonical serializer: duplicate id "${id.value}"`);
    this.idRanges.set(id.value, { start, end: this.output.length });
  }
}

/**
 * The declarations C14N renders on an element: those that bind a prefix differently from the output
 * ancestors (superfluous ones are dropped, §2.3), sorted by prefix with the default namespace first.
 * The last declaration of a prefix wins, as in a parser; `xmlns:xml` is never rendered.
 */
function renderedDeclarations(declared: readonly XmlNamespaceDeclaration[], inherited: Scope): readonly XmlNamespaceDeclaration[] {
  // Every element but the root of a built CPIX document declares nothing: no map, array or sort for those.
  if (declared.length === 0) return NO_DECLARATIONS;
  const byPrefix = new Map<string, string>();
  for (const { prefix, uri } of declared) {
    if (prefix === 'xml') continue;
    byPrefix.set(prefix, uri);
  }
  const rendered: XmlNamespaceDeclaration[] = [];
  for (const [prefix, uri] of byPrefix) {
    // Covers `xmlns=""` too: the scope starts with '' → '', so an undeclaration is only output when a
    // non-empty default is in scope (§2.3).
    if (inherited.get(prefix) === uri) continue;
    rendered.push({ prefix, uri });
  }
  return rendered.sort((a, b) => compareCodePoints(a.prefix, b.prefix));
}

function assertBound(name: string, prefix: string, namespace: string, scope: Scope): void {
  if (prefix === 'xml' && namespace === XML_NAMESPACE) return;
  const bound = scope.get(prefix) ?? '';
  if (bound !== namespace) {
    throw new Error(`canonical serializer: "${name}" is in "${namespace}" but its prefix is bound to "${bound}"`);
  }
}

const compareAttributes = (a: XmlAttribute, b: XmlAttribute): number =>
  compareCodePoints(a.namespace, b.namespace) || compareCodePoints(a.localName, b.localName);

/** C14N attribute order: namespace URI first (unqualified = '' sorts first), then local name. */
function sortAttributes(attributes: readonly XmlAttribute[]): readonly XmlAttribute[] {
  return inOrder(attributes, compareAttributes);
}

/**
 * Lexicographic order by Unicode code point, as C14N requires. UTF-16 code-unit order differs only
 * when a surrogate meets a unit in U+E000–U+FFFF, so the first differing units are remapped.
 */
function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i += 1) {
    const left = a.charCodeAt(i);
    const right = b.charCodeAt(i);
    if (left !== right) return codePointRank(left) - codePointRank(right);
  }
  return a.length - b.length;
}

function codePointRank(unit: number): number {
  if (unit >= 0xe000) return unit - 0x800;
  if (unit >= 0xd800) return unit + 0x2000;
  return unit;
}

const TEXT_ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '\r': '&#xD;' };
const ATTRIBUTE_ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '"': '&quot;',
  '\t': '&#x9;',
  '\n': '&#xA;',
  '\r': '&#xD;',
};

const TEXT_SPECIALS = Object.keys(TEXT_ESCAPES);
const ATTRIBUTE_SPECIALS = Object.keys(ATTRIBUTE_ESCAPES);

/**
 * Whether `text` holds one of `chars`. Most of a CPIX document is long base64 text with nothing to
 * escape; a few `includes` scans find that about ten times faster than a regular expression does.
 */
function containsAny(text: string, chars: readonly string[]): boolean {
  for (const ch of chars) if (text.includes(ch)) return true;
  return false;
}

/** C14N §2.3 text nodes: `&`, `<`, `>` and CR are replaced; everything else is literal UTF-8. */
export function escapeText(text: string): string {
  if (!containsAny(text, TEXT_SPECIALS)) return text;
  return text.replace(/[&<>\r]/g, (ch) => TEXT_ESCAPES[ch] ?? ch);
}

/** C14N §2.3 attribute values: `&`, `<`, `"`, TAB, LF and CR are replaced. */
export function escapeAttribute(value: string): string {
  if (!containsAny(value, ATTRIBUTE_SPECIALS)) return value;
  return value.replace(/[&<"\t\n\r]/g, (ch) => ATTRIBUTE_ESCAPES[ch] ?? ch);
}
