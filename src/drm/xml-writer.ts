/**
 * A tiny escaping XML writer for the signaling fragments this module emits (PlayReady WRMHEADER, DASH
 * `ContentProtection` children). It exists so that no caller value is ever interpolated into markup
 * (Axinom's `$"<LA_URL>{url}</LA_URL>"` is the counter-example): names are
 * checked, text and attribute values are escaped, and characters XML 1.0 cannot carry are refused.
 *
 * Output has no declaration, no whitespace between elements, and no self-closing tags (PlayReady writes
 * `<KID …></KID>`). Namespace declarations come first, then attributes in alphabetical order, which the
 * PlayReady Header spec requires ("Syntax Requirements") and which is harmless elsewhere.
 */

import { inOrder } from '../objects';

/** A namespace declaration; `prefix` '' declares the default namespace. */
export interface XmlNamespaceDeclaration {
  readonly prefix: string;
  readonly uri: string;
}

export type XmlAttributes = Readonly<Record<string, string>>;

// XML 1.0 §2.3 Name, restricted to ASCII (every name we write is ASCII), with at most one prefix.
const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9._-]*(?::[A-Za-z_][A-Za-z0-9._-]*)?$/;
const NCNAME_PATTERN = /^[A-Za-z_][A-Za-z0-9._-]*$/;
// XML 1.0 §2.2 Char excludes these controls, U+FFFE/U+FFFF and unpaired surrogates.
const NOT_XML_CHAR = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function checkName(name: string): string {
  if (!NAME_PATTERN.test(name)) throw new RangeError(`not an XML name: ${JSON.stringify(name)}`);
  return name;
}

function checkChars(value: string): string {
  if (NOT_XML_CHAR.test(value)) throw new RangeError('value contains a character XML 1.0 cannot represent');
  return value;
}

/** Escapes character data: `&`, `<`, `>` and CR (kept as a reference so it survives end-of-line handling). */
export function escapeXmlText(value: string): string {
  return checkChars(value).replace(/[&<>\r]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '\r': '&#13;' })[c] ?? c);
}

/** Escapes an attribute value for double quotes; TAB/LF/CR as references so normalization keeps them. */
export function escapeXmlAttribute(value: string): string {
  return checkChars(value).replace(
    /[&<>"\t\n\r]/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', '\t': '&#9;', '\n': '&#10;', '\r': '&#13;' })[c] ?? c,
  );
}

/** UTF-16 code-unit order, `Array.prototype.sort`'s default for strings. */
const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Builds one or more sibling elements; {@link XmlFragmentWriter.toString} asserts all were closed. */
export class XmlFragmentWriter {
  private out = '';
  private readonly open: string[] = [];

  /** Opens `<name xmlns… attributes…>`. */
  start(name: string, attributes: XmlAttributes = {}, namespaces: readonly XmlNamespaceDeclaration[] = []): this {
    let tag = `<${checkName(name)}`;
    for (const { prefix, uri } of namespaces) {
      if (prefix !== '' && !NCNAME_PATTERN.test(prefix)) throw new RangeError(`not a namespace prefix: ${JSON.stringify(prefix)}`);
      tag += ` ${prefix === '' ? 'xmlns' : `xmlns:${prefix}`}="${escapeXmlAttribute(uri)}"`;
    }
    // Names in one order, however the caller listed them.
    for (const attribute of inOrder(Object.keys(attributes), byCodeUnits)) {
      tag += ` ${checkName(attribute)}="${escapeXmlAttribute(attributes[attribute] ?? '')}"`;
    }
    this.out += `${tag}>`;
    this.open.push(name);
    return this;
  }

  text(value: string): this {
    if (this.open.length === 0) throw new Error('text outside an element');
    this.out += escapeXmlText(value);
    return this;
  }

  end(): this {
    const name = this.open.pop();
    if (name === undefined) throw new Error('end() without an open element');
    this.out += `</${name}>`;
    return this;
  }

  /** `<name …>text</name>`. */
  element(name: string, text: string, attributes: XmlAttributes = {}, namespaces: readonly XmlNamespaceDeclaration[] = []): this {
    return this.start(name, attributes, namespaces).text(text).end();
  }

  toString(): string {
    if (this.open.length > 0) throw new Error(`unclosed element <${this.open.join('><')}>`);
    return this.out;
  }
}
