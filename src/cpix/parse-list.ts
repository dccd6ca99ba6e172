/** The shared shape of CPIX lists (`*List` elements) and the `@id`/`@updateVersion` pair. */

import type { XmlElement } from '../xml/tree';
import type { CpixList, Identified } from './model';
import { attribute, elementsOf, isCpix, safeName } from './parse-element';
import { invalid, parseInteger } from './parse-values';

/** `@id` (kept as received) and `@updateVersion` (xs:integer). */
export function parseIdentified(element: XmlElement, path: string): Identified {
  const id = attribute(element, 'id');
  const updateVersion = attribute(element, 'updateVersion');
  return {
    ...(id === undefined ? {} : { id }),
    ...(updateVersion === undefined ? {} : { updateVersion: parseInteger(updateVersion, `${path}@updateVersion`) }),
  };
}

/**
 * Parses a list whose children are all `cpix:<itemName>`; anything else inside a list is `CpixInvalid`.
 * `parseItem` gets the 1-based position for paths. Empty lists are accepted (≤ 2.3.1 allows them).
 */
export function parseList<T>(
  element: XmlElement,
  itemName: string,
  parseItem: (item: XmlElement, position: number) => T,
): CpixList<T> {
  const path = element.localName;
  const items: T[] = [];
  for (const child of elementsOf(element)) {
    if (!isCpix(child, itemName)) throw invalid(`${path}/${safeName(child)}`, 'unexpected element');
    items.push(parseItem(child, items.length + 1));
  }
  return { ...parseIdentified(element, path), items };
}
