/**
 * SPEKE v2.0 / v2.1 request validation (the checks and error messages of AWS SPEKE API v2, in the order docs/key-exchange.md gives) on a parsed CPIX
 * document. The parser has already refused syntax errors (`CpixInvalid`, 400); what is left are the
 * protocol rules whose failures SPEKE v2 reports as a 4xx with one exact plain-text body, which
 * encryptors and the AWS verification suite compare literally. Each failure is a `SpekeRejected`
 * whose `message` is that body and nothing else; the internal reason goes in `detail`.
 */

import type { CpixDocument } from '../../cpix/model';
import { SpekeRejected } from '../../errors';
import { checkEncryptionContract } from './validate-contract';
import { findIncompatibleDrmSystem, isKnownScheme } from './validate-schemes';
import { CPIX_VERSION_FOR_SPEKE, type SpekeV2Version } from './version';

export { CPIX_VERSION_FOR_SPEKE, parseSpekeVersionHeader, type SpekeV2Version } from './version';

export const MISSING_CPIX_VERSION = 'Missing CPIX@version';
export const UNSUPPORTED_CPIX_VERSION = 'Unsupported CPIX@version';
export const MISSING_CONTENT_ID = 'Missing CPIX@contentId';
export const NON_COMPLIANT_SCHEME_COMBINATION = 'Non compliant ContentKey@commonEncryptionScheme combination';

/** `Missing ContentKey@commonEncryptionScheme for KID <kid>`, the kid as the request spelled it. */
export const missingSchemeMessage = (kid: string): string => `Missing ContentKey@commonEncryptionScheme for KID ${kid}`;

/** `ContentKey@commonEncryptionScheme non compatible with DRMSystem <systemId>`, systemId as sent. */
export const incompatibleSchemeMessage = (systemId: string): string =>
  `ContentKey@commonEncryptionScheme non compatible with DRMSystem ${systemId}`;

/**
 * Checks a SPEKE v2 request; returns normally when the document may be answered.
 *
 * Order, first failure wins: CPIX@version present → equal to the one `version` requires (2.0 → 2.3,
 * 2.1 → 2.4) → CPIX@contentId present → every ContentKey has a scheme → exactly one distinct, known
 * scheme → that scheme suits every DRMSystem → the encryption contract (missing → malformed → not
 * supported, see validate-contract.ts). An empty attribute counts as missing.
 *
 * A scheme value the SPEKE version does not define (e.g. `aes1`, or `SAMPLE-AES` under 2.0) is
 * reported as `Non compliant ContentKey@commonEncryptionScheme combination`: AWS lists no message of
 * its own for it, the spec's scheme list defines what a compliant value is, and the client needs a
 * SPEKE-level answer rather than a generic CPIX one.
 *
 * @throws SpekeRejected whose `message` is exactly one of the SPEKE v2 error messages.
 */
export function validateSpekeV2(document: CpixDocument, version: SpekeV2Version): void {
  if (isBlank(document.version)) throw new SpekeRejected(MISSING_CPIX_VERSION);
  if (document.version !== CPIX_VERSION_FOR_SPEKE[version]) {
    throw new SpekeRejected(UNSUPPORTED_CPIX_VERSION, { detail: `SPEKE ${version} needs CPIX ${CPIX_VERSION_FOR_SPEKE[version]}` });
  }
  if (isBlank(document.contentId)) throw new SpekeRejected(MISSING_CONTENT_ID);

  checkSchemes(document, version);
  checkEncryptionContract(document);
}

function isBlank(value: string | undefined): value is undefined | '' {
  return value === undefined || value === '';
}

function checkSchemes(document: CpixDocument, version: SpekeV2Version): void {
  const keys = document.contentKeyList?.items ?? [];
  const schemes = new Set<string>();
  for (const key of keys) {
    const scheme = key.commonEncryptionScheme;
    // Mandatory per ContentKey in v2, and "cannot be overriden" by us (AWS SPEKE API v2, Standard payload components).
    if (isBlank(scheme)) throw new SpekeRejected(missingSchemeMessage(key.kid));
    schemes.add(scheme);
  }

  // One scheme per document (AWS SPEKE API v2): the packager encrypts the whole presentation
  // one way, so mixed schemes would leave some keys unusable.
  const [scheme, ...others] = schemes;
  if (others.length > 0) throw new SpekeRejected(NON_COMPLIANT_SCHEME_COMBINATION, { detail: 'more than one scheme' });
  if (scheme !== undefined && !isKnownScheme(scheme, version)) {
    throw new SpekeRejected(NON_COMPLIANT_SCHEME_COMBINATION, { detail: `scheme not defined by SPEKE ${version}` });
  }

  const incompatible = findIncompatibleDrmSystem(document, version);
  if (incompatible !== undefined) throw new SpekeRejected(incompatibleSchemeMessage(incompatible.systemId));
}
