/**
 * Hardened XML intake for untrusted CPIX documents (docs/architecture.md, CPIX engine; docs/security.md).
 *
 * - No DTD processing at all: any DOCTYPE is refused, which rules out XXE (file and URL), billion
 *   laughs and quadratic blow-up in one place. saxes never fetches anything and only knows the five
 *   predefined entities and character references; an undeclared entity is a well-formedness error.
 * - Limits (src/xml/limits.ts) are checked while parsing, so a 10,000-deep or 100k-element document is
 *   refused at the first element over the line instead of after it has been built.
 * - Input is decoded strictly: UTF-8 (BOM tolerated) or UTF-16 with a BOM; invalid byte sequences are
 *   refused rather than replaced with U+FFFD.
 *
 * Every failure is a `CpixInvalid` whose message never echoes document content beyond a short name.
 */

import { SaxesParser, type SaxesAttributeNS, type SaxesTagNS, type XMLDecl } from 'saxes';

import { CpixInvalid } from '../errors';
import { resolveXmlLimits, type XmlLimits } from './limits';
import type { XmlAttribute, XmlElement, XmlNamespaceDeclaration } from './tree';

const XMLNS_NAMESPACE = 'http://www.w3.org/2000/xmlns/';

type Encoding = 'utf-8' | 'utf-16le' | 'utf-16be';

/** Declared encodings compatible with the bytes we decoded (XML 1.0 §4.3.3, case-insensitive). */
const COMPATIBLE_DECLARED_ENCODINGS: Readonly<Record<Encoding, readonly string[]>> = {
  'utf-8': ['utf-8', 'utf8', 'us-ascii', 'ascii'],
  'utf-16le': ['utf-16', 'utf-16le'],
  'utf-16be': ['utf-16', 'utf-16be'],
};

interface MutableText {
  readonly kind: 'text';
  text: string;
}

/** An `XmlElement` under construction: `children` starts as a shared empty array and is replaced on the first child (fewer allocations per element). */
type MutableElement = Omit<XmlElement, 'children'> & { children: readonly (MutableElement | MutableText)[] };

const NO_ATTRIBUTES: readonly XmlAttribute[] = Object.freeze([]);
const NO_DECLARATIONS: readonly XmlNamespaceDeclaration[] = Object.freeze([]);
const NO_CHILDREN: readonly (MutableElement | MutableText)[] = Object.freeze([]);

function appendChild(parent: MutableElement, child: MutableElement | MutableText): void {
  if (parent.children === NO_CHILDREN) parent.children = [child];
  else (parent.children as (MutableElement | MutableText)[]).push(child);
}

/** Thrown from inside saxes handlers to abort the parse; turned into `CpixInvalid` by `parseXml`. */
class Refusal extends Error {}

/**
 * Parses an untrusted XML document into an `XmlElement` tree (src/xml/tree.ts), enforcing `limits`
 * (defaults in `DEFAULT_XML_LIMITS`) as it goes.
 *
 * A `Buffer` is decoded by its BOM (UTF-8 or UTF-16 LE/BE; UTF-8 when there is none) and must agree
 * with the XML declaration's `encoding`; a `string` is taken as already decoded (a leading U+FEFF is
 * dropped). Comments and processing instructions are dropped; CDATA becomes text.
 *
 * @throws CpixInvalid for oversized input, a DOCTYPE, any limit exceeded, bad encoding, or XML that is
 *   not namespace-well-formed (e.g. an undeclared prefix, as in AWS's SPEKE content key encryption example). The message carries line/column when known.
 */
export function parseXml(input: Buffer | string, limits?: Partial<XmlLimits>): XmlElement {
  const effective = resolveXmlLimits(limits);
  const { text, encoding } = decodeInput(input, effective.maxBytes);
  return parseDecoded(text, encoding, effective);
}

/**
 * The text of a document's bytes as `parseXml` decodes them (by BOM, strictly), for code that must
 * read the same document again, such as signature verification. Call it on bytes `parseXml` accepted.
 */
export function decodeXmlBytes(input: Buffer, maxBytes: number): string {
  return decodeInput(input, maxBytes).text;
}

function decodeInput(input: Buffer | string, maxBytes: number): { text: string; encoding: Encoding | undefined } {
  if (typeof input === 'string') {
    // Cheap bound first (every UTF-16 code unit is at least one UTF-8 byte), then the exact size.
    if (input.length > maxBytes || Buffer.byteLength(input, 'utf8') > maxBytes) throw tooLarge(maxBytes);
    return { text: input.startsWith('\uFEFF') ? input.slice(1) : input, encoding: undefined };
  }
  if (input.length > maxBytes) throw tooLarge(maxBytes);
  const encoding = sniffEncoding(input);
  try {
    // The decoder removes the BOM itself (ignoreBOM: false); `fatal` refuses malformed sequences.
    return { text: new TextDecoder(encoding, { fatal: true }).decode(input), encoding };
  } catch (cause) {
    throw new CpixInvalid(`XML input is not valid ${encoding.toUpperCase()}`, { cause });
  }
}

/** XML 1.0 Appendix F: a BOM, or the UTF-16 spelling of `<?` when a producer omitted the BOM. */
function sniffEncoding(bytes: Buffer): Encoding {
  const [b0, b1, b2, b3] = [bytes[0], bytes[1], bytes[2], bytes[3]];
  if (b0 === 0xff && b1 === 0xfe) return 'utf-16le';
  if (b0 === 0xfe && b1 === 0xff) return 'utf-16be';
  if (b0 === 0x3c && b1 === 0x00 && b2 === 0x3f && b3 === 0x00) return 'utf-16le';
  if (b0 === 0x00 && b1 === 0x3c && b2 === 0x00 && b3 === 0x3f) return 'utf-16be';
  return 'utf-8';
}

function tooLarge(maxBytes: number): CpixInvalid {
  return new CpixInvalid(`XML input exceeds the limit of ${maxBytes} bytes`);
}

function parseDecoded(text: string, encoding: Encoding | undefined, limits: XmlLimits): XmlElement {
  const parser = new SaxesParser({ xmlns: true, position: true });
  const stack: MutableElement[] = [];
  let root: MutableElement | undefined;
  let elementCount = 0;
  let textChars = 0;

  const refuse = (message: string): never => {
    throw new Refusal(message);
  };
  const appendText = (data: string): void => {
    const parent = stack[stack.length - 1];
    if (parent === undefined || data.length === 0) return; // whitespace around the root element
    textChars += data.length;
    if (textChars > limits.maxTextChars) refuse(`character data exceeds the limit of ${limits.maxTextChars} characters`);
    const last = parent.children[parent.children.length - 1];
    if (last?.kind === 'text') last.text += data;
    else appendChild(parent, { kind: 'text', text: data });
  };

  // DOCTYPE: saxes reports it once the whole declaration has been read (bounded by maxBytes) and
  // never interprets it; we refuse before any content after it is parsed.
  parser.on('doctype', () => refuse('DOCTYPE declarations are not allowed'));
  parser.on('xmldecl', (decl: XMLDecl) => {
    const declared = decl.encoding?.toLowerCase();
    if (encoding !== undefined && declared !== undefined && !COMPATIBLE_DECLARED_ENCODINGS[encoding].includes(declared)) {
      refuse(`declared encoding does not match the ${encoding.toUpperCase()} input`);
    }
  });
  // The limits are checked once the start tag is read, before anything inside the element is: no
  // `opentagstart` or `attribute` handler. With those two registered as well, saxes ran 4× slower
  // (338 against 82 µs for a 5-key SPEKE request; its parser object then seems to fall out of V8's
  // fast property mode), and a start tag is bounded by `maxBytes` either way.
  parser.on('opentag', (tag: SaxesTagNS) => {
    elementCount += 1;
    if (elementCount > limits.maxElements) refuse(`document exceeds the limit of ${limits.maxElements} elements`);
    if (stack.length + 1 > limits.maxDepth) refuse(`elements nested deeper than the limit of ${limits.maxDepth}`);
    const element = toElement(tag, limits, refuse);
    const parent = stack[stack.length - 1];
    if (parent === undefined) root = element;
    else appendChild(parent, element);
    stack.push(element);
  });
  parser.on('closetag', () => {
    stack.pop();
  });
  parser.on('text', appendText);
  parser.on('cdata', appendText);

  try {
    parser.write(text).close();
  } catch (error) {
    throw toCpixInvalid(error, parser.line, parser.column);
  }
  if (root === undefined) throw new CpixInvalid('XML document has no root element');
  return root;
}

/**
 * The element of a start tag, refusing it over the attribute limits: attributes per element
 * (namespace declarations included) and the length of each value, checked in the same walk.
 */
function toElement(tag: SaxesTagNS, limits: XmlLimits, refuse: (message: string) => never): MutableElement {
  const attributes: XmlAttribute[] = [];
  const namespaceDeclarations: XmlNamespaceDeclaration[] = [];
  let count = 0;
  for (const name in tag.attributes) {
    count += 1;
    if (count > limits.maxAttributesPerElement) refuse(`element has more than ${limits.maxAttributesPerElement} attributes`);
    const attribute: SaxesAttributeNS | undefined = tag.attributes[name];
    if (attribute === undefined) continue;
    if (attribute.value.length > limits.maxAttributeValueChars) {
      refuse(`attribute value exceeds the limit of ${limits.maxAttributeValueChars} characters`);
    }
    if (attribute.uri === XMLNS_NAMESPACE) {
      namespaceDeclarations.push({ prefix: attribute.prefix === '' ? '' : attribute.local, uri: attribute.value });
    } else {
      attributes.push({
        name: attribute.name,
        prefix: attribute.prefix,
        localName: attribute.local,
        namespace: attribute.uri,
        value: attribute.value,
      });
    }
  }
  return {
    kind: 'element',
    name: tag.name,
    prefix: tag.prefix,
    localName: tag.local,
    namespace: tag.uri,
    attributes: attributes.length === 0 ? NO_ATTRIBUTES : attributes,
    namespaceDeclarations: namespaceDeclarations.length === 0 ? NO_DECLARATIONS : namespaceDeclarations,
    children: NO_CHILDREN,
  };
}

function toCpixInvalid(error: unknown, line: number, column: number): CpixInvalid {
  const where = `(line ${line}, column ${column})`;
  if (error instanceof Refusal) return new CpixInvalid(`XML refused: ${error.message} ${where}`);
  if (error instanceof Error) {
    // saxes prefixes "line:column: " and may quote names from the document: keep the reason short and
    // printable so a hostile document cannot smuggle content into logs or responses.
    const reason = sanitizeReason(error.message.replace(/^\d+:\d+: /, ''));
    return new CpixInvalid(`XML is not well-formed: ${reason} ${where}`, { cause: error, detail: error.message.slice(0, 500) });
  }
  return new CpixInvalid(`XML is not well-formed ${where}`, { cause: error });
}

const MAX_REASON_CHARS = 80;

function sanitizeReason(reason: string): string {
  const printable = reason.replace(/[^\x20-\x7e]/g, '?');
  return printable.length <= MAX_REASON_CHARS ? printable : `${printable.slice(0, MAX_REASON_CHARS)}…`;
}
