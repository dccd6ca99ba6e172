import { thrownBy } from '../../support/errors';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadConfig, type Env } from '../../../src/config/config';
import { ConfigError } from '../../../src/errors';
import { createSelfSignedIdentityPem, signingConfigFromPem } from '../../../src/dev-signing';

const MASTER_KEY = Buffer.alloc(32, 7).toString('base64');
const ADMIN_TOKEN = 'a'.repeat(40);

function expectConfigError(env: Env, message: RegExp, readFile?: (path: string) => Buffer) {
  const thrown = thrownBy(() => loadConfig(env, readFile));
  expect(thrown).toBeInstanceOf(ConfigError);
  expect((thrown as Error).message).toMatch(message);
  return thrown as ConfigError;
}

describe('loadConfig', () => {
  it('gives a development configuration from an empty environment', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 8080,
      host: '0.0.0.0',
      store: { kind: 'sqlite', path: resolve('data/cpix-kms.db') },
      masterKey: { provider: 'local', key: { kind: 'dev-file', path: resolve('data/master.key') } },
      adminToken: { kind: 'dev-file', path: resolve('data/admin-token') },
      redis: { keyPrefix: 'cpixkms', waitReplicas: 0, waitTimeoutMs: 1000, requireDurable: false },
      siteKeyCacheTtlMs: 300_000,
      bodyLimitBytes: 1_048_576,
      trustProxyHops: 0,
      authFailures: { perAddress: 20, perCredential: 100, windowMs: 60_000 },
      logLevel: 'info',
      shutdownGraceMs: 10_000,
      http: { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 5_000 },
    });
    expect(config.signing).toEqual({ kind: 'dev-file', path: resolve('data/signing') });
  });

  it('reads the authentication-failure limits and HTTP timeouts (0 turns a limit off)', () => {
    const config = loadConfig({
      AUTH_FAILURES_PER_ADDRESS: '0',
      AUTH_FAILURES_PER_CREDENTIAL: '7',
      AUTH_FAILURE_WINDOW_SECONDS: '300',
      HTTP_HEADERS_TIMEOUT_SECONDS: '2',
      HTTP_REQUEST_TIMEOUT_SECONDS: '3',
      HTTP_KEEP_ALIVE_TIMEOUT_SECONDS: '4',
    });
    expect(config.authFailures).toEqual({ perAddress: 0, perCredential: 7, windowMs: 300_000 });
    expect(config.http).toEqual({ headersTimeoutMs: 2_000, requestTimeoutMs: 3_000, keepAliveTimeoutMs: 4_000 });
  });

  it('returns a deeply frozen object', () => {
    const config = loadConfig({ MASTER_KEY, ADMIN_TOKEN });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.redis)).toBe(true);
    expect(Object.isFrozen(config.masterKey)).toBe(true);
  });

  it('reads secrets from *_FILE mounts, trimming the trailing newline', () => {
    const identity = signingConfigFromPem(createSelfSignedIdentityPem(), 'test');
    const exportIdentity = signingConfigFromPem(createSelfSignedIdentityPem(), 'test-export');
    const files: Record<string, string> = {
      '/run/secrets/admin': `${ADMIN_TOKEN}\n`,
      '/run/secrets/master': `${MASTER_KEY}\n`,
      '/run/secrets/signing.key': identity.privateKeyPem,
      '/run/secrets/signing.crt': identity.certificatePem,
      '/run/secrets/export.key': exportIdentity.privateKeyPem,
      '/run/secrets/export.crt': exportIdentity.certificatePem,
    };
    const env = {
      NODE_ENV: 'production',
      ADMIN_TOKEN_FILE: '/run/secrets/admin',
      MASTER_KEY_FILE: '/run/secrets/master',
      SIGNING_KEY_FILE: '/run/secrets/signing.key',
      SIGNING_CERT_FILE: '/run/secrets/signing.crt',
      EXPORT_SIGNING_KEY_FILE: '/run/secrets/export.key',
      EXPORT_SIGNING_CERT_FILE: '/run/secrets/export.crt',
    };
    const readFile = (path: string) => Buffer.from(files[path] ?? '');
    const config = loadConfig(env, readFile);
    expect(config.adminToken).toEqual({ kind: 'configured', value: ADMIN_TOKEN });
    expect(config.exportSigning).toMatchObject({ kind: 'configured', value: { certificatePem: exportIdentity.certificatePem } });
    // The export identity must be another key than the key-exchange one.
    expect(() => loadConfig({ ...env, EXPORT_SIGNING_KEY_FILE: '/run/secrets/signing.key', EXPORT_SIGNING_CERT_FILE: '/run/secrets/signing.crt' }, readFile)).toThrow(
      /^EXPORT_SIGNING_KEY_FILE must hold another key than SIGNING_KEY_FILE/,
    );
    expect(() => loadConfig({ ...env, EXPORT_SIGNING_KEY_FILE: undefined, EXPORT_SIGNING_CERT_FILE: undefined }, readFile)).toThrow(
      /^EXPORT_SIGNING_KEY_FILE and EXPORT_SIGNING_CERT_FILE are required when NODE_ENV=production/,
    );
    expect(config.masterKey).toEqual({ provider: 'local', key: { kind: 'configured', value: Buffer.alloc(32, 7) } });
  });

  it('configures the aws-kms provider', () => {
    const config = loadConfig({
      MASTER_KEY_PROVIDER: 'aws-kms',
      AWS_KMS_KEY_ID: 'alias/cpix-kms',
      AWS_REGION: 'eu-west-1',
      AWS_KMS_ENDPOINT: 'https://kms.eu-west-1.amazonaws.com',
      ADMIN_TOKEN,
    });
    expect(config.masterKey).toEqual({
      provider: 'aws-kms',
      keyId: 'alias/cpix-kms',
      region: 'eu-west-1',
      endpoint: 'https://kms.eu-west-1.amazonaws.com',
    });
  });

  it('names every problem at once, in the order of the settings, so one restart fixes them all', () => {
    const error = expectConfigError(
      { PORT: 'eighty', LOG_LEVEL: 'loud', MASTER_KEY: 'short', ADMIN_TOKEN: 'x', MAX_KEYS_PER_REQUEST: '100', MAX_KEYS_CREATED_PER_MINUTE: '99', REDIS_REQUIRE_DURABLE: 'maybe' },
      /^PORT must be/,
    );
    expect(error.problems).toEqual([
      'PORT must be an integer from 0 to 65535',
      'REDIS_REQUIRE_DURABLE must be true or false',
      'ADMIN_TOKEN must be at least 32 characters',
      'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent',
    ]);
    // Checks across settings run once every setting is valid on its own.
    expect(expectConfigError({ NODE_ENV: 'production', MAX_KEYS_PER_REQUEST: '100', MAX_KEYS_CREATED_PER_MINUTE: '99' }, /MASTER_KEY/).problems).toEqual([
      'MASTER_KEY (or MASTER_KEY_FILE) is required when NODE_ENV=production',
      'ADMIN_TOKEN (or ADMIN_TOKEN_FILE) is required when NODE_ENV=production',
      'SIGNING_KEY_FILE and SIGNING_CERT_FILE are required when NODE_ENV=production (PallyCon CPIX API responses are signed)',
      'EXPORT_SIGNING_KEY_FILE and EXPORT_SIGNING_CERT_FILE are required when NODE_ENV=production (license exports are signed)',
      'MAX_KEYS_CREATED_PER_MINUTE must be 0 or at least MAX_KEYS_PER_REQUEST',
    ]);
  });

  it.each<[string, Env, RegExp]>([
    ['a non-numeric PORT', { PORT: 'http' }, /^PORT must be an integer from 0 to 65535$/],
    ['an out-of-range PORT', { PORT: '70000' }, /^PORT must be an integer/],
    ['an unknown provider', { MASTER_KEY_PROVIDER: 'hsm' }, /^MASTER_KEY_PROVIDER must be one of local, aws-kms$/],
    ['a short master key', { MASTER_KEY: Buffer.alloc(16).toString('base64') }, /^MASTER_KEY must be the base64 encoding of exactly 32 bytes$/],
    ['a master key that is not base64', { MASTER_KEY: `${'!'.repeat(43)}=` }, /^MASTER_KEY must be/],
    ['both MASTER_KEY and MASTER_KEY_FILE', { MASTER_KEY, MASTER_KEY_FILE: '/x' }, /^set either MASTER_KEY or MASTER_KEY_FILE, not both$/],
    ['aws-kms without a key ID', { MASTER_KEY_PROVIDER: 'aws-kms', AWS_REGION: 'eu-west-1' }, /^AWS_KMS_KEY_ID is required/],
    ['aws-kms without a region', { MASTER_KEY_PROVIDER: 'aws-kms', AWS_KMS_KEY_ID: 'k' }, /^AWS_REGION is required/],
    ['a short admin token', { ADMIN_TOKEN: 'short' }, /^ADMIN_TOKEN must be at least 32 characters$/],
    ['production without a master key', { NODE_ENV: 'production', ADMIN_TOKEN }, /^MASTER_KEY \(or MASTER_KEY_FILE\) is required when NODE_ENV=production(;|$)/],
    [
      'production without a signing identity',
      { NODE_ENV: 'production', MASTER_KEY, ADMIN_TOKEN },
      /^SIGNING_KEY_FILE and SIGNING_CERT_FILE are required when NODE_ENV=production/,
    ],
    ['production without an admin token', { NODE_ENV: 'production', MASTER_KEY }, /^ADMIN_TOKEN \(or ADMIN_TOKEN_FILE\) is required/],
    ['an unknown log level', { LOG_LEVEL: 'verbose' }, /^LOG_LEVEL must be one of/],
    ['a bad boolean', { REDIS_REQUIRE_DURABLE: 'yes please' }, /^REDIS_REQUIRE_DURABLE must be true or false$/],
    ['a bad key prefix', { REDIS_KEY_PREFIX: 'a b' }, /^REDIS_KEY_PREFIX must be/],
    ['an unknown store', { STORE: 'postgres://localhost/db' }, /STORE/],
    ['half a signing pair', { SIGNING_KEY_FILE: '/k.pem' }, /^SIGNING_KEY_FILE and SIGNING_CERT_FILE must be set together$/],
    ['half an export signing pair', { EXPORT_SIGNING_CERT_FILE: '/c.pem' }, /^EXPORT_SIGNING_KEY_FILE and EXPORT_SIGNING_CERT_FILE must be set together$/],
    ['a per-minute key limit below the per-request one', { MAX_KEYS_PER_REQUEST: '100', MAX_KEYS_CREATED_PER_MINUTE: '99' }, /^MAX_KEYS_CREATED_PER_MINUTE must be 0 or at least MAX_KEYS_PER_REQUEST$/],
    ['too many keys per request', { MAX_KEYS_PER_REQUEST: '5001' }, /^MAX_KEYS_PER_REQUEST must be an integer from 1 to 5000$/],
    ['a negative auth-failure limit', { AUTH_FAILURES_PER_ADDRESS: '-1' }, /^AUTH_FAILURES_PER_ADDRESS must be an integer from 0 to 1000000$/],
    ['a zero failure window', { AUTH_FAILURE_WINDOW_SECONDS: '0' }, /^AUTH_FAILURE_WINDOW_SECONDS must be an integer from 1 to 86400$/],
    ['a zero headers timeout', { HTTP_HEADERS_TIMEOUT_SECONDS: '0' }, /^HTTP_HEADERS_TIMEOUT_SECONDS must be an integer from 1 to 600$/],
  ])('stops on %s, naming the variable', (_name, env, message) => {
    expectConfigError(env, message);
  });

  it('never puts a secret value into its messages', () => {
    const secret = 'S3cr3t-but-too-short';
    const error = expectConfigError({ ADMIN_TOKEN: secret }, /ADMIN_TOKEN/);
    expect(error.message).not.toContain(secret);
    const badKey = Buffer.alloc(31, 9).toString('base64');
    expect(expectConfigError({ MASTER_KEY: badKey }, /MASTER_KEY/).message).not.toContain(badKey);
  });

  it('names an unreadable secret file', () => {
    expectConfigError({ ADMIN_TOKEN_FILE: '/nonexistent/token' }, /^ADMIN_TOKEN_FILE: cannot read \/nonexistent\/token$/, () => {
      throw new Error('ENOENT');
    });
  });

  describe('signing key and certificate', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'cpix-kms-signing-'));
      const run = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
      run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'a.key'), '-out', join(dir, 'a.crt'), '-days', '1', '-subj', '/CN=a');
      run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'b.key'), '-out', join(dir, 'b.crt'), '-days', '1', '-subj', '/CN=b');
      const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
      writeFileSync(join(dir, 'small.key'), small.privateKey.export({ type: 'pkcs8', format: 'pem' }));
      writeFileSync(join(dir, 'garbage.pem'), 'not a pem');
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('loads a matching pair', () => {
      const config = loadConfig({ SIGNING_KEY_FILE: join(dir, 'a.key'), SIGNING_CERT_FILE: join(dir, 'a.crt') });
      expect(config.signing.kind === 'configured' && config.signing.value.certificate).toBeInstanceOf(X509Certificate);
      expect(config.signing.kind === 'configured' && config.signing.value.certificate.subject).toBe('CN=a');
      expect(config.signing.kind === 'configured' && config.signing.value.certificatePem).toBe(readFileSync(join(dir, 'a.crt'), 'utf8'));
    });

    it.each([
      ['a certificate of another key', 'a.key', 'b.crt', /^SIGNING_CERT_FILE does not match SIGNING_KEY_FILE$/],
      ['a key that is not PEM', 'garbage.pem', 'a.crt', /^SIGNING_KEY_FILE does not hold a PEM private key$/],
      ['a certificate that is not PEM', 'a.key', 'garbage.pem', /^SIGNING_CERT_FILE does not hold a PEM X.509 certificate$/],
      ['an RSA-1024 key', 'small.key', 'a.crt', /^SIGNING_KEY_FILE must be an RSA key of at least 2048 bits$/],
    ])('refuses %s', (_name, key, cert, message) => {
      expectConfigError({ SIGNING_KEY_FILE: join(dir, key), SIGNING_CERT_FILE: join(dir, cert) }, message);
    });
  });
});
