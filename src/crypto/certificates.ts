import { createHash, X509Certificate } from 'node:crypto';
import { CpixInvalid, CpixUnsupported, WeakCertificate } from '../errors';

/**
 * X.509 handling for CPIX recipients and signers: parsing, the key-size/digest policy and the
 * thumbprint used to match a `DeliveryData` to one of our certificates.
 */

/**
 * Certificate policy. CPIX recommends RSA ≥ 3072 (DASH-IF CPIX 2.3 §6.1.4, Mandatory Algorithms) and Axinom
 * enforces it, but SPEKE requires 2048-bit certificates (AWS SPEKE v2, Customizations and constraints),
 * so the minimum is a setting whose default is 2048.
 * SHA-1-signed certificates are refused by default: CPIX says not to use them, Axinom refuses them, and
 * no SPEKE rule requires accepting them (the DASH-IF `WeakCert_Sha1` vector is exactly this case).
 */
export interface CertificatePolicy {
  readonly minRsaBits: number;
  readonly rejectSha1: boolean;
}

/**
 * Bounds on what one RSA public-key operation may cost: a request names its recipients' keys, and
 * each is used twice per answer (RSA-OAEP of the document and MAC keys), a request signer's to verify.
 * A 16,384-bit modulus cost about 1 ms an encryption, a 3,072-bit one with a 3,071-bit exponent 5.8 ms
 * (against 0.11 ms for 2,048 bits and 65537). 8,192 bits is twice the largest modulus DRM certificates
 * use; RFC 8017 allows any odd exponent, and every certificate in practice has 65537 (2^16 + 1).
 */
export const MAX_RSA_KEY_SIZE_BITS = 8192;
const MAX_RSA_PUBLIC_EXPONENT = 0xffff_ffffn;

/** SPEKE-compatible minimum (2048); CPIX's recommended 3072 is `{ minRsaBits: 3072 }`. */
export const MIN_RSA_KEY_SIZE_BITS = 2048;

export const DEFAULT_CERTIFICATE_POLICY: CertificatePolicy = Object.freeze({
  minRsaBits: MIN_RSA_KEY_SIZE_BITS,
  rejectSha1: true,
});

/**
 * Parses a certificate given as DER bytes or PEM text. Throws `CpixInvalid` (message names `path`)
 * when it is not an X.509 certificate.
 */
export function parseCertificate(input: Buffer | string, path = 'X509Certificate'): X509Certificate {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(input);
  } catch (error) {
    throw new CpixInvalid(`${path}: not an X.509 certificate`, { cause: error });
  }
  try {
    // Node decodes the public key only when it is first read: a certificate whose key does not decode
    // would otherwise pass here and throw later, inside policy checks or key wrapping (a 500; found by
    // scripts/fuzz.mjs with a bit flip in a DeliveryData certificate).
    void certificate.publicKey;
  } catch (error) {
    throw new CpixInvalid(`${path}: the certificate's public key cannot be read`, { cause: error });
  }
  return certificate;
}

/**
 * Enforces `policy` on a recipient or signer certificate. `path` names it in the error message
 * (e.g. `DeliveryData[1]`). Throws `WeakCertificate` for a small RSA key or a SHA-1 signature and
 * `CpixUnsupported` for a non-RSA key (CPIX key wrapping is RSA-OAEP only) or one beyond the cost
 * bounds (`MAX_RSA_KEY_SIZE_BITS`, an exponent above 2^32).
 */
export function assertCertificatePolicy(
  certificate: X509Certificate,
  policy: CertificatePolicy = DEFAULT_CERTIFICATE_POLICY,
  path = 'certificate',
): void {
  const key = certificate.publicKey;
  if (key.asymmetricKeyType !== 'rsa') {
    throw new CpixUnsupported(`${path}: only RSA certificates are supported`);
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < policy.minRsaBits) {
    throw new WeakCertificate(`${path}: RSA key of ${bits} bits is below the minimum of ${policy.minRsaBits}`);
  }
  if (bits > MAX_RSA_KEY_SIZE_BITS) {
    throw new CpixUnsupported(`${path}: RSA key of ${bits} bits is above the maximum of ${MAX_RSA_KEY_SIZE_BITS}`);
  }
  if ((key.asymmetricKeyDetails?.publicExponent ?? 0n) > MAX_RSA_PUBLIC_EXPONENT) {
    throw new CpixUnsupported(`${path}: RSA public exponents above 2^32 are not supported`);
  }
  if (policy.rejectSha1 && isSignedWithSha1(certificate.raw)) {
    throw new WeakCertificate(`${path}: certificate is signed with SHA-1`);
  }
}

/** SHA-256 of the DER encoding, lower-case hex: how recipients are matched (Axinom uses a thumbprint too). */
export function certificateThumbprint(certificate: X509Certificate): string {
  return createHash('sha256').update(certificate.raw).digest('hex');
}

// DER of the signature-algorithm OIDs that mean "SHA-1" (RFC 3279 §2.2, RFC 5758 is SHA-2 only).
const SHA1_SIGNATURE_OIDS: readonly Buffer[] = [
  '2a864886f70d010105', // 1.2.840.113549.1.1.5 sha1WithRSAEncryption
  '2b0e03021d', // 1.3.14.3.2.29 sha1WithRSASignature (OIW)
  '2a8648ce3d0401', // 1.2.840.10045.4.1 ecdsa-with-SHA1
  '2a8648ce380403', // 1.2.840.10040.4.3 dsa-with-sha1
].map((hex) => Buffer.from(hex, 'hex'));
const RSASSA_PSS_OID = Buffer.from('2a864886f70d01010a', 'hex'); // 1.2.840.113549.1.1.10
const SHA2_HASH_OID_PREFIX = Buffer.from('6086480165030402', 'hex'); // 2.16.840.1.101.3.4.2.* (NIST hashes)

/**
 * Reads `Certificate.signatureAlgorithm` (RFC 5280 §4.1.1.2) from the DER: Node 20's X509Certificate
 * does not expose it. RSASSA-PSS defaults its hash to SHA-1 (RFC 4055 §3.1), so PSS without an
 * explicit SHA-2 hash counts as SHA-1.
 */
function isSignedWithSha1(der: Buffer): boolean {
  const certificate = readTlv(der, 0, 0x30);
  const tbs = readTlv(der, certificate.contentStart, 0x30);
  const algorithm = readTlv(der, tbs.end, 0x30);
  const oid = readTlv(der, algorithm.contentStart, 0x06);
  const oidBytes = der.subarray(oid.contentStart, oid.end);
  if (SHA1_SIGNATURE_OIDS.some((sha1) => sha1.equals(oidBytes))) return true;
  if (oidBytes.equals(RSASSA_PSS_OID)) {
    return !der.subarray(oid.end, algorithm.end).includes(SHA2_HASH_OID_PREFIX);
  }
  return false;
}

interface Tlv {
  readonly contentStart: number;
  readonly end: number;
}

function readTlv(der: Buffer, offset: number, expectedTag: number): Tlv {
  if (der[offset] !== expectedTag) throw new CpixInvalid('X509Certificate: malformed DER');
  const first = der[offset + 1];
  if (first === undefined) throw new CpixInvalid('X509Certificate: malformed DER');
  let length = first;
  let contentStart = offset + 2;
  if (first & 0x80) {
    const count = first & 0x7f;
    if (count === 0 || count > 4) throw new CpixInvalid('X509Certificate: malformed DER');
    length = 0;
    for (let i = 0; i < count; i += 1) {
      const byte = der[contentStart + i];
      if (byte === undefined) throw new CpixInvalid('X509Certificate: malformed DER');
      length = length * 256 + byte;
    }
    contentStart += count;
  }
  const end = contentStart + length;
  if (end > der.length) throw new CpixInvalid('X509Certificate: malformed DER');
  return { contentStart, end };
}
