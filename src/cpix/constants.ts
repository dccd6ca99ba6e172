/** Namespaces of CPIX documents (DASH-IF CPIX 2.3 §5.2 and its XSD). Prefixes are what we emit; on input prefixes are irrelevant. */
export const NS = {
  cpix: 'urn:dashif:org:cpix',
  pskc: 'urn:ietf:params:xml:ns:keyprov:pskc',
  enc: 'http://www.w3.org/2001/04/xmlenc#',
  ds: 'http://www.w3.org/2000/09/xmldsig#',
  /** SPEKE v1 extension elements (AWS). */
  speke: 'urn:aws:amazon:com:speke',
} as const;

/**
 * The service's own namespace: the grant a license export carries in each usage rule
 * (docs/license-servers.md). The parser keeps its elements so that exports read back; key requests
 * holding anything in it are refused (exchange/export-extensions.ts).
 */
export const KMS_EXPORT_NAMESPACE = 'urn:cpix-kms:license-export:1';

/** Algorithm URIs on the wire (DASH-IF CPIX 2.3 §6.1.4, Mandatory Algorithms; W3C XML Encryption and XML Signature). */
export const ALGORITHM = {
  aes256Cbc: 'http://www.w3.org/2001/04/xmlenc#aes256-cbc',
  hmacSha512: 'http://www.w3.org/2001/04/xmldsig-more#hmac-sha512',
  rsaOaepMgf1p: 'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p',
  rsaSha256: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  rsaSha512: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512',
  sha256: 'http://www.w3.org/2001/04/xmlenc#sha256',
  sha512: 'http://www.w3.org/2001/04/xmlenc#sha512',
  c14n10: 'http://www.w3.org/TR/2001/REC-xml-c14n-20010315',
  c14n11: 'http://www.w3.org/2006/12/xml-c14n11',
  envelopedSignature: 'http://www.w3.org/2000/09/xmldsig#enveloped-signature',
} as const;

/** Byte lengths fixed by CPIX key delivery (DASH-IF CPIX 2.3 §6.1, Key Encryption in the CPIX Document). */
export const DOCUMENT_KEY_LENGTH_BYTES = 256 / 8;
export const MAC_KEY_LENGTH_BYTES = 512 / 8;
export const CBC_IV_LENGTH_BYTES = 128 / 8;
export const VALUE_MAC_LENGTH_BYTES = 512 / 8;
export const CONTENT_KEY_LENGTHS_BYTES: readonly number[] = [16, 32];
export const EXPLICIT_IV_LENGTH_BYTES = 128 / 8;
