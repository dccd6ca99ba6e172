import { readFileSync } from 'node:fs';
import { DOMParser, type Element as DomElement } from '@xmldom/xmldom';
import type { XmlAttribute, XmlElement, XmlNamespaceDeclaration, XmlNode } from '../../src/xml/tree';

/**
 * Test-only bridge from an @xmldom/xmldom DOM to the project's `XmlElement` tree, used until (and
 * independently of) the hardened `parseXml`. Comments and processing instructions are dropped and
 * CDATA becomes text, matching what `tree.ts` promises.
 */

const ELEMENT_NODE = 1;
const TEXT_NODE = 3;
const CDATA_SECTION_NODE = 4;
const XMLNS_NAMESPACE = 'http://www.w3.org/2000/xmlns/';

/** Decodes a document's bytes the way a parser would: UTF-16 by BOM, else UTF-8 (BOM stripped). */
export function decodeXmlBytes(bytes: Buffer): string {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder('utf-16le').decode(bytes.subarray(2));
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder('utf-16be').decode(bytes.subarray(2));
  return new TextDecoder('utf-8', { ignoreBOM: false }).decode(bytes);
}

/** Parses XML text with xmldom (throwing on any error) and returns its document element. */
export function parseDom(xml: string): DomElement {
  const document = new DOMParser({
    onError: (level, message) => {
      if (level !== 'warning') throw new Error(`xmldom ${level}: ${message}`);
    },
  }).parseFromString(xml, 'text/xml');
  const root = document.documentElement;
  if (root === null) throw new Error('xmldom: no document element');
  return root;
}

/** Converts an xmldom element (and its subtree) into an `XmlElement`. */
export function domToTree(element: DomElement): XmlElement {
  const attributes: XmlAttribute[] = [];
  const namespaceDeclarations: XmlNamespaceDeclaration[] = [];
  for (let i = 0; i < element.attributes.length; i += 1) {
    const attribute = element.attributes.item(i);
    if (attribute === null) continue;
    if (attribute.namespaceURI === XMLNS_NAMESPACE || attribute.name === 'xmlns') {
      namespaceDeclarations.push({ prefix: attribute.name === 'xmlns' ? '' : attribute.localName ?? '', uri: attribute.value });
    } else {
      attributes.push({
        name: attribute.name,
        prefix: attribute.prefix ?? '',
        localName: attribute.localName ?? attribute.name,
        namespace: attribute.namespaceURI ?? '',
        value: attribute.value,
      });
    }
  }
  const children: XmlNode[] = [];
  for (let child = element.firstChild; child !== null; child = child.nextSibling) {
    if (child.nodeType === ELEMENT_NODE) children.push(domToTree(child as DomElement));
    else if (child.nodeType === TEXT_NODE || child.nodeType === CDATA_SECTION_NODE) {
      children.push({ kind: 'text', text: child.nodeValue ?? '' });
    }
  }
  return {
    kind: 'element',
    name: element.tagName,
    prefix: element.prefix ?? '',
    localName: element.localName ?? element.tagName,
    namespace: element.namespaceURI ?? '',
    attributes,
    namespaceDeclarations,
    children,
  };
}

/** Reads a file, decodes it and converts it to a tree. */
export function readTree(path: string): XmlElement {
  return domToTree(parseDom(decodeXmlBytes(readFileSync(path))));
}
