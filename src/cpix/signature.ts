import { createHash, createSign, type KeyObject, type X509Certificate } from 'node:crypto';
import type { CanonicalDocument } from '../xml/canonical-document';
import { ALGORITHM, NS } from './constants';

/**
 * XML-DSig signing of a CPIX document that is already in canonical form (DASH-IF CPIX 2.3 §6.1.3, Digital Signature; W3C XML Signature), without
 * parsing it: every digest input is a slice of `canonical.xml`, and `SignedInfo` is written directly
 * in its canonical form.
 *
 * Namespace choice: `Signature` declares the XML-DSig namespace as its **default namespace** (what
 * Axinom/.NET emit), so nothing on the root changes and the list digests stay valid. Inclusive C14N
 * of `SignedInfo` then renders, on `SignedInfo`, that default declaration followed by every prefixed
 * declaration of the root (in-scope namespaces); the root's own default namespace, if any, is
 * overridden and therefore not rendered. That string is what is signed; the inserted element carries
 * no declarations of its own. xmlsec1 (libxml2's C14N) verifies the result (test/unit/cpix/signature*.test.ts).
 */

export type SignatureAlgorithmName = 'rsa-sha256' | 'rsa-sha512';
export type CanonicalizationVersion = '1.0' | '1.1';

export interface CpixSigner {
  readonly privateKey: KeyObject;
  /** Put in `KeyInfo/X509Data/X509Certificate` (CPIX: each signature shall carry the signer certificate). */
  readonly certificate: X509Certificate;
}

export interface SignCpixOptions {
  /** `id`s of root-child lists to sign individually (`URI="#id"`), in this order, before the document signature. */
  readonly listIds?: readonly string[];
  /** Default `rsa-sha256`; the digest follows the signature hash (SHA-256 or SHA-512). */
  readonly algorithm?: SignatureAlgorithmName;
  /** Default '1.0' (every deployed consumer); '1.1' only changes the URIs, the bytes are identical for CPIX (§5.3). */
  readonly c14n?: CanonicalizationVersion;
}

const SUITES = {
  'rsa-sha256': { signature: ALGORITHM.rsaSha256, digest: ALGORITHM.sha256, hash: 'sha256' },
  'rsa-sha512': { signature: ALGORITHM.rsaSha512, digest: ALGORITHM.sha512, hash: 'sha512' },
} as const;
const C14N_URIS = { '1.0': ALGORITHM.c14n10, '1.1': ALGORITHM.c14n11 } as const;
/** xs:NCName (ASCII subset): ids are used in `URI="#…"` and resolved as XML IDs by verifiers. */
const NCNAME = /^[A-Za-z_][A-Za-z0-9._-]*$/;
const NAMESPACE_DECLARATIONS = /^(?: xmlns(?::[A-Za-z_][A-Za-z0-9._-]*)?="[^"<&]*")*$/;

/**
 * Signs `canonical` and returns the signed document, **without** an XML declaration (the caller
 * prefixes one). One `Signature` per entry of `listIds` (`URI="#id"`, C14N transform), then one
 * whole-document signature (`URI=""`, enveloped-signature + C14N transforms) appended last, so it
 * covers the list signatures. Each carries the signer certificate in `KeyInfo`.
 *
 * Never re-serialize the result: whitespace and namespace declarations are signed (inclusive Canonical XML 1.0).
 * Throws `RangeError` for programmer errors: an unknown or non-NCName list id, a key that does not
 * belong to the certificate, a non-RSA key, or a root whose default namespace is XML-DSig's.
 */
/**
 * The base64 DER of a signer's certificate, once its key was checked to be RSA and to belong to it.
 * Per signer, not per document: a service signs every answer with the same one or two identities,
 * and `X509Certificate.raw` copies the DER each time it is read (with the encoding, ~13 µs a
 * document, against ~0.6 µs for the key check).
 */
const checkedCertificates = new WeakMap<CpixSigner, string>();

function checkedCertificateOf(signer: CpixSigner): string {
  const known = checkedCertificates.get(signer);
  if (known !== undefined) return known;
  if (signer.privateKey.asymmetricKeyType !== 'rsa') throw new RangeError('CPIX signing needs an RSA private key');
  if (!signer.certificate.checkPrivateKey(signer.privateKey)) {
    throw new RangeError('signing key does not belong to the signing certificate');
  }
  const certificate = signer.certificate.raw.toString('base64');
  checkedCertificates.set(signer, certificate);
  return certificate;
}

export function signCpix(canonical: CanonicalDocument, signer: CpixSigner, options: SignCpixOptions = {}): string {
  const suite = SUITES[options.algorithm ?? 'rsa-sha256'];
  const c14n = C14N_URIS[options.c14n ?? '1.0'];
  const certificate = checkedCertificateOf(signer);
  const rootNamespaces = canonical.rootNamespaceDeclarations;
  if (!NAMESPACE_DECLARATIONS.test(rootNamespaces)) throw new RangeError('rootNamespaceDeclarations is malformed');
  const signedInfoNamespaces = signedInfoNamespaceDeclarations(rootNamespaces);
  const sign = (uri: string, transforms: readonly string[], octets: string): string =>
    buildSignature({ uri, transforms, octets, suite, c14n, signedInfoNamespaces, certificate, privateKey: signer.privateKey });

  const listSignatures = (options.listIds ?? []).map((id) => {
    const range = canonical.idRanges.get(id);
    if (range === undefined || !NCNAME.test(id)) throw new RangeError(`no signable element with id "${id}"`);
    const subset = canonical.xml.slice(range.start, range.end);
    // Inclusive C14N of a subset renders the in-scope (root) namespaces on its apex, before its attributes.
    const nameEnd = subset.search(/[ >]/);
    if (!subset.startsWith('<') || nameEnd < 0) throw new RangeError(`idRanges for "${id}" is not an element`);
    return sign(`#${id}`, [c14n], subset.slice(0, nameEnd) + rootNamespaces + subset.slice(nameEnd));
  });

  const at = canonical.rootEndTagOffset;
  const withLists = canonical.xml.slice(0, at) + listSignatures.join('') + canonical.xml.slice(at);
  // Enveloped transform + C14N of the whole document = the document as it is before this signature is inserted.
  const documentSignature = sign('', [ALGORITHM.envelopedSignature, c14n], withLists);
  const end = at + listSignatures.reduce((length, signature) => length + signature.length, 0);
  return withLists.slice(0, end) + documentSignature + withLists.slice(end);
}

interface SignatureParts {
  readonly uri: string;
  readonly transforms: readonly string[];
  readonly octets: string;
  readonly suite: (typeof SUITES)[SignatureAlgorithmName];
  readonly c14n: string;
  readonly signedInfoNamespaces: string;
  readonly certificate: string;
  readonly privateKey: KeyObject;
}

/** Builds one canonical `Signature` element (every attribute value here is a fixed URI, an NCName id or base64). */
function buildSignature(parts: SignatureParts): string {
  const digest = createHash(parts.suite.hash).update(parts.octets, 'utf8').digest('base64');
  const transforms = parts.transforms.map((uri) => `<Transform Algorithm="${uri}"></Transform>`).join('');
  const signedInfoContent =
    `<CanonicalizationMethod Algorithm="${parts.c14n}"></CanonicalizationMethod>` +
    `<SignatureMethod Algorithm="${parts.suite.signature}"></SignatureMethod>` +
    `<Reference URI="${parts.uri}"><Transforms>${transforms}</Transforms>` +
    `<DigestMethod Algorithm="${parts.suite.digest}"></DigestMethod><DigestValue>${digest}</DigestValue></Reference>`;
  const canonicalSignedInfo = `<SignedInfo${parts.signedInfoNamespaces}>${signedInfoContent}</SignedInfo>`;
  const signatureValue = createSign(parts.suite.hash).update(canonicalSignedInfo, 'utf8').sign(parts.privateKey, 'base64');
  return (
    `<Signature xmlns="${NS.ds}"><SignedInfo>${signedInfoContent}</SignedInfo>` +
    `<SignatureValue>${signatureValue}</SignatureValue>` +
    `<KeyInfo><X509Data><X509Certificate>${parts.certificate}</X509Certificate></X509Data></KeyInfo></Signature>`
  );
}

/**
 * The namespace axis of `SignedInfo` in canonical order: the default namespace (XML-DSig) sorts first,
 * then the root's prefixed declarations, which `rootNamespaceDeclarations` already lists in canonical order.
 */
function signedInfoNamespaceDeclarations(rootNamespaces: string): string {
  const rootDefault = / xmlns="([^"]*)"/.exec(rootNamespaces);
  if (rootDefault?.[1] === NS.ds) throw new RangeError('root default namespace must not be XML-DSig');
  return ` xmlns="${NS.ds}"` + rootNamespaces.replace(/ xmlns="[^"]*"/, '');
}
