import { availableParallelism } from 'node:os';
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from '../errors';
import { SETTINGS, validateSettings, type Setting, type SettingName } from './settings';
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

export type LogLevel = (typeof SETTINGS.LOG_LEVEL.enum)[number];

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
const MIN_SIGNING_RSA_BITS = 2048;

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
 * Each setting's text: the variable trimmed (empty counts as unset), or for a setting that may come
 * from a file (`file` in `SETTINGS`), the file `<NAME>_FILE` names; never both.
 */
function settingTexts(env: Env, readFile: ReadFile, problems: string[]): Partial<Record<SettingName, string>> {
  const text = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  };
  const texts: Partial<Record<SettingName, string>> = {};
  for (const [name, setting] of Object.entries(SETTINGS) as [SettingName, Setting][]) {
    const direct = text(name);
    const file = setting.file === true ? text(`${name}_FILE`) : undefined;
    if (direct !== undefined && file !== undefined) {
      problems.push(`set either ${name} or ${name}_FILE, not both`);
    } else if (file !== undefined) {
      try {
        texts[name] = readFile(file).toString('utf8').trim();
      } catch {
        problems.push(`${name}_FILE: cannot read ${file}`);
      }
    } else if (direct !== undefined) {
      texts[name] = direct;
    }
  }
  return texts;
}

/**
 * Parses the environment (and the files it points to) into a frozen `Config`, validated against
 * `SETTINGS` and then checked across settings.
 * @throws ConfigError naming every invalid variable at once (`problems`); no message holds a secret value.
 */
export function loadConfig(env: Env, readFile: ReadFile = readFileSync): Config {
  const problems: string[] = [];
  const texts = settingTexts(env, readFile, problems);
  const validated = validateSettings(texts);
  if ('problems' in validated) throw new ConfigError([...problems, ...validated.problems]);
  const { settings } = validated;
  const attempt = <T>(check: () => T): T | undefined => {
    try {
      return check();
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.push(...error.problems);
      return undefined;
    }
  };

  const production = settings.NODE_ENV === 'production';
  const dataDir = resolve(settings.DATA_DIR);
  const devFile = (name: string, file: string) => {
    if (production) problems.push(`${name} (or ${name}_FILE) is required when NODE_ENV=production`);
    return { kind: 'dev-file' as const, path: resolve(dataDir, file) };
  };

  const store = attempt(() => {
    try {
      return parseStoreUrl(settings.STORE ?? `sqlite:${resolve(dataDir, 'cpix-kms.db')}`);
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      throw new ConfigError('STORE is not a valid store URL', { cause: error });
    }
  });

  let masterKey: MasterKeyConfig | undefined;
  if (settings.MASTER_KEY_PROVIDER === 'local') {
    const encoded = settings.MASTER_KEY;
    if (encoded === undefined) {
      masterKey = { provider: 'local', key: devFile('MASTER_KEY', 'master.key') };
    } else {
      const key = Buffer.from(encoded, 'base64');
      if (key.length !== MASTER_KEY_LENGTH_BYTES || key.toString('base64') !== encoded) {
        problems.push('MASTER_KEY must be the base64 encoding of exactly 32 bytes');
      }
      masterKey = { provider: 'local', key: { kind: 'configured', value: key } };
    }
  } else {
    const keyId = settings.AWS_KMS_KEY_ID;
    const region = settings.AWS_REGION ?? settings.AWS_DEFAULT_REGION;
    if (keyId === undefined) problems.push('AWS_KMS_KEY_ID is required when MASTER_KEY_PROVIDER=aws-kms');
    if (region === undefined) problems.push('AWS_REGION is required when MASTER_KEY_PROVIDER=aws-kms');
    const endpoint = settings.AWS_KMS_ENDPOINT;
    masterKey = { provider: 'aws-kms', keyId: keyId ?? '', region: region ?? '', ...(endpoint !== undefined && { endpoint }) };
  }

  const adminToken: SecretSource<string> =
    settings.ADMIN_TOKEN === undefined ? devFile('ADMIN_TOKEN', 'admin-token') : { kind: 'configured', value: settings.ADMIN_TOKEN };

  const configuredSigning = attempt(() => loadSigning('SIGNING', settings.SIGNING_KEY_FILE, settings.SIGNING_CERT_FILE, readFile));
  if (settings.SIGNING_KEY_FILE === undefined && settings.SIGNING_CERT_FILE === undefined && production) {
    problems.push('SIGNING_KEY_FILE and SIGNING_CERT_FILE are required when NODE_ENV=production (PallyCon CPIX API responses are signed)');
  }
  const configuredExportSigning = attempt(() =>
    loadSigning('EXPORT_SIGNING', settings.EXPORT_SIGNING_KEY_FILE, settings.EXPORT_SIGNING_CERT_FILE, readFile),
  );
  if (settings.EXPORT_SIGNING_KEY_FILE === undefined && settings.EXPORT_SIGNING_CERT_FILE === undefined && production) {
    problems.push('EXPORT_SIGNING_KEY_FILE and EXPORT_SIGNING_CERT_FILE are required when NODE_ENV=production (license exports are signed)');
  }
  if (
    configuredSigning !== undefined &&
    configuredExportSigning !== undefined &&
    configuredSigning.certificate.publicKey.equals(configuredExportSigning.certificate.publicKey)
  ) {
    problems.push('EXPORT_SIGNING_KEY_FILE must hold another key than SIGNING_KEY_FILE (a key-exchange answer must never verify as a license export)');
  }
  const devIdentity = (configured: SigningConfig | undefined, file: string): SecretSource<SigningConfig> =>
    configured === undefined ? { kind: 'dev-file', path: resolve(dataDir, file) } : { kind: 'configured', value: configured };

  const keyLimits = { perRequest: settings.MAX_KEYS_PER_REQUEST, createdPerMinute: settings.MAX_KEYS_CREATED_PER_MINUTE };
  if (keyLimits.createdPerMinute !== 0 && keyLimits.createdPerMinute < keyLimits.perRequest) {
    // Otherwise a request for a content's first keys could never be answered.
    problems.push('MAX_KEYS_CREATED_PER_MINUTE must be 0 or at least MAX_KEYS_PER_REQUEST');
  }

  if (problems.length > 0 || store === undefined || masterKey === undefined) throw new ConfigError(problems);
  return deepFreeze({
    port: settings.PORT,
    host: settings.HOST,
    store,
    redis: {
      keyPrefix: settings.REDIS_KEY_PREFIX,
      waitReplicas: settings.REDIS_WAIT_REPLICAS,
      waitTimeoutMs: settings.REDIS_WAIT_TIMEOUT_MS,
      requireDurable: settings.REDIS_REQUIRE_DURABLE,
    },
    masterKey,
    siteKeyCacheTtlMs: settings.SITE_KEY_CACHE_TTL_SECONDS * 1000,
    adminToken,
    signing: devIdentity(configuredSigning, 'signing'),
    exportSigning: devIdentity(configuredExportSigning, 'export-signing'),
    exportValidityMs: settings.EXPORT_VALIDITY_SECONDS * 1000,
    bodyLimitBytes: settings.BODY_LIMIT_BYTES,
    keyLimits,
    trustProxyHops: settings.TRUST_PROXY_HOPS,
    authFailures: {
      perAddress: settings.AUTH_FAILURES_PER_ADDRESS,
      perCredential: settings.AUTH_FAILURES_PER_CREDENTIAL,
      windowMs: settings.AUTH_FAILURE_WINDOW_SECONDS * 1000,
    },
    logLevel: settings.LOG_LEVEL,
    shutdownGraceMs: settings.SHUTDOWN_GRACE_SECONDS * 1000,
    http: {
      headersTimeoutMs: settings.HTTP_HEADERS_TIMEOUT_SECONDS * 1000,
      requestTimeoutMs: settings.HTTP_REQUEST_TIMEOUT_SECONDS * 1000,
      keepAliveTimeoutMs: settings.HTTP_KEEP_ALIVE_TIMEOUT_SECONDS * 1000,
    },
    workers: settings.WORKERS ?? (store.kind === 'redis' ? availableParallelism() : 1),
    ...(settings.METRICS_TOKEN !== undefined && { metricsToken: settings.METRICS_TOKEN }),
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
