/** Path parameters of the admin API, checked before use; one that does not fit is never echoed. */

import { POLICY_NAME_PATTERN } from '../content-policy/ports';
import { NotFound } from '../errors';
import { assertContentId } from '../keys/content-key-service';
import { SITE_ID_PATTERN } from '../sites/site';

/** A path segment that is not a site ID is never echoed (it could be anything a caller pasted). */
export function siteIdParam(value: string | undefined): string {
  if (value === undefined || !SITE_ID_PATTERN.test(value)) throw new NotFound('site not found');
  return value;
}

/** Credential IDs (KMS tokens, license servers) are 16 base64url characters. */
const CREDENTIAL_ID_PATTERN = /^[A-Za-z0-9_-]{16}$/;

/** License-server IDs are credential IDs; anything else is not echoed either. */
export function licenseServerIdParam(value: string | undefined): string {
  if (value === undefined || !CREDENTIAL_ID_PATTERN.test(value)) throw new NotFound('license server not found');
  return value;
}

/**
 * A token ID, never a whole token: someone who pastes `kms1.<id>.<secret>` here must not find the
 * secret echoed in the 404 or in the log line of the refusal.
 */
export function tokenIdParam(value: string | undefined): string {
  if (value === undefined || !CREDENTIAL_ID_PATTERN.test(value)) throw new NotFound('token not found');
  return value;
}


/** A content ID as the key routes accept it (`assertContentId`). */
export function contentIdParam(value: string | undefined): string {
  if (value === undefined) throw new NotFound('content not found');
  assertContentId(value);
  return value;
}

export function policyNameParam(value: string | undefined): string {
  if (value === undefined || !POLICY_NAME_PATTERN.test(value)) throw new NotFound('policy not found');
  return value;
}
