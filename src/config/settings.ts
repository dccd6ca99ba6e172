import Ajv, { type ErrorObject } from 'ajv';

/**
 * Every environment variable the service reads, once: its type, bounds and default for validation
 * (a JSON Schema that ajv checks), and what an operator reads in the README's configuration table
 * (`configurationTable`, compared with the README by a test). `loadConfig` turns the validated values
 * into the typed `Config`.
 */
interface SettingBase {
  /** The table's Meaning column (Markdown). */
  readonly description: string;
  /** The table's Default column when the default is not one value (`dev file …`, `cores on Redis …`). */
  readonly defaultText?: string;
  /** May be given as `<NAME>_FILE`, the path of a file that holds it (a mounted Secret). */
  readonly file?: true;
}

interface IntegerSetting extends SettingBase {
  readonly type: 'integer';
  readonly minimum: number;
  readonly maximum: number;
  readonly default?: number;
}

interface BooleanSetting extends SettingBase {
  readonly type: 'boolean';
  readonly default: boolean;
}

interface StringSetting extends SettingBase {
  readonly type: 'string';
  readonly default?: string;
  readonly enum?: readonly string[];
  readonly pattern?: string;
  /** What `pattern` means, for the error message. */
  readonly patternText?: string;
  readonly minLength?: number;
}

export type Setting = IntegerSetting | BooleanSetting | StringSetting;

const DEV_FILE = 'dev file';

export const SETTINGS = {
  PORT: { type: 'integer', minimum: 0, maximum: 65535, default: 8080, description: 'Listen port (`0`: any free port).' },
  HOST: { type: 'string', default: '0.0.0.0', description: 'Listen address.' },
  NODE_ENV: {
    type: 'string',
    description: '`production`: refuse to start without a configured master key, admin token and signing identity (no development files).',
  },
  DATA_DIR: { type: 'string', default: './data', description: 'Folder of the embedded store and of development secrets.' },
  STORE: {
    type: 'string',
    file: true,
    defaultText: '`sqlite:$DATA_DIR/cpix-kms.db`',
    description: 'Key store URL, see below. May hold a password: use `STORE_FILE` from a Secret.',
  },
  REDIS_KEY_PREFIX: {
    type: 'string',
    default: 'cpixkms',
    pattern: '^[A-Za-z0-9_.-]{1,64}$',
    patternText: '1 to 64 letters, digits, ".", "_" or "-"',
    description: 'Prefix of every Redis key.',
  },
  REDIS_WAIT_REPLICAS: { type: 'integer', minimum: 0, maximum: 16, default: 0, description: 'After every write, `WAIT` for this many replicas before answering.' },
  REDIS_WAIT_TIMEOUT_MS: {
    type: 'integer',
    minimum: 1,
    maximum: 60_000,
    default: 1000,
    description: 'Timeout of that `WAIT`; fewer acknowledgements → 503, the key is not handed out.',
  },
  REDIS_REQUIRE_DURABLE: { type: 'boolean', default: false, description: 'Refuse to start when Redis persistence could lose an answered key.' },
  MASTER_KEY_PROVIDER: { type: 'string', enum: ['local', 'aws-kms'], default: 'local', description: '`local` or `aws-kms`.' },
  MASTER_KEY: {
    type: 'string',
    file: true,
    defaultText: `${DEV_FILE} \`$DATA_DIR/master.key\``,
    description: '`local`: base64 of exactly 32 bytes (`openssl rand -base64 32`).',
  },
  AWS_KMS_KEY_ID: { type: 'string', description: '`aws-kms`: key ID, ARN or alias.' },
  AWS_REGION: { type: 'string', description: '`aws-kms`: region (`AWS_DEFAULT_REGION` also read).' },
  AWS_DEFAULT_REGION: { type: 'string', description: '`aws-kms`: the region when `AWS_REGION` is not set.' },
  AWS_KMS_ENDPOINT: {
    type: 'string',
    pattern: '^https?://[^\\s]+$',
    patternText: 'an http(s) URL',
    description: '`aws-kms`: endpoint override (VPC endpoint, FIPS endpoint).',
  },
  SITE_KEY_CACHE_TTL_SECONDS: { type: 'integer', minimum: 1, maximum: 86_400, default: 300, description: 'How long an unwrapped site key stays in memory.' },
  ADMIN_TOKEN: {
    type: 'string',
    file: true,
    minLength: 32,
    defaultText: `${DEV_FILE} \`$DATA_DIR/admin-token\``,
    description: 'Bearer token of the admin API, at least 32 characters.',
  },
  SIGNING_KEY_FILE: {
    type: 'string',
    defaultText: `${DEV_FILE} \`$DATA_DIR/signing.pem\``,
    description:
      'PEM RSA private key (≥ 2048 bits) for XML-DSig signing of key-exchange answers (PallyCon CPIX API; SPEKE where a site asks). Set with `SIGNING_CERT_FILE` or not at all; required when `NODE_ENV=production`; in development a self-signed pair is created once.',
  },
  SIGNING_CERT_FILE: {
    type: 'string',
    defaultText: `${DEV_FILE} \`$DATA_DIR/signing.pem\``,
    description: 'The X.509 certificate (PEM) of `SIGNING_KEY_FILE`, checked to match it at start.',
  },
  EXPORT_SIGNING_KEY_FILE: {
    type: 'string',
    defaultText: `${DEV_FILE} \`$DATA_DIR/export-signing.pem\``,
    description:
      'The same for license exports, and only for them: another key than `SIGNING_KEY_FILE` (refused at start otherwise), so no key-exchange answer verifies as an export (docs/license-servers.md). Required when `NODE_ENV=production`.',
  },
  EXPORT_SIGNING_CERT_FILE: {
    type: 'string',
    defaultText: `${DEV_FILE} \`$DATA_DIR/export-signing.pem\``,
    description: 'The X.509 certificate (PEM) of `EXPORT_SIGNING_KEY_FILE`.',
  },
  EXPORT_VALIDITY_SECONDS: {
    type: 'integer',
    minimum: 60,
    maximum: 86_400,
    default: 3600,
    description: 'How long after it was made a license export may be accepted; its `expiresAt`.',
  },
  BODY_LIMIT_BYTES: {
    type: 'integer',
    minimum: 1024,
    maximum: 64 * 1024 * 1024,
    default: 1024 * 1024,
    description: 'Largest accepted CPIX request body on the key-exchange endpoints (admin JSON bodies are capped at 256 KiB, enough for a key import of 1000 keys).',
  },
  MAX_KEYS_PER_REQUEST: {
    type: 'integer',
    minimum: 1,
    maximum: 5000,
    default: 1000,
    description: 'Most `ContentKey`s one key request may hold; more is refused with 413 before any work on them.',
  },
  MAX_KEYS_CREATED_PER_MINUTE: {
    type: 'integer',
    minimum: 0,
    maximum: 10_000_000,
    default: 10_000,
    description:
      'Keys one site may create per minute (0: no limit; else at least `MAX_KEYS_PER_REQUEST`); a request that would go over is refused with 429 and `Retry-After`, creating nothing. Requests for existing keys always pass.',
  },
  TRUST_PROXY_HOPS: {
    type: 'integer',
    minimum: 0,
    maximum: 10,
    default: 0,
    description:
      'Reverse proxies in front of the service whose `X-Forwarded-For` is believed; the resulting client address goes into audit records and the per-address failure limit (an entry that is not an IP address is ignored). Set it to the number of proxies you run (e.g. `1` behind one ingress; Helm: `config.trustProxyHops`), never more.',
  },
  AUTH_FAILURES_PER_ADDRESS: {
    type: 'integer',
    minimum: 0,
    maximum: 1_000_000,
    default: 20,
    description:
      'Failed authentications one client address (an IPv6 /64) may make per window before its further failures get 429 instead of 401; counted apart for the key routes (KMS tokens, license-server credentials), the admin API and `/metrics`. A credential that verifies is always answered. `0` turns the limit off.',
  },
  AUTH_FAILURES_PER_CREDENTIAL: {
    type: 'integer',
    minimum: 0,
    maximum: 1_000_000,
    default: 100,
    description:
      "Failed authentications per credential ID (`kms1.<id>`, `lsc1.<id>`, a legacy token's site) per window, from all addresses together, before further failures for it get 429; the credential itself is always answered. `0` turns it off.",
  },
  AUTH_FAILURE_WINDOW_SECONDS: {
    type: 'integer',
    minimum: 1,
    maximum: 86_400,
    default: 60,
    description: 'Length of the fixed window those counts live in; `Retry-After` says when it closes.',
  },
  HTTP_HEADERS_TIMEOUT_SECONDS: {
    type: 'integer',
    minimum: 1,
    maximum: 600,
    default: 10,
    description: 'A client that has not sent its complete request headers by then is disconnected (slow-drip / slowloris).',
  },
  HTTP_REQUEST_TIMEOUT_SECONDS: {
    type: 'integer',
    minimum: 1,
    maximum: 3600,
    default: 30,
    description: 'A client that has not sent its whole request by then gets 408 and is disconnected.',
  },
  HTTP_KEEP_ALIVE_TIMEOUT_SECONDS: {
    type: 'integer',
    minimum: 1,
    maximum: 600,
    default: 5,
    description:
      "Idle keep-alive connections are closed after this. Behind a load balancer that reuses connections, set it above the balancer's idle timeout, so the service never closes a connection the balancer is about to reuse.",
  },
  WORKERS: {
    type: 'integer',
    minimum: 1,
    maximum: 256,
    defaultText: 'cores on Redis, `1` on SQLite',
    description:
      "Service processes sharing the port (node:cluster): a primary forks them, replaces one that dies while serving, aggregates their `/metrics`, and on SIGTERM drains them all; if they cannot start it exits 1. `/readyz` answers for the worker that takes the probe (each has its own store connection). The default counts the machine's cores, not a container's CPU quota: in containers set it (the Helm chart sets `config.workers`, default 1, and scales by replicas).",
  },
  LOG_LEVEL: {
    type: 'string',
    enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    default: 'info',
    description: '`fatal` … `trace`, `silent`.',
  },
  METRICS_TOKEN: {
    type: 'string',
    file: true,
    minLength: 32,
    description:
      'When set (≥ 32 characters), `GET /metrics` wants it as a bearer token; unset, `/metrics` is open (it holds counts and latencies, no secrets: route the path only to your scraper).',
  },
  SHUTDOWN_GRACE_SECONDS: {
    type: 'integer',
    minimum: 0,
    maximum: 3600,
    default: 10,
    description: 'On SIGTERM: stop accepting, drain in-flight requests this long, close the store.',
  },
} as const satisfies Readonly<Record<string, Setting>>;

export type SettingName = keyof typeof SETTINGS;

type ValueOf<S> = S extends { readonly type: 'integer' }
  ? number
  : S extends { readonly type: 'boolean' }
    ? boolean
    : S extends { readonly enum: readonly (infer E)[] }
      ? E
      : string;
type HasDefault<S> = S extends { readonly default: unknown } ? true : false;

/** The validated settings: those with a default always present, the others when set. */
export type Settings = {
  readonly [K in SettingName as HasDefault<(typeof SETTINGS)[K]> extends true ? K : never]: ValueOf<(typeof SETTINGS)[K]>;
} & {
  readonly [K in SettingName as HasDefault<(typeof SETTINGS)[K]> extends true ? never : K]?: ValueOf<(typeof SETTINGS)[K]>;
};

/** The JSON Schema ajv checks: each setting's type and bounds, and its default. */
function jsonSchema(): object {
  const properties = Object.fromEntries(
    Object.entries(SETTINGS).map(([name, setting]: [string, Setting]) => {
      const { description: _d, defaultText: _t, file: _f, ...schema } = setting as Setting & { patternText?: string };
      const { patternText: _p, ...rest } = schema as typeof schema & { patternText?: string };
      return [name, rest];
    }),
  );
  return { type: 'object', properties };
}

const validate = new Ajv({ allErrors: true, useDefaults: true, strict: true }).compile(jsonSchema());

/** The one message of a setting that failed validation, from its schema (not ajv's wording). */
function problemOf(name: string): string {
  const setting: Setting = SETTINGS[name as SettingName];
  switch (setting.type) {
    case 'integer':
      return `${name} must be an integer from ${setting.minimum} to ${setting.maximum}`;
    case 'boolean':
      return `${name} must be true or false`;
    case 'string':
      if (setting.enum !== undefined) return `${name} must be one of ${setting.enum.join(', ')}`;
      if (setting.minLength !== undefined) return `${name} must be at least ${setting.minLength} characters`;
      return `${name} must be ${setting.patternText ?? 'a string'}`;
  }
}

/** Integers and booleans as they are written in an environment; anything else stays text for ajv to refuse. */
function typed(setting: Setting, text: string): unknown {
  if (setting.type === 'integer') return /^\d{1,15}$/.test(text) ? Number(text) : text;
  if (setting.type === 'boolean') {
    const lower = text.toLowerCase();
    return lower === 'true' || lower === '1' ? true : lower === 'false' || lower === '0' ? false : text;
  }
  return text;
}

/**
 * The settings from an environment's values (already trimmed and read from files; absent when unset),
 * or every problem, one per setting, in the order of `SETTINGS`.
 */
export function validateSettings(texts: Readonly<Partial<Record<SettingName, string>>>): { readonly settings: Settings } | { readonly problems: string[] } {
  const values: Record<string, unknown> = {};
  for (const [name, text] of Object.entries(texts)) {
    if (text !== undefined) values[name] = typed(SETTINGS[name as SettingName], text);
  }
  if (validate(values)) return { settings: values as Settings };
  const failed = new Set((validate.errors ?? []).map((error: ErrorObject) => error.instancePath.replace(/^\//, '')));
  return { problems: Object.keys(SETTINGS).filter((name) => failed.has(name)).map(problemOf) };
}

/** The README's configuration table (Markdown), one row per setting, in the order of `SETTINGS`. */
export function configurationTable(): string {
  const rows = Object.entries(SETTINGS).map(([name, setting]: [string, Setting]) => {
    const variable = setting.file === true ? `\`${name}\` / \`${name}_FILE\`` : `\`${name}\``;
    const fallback = setting.defaultText ?? ('default' in setting && setting.default !== undefined ? `\`${String(setting.default)}\`` : '—');
    return `| ${variable} | ${fallback} | ${setting.description} |`;
  });
  return ['| Variable | Default | Meaning |', '|---|---|---|', ...rows].join('\n');
}
