import { availableParallelism } from 'node:os';
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from '../errors';
import { parseStoreUrl, type StoreConfig } from './store-url';

/**
 * Where a secret comes from: configured (env or mounted file), or — only outside production — a
 * development file in the data folder that `main` creates on first start.
 */
export type SecretSource<T> =
  | { readonly kind: 'configured'; readonly value: T }
  | { readonly kind: 'dev-file'; readonly path: string };

export type MasterKeyConfig =
  | { readonly provider: 'local'; readonly key: SecretSource<Buffer> }
  | {
      readonly provider: 'aws-kms';
      readonly keyId: string;
      readonly region: string;
      readonly endpoint?: string;
    };

export interface SigningConfig {
  readonly privateKey: KeyObject;
  readonly certificate: X509Certificate;
  readonly privateKeyPem: string;
  readonly certificatePem: string;
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** The whole configuration, parsed once at start and frozen. */
export interface Config {
  readonly port: number;
  readonly host: string;
  readonly store: StoreConfig;
  readonly redis: {
    readonly keyPrefix: string;
    readonly waitReplicas: number;
    readonly waitTimeoutMs: number;
    readonly requireDurable: boolean;
  };
  readonly masterKey: MasterKeyConfig;
  readonly siteKeyCacheTtlMs: number;
  readonly adminToken: SecretSource<string>;
  /**
   * The XML-DSig identity of key-exchange answers (PallyCon CPIX API by default, SPEKE when a site
   * asks). Outside production a self-signed development identity in DATA_DIR stands in when none is
   * configured.
   */
  readonly signing: SecretSource<SigningConfig>;
  /**
   * The XML-DSig identity of license exports, never the one of key-exchange answers: a tenant can
   * make the service sign a key-exchange answer of its choosing, so a license server that trusts
   * only this identity cannot be handed one as an export. Same development fallback.
   */
  readonly exportSigning: SecretSource<SigningConfig>;
  /** How long a license export may be accepted after it was made (EXPORT_VALIDITY_SECONDS). */
  readonly exportValidityMs: number;
  readonly bodyLimitBytes: number;
  /**
   * Per-request and per-site bounds of key creation: the keys one request may ask for, and the keys
   * one site may create per minute (0 = no limit), so that one tenant cannot hold the store or the
   * service for everyone.
   */
  readonly keyLimits: { readonly perRequest: number; readonly createdPerMinute: number };
  /** Reverse proxies in front of the service whose X-Forwarded-For is believed (express `trust proxy` hops). */
  readonly trustProxyHops: number;
  /** Failed authentications allowed per client address / per credential ID in one window (0 = no limit). */
  readonly authFailures: { readonly perAddress: number; readonly perCredential: number; readonly windowMs: number };
  readonly logLevel: LogLevel;
  readonly shutdownGraceMs: number;
  /**
   * Node's HTTP timeouts: a slow-drip client (slowloris) cannot hold a connection for longer than these
   * to send its headers, or its whole request.
   */
  readonly http: { readonly headersTimeoutMs: number; readonly requestTimeoutMs: number; readonly keepAliveTimeoutMs: number };
  /**
   * Service processes sharing the port (node:cluster). Default: one per core on Redis, one on the
   * embedded SQLite store (its single writer gains nothing from more).
   */
  readonly workers: number;
  /** Bearer token `GET /metrics` requires (METRICS_TOKEN / METRICS_TOKEN_FILE); absent = open. */
  readonly metricsToken?: string;
}

export type Env = Readonly<Record<string, string | undefined>>;
export type ReadFile = (path: string) => Buffer;

const MASTER_KEY_LENGTH_BYTES = 256 / 8;
/** Below this an admin token is guessable; generated ones have 256 bits. */
const MIN_ADMIN_TOKEN_LENGTH = 32;
const MIN_SIGNING_RSA_BITS = 2048;
const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Buffer.isBuffer(value) && !Object.isFrozen(value)) {
    const isPlain = Object.getPrototypeOf(value) === Object.prototype || Array.isArray(value);
    if (isPlain) {
      for (const child of Object.values(value)) deepFreeze(child);
      Object.freeze(value);
    }
  }
  return value;
}

/**
 * Parses the environment (and the files it points to) into a frozen `Config`.
 * @throws ConfigError naming the first invalid variable; the message never contains a secret value.
 */
export function loadConfig(env: Env, readFile: ReadFile = readFileSync): Config {
  const text = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  };

  /** A value from NAME or from the file named by NAME_FILE (Kubernetes Secret mounts); not both. */
  const secret = (name: string): string | undefined => {
    const direct = text(name);
    const file = text(`${name}_FILE`);
    if (direct !== undefined && file !== undefined) throw new ConfigError(`set either ${name} or ${name}_FILE, not both`);
    if (file === undefined) return direct;
    try {
      return readFile(file).toString('utf8').trim();
    } catch (error) {
      throw new ConfigError(`${name}_FILE: cannot read ${file}`, { cause: error });
    }
  };

  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = text(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || value < min || value > max) {
      throw new ConfigError(`${name} must be an integer from ${min} to ${max}`);
    }
    return value;
  };

  const boolean = (name: string, fallback: boolean): boolean => {
    const raw = text(name)?.toLowerCase();
    if (raw === undefined) return fallback;
    if (raw === 'true' || raw === '1') return true;
    if (raw === 'false' || raw === '0') return false;
    throw new ConfigError(`${name} must be true or false`);
  };

  const production = text('NODE_ENV') === 'production';
  const dataDir = resolve(text('DATA_DIR') ?? './data');
  const devFile = (name: string, file: string) => {
    if (production) throw new ConfigError(`${name} (or ${name}_FILE) is required when NODE_ENV=production`);
    return { kind: 'dev-file' as const, path: resolve(dataDir, file) };
  };

  const port = integer('PORT', 8080, 0, 65535);
  const host = text('HOST') ?? '0.0.0.0';

  let store: StoreConfig;
  try {
    store = parseStoreUrl(secret('STORE') ?? `sqlite:${resolve(dataDir, 'cpix-kms.db')}`);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError('STORE is not a valid store URL', { cause: error });
  }

  const redis = {
    keyPrefix: text('REDIS_KEY_PREFIX') ?? 'cpixkms',
    waitReplicas: integer('REDIS_WAIT_REPLICAS', 0, 0, 16),
    waitTimeoutMs: integer('REDIS_WAIT_TIMEOUT_MS', 1000, 1, 60_000),
    requireDurable: boolean('REDIS_REQUIRE_DURABLE', false),
  };
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(redis.keyPrefix)) {
    throw new ConfigError('REDIS_KEY_PREFIX must be 1 to 64 letters, digits, ".", "_" or "-"');
  }

  const provider = text('MASTER_KEY_PROVIDER') ?? 'local';
  let masterKey: MasterKeyConfig;
  if (provider === 'local') {
    const encoded = secret('MASTER_KEY');
    if (encoded === undefined) {
      masterKey = { provider, key: devFile('MASTER_KEY', 'master.key') };
    } else {
      const key = Buffer.from(encoded, 'base64');
      if (key.length !== MASTER_KEY_LENGTH_BYTES || key.toString('base64') !== encoded) {
        throw new ConfigError('MASTER_KEY must be the base64 encoding of exactly 32 bytes');
      }
      masterKey = { provider, key: { kind: 'configured', value: key } };
    }
  } else if (provider === 'aws-kms') {
    const keyId = text('AWS_KMS_KEY_ID');
    const region = text('AWS_REGION') ?? text('AWS_DEFAULT_REGION');
    if (keyId === undefined) throw new ConfigError('AWS_KMS_KEY_ID is required when MASTER_KEY_PROVIDER=aws-kms');
    if (region === undefined) throw new ConfigError('AWS_REGION is required when MASTER_KEY_PROVIDER=aws-kms');
    const endpoint = text('AWS_KMS_ENDPOINT');
    if (endpoint !== undefined && !/^https?:\/\/[^\s]+$/.test(endpoint)) {
      throw new ConfigError('AWS_KMS_ENDPOINT must be an http(s) URL');
    }
    masterKey = { provider, keyId, region, ...(endpoint !== undefined && { endpoint }) };
  } else {
    throw new ConfigError('MASTER_KEY_PROVIDER must be local or aws-kms');
  }

  const adminTokenValue = secret('ADMIN_TOKEN');
  if (adminTokenValue !== undefined && adminTokenValue.length < MIN_ADMIN_TOKEN_LENGTH) {
    throw new ConfigError(`ADMIN_TOKEN must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters`);
  }
  const adminToken: SecretSource<string> =
    adminTokenValue === undefined
      ? devFile('ADMIN_TOKEN', 'admin-token')
      : { kind: 'configured', value: adminTokenValue };

  const logLevel = (text('LOG_LEVEL') ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`);

  const configuredSigning = loadSigning('SIGNING', text('SIGNING_KEY_FILE'), text('SIGNING_CERT_FILE'), readFile);
  if (configuredSigning === undefined && production) {
    throw new ConfigError('SIGNING_KEY_FILE and SIGNING_CERT_FILE are required when NODE_ENV=production (PallyCon CPIX API responses are signed)');
  }
  const configuredExportSigning = loadSigning('EXPORT_SIGNING', text('EXPORT_SIGNING_KEY_FILE'), text('EXPORT_SIGNING_CERT_FILE'), readFile);
  if (configuredExportSigning === undefined && production) {
    throw new ConfigError('EXPORT_SIGNING_KEY_FILE and EXPORT_SIGNING_CERT_FILE are required when NODE_ENV=production (license exports are signed)');
  }
  if (
    configuredSigning !== undefined &&
    configuredExportSigning !== undefined &&
    configuredSigning.certificate.publicKey.equals(configuredExportSigning.certificate.publicKey)
  ) {
    throw new ConfigError('EXPORT_SIGNING_KEY_FILE must hold another key than SIGNING_KEY_FILE (a key-exchange answer must never verify as a license export)');
  }
  const devIdentity = (configured: SigningConfig | undefined, file: string): SecretSource<SigningConfig> =>
    configured === undefined ? { kind: 'dev-file', path: resolve(dataDir, file) } : { kind: 'configured', value: configured };
  const signing = devIdentity(configuredSigning, 'signing');
  const exportSigning = devIdentity(configuredExportSigning, 'export-signing');

  const keyLimits = {
    perRequest: integer('MAX_KEYS_PER_REQUEST', 1000, 1, 5000),
    createdPerMinute: integer('MAX_KEYS_CREATED_PER_MINUTE', 10_000, 0, 10_000_000),
  };
  if (keyLimits.createdPerMinute !== 0 && keyLimits.createdPerMinute < keyLimits.perRequest) {
    // Otherwise a request for a content's first keys could never be answered.
    throw new ConfigError('MAX_KEYS_CREATED_PER_MINUTE must be 0 or at least MAX_KEYS_PER_REQUEST');
  }

  const metricsToken = secret('METRICS_TOKEN');
  if (metricsToken !== undefined && metricsToken.length < MIN_ADMIN_TOKEN_LENGTH) {
    throw new ConfigError(`METRICS_TOKEN must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters`);
  }

  return deepFreeze({
    port,
    host,
    store,
    redis,
    masterKey,
    siteKeyCacheTtlMs: integer('SITE_KEY_CACHE_TTL_SECONDS', 300, 1, 86_400) * 1000,
    adminToken,
    signing,
    exportSigning,
    exportValidityMs: integer('EXPORT_VALIDITY_SECONDS', 3600, 60, 86_400) * 1000,
    bodyLimitBytes: integer('BODY_LIMIT_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
    keyLimits,
    trustProxyHops: integer('TRUST_PROXY_HOPS', 0, 0, 10),
    authFailures: {
      perAddress: integer('AUTH_FAILURES_PER_ADDRESS', 20, 0, 1_000_000),
      perCredential: integer('AUTH_FAILURES_PER_CREDENTIAL', 100, 0, 1_000_000),
      windowMs: integer('AUTH_FAILURE_WINDOW_SECONDS', 60, 1, 86_400) * 1000,
    },
    logLevel,
    shutdownGraceMs: integer('SHUTDOWN_GRACE_SECONDS', 10, 0, 3600) * 1000,
    http: {
      headersTimeoutMs: integer('HTTP_HEADERS_TIMEOUT_SECONDS', 10, 1, 600) * 1000,
      requestTimeoutMs: integer('HTTP_REQUEST_TIMEOUT_SECONDS', 30, 1, 3600) * 1000,
      keepAliveTimeoutMs: integer('HTTP_KEEP_ALIVE_TIMEOUT_SECONDS', 5, 1, 600) * 1000,
    },
    workers: integer('WORKERS', store.kind === 'redis' ? availableParallelism() : 1, 1, 256),
    ...(metricsToken !== undefined && { metricsToken }),
  });
}

/** Loads and cross-checks an XML-DSig signing key and certificate (`<name>_KEY_FILE`, `<name>_CERT_FILE`); both or neither. */
function loadSigning(name: 'SIGNING' | 'EXPORT_SIGNING', keyFile: string | undefined, certFile: string | undefined, readFile: ReadFile) {
  const keyVar = `${name}_KEY_FILE`;
  const certVar = `${name}_CERT_FILE`;
  if (keyFile === undefined && certFile === undefined) return undefined;
  if (keyFile === undefined || certFile === undefined) {
    throw new ConfigError(`${keyVar} and ${certVar} must be set together`);
  }
  const read = (name: string, path: string) => {
    try {
      return readFile(path).toString('utf8');
    } catch (error) {
      throw new ConfigError(`${name}: cannot read ${path}`, { cause: error });
    }
  };
  const privateKeyPem = read(keyVar, keyFile);
  const certificatePem = read(certVar, certFile);
  let privateKey: KeyObject;
  let certificate: X509Certificate;
  try {
    privateKey = createPrivateKey(privateKeyPem);
  } catch {
    throw new ConfigError(`${keyVar} does not hold a PEM private key`);
  }
  try {
    certificate = new X509Certificate(certificatePem);
  } catch {
    throw new ConfigError(`${certVar} does not hold a PEM X.509 certificate`);
  }
  if (privateKey.asymmetricKeyType !== 'rsa' || (privateKey.asymmetricKeyDetails?.modulusLength ?? 0) < MIN_SIGNING_RSA_BITS) {
    throw new ConfigError(`${keyVar} must be an RSA key of at least ${MIN_SIGNING_RSA_BITS} bits`);
  }
  if (!certificate.checkPrivateKey(privateKey)) {
    throw new ConfigError(`${certVar} does not match ${keyVar}`);
  }
  return { privateKey, certificate, privateKeyPem, certificatePem };
}
