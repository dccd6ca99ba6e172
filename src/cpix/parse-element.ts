/**
 * Namespace-aware element access for the CPIX parser. Elements are matched by (namespace URI, local
 * name) only, never by prefix: real documents use the default namespace (Axinom), `cpix:` (SPEKE) and
 * `aa:`…`ff:` (DASH-IF `EvenMoreComplex.xml` in Dash-Industry-Forum/cpix-test-vectors).
 */

import { childElements, textOf, type XmlElement } from '../xml/tree';
import { NS } from './constants';
import { invalid } from './parse-values';

export function isElement(element: XmlElement, namespace: string, localName: string): boolean {
  return element.namespace === namespace && element.localName === localName;
}

export function isCpix(element: XmlElement, localName: string): boolean {
  return isElement(element, NS.cpix, localName);
}

/**
 * CPIX attributes are unqualified (`attributeFormDefault="unqualified"` in the CPIX XSD): a prefixed
 * attribute never matches.
 */
export function attribute(element: XmlElement, localName: string): string | undefined {
  return element.attributes.find((attr) => attr.namespace === '' && attr.localName === localName)?.value;
}

export function requiredAttribute(element: XmlElement, localName: string, path: string): string {
  const value = attribute(element, localName);
  if (value === undefined) throw invalid(`${path}@${localName}`, 'is required');
  return value;
}

/** The child elements of `element` (text and whitespace dropped). */
export function elementsOf(element: XmlElement): XmlElement[] {
  return childElements(element);
}

/** Children matching (namespace, localName). */
export function childrenNamed(element: XmlElement, namespace: string, localName: string): XmlElement[] {
  return childElements(element).filter((child) => isElement(child, namespace, localName));
}

/** The only child matching (namespace, localName), or undefined; two of them is `CpixInvalid`. */
export function optionalChild(element: XmlElement, namespace: string, localName: string, path: string): XmlElement | undefined {
  const matches = childrenNamed(element, namespace, localName);
  if (matches.length > 1) throw invalid(`${path}/${localName}`, 'must not occur more than once');
  return matches[0];
}

export function requiredChild(element: XmlElement, namespace: string, localName: string, path: string): XmlElement {
  const child = optionalChild(element, namespace, localName, path);
  if (child === undefined) throw invalid(`${path}/${localName}`, 'is required');
  return child;
}

/** First descendant (depth-first, document order) matching (namespace, localName). */
export function firstDescendant(element: XmlElement, namespace: string, localName: string): XmlElement | undefined {
  for (const child of childElements(element)) {
    if (isElement(child, namespace, localName)) return child;
    const found = firstDescendant(child, namespace, localName);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Text content of an element (its direct text children). */
export function textContent(element: XmlElement): string {
  return textOf(element);
}

/** A name safe to put in an error message: the local name, cut short. */
export function safeName(element: XmlElement): string {
  const name = element.localName.replace(/[^A-Za-z0-9_.-]/g, '?');
  return name.length <= 40 ? name : `${name.slice(0, 40)}…`;
}
