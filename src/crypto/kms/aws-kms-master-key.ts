import {
  DecryptCommand,
  DescribeKeyCommand,
  GenerateDataKeyCommand,
  KMSClient,
  type KMSClientConfig,
} from '@aws-sdk/client-kms';
import { DependencyUnavailable, KeyIntegrityError, type ServiceError } from '../../errors';
import { systemClock, type Clock } from '../random';
import type { MasterKeyCheckValue, MasterKeyProvider, SiteKeyContext, WrappedSiteKey } from './master-key';

const SITE_KEY_LENGTH_BYTES = 256 / 8;
/** KMS accepts CiphertextBlob of 1 to 6144 bytes; anything else is answered with a ValidationException. */
const MAX_CIPHERTEXT_BLOB_BYTES = 6144;
const DEFAULT_READY_CACHE_MS = 30_000;
// A dead KMS must turn into a 503 in seconds: worst case ≈ maxAttempts × (connect + request) + backoff.
const DEFAULT_CONNECT_TIMEOUT_MS = 1_000;
const DEFAULT_REQUEST_TIMEOUT_MS = 2_000;
const DEFAULT_MAX_ATTEMPTS = 3;
const UNAVAILABLE_MESSAGE = 'master key service unavailable';
/** SDK and AWS error messages go into the internal detail only, and only this much of them. */
const MAX_MESSAGE_CHARS = 300;

type KmsAction = 'GenerateDataKey' | 'Decrypt' | 'DescribeKey';

export interface AwsKmsMasterKeyOptions {
  /**
   * The symmetric `ENCRYPT_DECRYPT` KMS key: key ARN (recommended), key ID, alias name or alias ARN.
   * Decrypt is pinned to this key, so pointing an alias at another key makes older site keys
   * unreadable: re-wrap them first.
   */
  readonly keyId: string;
  readonly region: string;
  /** Another KMS endpoint (VPC interface endpoint, FIPS endpoint, a test double). */
  readonly endpoint?: string;
  /** A ready client; when given, `region`, `endpoint`, `credentials`, timeouts and attempts are not used. */
  readonly client?: KMSClient;
  /** Explicit credentials; by default the SDK's chain (environment, web identity, ECS/EC2 role…). */
  readonly credentials?: KMSClientConfig['credentials'];
  /** How long a `checkReady` result (either way) is reused, so probes do not spend KMS quota. */
  readonly readyCacheMs?: number;
  /** Per attempt: TCP/TLS connection set-up. */
  readonly connectTimeoutMs?: number;
  /** Per attempt: from sending the request to the end of the response. */
  readonly requestTimeoutMs?: number;
  /** Attempts per call, first one included; the SDK retries throttling, timeouts and network errors. */
  readonly maxAttempts?: number;
  readonly clock?: Clock;
}

/** The aws-kms provider; `close()` frees the HTTP connections of a client it created itself. */
export interface AwsKmsMasterKey extends MasterKeyProvider {
  close(): void;
}

/**
 * The EncryptionContext of a site key. KMS binds the ciphertext to it (Decrypt under another site or
 * version fails) and CloudTrail records it with every call, so an operator sees which site key was
 * used. Part of the stored format: changing it makes every existing site key unreadable.
 */
export function siteKeyEncryptionContext(context: SiteKeyContext): Record<string, string> {
  return {
    'cpix-kms:purpose': 'site-key',
    'cpix-kms:site': context.siteId,
    'cpix-kms:version': String(context.version),
  };
}

/**
 * The EncryptionContext of the store's key-check value (decision 58): a data key made for this purpose
 * only, whose plaintext is discarded. Decrypt succeeding with it, pinned to the configured key, proves the
 * configured key is the one the store was created with. Part of the stored format.
 */
export const CHECK_VALUE_ENCRYPTION_CONTEXT: Readonly<Record<string, string>> = Object.freeze({
  'cpix-kms:purpose': 'master-key-check',
});

/**
 * Master key held in AWS KMS: site keys come from `GenerateDataKey` (AES_256) and are unwrapped with
 * `Decrypt`; the master key never leaves KMS. The service role needs `kms:GenerateDataKey`,
 * `kms:Decrypt` and `kms:DescribeKey` (readiness) on the key; a policy may further require
 * `kms:EncryptionContext:cpix-kms:purpose` to be `site-key` or `master-key-check` (the store's key-check
 * value, made once per store and decrypted at every start).
 *
 * Errors: a blob that KMS refuses (`InvalidCiphertextException`, `IncorrectKeyException`) is a
 * `KeyIntegrityError`; everything else that keeps KMS from answering (access denied, key disabled or
 * missing, throttling, network, timeouts, rejected credentials) is `DependencyUnavailable`
 * `ERR_KMS_UNAVAILABLE` with an operator-oriented `detail`.
 */
export function createAwsKmsMasterKey(options: AwsKmsMasterKeyOptions): AwsKmsMasterKey {
  const { keyId, region, endpoint } = options;
  if (keyId === '' || region === '') throw new RangeError('aws-kms master key needs a key ID and a region');
  const client = options.client ?? createClient(options);
  const readyCacheMs = options.readyCacheMs ?? DEFAULT_READY_CACHE_MS;
  const clock = options.clock ?? systemClock;
  const where = { keyId, region, endpoint: options.client ? undefined : endpoint };
  let readiness: { readonly until: number; readonly result: Promise<void> } | undefined;

  async function call<T>(action: KmsAction, request: Promise<T>, wrapped?: WrappedSiteKey | MasterKeyCheckValue): Promise<T> {
    try {
      return await request;
    } catch (error) {
      throw toServiceError(error, action, where, wrapped);
    }
  }

  async function describeKey(): Promise<void> {
    const { KeyMetadata: metadata } = await call('DescribeKey', client.send(new DescribeKeyCommand({ KeyId: keyId })));
    if (metadata?.KeyState !== 'Enabled') {
      throw unavailable(
        `AWS KMS key ${keyId} is ${metadata?.KeyState ?? 'in an unknown state'}, not Enabled — ` +
          'enable the key (or cancel its pending deletion)',
      );
    }
    if (metadata.KeyUsage !== 'ENCRYPT_DECRYPT' || metadata.KeySpec !== 'SYMMETRIC_DEFAULT') {
      throw unavailable(
        `AWS KMS key ${keyId} is a ${metadata.KeySpec} ${metadata.KeyUsage} key; ` +
          'site keys need a SYMMETRIC_DEFAULT ENCRYPT_DECRYPT key',
      );
    }
  }

  return {
    name: 'aws-kms',
    async generateSiteKey(context) {
      const output = await call(
        'GenerateDataKey',
        client.send(
          new GenerateDataKeyCommand({
            KeyId: keyId,
            KeySpec: 'AES_256',
            EncryptionContext: siteKeyEncryptionContext(context),
          }),
        ),
      );
      const plaintext = takeSiteKey(output.Plaintext);
      if (!plaintext || !output.CiphertextBlob || !output.KeyId) {
        plaintext?.fill(0);
        throw unavailable(`AWS KMS GenerateDataKey on key ${keyId} returned an incomplete response or no 32-byte key`);
      }
      const wrapped: WrappedSiteKey = {
        provider: 'aws-kms',
        masterKeyId: output.KeyId,
        blob: Buffer.from(output.CiphertextBlob),
      };
      return { plaintext, wrapped };
    },
    async unwrapSiteKey(wrapped, context) {
      if (wrapped.provider !== 'aws-kms') {
        throw new KeyIntegrityError({ detail: `site key was wrapped by provider ${wrapped.provider}, not aws-kms` });
      }
      // Checked here so a damaged record is an integrity failure, not a KMS ValidationException (a 503).
      if (wrapped.blob.length === 0 || wrapped.blob.length > MAX_CIPHERTEXT_BLOB_BYTES) {
        throw new KeyIntegrityError({ detail: `site key blob has ${wrapped.blob.length} bytes, not a KMS ciphertext` });
      }
      const output = await call(
        'Decrypt',
        client.send(
          new DecryptCommand({
            // Pinned: without KeyId, KMS would use whichever key the blob names.
            KeyId: keyId,
            CiphertextBlob: wrapped.blob,
            EncryptionContext: siteKeyEncryptionContext(context),
          }),
        ),
        wrapped,
      );
      const plaintext = takeSiteKey(output.Plaintext);
      if (!plaintext) {
        throw new KeyIntegrityError({ detail: `AWS KMS Decrypt on key ${keyId} did not yield a 32-byte site key` });
      }
      return plaintext;
    },
    async createCheckValue() {
      const output = await call(
        'GenerateDataKey',
        client.send(
          new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256', EncryptionContext: { ...CHECK_VALUE_ENCRYPTION_CONTEXT } }),
        ),
      );
      // The data key itself is never used: only KMS's ciphertext of it matters.
      output.Plaintext?.fill(0);
      if (!output.CiphertextBlob || !output.KeyId) {
        throw unavailable(`AWS KMS GenerateDataKey on key ${keyId} returned an incomplete response`);
      }
      return { provider: 'aws-kms', masterKeyId: output.KeyId, blob: Buffer.from(output.CiphertextBlob) };
    },
    async verifyCheckValue(check) {
      if (check.provider !== 'aws-kms') {
        throw new KeyIntegrityError({ detail: `check value was made by a ${check.provider} master key, not aws-kms` });
      }
      if (check.blob.length === 0 || check.blob.length > MAX_CIPHERTEXT_BLOB_BYTES) {
        throw new KeyIntegrityError({ detail: `check value blob has ${check.blob.length} bytes, not a KMS ciphertext` });
      }
      const output = await call(
        'Decrypt',
        client.send(
          new DecryptCommand({
            // Pinned: Decrypt must fail when the blob names another key, which is the point of the check.
            KeyId: keyId,
            CiphertextBlob: check.blob,
            EncryptionContext: { ...CHECK_VALUE_ENCRYPTION_CONTEXT },
          }),
        ),
        check,
      );
      output.Plaintext?.fill(0);
    },
    checkReady() {
      const now = clock().getTime();
      if (!readiness || readiness.until <= now) {
        readiness = { until: now + readyCacheMs, result: describeKey() };
      }
      return readiness.result;
    },
    close() {
      if (!options.client) client.destroy();
    },
  };
}

function createClient(options: AwsKmsMasterKeyOptions): KMSClient {
  const requestTimeout = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  return new KMSClient({
    region: options.region,
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
    maxAttempts: options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    requestHandler: {
      connectionTimeout: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      requestTimeout,
      // Without this the SDK only logs a warning when requestTimeout passes and keeps waiting.
      throwOnRequestTimeout: true,
      // requestTimeout stops at the response headers; this also bounds a body that stalls.
      socketTimeout: requestTimeout,
    },
  });
}

/** Copies the key out of the SDK's buffer and wipes that one; undefined unless exactly 32 bytes. */
function takeSiteKey(bytes: Uint8Array | undefined): Buffer | undefined {
  if (!bytes) return undefined;
  const key = Buffer.from(bytes);
  bytes.fill(0);
  if (key.length === SITE_KEY_LENGTH_BYTES) return key;
  key.fill(0);
  return undefined;
}

function unavailable(detail: string, cause?: unknown): DependencyUnavailable {
  return new DependencyUnavailable('ERR_KMS_UNAVAILABLE', UNAVAILABLE_MESSAGE, {
    detail,
    ...(cause === undefined ? {} : { cause }),
  });
}

interface SdkFailure {
  readonly name: string;
  readonly message: string;
  /** Set by the SDK on errors KMS answered with an error body. */
  readonly fault: string | undefined;
  /** Undefined when no HTTP response arrived (connection, timeout, credentials, configuration). */
  readonly httpStatus: number | undefined;
  readonly requestId: string | undefined;
  readonly attempts: number | undefined;
}

function readSdkFailure(error: unknown): SdkFailure {
  const record = (typeof error === 'object' && error !== null ? error : {}) as Record<string, unknown>;
  const metadata = (typeof record['$metadata'] === 'object' && record['$metadata'] !== null
    ? record['$metadata']
    : {}) as Record<string, unknown>;
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
  const count = (value: unknown) => (typeof value === 'number' ? value : undefined);
  return {
    name: text(record['name']) ?? 'Error',
    message: text(record['message']) ?? '',
    fault: text(record['$fault']),
    httpStatus: count(metadata['httpStatusCode']),
    requestId: text(metadata['requestId']),
    attempts: count(metadata['attempts']),
  };
}

const INTEGRITY_ERRORS = new Set(['InvalidCiphertextException', 'IncorrectKeyException']);
const KEY_STATE_ERRORS = new Set(['DisabledException', 'KMSInvalidStateException']);
const CREDENTIAL_ERRORS = new Set([
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'IncompleteSignatureException',
  'MissingAuthenticationTokenException',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'CredentialsProviderError',
]);

/**
 * Maps an SDK failure to the service's error model. The detail names the action, the key and what an
 * operator should check, with the error name, HTTP status, request ID and attempt count. The error's
 * message and the error itself (as `cause`) are kept only when KMS answered with an error body or no
 * response arrived at all: a response the SDK could not parse keeps its raw body on the error, and
 * for Decrypt that body holds the plaintext key.
 */
function toServiceError(
  error: unknown,
  action: KmsAction,
  where: { readonly keyId: string; readonly region: string; readonly endpoint: string | undefined },
  wrapped?: WrappedSiteKey | MasterKeyCheckValue,
): ServiceError {
  const failure = readSdkFailure(error);
  const { keyId } = where;
  const fromKms = failure.fault !== undefined;
  const unanswered = !fromKms && failure.httpStatus === undefined;
  const safe = fromKms || unanswered;
  const facts = [
    // 'UnknownError' is the SDK's stand-in when KMS sent no message (it does not for InvalidCiphertext).
    safe && failure.message && failure.message !== 'UnknownError'
      ? `"${failure.message.slice(0, MAX_MESSAGE_CHARS)}"`
      : undefined,
    failure.httpStatus === undefined ? undefined : `HTTP ${failure.httpStatus}`,
    failure.requestId ? `request ID ${failure.requestId}` : undefined,
    failure.attempts ? `${failure.attempts} attempt(s)` : undefined,
  ].filter((fact) => fact !== undefined);
  const summary = `${failure.name}${facts.length > 0 ? ` (${facts.join('; ')})` : ''}`;

  if (INTEGRITY_ERRORS.has(failure.name)) {
    // Opaque, and no cause: which check KMS failed is not for the caller to learn.
    return new KeyIntegrityError({
      detail:
        `AWS KMS refused the site key on kms:${action} with key ${keyId}: ${summary}; ` +
        `the blob was wrapped by ${wrapped?.masterKeyId ?? 'an unknown key'}`,
    });
  }
  let detail: string;
  if (failure.name === 'AccessDeniedException') {
    detail =
      `AWS KMS denied kms:${action} on key ${keyId}: ${summary} — ` +
      'check the IAM policy / key policy of the service role';
  } else if (KEY_STATE_ERRORS.has(failure.name)) {
    detail =
      `AWS KMS key ${keyId} cannot be used for kms:${action}: ${summary} — ` +
      'enable the key (or cancel its pending deletion)';
  } else if (failure.name === 'NotFoundException') {
    detail =
      `AWS KMS has no key ${keyId} in ${where.region} (kms:${action}): ${summary} — ` +
      'check the configured key and region';
  } else if (CREDENTIAL_ERRORS.has(failure.name)) {
    detail =
      `AWS KMS rejected the credentials for kms:${action} on key ${keyId}: ${summary} — ` +
      'check the service role / credential source and the host clock';
  } else if (failure.name === 'ThrottlingException') {
    detail =
      `AWS KMS throttled kms:${action} on key ${keyId}: ${summary} — ` +
      'raise the KMS request quota or lengthen the site-key cache TTL';
  } else if (unanswered) {
    detail =
      `AWS KMS did not answer kms:${action} on key ${keyId} at ${where.endpoint ?? `the ${where.region} endpoint`}: ` +
      `${summary} — check network access to KMS (VPC endpoint, security groups, proxy) and the endpoint settings`;
  } else {
    detail = `AWS KMS kms:${action} on key ${keyId} failed: ${summary}`;
  }
  return unavailable(detail, safe ? error : undefined);
}
