/**
 * The service's error model. Domain code throws these; only `http/error-mapping.ts` turns them into
 * HTTP statuses. `message` is safe to show a client when the status is < 500; `detail` is internal
 * (logged, never sent). Neither may ever contain key bytes, tokens, wrapped blobs or request XML.
 *
 * Programmer errors (broken invariants) are plain `Error`/`RangeError`, not `ServiceError`s.
 */

export type ErrorCode =
  | 'ERR_CONFIG_INVALID'
  | 'ERR_REQUEST_INVALID'
  | 'ERR_PAYLOAD_TOO_LARGE'
  | 'ERR_UNSUPPORTED_MEDIA_TYPE'
  | 'ERR_CPIX_INVALID'
  | 'ERR_CPIX_UNSUPPORTED'
  | 'ERR_CPIX_SIGNATURE_INVALID'
  | 'ERR_REQUEST_SIGNATURE_REQUIRED'
  | 'ERR_SPEKE_REJECTED'
  | 'ERR_WEAK_CERTIFICATE'
  | 'ERR_AUTH_REQUIRED'
  | 'ERR_FORBIDDEN'
  | 'ERR_RATE_LIMITED'
  | 'ERR_NOT_FOUND'
  | 'ERR_ALREADY_EXISTS'
  | 'ERR_IN_USE'
  | 'ERR_CONCURRENT_CHANGE'
  | 'ERR_KEY_CONFLICT'
  | 'ERR_CONTENT_REVOKED'
  | 'ERR_KEY_UNWRAP_FAILED'
  | 'ERR_MASTER_KEY_MISMATCH'
  | 'ERR_STORE_UNAVAILABLE'
  | 'ERR_KMS_UNAVAILABLE'
  | 'ERR_DURABILITY_NOT_CONFIRMED';

export interface ServiceErrorOptions {
  readonly cause?: unknown;
  /** Internal explanation for the log; never sent to a client. */
  readonly detail?: string;
}

export abstract class ServiceError extends Error {
  abstract readonly code: ErrorCode;
  readonly detail: string | undefined;

  constructor(message: string, options: ServiceErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.detail = options.detail;
  }
}

/**
 * A SPEKE v2 request failed one of the checks AWS lists for SPEKE v2 key providers (docs/key-exchange.md,
 * SPEKE). `message` is exactly the
 * protocol-mandated string (e.g. `Unsupported CPIX@version`), which the SPEKE routes send as the
 * plain-text body: encryptors and the AWS test suite compare it literally.
 */
export class SpekeRejected extends ServiceError {
  readonly code = 'ERR_SPEKE_REJECTED';
}

/** A configuration value is missing or malformed; thrown by `loadConfig` and stops the process. */
/** Invalid configuration: every problem found, one sentence each (`message` joins them). */
export class ConfigError extends ServiceError {
  readonly code = 'ERR_CONFIG_INVALID';
  readonly problems: readonly string[];
  constructor(problems: string | readonly string[], options: ServiceErrorOptions = {}) {
    const list = typeof problems === 'string' ? [problems] : problems;
    super(list.join('; '), options);
    this.problems = list;
  }
}

/** A request body or parameter violates its schema or a domain rule (bad site ID, unknown option). */
export class RequestInvalid extends ServiceError {
  readonly code = 'ERR_REQUEST_INVALID';
}

/** A request body exceeds the configured size limit. */
export class PayloadTooLarge extends ServiceError {
  readonly code = 'ERR_PAYLOAD_TOO_LARGE';
}

/** A request body of a media type the route does not accept. */
export class UnsupportedMediaType extends ServiceError {
  readonly code = 'ERR_UNSUPPORTED_MEDIA_TYPE';
}

/**
 * A CPIX document that is not acceptable XML or breaks a CPIX rule: DOCTYPE, size/depth limits, bad
 * UUID/base64/length, duplicate KID. The message names the path, e.g. `ContentKey[kid=…]@explicitIV`.
 */
export class CpixInvalid extends ServiceError {
  readonly code = 'ERR_CPIX_INVALID';
}

/**
 * Valid CPIX that we refuse: an unknown usage-rule filter, an element that narrows key use that we do
 * not understand, a version we cannot emit (shaka's UNIMPLEMENTED, kept apart from invalid input).
 */
export class CpixUnsupported extends ServiceError {
  readonly code = 'ERR_CPIX_UNSUPPORTED';
}

/** An XML signature that does not verify, or whose signer is not a pinned trusted certificate. */
export class CpixSignatureInvalid extends ServiceError {
  readonly code = 'ERR_CPIX_SIGNATURE_INVALID';
}

/**
 * A key request of a site that requires signed requests (`requestSignerCertificates`) carries no
 * valid whole-document signature by one of them: the request is not authenticated as the site's.
 */
export class RequestSignatureRequired extends ServiceError {
  readonly code = 'ERR_REQUEST_SIGNATURE_REQUIRED';
}

/** A recipient or signer certificate below the key-size or digest policy (RSA < 2048, SHA-1 signed). */
export class WeakCertificate extends ServiceError {
  readonly code = 'ERR_WEAK_CERTIFICATE';
}

/** No credential, or a credential that does not authenticate. The public text never says which. */
export class Unauthenticated extends ServiceError {
  readonly code = 'ERR_AUTH_REQUIRED';
  constructor(options: ServiceErrorOptions = {}) {
    super('authentication failed', options);
  }
}

/**
 * A rate limit is used up for the current window: failed authentications from this client address
 * or for this credential, or keys created by a site. `retryAfterSeconds` is when the window closes
 * (sent as `Retry-After`).
 */
export class TooManyRequests extends ServiceError {
  readonly code = 'ERR_RATE_LIMITED';
  constructor(
    readonly retryAfterSeconds: number,
    options: ServiceErrorOptions = {},
    message = 'too many failed authentications; retry later',
  ) {
    super(message, options);
  }
}

/** An authenticated caller asks for something that belongs to another site or is disabled. */
export class Forbidden extends ServiceError {
  readonly code = 'ERR_FORBIDDEN';
}

export const kmsTokenRevoked = (tokenId: string) => new Unauthenticated({ detail: `token ${tokenId} is revoked` });

export const siteDisabled = (siteId: string) => new Forbidden(`site ${siteId} is disabled`);

/**
 * A key request's site changed, or its token was revoked, after it was authenticated (from a
 * short-lived cache): its store step created nothing. Never answered as such; the key route
 * authenticates again from the store, which answers what is current (a refusal, or the request
 * under the site's new settings).
 */
export class StaleAuthentication extends Error {
  constructor() {
    super('the site or token changed after authentication');
    this.name = 'StaleAuthentication';
  }
}

/** The addressed site, token or content does not exist. */
export class NotFound extends ServiceError {
  readonly code = 'ERR_NOT_FOUND';
}

/** Creating something whose identifier is already taken (a site ID given by the caller). */
export class Conflict extends ServiceError {
  readonly code = 'ERR_ALREADY_EXISTS';
}

/** Deleting something that is still referenced (a content policy assigned to a content or named by a rule). */
export class InUse extends ServiceError {
  readonly code = 'ERR_IN_USE';
}

/** What the request acts on kept changing while it was answered (a site's settings, its key rotation); nothing was changed, retry. */
export class ConcurrentChange extends ServiceError {
  readonly code = 'ERR_CONCURRENT_CHANGE';
}

/** A request contradicts a stored key it cannot change (another IV for an existing key). */
export class KeyConflict extends ServiceError {
  readonly code = 'ERR_KEY_CONFLICT';
}

/** The content, or a key of it the request names, was revoked: its keys are never handed out again. */
export class ContentRevoked extends ServiceError {
  readonly code = 'ERR_CONTENT_REVOKED';
}

/**
 * Any failure to unwrap a content key or site key: wrong key, tampered blob, blob moved to another
 * record. Deliberately one opaque error (no oracle on which check failed).
 */
export class KeyIntegrityError extends ServiceError {
  readonly code = 'ERR_KEY_UNWRAP_FAILED';
  constructor(options: ServiceErrorOptions = {}) {
    super('stored key failed its integrity check', options);
  }
}

/**
 * The configured master key is not the one the store was created with: the store's key-check value
 * does not open under it, or was made by another provider (docs/decisions.md, decision 58). At start
 * the service refuses to run; found later, `/readyz` reports it and site-key operations refuse. The
 * message is fixed; `detail` names the configuration to fix, never key material.
 */
export class MasterKeyMismatch extends ServiceError {
  readonly code = 'ERR_MASTER_KEY_MISMATCH';
  constructor(options: ServiceErrorOptions = {}) {
    super('master key does not match the key store', options);
  }
}

/** A dependency the request needs (key store, master key service) cannot be used right now. */
export class DependencyUnavailable extends ServiceError {
  constructor(
    readonly code: 'ERR_STORE_UNAVAILABLE' | 'ERR_KMS_UNAVAILABLE' | 'ERR_DURABILITY_NOT_CONFIRMED',
    message: string,
    options: ServiceErrorOptions = {},
  ) {
    super(message, options);
  }
}
