/**
 * A document serialized directly in canonical form, so it can be signed without being parsed again
 * (W3C Canonical XML 1.0; decision 14: a DOM round trip measured at 7× the RSA signature).
 *
 * `xml` is the inclusive Canonical XML 1.0 of the whole document (which for CPIX documents equals
 * C14N 1.1: they carry no xml:id/xml:base/xml:lang/xml:space): no XML declaration, no comments, no
 * whitespace that is not content, attributes in canonical order, `<a></a>` never `<a/>`, C14N
 * escaping. Every namespace the document uses is declared on the root element only.
 */
export interface CanonicalDocument {
  readonly xml: string;
  /**
   * The root's namespace declarations exactly as they appear in its canonical start tag, with a
   * leading space each, e.g. ` xmlns:cpix="urn:dashif:org:cpix" xmlns:pskc="urn:ietf:params:xml:ns:keyprov:pskc"`.
   * Inclusive C14N of a subset (a list signed by `#id`) renders these on the subset's apex element,
   * right after its name and before its attributes, when the apex declares none of its own.
   */
  readonly rootNamespaceDeclarations: string;
  /** Elements carrying an `id` attribute: offsets of the element in `xml`, from `<` of the start tag to past `>` of the end tag. */
  readonly idRanges: ReadonlyMap<string, { readonly start: number; readonly end: number }>;
  /** Offset in `xml` where the root's end tag starts: enveloped signatures are inserted here, document signature last. */
  readonly rootEndTagOffset: number;
}
