import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A mistake in how the CLI was called (exit code 2); the API was not asked. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * Every option any command takes, for one strict parse; each command then names the ones it accepts.
 * There is deliberately no `--admin-token`: a command line is visible to every local user in `ps`
 * and `/proc/<pid>/cmdline`, and often lands in shell history.
 */
export const OPTIONS = {
  url: { type: 'string' },
  'admin-token-file': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
  name: { type: 'string' },
  id: { type: 'string' },
  option: { type: 'string', multiple: true },
  certificate: { type: 'string' },
  limit: { type: 'string' },
  before: { type: 'string' },
  after: { type: 'string' },
  all: { type: 'boolean' },
  file: { type: 'string' },
  reason: { type: 'string' },
  kid: { type: 'string', multiple: true },
  since: { type: 'string' },
  'security-level': { type: 'string' },
  'persistent-license': { type: 'string' },
  'license-duration': { type: 'string' },
  'rotation-interval': { type: 'string' },
  rule: { type: 'string', multiple: true },
  alg: { type: 'string' },
  jwk: { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

export type OptionName = keyof typeof OPTIONS;

/** Options every command accepts. */
export const GLOBAL_OPTIONS: readonly OptionName[] = ['url', 'admin-token-file', 'json', 'help', 'version'];

export interface ParsedArgs {
  readonly positionals: readonly string[];
  readonly values: ReturnType<typeof parseOptions>['values'];
  /** Option names given on the command line. */
  readonly given: readonly OptionName[];
}

function parseOptions(argv: readonly string[]) {
  return parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
}

const isOptionName = (name: string): name is OptionName => Object.hasOwn(OPTIONS, name);

export function parseCommandLine(argv: readonly string[]): ParsedArgs {
  // Checked before parsing so the refusal explains itself; the value is never echoed.
  const separator = argv.indexOf('--');
  const flags = separator === -1 ? argv : argv.slice(0, separator);
  if (flags.some((arg) => arg === '--admin-token' || arg.startsWith('--admin-token='))) {
    throw new UsageError(
      'there is no --admin-token option: command lines are visible to other users (ps); ' +
        'set CPIX_KMS_ADMIN_TOKEN or use --admin-token-file <path>',
    );
  }
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions(argv);
  } catch (error) {
    // node:util's messages name the option, never its value.
    if (error instanceof TypeError) throw new UsageError(error.message);
    throw error;
  }
  const given = Object.entries(parsed.values)
    .filter(([, value]) => value !== undefined)
    .map(([name]) => name)
    .filter(isOptionName);
  return { positionals: parsed.positionals, values: parsed.values, given };
}

export const DEFAULT_URL = 'http://127.0.0.1:8080';

/** The base URL from --url, CPIX_KMS_URL or the default: http(s), no credentials in it. */
export function resolveBaseUrl(flag: string | undefined, env: NodeJS.ProcessEnv): URL {
  const raw = flag ?? (env.CPIX_KMS_URL?.trim() || undefined) ?? DEFAULT_URL;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError('--url / CPIX_KMS_URL is not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError('--url / CPIX_KMS_URL must be http:// or https://');
  // A userinfo part would be a second credential on the command line (and fetch refuses it anyway).
  if (url.username !== '' || url.password !== '') throw new UsageError('--url / CPIX_KMS_URL must not contain a user name or password');
  if (url.search !== '' || url.hash !== '') throw new UsageError('--url / CPIX_KMS_URL must not have a query or fragment');
  return url;
}

/** Loopback hosts, where plain HTTP does not expose the admin token to the network. */
export function isLoopback(url: URL): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export type ReadTextFile = (path: string) => string;

/**
 * The admin token from --admin-token-file (which wins: it is the explicit choice) or
 * CPIX_KMS_ADMIN_TOKEN. Surrounding whitespace is dropped, as the service does for ADMIN_TOKEN_FILE.
 */
export function resolveAdminToken(file: string | undefined, env: NodeJS.ProcessEnv, readTextFile: ReadTextFile): string {
  if (file !== undefined) {
    let text: string;
    try {
      text = readTextFile(file);
    } catch (error) {
      const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : 'unreadable';
      throw new UsageError(`cannot read --admin-token-file ${file}: ${code}`);
    }
    const token = text.trim();
    if (token === '') throw new UsageError(`--admin-token-file ${file} is empty`);
    return token;
  }
  const token = env.CPIX_KMS_ADMIN_TOKEN?.trim();
  if (token === undefined || token === '') {
    throw new UsageError('no admin token: set CPIX_KMS_ADMIN_TOKEN or use --admin-token-file <path>');
  }
  return token;
}
