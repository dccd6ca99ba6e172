import { verify, X509Certificate } from 'node:crypto';
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
const SIGNATURE_HASHES: ReadonlyMap<string, 'sha256' | 'sha512'> = new Map([
  [ALGORITHM.rsaSha256, 'sha256'],
  [ALGORITHM.rsaSha512, 'sha512'],
]);
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
 * At most `MAX_SIGNATURES`, none repeating a signer's signature of an element. Every signature's
 * shape, reference and signer are checked first, then every value against its SignedInfo, and only
 * then what the references cover: the dear steps come last. A signature is accepted only if: it is a
 * child of the root (signatures elsewhere are refused); its shape is `SignedInfo, SignatureValue,
 * KeyInfo` with exactly one `Reference`, `URI=""` with the
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
  // xml-crypto reads the whole document again for each signature it checks: the count is bounded
  // before any is checked (hundreds of copies of one valid signature held the event loop for minutes).
  if (signatures.length > MAX_SIGNATURES) throw new CpixSignatureInvalid(`at most ${MAX_SIGNATURES} signatures`);
  // Shape, reference and pinned signer of every signature first, so that a refusal costs no verification.
  const checked = signatures.map((signature, index) => checkShape(doc, root, signature, trusted, `Signature[${index}]`));
  // A second signature of one signer over one element adds nothing, and would only multiply the work.
  if (new Set(checked.map(({ reference, signer }) => `${reference} ${signer.fingerprint256}`)).size !== checked.length) {
    throw new CpixSignatureInvalid('two signatures of one signer cover the same element');
  }
  // The signature values next, over each SignedInfo: an RSA verification of a few hundred bytes. A
  // forger who copied a pinned certificate into KeyInfo but holds no pinned key is refused here, before
  // xml-crypto canonicalizes and digests what the references cover (up to the whole document, each).
  const loaded = checked.map((signature) => ({ signature, verifier: checkSignatureValue(doc, signature) }));
  return { signatures: loaded.map(({ signature, verifier }) => verifyOne(xml, signature, verifier)) };
}

/**
 * Signatures a document may carry. Each signer signs an element once: the document itself and the
 * six lists that are children of the root can be signed (DASH-IF CPIX 2.3 §6.2), by several parties
 * each (the DASH-IF `Complex.xml` vector carries 9: four lists signed by two parties, and the
 * document). 16 is room for that, and bounds a request's verifications whatever it sends.
 */
export const MAX_SIGNATURES = 16;

/** A signature whose shape, reference and signer passed, before its value is verified. */
interface CheckedSignature extends VerifiedCpixSignature {
  readonly element: Element;
  readonly path: string;
  /** The digest of `SignatureMethod` (RSA PKCS #1 v1.5 with it). */
  readonly hash: 'sha256' | 'sha512';
  readonly signatureValue: Buffer;
}

/** xml-crypto's canonical form of a loaded signature's SignedInfo, the bytes its value signs. */
interface SignedInfoCanonicalizer {
  getCanonSignedInfoXml(doc: Document): string;
}

/**
 * The signature value against the canonical SignedInfo, made by xml-crypto's own canonicalization of
 * it (the one `checkSignature` signs) from the document already parsed, with the pinned key. Returns
 * xml-crypto with the signature loaded, for the full verification.
 */
function checkSignatureValue(doc: Document, { element, signer, hash, signatureValue, path }: CheckedSignature): SignedXml {
  const fail = failure(path);
  let verifier: SignedXml;
  let signedInfo: string;
  try {
    // The pinned signer's certificate only, never KeyInfo's.
    verifier = new SignedXml({ publicCert: signer.toString(), getCertFromKeyInfo: () => null });
    verifier.CanonicalizationAlgorithms[ALGORITHM.c14n11] = C14n11AsC14n10;
    verifier.loadSignature(element);
    signedInfo = (verifier as unknown as SignedInfoCanonicalizer).getCanonSignedInfoXml(doc);
  } catch (error) {
    return fail('signature does not verify', error);
  }
  if (!verify(hash, Buffer.from(signedInfo, 'utf8'), signer.publicKey, signatureValue)) fail('signature does not verify');
  return verifier;
}

function failure(path: string): (reason: string, cause?: unknown) => never {
  return (reason, cause) => {
    throw new CpixSignatureInvalid(`${path}: ${reason}`, cause === undefined ? {} : { cause });
  };
}

function checkShape(doc: Document, root: Element, signature: Element, trusted: readonly X509Certificate[], path: string): CheckedSignature {
  const fail = failure(path);
  const [signedInfo, signatureValue, keyInfo, ...extra] = elementChildren(signature);
  if (!isDs(signedInfo, 'SignedInfo') || !isDs(signatureValue, 'SignatureValue') || !isDs(keyInfo, 'KeyInfo') || extra.length > 0) {
    return fail('expected SignedInfo, SignatureValue and KeyInfo');
  }
  const [c14n, method, reference, ...more] = elementChildren(signedInfo);
  if (!isDs(c14n, 'CanonicalizationMethod') || !isDs(method, 'SignatureMethod') || !isDs(reference, 'Reference') || more.length > 0) {
    return fail('expected exactly one Reference');
  }
  if (!CANONICALIZATIONS.includes(c14n.getAttribute('Algorithm') ?? '')) fail('unsupported canonicalization');
  const hash = SIGNATURE_HASHES.get(method.getAttribute('Algorithm') ?? '');
  if (hash === undefined || elementChildren(method).length > 0) return fail('unsupported signature algorithm');
  const value = (signatureValue.textContent ?? '').replace(/\s+/g, '');
  if (!BASE64.test(value)) fail('malformed SignatureValue');
  return {
    reference: checkReference(doc, root, reference, fail),
    signer: pinnedSigner(keyInfo, trusted, fail),
    element: signature,
    path,
    hash,
    signatureValue: Buffer.from(value, 'base64'),
  };
}

/** What the references cover, read again from `xml` by xml-crypto, and the value once more with them. */
function verifyOne(xml: string, { reference, signer, path }: CheckedSignature, verifier: SignedXml): VerifiedCpixSignature {
  const fail = failure(path);
  let valid = false;
  try {
    valid = verifier.checkSignature(xml);
  } catch (error) {
    fail('signature does not verify', error);
  }
  if (!valid) fail('signature does not verify');
  return { reference, signer };
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
