import { X509Certificate } from 'node:crypto';
import { DOMParser, type Document, type Element, type Node } from '@xmldom/xmldom';
import { C14nCanonicalization, SignedXml } from 'xml-crypto';
import { CpixSignatureInvalid } from '../errors';
import { ALGORITHM, NS } from './constants';

/** One verified `ds:Signature`: what it covers and the pinned certificate that made it. */
export interface VerifiedCpixSignature {
  /** `''` = the whole document (enveloped), `#id` = one list that is a child of the root. */
  readonly reference: '' | `#${string}`;
  readonly signer: X509Certificate;
}

/**
 * C14N 1.1 differs from 1.0 only for xml:id/xml:base/xml:lang/xml:space on document subsets, which CPIX
 * documents do not carry, and xml-crypto has no 1.1: alias the URI to its 1.0 implementation (W3C Canonical XML 1.1 lists its differences from 1.0; decision 15).
 */
class C14n11AsC14n10 extends C14nCanonicalization {
  override getAlgorithmName(): string {
    return ALGORITHM.c14n11;
  }
}

const CANONICALIZATIONS: readonly string[] = [ALGORITHM.c14n10, ALGORITHM.c14n11];
/** RSA with SHA-2 only: no SHA-1, and no HMAC (key confusion, xml-crypto `enableHMAC` note). */
const SIGNATURE_METHODS: readonly string[] = [ALGORITHM.rsaSha256, ALGORITHM.rsaSha512];
const DIGEST_METHODS: readonly string[] = [ALGORITHM.sha256, ALGORITHM.sha512];
const ID_ATTRIBUTES = ['id', 'Id', 'ID'] as const;
const NCNAME = /^[A-Za-z_][A-Za-z0-9._-]*$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Verifies **every** `ds:Signature` child of the root of `xml` against pinned certificates and returns
 * what each one covers. Returns an empty list for an unsigned document: whether signatures are
 * required is the caller's decision.
 *
 * Precondition: `xml` has already passed the hardened parser (src/xml/safe-parse.ts: no DOCTYPE or
 * entities, size and depth limits), because it is parsed again here by @xmldom/xmldom and xml-crypto.
 * It is the decoded text (no BOM).
 *
 * A signature is accepted only if: it is a child of the root (signatures elsewhere are refused); its
 * shape is `SignedInfo, SignatureValue, KeyInfo` with exactly one `Reference`, `URI=""` with the
 * enveloped-signature transform or `URI="#id"` naming a list that is a child of the root and whose id
 * is unique; C14N 1.0 or 1.1 (aliased); RSA-SHA256/512 with SHA-256/512 digests; the certificate in
 * `KeyInfo` is byte-identical (DER) to one of `trusted` — KeyInfo alone is never trusted
 * (GHSA-2xp3-57p7-qf4v) — and the signature verifies with that pinned certificate.
 * Any failure throws `CpixSignatureInvalid` with a safe message (no XML, no values).
 */
export function verifyCpixSignatures(
  xml: string,
  trusted: readonly X509Certificate[],
): { readonly signatures: readonly VerifiedCpixSignature[] } {
  let doc: Document;
  try {
    doc = new DOMParser({ onError: (level, message) => { if (level !== 'warning') throw new Error(message); } }).parseFromString(xml, 'text/xml');
  } catch (error) {
    throw new CpixSignatureInvalid('document could not be read for signature verification', { cause: error });
  }
  const root = doc.documentElement;
  if (root === null) throw new CpixSignatureInvalid('document has no root element');
  const all = Array.from(doc.getElementsByTagNameNS(NS.ds, 'Signature'));
  const signatures = elementChildren(root).filter((child) => isDs(child, 'Signature'));
  if (all.length !== signatures.length) throw new CpixSignatureInvalid('a Signature is not a child of the CPIX root');
  return {
    signatures: signatures.map((signature, index) => verifyOne(xml, doc, root, signature, trusted, `Signature[${index}]`)),
  };
}

function verifyOne(
  xml: string,
  doc: Document,
  root: Element,
  signature: Element,
  trusted: readonly X509Certificate[],
  path: string,
): VerifiedCpixSignature {
  const fail = (reason: string, cause?: unknown): never => {
    throw new CpixSignatureInvalid(`${path}: ${reason}`, cause === undefined ? {} : { cause });
  };
  const [signedInfo, signatureValue, keyInfo, ...extra] = elementChildren(signature);
  if (!isDs(signedInfo, 'SignedInfo') || !isDs(signatureValue, 'SignatureValue') || !isDs(keyInfo, 'KeyInfo') || extra.length > 0) {
    return fail('expected SignedInfo, SignatureValue and KeyInfo');
  }
  const [c14n, method, reference, ...more] = elementChildren(signedInfo);
  if (!isDs(c14n, 'CanonicalizationMethod') || !isDs(method, 'SignatureMethod') || !isDs(reference, 'Reference') || more.length > 0) {
    return fail('expected exactly one Reference');
  }
  if (!CANONICALIZATIONS.includes(c14n.getAttribute('Algorithm') ?? '')) fail('unsupported canonicalization');
  if (!SIGNATURE_METHODS.includes(method.getAttribute('Algorithm') ?? '') || elementChildren(method).length > 0) {
    fail('unsupported signature algorithm');
  }
  const uri = checkReference(doc, root, reference, fail);

  const signer = pinnedSigner(keyInfo, trusted, fail);
  const verifier = new SignedXml({ publicCert: signer.toString(), getCertFromKeyInfo: () => null });
  verifier.CanonicalizationAlgorithms[ALGORITHM.c14n11] = C14n11AsC14n10;
  let valid = false;
  try {
    verifier.loadSignature(signature);
    valid = verifier.checkSignature(xml);
  } catch (error) {
    fail('signature does not verify', error);
  }
  if (!valid) fail('signature does not verify');
  return { reference: uri, signer };
}

function checkReference(doc: Document, root: Element, reference: Element, fail: (reason: string) => never): '' | `#${string}` {
  const uri = reference.getAttribute('URI');
  const children = elementChildren(reference);
  const transforms = isDs(children[0], 'Transforms') ? children.shift() : undefined;
  const [digestMethod, digestValue, ...rest] = children;
  if (!isDs(digestMethod, 'DigestMethod') || !isDs(digestValue, 'DigestValue') || rest.length > 0) fail('malformed Reference');
  if (!DIGEST_METHODS.includes(digestMethod?.getAttribute('Algorithm') ?? '')) fail('unsupported digest algorithm');
  const algorithms = (transforms === undefined ? [] : elementChildren(transforms)).map((transform) => {
    if (!isDs(transform, 'Transform') || elementChildren(transform).length > 0) fail('unsupported transform');
    return transform.getAttribute('Algorithm') ?? '';
  });
  const [first, second, ...others] = algorithms;
  if (uri === '') {
    const ok = first === ALGORITHM.envelopedSignature && others.length === 0 && (second === undefined || CANONICALIZATIONS.includes(second));
    if (!ok) fail('a whole-document reference needs the enveloped-signature transform');
    return '';
  }
  if (uri === null || !uri.startsWith('#') || !NCNAME.test(uri.slice(1))) return fail('unsupported reference URI');
  if (!(first === undefined || (CANONICALIZATIONS.includes(first) && second === undefined))) fail('unsupported transform');
  const id = uri.slice(1);
  // xml-crypto resolves "#x" by any id/Id/ID attribute anywhere: require one match, and that it is a root list.
  const matches = Array.from(doc.getElementsByTagName('*')).filter((element) =>
    ID_ATTRIBUTES.some((name) => element.getAttribute(name) === id),
  );
  if (matches.length !== 1 || matches[0]?.parentNode !== root) fail('reference must name one list of the root');
  return `#${id}`;
}

function pinnedSigner(keyInfo: Element, trusted: readonly X509Certificate[], fail: (reason: string) => never): X509Certificate {
  for (const x509Data of elementChildren(keyInfo).filter((child) => isDs(child, 'X509Data'))) {
    for (const element of elementChildren(x509Data).filter((child) => isDs(child, 'X509Certificate'))) {
      const text = (element.textContent ?? '').replace(/\s+/g, '');
      if (!BASE64.test(text)) fail('malformed X509Certificate');
      const der = Buffer.from(text, 'base64');
      const match = trusted.find((certificate) => certificate.raw.equals(der));
      if (match !== undefined) return match;
    }
  }
  return fail('signer certificate is not trusted');
}

function elementChildren(parent: Element): Element[] {
  return Array.from(parent.childNodes).filter((node: Node): node is Element => node.nodeType === node.ELEMENT_NODE);
}

function isDs(element: Element | undefined, localName: string): element is Element {
  return element !== undefined && element.namespaceURI === NS.ds && element.localName === localName;
}
