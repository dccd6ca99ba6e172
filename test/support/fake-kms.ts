import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  randomBytes,
  randomUUID,
  timingSafeEqual,
} from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An in-process stand-in for AWS KMS that speaks the real wire protocol (JSON 1.1 over HTTP,
 * `X-Amz-Target: TrentService.<Operation>`, SigV4-signed requests), so the real `@aws-sdk/client-kms`
 * — its signer, retry strategy, timeouts and error deserializer — runs against it. It keeps its own key
 * material and binds the EncryptionContext and the key into every CiphertextBlob, refusing a mismatch
 * the way KMS does. It is deliberately independent of `src/crypto` (its own AES-GCM framing), so it
 * cannot share a bug with the code under test.
 */

export type KmsOperation = 'GenerateDataKey' | 'Decrypt' | 'Encrypt' | 'DescribeKey';
export type FakeKeyState = 'Enabled' | 'Disabled' | 'PendingDeletion';

export interface FakeKmsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** One request as the fake saw it, for assertions. */
export interface FakeKmsCall {
  /** The operation named by `X-Amz-Target` (may be one the fake does not implement). */
  readonly operation: string;
  readonly keyId: string | undefined;
  readonly encryptionContext: Readonly<Record<string, string>> | undefined;
  /** From the SigV4 credential scope; undefined when the request was not signed. */
  readonly accessKeyId: string | undefined;
  /** `'ok'`, the `__type` of the error answered, `'hung'` or `'truncated'`. */
  readonly outcome: string;
}

/** Fault switches; flip them between calls. `reset()` turns them all off. */
export interface FakeKmsFaults {
  /** Answer every request with AccessDeniedException. */
  denyAll: boolean;
  /** Answer these operations with AccessDeniedException. */
  readonly deny: Set<KmsOperation>;
  /** Answer the next `throttle` requests with ThrottlingException (`Infinity`: all of them). */
  throttle: number;
  /** Read requests and never answer them (a black-holed endpoint). */
  hang: boolean;
  /** Answer 200 with a cut-off JSON body, as a truncating proxy would. */
  truncate: boolean;
}

export interface FakeKms {
  readonly region: string;
  readonly accountId: string;
  /** The only credentials whose signatures the fake accepts. */
  readonly credentials: FakeKmsCredentials;
  /** ARN of the key created with the fake; its alias is `alias` below. */
  readonly keyArn: string;
  readonly alias: string;
  /** Every request received since start or the last `reset()`, in order. */
  readonly calls: readonly FakeKmsCall[];
  readonly faults: FakeKmsFaults;
  /** `http://127.0.0.1:<port>`; throws before the first `start()`. */
  readonly endpoint: string;
  /** Adds another symmetric key (optionally with an alias name such as `alias/other`); returns its ARN. */
  createKey(alias?: string): string;
  /** Disabled → DisabledException; PendingDeletion → KMSInvalidStateException (as KMS answers). */
  setKeyState(state: FakeKeyState, keyArn?: string): void;
  /** Fault switches off, every key Enabled, call log cleared. */
  reset(): void;
  /** Listens on 127.0.0.1 (a free port the first time, the same port on a restart); resolves the endpoint. */
  start(): Promise<string>;
  /** Closes the listener and drops every connection, including hung requests. */
  stop(): Promise<void>;
}

export interface FakeKmsOptions {
  readonly region?: string;
  readonly accountId?: string;
  readonly credentials?: FakeKmsCredentials;
}

/** Test-only credentials; the secret is also what the fake verifies signatures with. */
export const FAKE_KMS_CREDENTIALS: FakeKmsCredentials = {
  accessKeyId: 'AKIAFAKEKMS000000001',
  secretAccessKey: 'fake-kms-secret-access-key-for-tests-only',
};

interface FakeKey {
  readonly keyId: string;
  readonly arn: string;
  readonly material: Buffer;
  readonly createdAt: Date;
  state: FakeKeyState;
}

class KmsError extends Error {
  constructor(
    readonly type: string,
    message?: string,
    readonly status = 400,
  ) {
    super(message ?? type);
  }
}

type Json = Record<string, unknown>;

const BLOB_FORMAT = 0x01;
const KEY_ID_LENGTH = 36; // a UUID in text form, as KMS key IDs are
const NONCE_LENGTH = 12;
const TAG_LENGTH = 16;
const MAX_BODY_BYTES = 64 * 1024;
/** KMS refuses requests signed more than 5 minutes away from its clock. */
const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;
const JSON_CONTENT_TYPE = 'application/x-amz-json-1.1';
const TARGET_PREFIX = 'TrentService.';
// AWS4-HMAC-SHA256 Credential=<akid>/<yyyymmdd>/<region>/<service>/aws4_request, SignedHeaders=…, Signature=<hex>
const AUTHORIZATION_PATTERN = new RegExp(
  '^AWS4-HMAC-SHA256 Credential=([^/\\s]+)/(\\d{8})/([^/\\s]+)/([^/\\s]+)/aws4_request, ?' +
    'SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$',
);

/** Creates a fake KMS with one Enabled key; call `start()` before use. */
export function createFakeKms(options: FakeKmsOptions = {}): FakeKms {
  const region = options.region ?? 'eu-west-1';
  const accountId = options.accountId ?? '111122223333';
  const credentials = options.credentials ?? FAKE_KMS_CREDENTIALS;
  const keys = new Map<string, FakeKey>();
  const aliases = new Map<string, string>();
  const calls: FakeKmsCall[] = [];
  const faults: FakeKmsFaults = { denyAll: false, deny: new Set(), throttle: 0, hang: false, truncate: false };
  let port = 0;
  let listening = false;

  function createKey(alias?: string): string {
    const keyId = randomUUID();
    const arn = `arn:aws:kms:${region}:${accountId}:key/${keyId}`;
    keys.set(keyId, { keyId, arn, material: randomBytes(32), createdAt: new Date(), state: 'Enabled' });
    if (alias !== undefined) aliases.set(alias, keyId);
    return arn;
  }

  const alias = 'alias/cpix-kms-test';
  const keyArn = createKey(alias);

  /** Key ID, key ARN, alias name or alias ARN → key, as KMS resolves a `KeyId` parameter. */
  function resolveKey(id: string): FakeKey {
    const aliasArnPrefix = `arn:aws:kms:${region}:${accountId}:`;
    const name = id.startsWith(`${aliasArnPrefix}alias/`) ? id.slice(aliasArnPrefix.length) : id;
    const keyId = name.startsWith('alias/')
      ? aliases.get(name)
      : name.startsWith(`${aliasArnPrefix}key/`)
        ? name.slice(`${aliasArnPrefix}key/`.length)
        : name;
    const key = keyId === undefined ? undefined : keys.get(keyId);
    if (!key) throw new KmsError('NotFoundException', `Key '${id}' does not exist`);
    return key;
  }

  function assertUsable(key: FakeKey): void {
    if (key.state === 'Disabled') throw new KmsError('DisabledException', `${key.arn} is disabled.`);
    if (key.state === 'PendingDeletion') {
      throw new KmsError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
    }
  }

  // Blob: format(1) ‖ key ID(36, ASCII) ‖ nonce(12) ‖ ciphertext ‖ tag(16); AAD = key ARN + context.
  function sealBlob(key: FakeKey, plaintext: Buffer, context: Record<string, string>): Buffer {
    const nonce = randomBytes(NONCE_LENGTH);
    const cipher = createCipheriv('aes-256-gcm', key.material, nonce);
    cipher.setAAD(blobAad(key, context));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const header = Buffer.concat([Buffer.from([BLOB_FORMAT]), Buffer.from(key.keyId, 'ascii'), nonce]);
    return Buffer.concat([header, body, cipher.getAuthTag()]);
  }

  function blobKey(blob: Buffer): FakeKey {
    const key = blob.length >= 1 + KEY_ID_LENGTH + NONCE_LENGTH + TAG_LENGTH && blob[0] === BLOB_FORMAT
      ? keys.get(blob.subarray(1, 1 + KEY_ID_LENGTH).toString('ascii'))
      : undefined;
    if (!key) throw new KmsError('InvalidCiphertextException', '');
    return key;
  }

  function openBlob(key: FakeKey, blob: Buffer, context: Record<string, string>): Buffer {
    const nonceAt = 1 + KEY_ID_LENGTH;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key.material, blob.subarray(nonceAt, nonceAt + NONCE_LENGTH));
      decipher.setAAD(blobAad(key, context));
      decipher.setAuthTag(blob.subarray(blob.length - TAG_LENGTH));
      const body = blob.subarray(nonceAt + NONCE_LENGTH, blob.length - TAG_LENGTH);
      return Buffer.concat([decipher.update(body), decipher.final()]);
    } catch {
      // KMS answers a context mismatch or a damaged blob with a bare InvalidCiphertextException.
      throw new KmsError('InvalidCiphertextException', '');
    }
  }

  const operations: Record<KmsOperation, (input: Json) => Json> = {
    GenerateDataKey(input) {
      const key = resolveKey(requiredString(input, 'KeyId'));
      assertUsable(key);
      const plaintext = randomBytes(dataKeyLength(input));
      return {
        KeyId: key.arn,
        Plaintext: plaintext.toString('base64'),
        CiphertextBlob: sealBlob(key, plaintext, contextOf(input)).toString('base64'),
      };
    },
    Encrypt(input) {
      const key = resolveKey(requiredString(input, 'KeyId'));
      assertUsable(key);
      const plaintext = blobOf(input, 'Plaintext');
      return {
        KeyId: key.arn,
        CiphertextBlob: sealBlob(key, plaintext, contextOf(input)).toString('base64'),
        EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
      };
    },
    Decrypt(input) {
      const blob = blobOf(input, 'CiphertextBlob');
      const requested = typeof input['KeyId'] === 'string' ? resolveKey(input['KeyId']) : undefined;
      const key = blobKey(blob);
      if (requested && requested !== key) {
        throw new KmsError(
          'IncorrectKeyException',
          'The key ID in the request does not identify a KMS key that can perform this operation.',
        );
      }
      assertUsable(key);
      return {
        KeyId: key.arn,
        Plaintext: openBlob(key, blob, contextOf(input)).toString('base64'),
        EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
      };
    },
    DescribeKey(input) {
      const key = resolveKey(requiredString(input, 'KeyId'));
      return {
        KeyMetadata: {
          AWSAccountId: accountId,
          KeyId: key.keyId,
          Arn: key.arn,
          CreationDate: key.createdAt.getTime() / 1000,
          Enabled: key.state === 'Enabled',
          KeyState: key.state,
          KeyUsage: 'ENCRYPT_DECRYPT',
          KeySpec: 'SYMMETRIC_DEFAULT',
          CustomerMasterKeySpec: 'SYMMETRIC_DEFAULT',
          EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
          Origin: 'AWS_KMS',
          KeyManager: 'CUSTOMER',
          MultiRegion: false,
          Description: 'cpix-kms fake KMS key',
        },
      };
    },
  };

  function answer(operation: string, input: Json): Json {
    if (faults.throttle > 0) {
      faults.throttle -= 1;
      throw new KmsError('ThrottlingException', 'Rate exceeded');
    }
    if (faults.denyAll || faults.deny.has(operation as KmsOperation)) {
      const resource = typeof input['KeyId'] === 'string' ? input['KeyId'] : keyArn;
      throw new KmsError(
        'AccessDeniedException',
        `User: arn:aws:sts::${accountId}:assumed-role/cpix-kms/test is not authorized to perform: ` +
          `kms:${operation} on resource: ${resource} ` +
          `because no identity-based policy allows the kms:${operation} action`,
      );
    }
    const handler = Object.hasOwn(operations, operation) ? operations[operation as KmsOperation] : undefined;
    if (!handler) throw new KmsError('UnknownOperationException');
    return handler(input);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const operation = (headerOf(req, 'x-amz-target') ?? '').replace(TARGET_PREFIX, '');
    let input: Json = {};
    let accessKeyId: string | undefined;
    const record = (outcome: string) =>
      calls.push({
        operation,
        keyId: typeof input['KeyId'] === 'string' ? input['KeyId'] : undefined,
        encryptionContext: isStringMap(input['EncryptionContext']) ? input['EncryptionContext'] : undefined,
        accessKeyId,
        outcome,
      });
    try {
      input = parseJsonObject(body);
      if (faults.hang) {
        record('hung');
        return; // never answered; `stop()` or the client's timeout ends the connection
      }
      if (req.method !== 'POST' || req.url !== '/' || headerOf(req, 'content-type') !== JSON_CONTENT_TYPE) {
        throw new KmsError('UnknownOperationException');
      }
      accessKeyId = verifySignature(req, body, { region, credentials, now: new Date() });
      const output = answer(operation, input);
      if (faults.truncate) {
        record('truncated');
        const text = JSON.stringify(output);
        res.writeHead(200, { 'Content-Type': JSON_CONTENT_TYPE, 'Content-Length': text.length - 10 });
        res.end(text.slice(0, -10));
        return;
      }
      record('ok');
      send(res, 200, output);
    } catch (error) {
      const failure = error instanceof KmsError ? error : new KmsError('KMSInternalException', undefined, 500);
      record(failure.type);
      send(res, failure.status, { __type: failure.type, ...(failure.message ? { message: failure.message } : {}) });
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });

  return {
    region,
    accountId,
    credentials,
    keyArn,
    alias,
    calls,
    faults,
    get endpoint() {
      if (port === 0) throw new Error('fake KMS not started');
      return `http://127.0.0.1:${port}`;
    },
    createKey,
    setKeyState(state, arn = keyArn) {
      resolveKey(arn).state = state;
    },
    reset() {
      Object.assign(faults, { denyAll: false, throttle: 0, hang: false, truncate: false });
      faults.deny.clear();
      for (const key of keys.values()) key.state = 'Enabled';
      calls.length = 0;
    },
    async start() {
      if (!listening) {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(port, '127.0.0.1', () => {
            server.off('error', reject);
            resolve();
          });
        });
        port = (server.address() as AddressInfo).port;
        listening = true;
      }
      return `http://127.0.0.1:${port}`;
    },
    async stop() {
      if (!listening) return;
      listening = false;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

/**
 * Checks an AWS Signature Version 4 header signature the way AWS does: scope (date, region, `kms`),
 * clock skew, payload hash, then the HMAC over the canonical request. Returns the access key ID.
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
 */
function verifySignature(
  req: IncomingMessage,
  body: Buffer,
  expected: { readonly region: string; readonly credentials: FakeKmsCredentials; readonly now: Date },
): string {
  const authorization = headerOf(req, 'authorization');
  if (authorization === undefined) {
    throw new KmsError('MissingAuthenticationTokenException', 'Missing Authentication Token');
  }
  const match = AUTHORIZATION_PATTERN.exec(authorization);
  const amzDate = headerOf(req, 'x-amz-date') ?? '';
  const dateMatch = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!match || !dateMatch) throw new KmsError('IncompleteSignatureException', 'Malformed Authorization header');
  const [, accessKeyId = '', scopeDate, scopeRegion, scopeService, signedHeaderList = '', signature = ''] = match;
  if (accessKeyId !== expected.credentials.accessKeyId) {
    throw new KmsError('UnrecognizedClientException', 'The security token included in the request is invalid.');
  }
  const signedHeaders = signedHeaderList.split(';');
  if (
    scopeDate !== amzDate.slice(0, 8) ||
    scopeRegion !== expected.region ||
    scopeService !== 'kms' ||
    !signedHeaders.includes('host') ||
    !signedHeaders.includes('x-amz-date')
  ) {
    throw new KmsError(
      'InvalidSignatureException',
      'Credential should be scoped to a valid region and service, and sign host and x-amz-date.',
    );
  }
  const [, y, mo, d, h, mi, s] = dateMatch.map(Number);
  const signedAt = Date.UTC(y ?? 0, (mo ?? 1) - 1, d, h, mi, s);
  if (Math.abs(expected.now.getTime() - signedAt) > MAX_CLOCK_SKEW_MS) {
    throw new KmsError('InvalidSignatureException', `Signature expired: ${amzDate} is too far from the server time`);
  }
  const payloadHash = createHash('sha256').update(body).digest('hex');
  const declaredHash = headerOf(req, 'x-amz-content-sha256');
  if (declaredHash !== undefined && declaredHash !== payloadHash) {
    throw new KmsError('InvalidSignatureException', "The 'x-amz-content-sha256' header does not match the body");
  }
  const canonicalHeaders = signedHeaders.map((name) => {
    const value = headerOf(req, name);
    if (value === undefined) throw new KmsError('InvalidSignatureException', `Signed header ${name} is missing`);
    return `${name}:${value.trim().replace(/\s+/g, ' ')}\n`;
  });
  const canonicalRequest = ['POST', '/', '', canonicalHeaders.join(''), signedHeaderList, payloadHash].join('\n');
  const scope = `${scopeDate}/${scopeRegion}/${scopeService}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  let signingKey = Buffer.from(`AWS4${expected.credentials.secretAccessKey}`, 'utf8');
  for (const part of [scopeDate ?? '', scopeRegion ?? '', scopeService ?? '', 'aws4_request']) {
    signingKey = createHmac('sha256', signingKey).update(part).digest();
  }
  const computed = createHmac('sha256', signingKey).update(stringToSign).digest();
  if (!timingSafeEqual(computed, Buffer.from(signature, 'hex'))) {
    throw new KmsError(
      'InvalidSignatureException',
      'The request signature we calculated does not match the signature you provided.',
    );
  }
  return accessKeyId;
}

/** The context is bound in sorted-key order: KMS treats it as an unordered map. */
function blobAad(key: FakeKey, context: Record<string, string>): Buffer {
  const entries = Object.keys(context)
    .sort()
    .map((name) => [name, context[name]]);
  return Buffer.from(JSON.stringify(['fake-kms/v1', key.arn, entries]), 'utf8');
}

function dataKeyLength(input: Json): number {
  const spec = input['KeySpec'];
  const bytes = input['NumberOfBytes'];
  if (spec === 'AES_256' && bytes === undefined) return 32;
  if (spec === 'AES_128' && bytes === undefined) return 16;
  if (spec === undefined && typeof bytes === 'number' && Number.isInteger(bytes) && bytes >= 1 && bytes <= 1024) {
    return bytes;
  }
  throw new KmsError('ValidationException', 'Please specify either number of bytes or key spec.');
}

function contextOf(input: Json): Record<string, string> {
  const context = input['EncryptionContext'];
  if (context === undefined) return {};
  if (!isStringMap(context)) {
    throw new KmsError('SerializationException', 'EncryptionContext must map strings to strings');
  }
  return context;
}

function blobOf(input: Json, field: string): Buffer {
  const value = requiredString(input, field);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value)) throw new KmsError('SerializationException', `${field} is not base64`);
  return Buffer.from(value, 'base64');
}

function requiredString(input: Json, field: string): string {
  const value = input[field];
  if (typeof value !== 'string' || value.length === 0) {
    throw new KmsError('ValidationException', `1 validation error detected: Value at '${field}' failed a constraint`);
  }
  return value;
}

function isStringMap(value: unknown): value is Record<string, string> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((v) => typeof v === 'string')
  );
}

function parseJsonObject(body: Buffer): Json {
  try {
    const parsed: unknown = JSON.parse(body.length === 0 ? '{}' : body.toString('utf8'));
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Json;
  } catch {
    // fall through to the same error as a non-object body
  }
  throw new KmsError('SerializationException', 'Start of structure or map found where not expected.');
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > MAX_BODY_BYTES) throw new Error('request body too large');
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

function send(res: ServerResponse, status: number, payload: Json): void {
  const body = JSON.stringify(payload);
  res.writeHead(status, {
    'Content-Type': JSON_CONTENT_TYPE,
    'Content-Length': Buffer.byteLength(body),
    'x-amzn-RequestId': randomUUID(),
  });
  res.end(body);
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}
