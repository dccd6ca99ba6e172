/**
 * Resource limits for untrusted XML (docs/architecture.md, CPIX engine). The parser enforces them while it
 * reads, so a hostile document is refused after the first element, byte or attribute over the line,
 * not after it has been materialised. The defaults are an order of magnitude above the largest real
 * CPIX document seen (DASH-IF `Complex.xml`: 56 KB, depth 9, ~200 elements).
 */

export interface XmlLimits {
  /** Encoded input size, checked before any parsing. */
  readonly maxBytes: number;
  /** Element nesting depth; the root element is depth 1. */
  readonly maxDepth: number;
  /**
   * Elements in the whole document. 10,000 (not 50,000): building 50k elements takes ~75 ms, over the
   * 50 ms budget for refusing hostile input (scripts/hostile-input.mjs); Complex.xml has 226.
   */
  readonly maxElements: number;
  /** Attributes (namespace declarations included) on one element. */
  readonly maxAttributesPerElement: number;
  /** Characters in one attribute value. CPIX attributes are UUIDs, ids, URIs and short base64. */
  readonly maxAttributeValueChars: number;
  /** Characters of character data (text + CDATA) in the whole document. */
  readonly maxTextChars: number;
}

export const DEFAULT_XML_LIMITS: XmlLimits = Object.freeze({
  maxBytes: 1024 * 1024,
  maxDepth: 64,
  maxElements: 10_000,
  maxAttributesPerElement: 64,
  maxAttributeValueChars: 16 * 1024,
  maxTextChars: 1024 * 1024,
});

/**
 * Merges caller overrides over the defaults. Throws `RangeError` (a programmer error, not a client
 * error) for a limit that is not a positive safe integer.
 */
export function resolveXmlLimits(overrides: Partial<XmlLimits> = {}): XmlLimits {
  const limits: XmlLimits = { ...DEFAULT_XML_LIMITS, ...overrides };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`XML limit ${name} must be a positive integer`);
  }
  return Object.freeze(limits);
}
