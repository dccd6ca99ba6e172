import { DecryptCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import {
  createAwsKmsMasterKey,
  type AwsKmsMasterKey,
  type AwsKmsMasterKeyOptions,
} from '../../../src/crypto/kms/aws-kms-master-key';
import { DependencyUnavailable, KeyIntegrityError } from '../../../src/errors';
import { createFakeKms, type FakeKmsCall } from '../../support/fake-kms';
import { describeMasterKeyContract } from '../../support/master-key-contract';

// Nothing from this machine's AWS set-up may leak in: no profile, no config files, no instance metadata.
for (const name of Object.keys(process.env)) if (name.startsWith('AWS_')) delete process.env[name];
process.env['AWS_EC2_METADATA_DISABLED'] = 'true';
process.env['AWS_CONFIG_FILE'] = '/nonexistent/cpix-kms-test/aws-config';
process.env['AWS_SHARED_CREDENTIALS_FILE'] = '/nonexistent/cpix-kms-test/aws-credentials';

const fake = createFakeKms({ region: 'eu-west-1' });
const providers: AwsKmsMasterKey[] = [];

/** A provider on the fake with the fake's key; options override. */
function awsKms(options: Partial<AwsKmsMasterKeyOptions> = {}): AwsKmsMasterKey {
  const provider = createAwsKmsMasterKey({
    keyId: fake.keyArn,
    region: 'eu-west-1',
    endpoint: fake.endpoint,
    credentials: { ...fake.credentials },
    ...options,
  });
  providers.push(provider);
  return provider;
}

async function failure(promise: Promise<unknown>): Promise<DependencyUnavailable | KeyIntegrityError> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => {
      if (error instanceof DependencyUnavailable || error instanceof KeyIntegrityError) return error;
      throw error;
    },
  );
}

const callsOf = (operation: string): FakeKmsCall[] => fake.calls.filter((call) => call.operation === operation);
const context = { siteId: 'SITE1', version: 3 };

beforeAll(async () => {
  await fake.start();
});
afterAll(async () => {
  for (const provider of providers) provider.close();
  await fake.stop();
});

describeMasterKeyContract('aws-kms', async () => awsKms({ keyId: fake.createKey() }));

describe('aws-kms master key', () => {
  beforeEach(() => fake.reset());

  describe('KMS requests', () => {
    it('binds purpose, site and version as the EncryptionContext and pins Decrypt to the key', async () => {
      const provider = awsKms();
      const { wrapped } = await provider.generateSiteKey(context);
      await provider.unwrapSiteKey(wrapped, context);
      const expected = { 'cpix-kms:purpose': 'site-key', 'cpix-kms:site': 'SITE1', 'cpix-kms:version': '3' };
      expect(fake.calls).toEqual([
        expect.objectContaining({ operation: 'GenerateDataKey', keyId: fake.keyArn, encryptionContext: expected }),
        expect.objectContaining({ operation: 'Decrypt', keyId: fake.keyArn, encryptionContext: expected }),
      ]);
      expect(fake.calls.map((call) => call.outcome)).toEqual(['ok', 'ok']);
    });

    it('makes the check value as a data key of its own purpose and verifies it with Decrypt pinned to the key', async () => {
      const provider = awsKms();
      const check = await provider.createCheckValue();
      await provider.verifyCheckValue(check);
      const expected = { 'cpix-kms:purpose': 'master-key-check' };
      expect(fake.calls).toEqual([
        expect.objectContaining({ operation: 'GenerateDataKey', keyId: fake.keyArn, encryptionContext: expected, outcome: 'ok' }),
        expect.objectContaining({ operation: 'Decrypt', keyId: fake.keyArn, encryptionContext: expected, outcome: 'ok' }),
      ]);
      // The key's identity is recorded (an ARN, whatever form the configuration used); KMS binds the blob to it.
      expect(check).toMatchObject({ provider: 'aws-kms', masterKeyId: fake.keyArn });
    });

    it('refuses the check value when the configured key (alias) now names another KMS key', async () => {
      const check = await awsKms().createCheckValue();
      const otherKey = fake.createKey('alias/cpix-kms-moved');
      const moved = awsKms({ keyId: 'alias/cpix-kms-moved' });
      await expect(moved.verifyCheckValue(check)).rejects.toBeInstanceOf(KeyIntegrityError);
      expect(callsOf('Decrypt').at(-1)).toMatchObject({ keyId: 'alias/cpix-kms-moved', outcome: 'IncorrectKeyException' });
      expect(otherKey).not.toBe(fake.keyArn);
    });

    it('signs every request with the configured credentials (the fake verifies SigV4)', async () => {
      await awsKms().generateSiteKey(context);
      expect(fake.calls).toEqual([
        expect.objectContaining({ accessKeyId: fake.credentials.accessKeyId, outcome: 'ok' }),
      ]);
    });

    it('records the key ARN KMS returns even when configured with an alias', async () => {
      const provider = awsKms({ keyId: fake.alias });
      const { plaintext, wrapped } = await provider.generateSiteKey(context);
      expect(wrapped).toMatchObject({ provider: 'aws-kms', masterKeyId: fake.keyArn });
      expect((await provider.unwrapSiteKey(wrapped, context)).equals(plaintext)).toBe(true);
      expect(callsOf('Decrypt')[0]?.keyId).toBe(fake.alias);
    });

    it.each([
      ['key ID', () => fake.keyArn.split('/')[1] ?? ''],
      ['key ARN', () => fake.keyArn],
      ['alias name', () => fake.alias],
      ['alias ARN', () => `arn:aws:kms:eu-west-1:${fake.accountId}:${fake.alias}`],
    ])('accepts the key by %s', async (_, keyId) => {
      const provider = awsKms({ keyId: keyId() });
      await expect(provider.checkReady()).resolves.toBeUndefined();
      await expect(provider.generateSiteKey(context)).resolves.toMatchObject({ wrapped: { masterKeyId: fake.keyArn } });
    });

    it('refuses a record naming another provider without calling KMS', async () => {
      const { wrapped } = await awsKms().generateSiteKey(context);
      fake.reset();
      const error = await failure(awsKms().unwrapSiteKey({ ...wrapped, provider: 'local' }, context));
      expect(error).toBeInstanceOf(KeyIntegrityError);
      expect(fake.calls).toEqual([]);
    });

    it('names the KMS refusal only in the internal detail of the integrity error', async () => {
      const { wrapped } = await awsKms().generateSiteKey(context);
      const foreign = await failure(awsKms({ keyId: fake.createKey() }).unwrapSiteKey(wrapped, context));
      expect(foreign).toBeInstanceOf(KeyIntegrityError);
      expect(foreign.detail).toContain('IncorrectKeyException');
      expect(foreign.detail).toContain(fake.keyArn);
      const moved = await failure(awsKms().unwrapSiteKey(wrapped, { siteId: 'SITE2', version: 3 }));
      expect(moved.detail).toContain('InvalidCiphertextException');
    });
  });

  describe('KMS refusals become ERR_KMS_UNAVAILABLE with an operator detail', () => {
    it.each([
      ['Decrypt', 'unwrap'],
      ['GenerateDataKey', 'generate'],
    ] as const)('AccessDenied on %s', async (operation, call) => {
      const provider = awsKms();
      const { wrapped } = await provider.generateSiteKey(context);
      fake.reset();
      fake.faults.deny.add(operation);
      const error = await failure(
        call === 'unwrap' ? provider.unwrapSiteKey(wrapped, context) : provider.generateSiteKey(context),
      );
      expect(error).toMatchObject({ code: 'ERR_KMS_UNAVAILABLE', message: 'master key service unavailable' });
      expect(error.detail).toContain(`AWS KMS denied kms:${operation} on key ${fake.keyArn}: AccessDeniedException`);
      expect(error.detail).toContain('check the IAM policy / key policy of the service role');
      expect(error.cause).toMatchObject({ name: 'AccessDeniedException' });
      // Not retried: a denial does not go away by asking again.
      expect(callsOf(operation)).toHaveLength(1);
    });

    it('denial of every operation, including the readiness probe', async () => {
      fake.faults.denyAll = true;
      const error = await failure(awsKms().checkReady());
      expect(error).toMatchObject({ code: 'ERR_KMS_UNAVAILABLE' });
      expect(error.detail).toContain('kms:DescribeKey');
    });

    it('a disabled key: not ready, and GenerateDataKey is refused', async () => {
      fake.setKeyState('Disabled');
      const provider = awsKms();
      const notReady = await failure(provider.checkReady());
      expect(notReady).toMatchObject({ code: 'ERR_KMS_UNAVAILABLE', message: 'master key service unavailable' });
      expect(notReady.detail).toContain(`AWS KMS key ${fake.keyArn} is Disabled, not Enabled`);
      const refused = await failure(provider.generateSiteKey(context));
      expect(refused).toMatchObject({ code: 'ERR_KMS_UNAVAILABLE' });
      expect(refused.detail).toContain('DisabledException');
    });

    it('a key pending deletion: Decrypt is refused with KMSInvalidStateException', async () => {
      const provider = awsKms();
      const { wrapped } = await provider.generateSiteKey(context);
      fake.setKeyState('PendingDeletion');
      const error = await failure(provider.unwrapSiteKey(wrapped, context));
      expect(error).toMatchObject({ code: 'ERR_KMS_UNAVAILABLE' });
      expect(error.detail).toContain('KMSInvalidStateException');
      expect(error.detail).toContain('cancel its pending deletion');
    });

    it('a key that does not exist', async () => {
      const missing = 'arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-4000-8000-000000000000';
      const error = await failure(awsKms({ keyId: missing }).checkReady());
      expect(error.detail).toContain(`AWS KMS has no key ${missing} in eu-west-1`);
      expect(error.detail).toContain('NotFoundException');
    });

    it('credentials KMS does not accept (a wrong secret fails signature verification)', async () => {
      const provider = awsKms({ credentials: { ...fake.credentials, secretAccessKey: 'not-the-secret' } });
      const error = await failure(provider.generateSiteKey(context));
      expect(error).toMatchObject({ code: 'ERR_KMS_UNAVAILABLE' });
      expect(error.detail).toContain('rejected the credentials for kms:GenerateDataKey');
      expect(error.detail).toContain('InvalidSignatureException');
      expect(fake.calls.map((call) => call.outcome)).toEqual(['InvalidSignatureException']);
    });
  });

  describe('throttling and failing transport', () => {
    it('retries a throttled call and succeeds', async () => {
      fake.faults.throttle = 1;
      await awsKms().generateSiteKey(context);
      expect(callsOf('GenerateDataKey').map((call) => call.outcome)).toEqual(['ThrottlingException', 'ok']);
    });

    it('gives up on persistent throttling after maxAttempts', async () => {
      fake.faults.throttle = Infinity;
      const error = await failure(awsKms({ maxAttempts: 2 }).generateSiteKey(context));
      expect(error).toMatchObject({ code: 'ERR_KMS_UNAVAILABLE' });
      expect(error.detail).toContain('AWS KMS throttled kms:GenerateDataKey');
      expect(error.detail).toContain('2 attempt(s)');
      expect(callsOf('GenerateDataKey')).toHaveLength(2);
    });

    it('rejects within the request timeout when KMS never answers', async () => {
      fake.faults.hang = true;
      const provider = awsKms({ requestTimeoutMs: 300, maxAttempts: 2 });
      const started = Date.now();
      const error = await failure(provider.generateSiteKey(context));
      const elapsed = Date.now() - started;
      expect(error).toMatchObject({ code: 'ERR_KMS_UNAVAILABLE', message: 'master key service unavailable' });
      expect(error.detail).toContain('did not answer kms:GenerateDataKey');
      expect(error.detail).toContain('TimeoutError');
      expect(callsOf('GenerateDataKey')).toHaveLength(2);
      // Two 300 ms attempts plus one short backoff, never the SDK's default of waiting forever.
      expect(elapsed).toBeGreaterThanOrEqual(2 * 300 - 50);
      expect(elapsed).toBeLessThan(1_500);
    });

    it('fails fast while the endpoint is down and recovers when it is back', async () => {
      // The SDK does not clear its connection timer when a connection is refused (it fires later and
      // does nothing); a short one keeps it from holding the Jest worker open after the last test.
      const provider = awsKms({ connectTimeoutMs: 250 });
      await fake.stop();
      try {
        const error = await failure(provider.generateSiteKey(context));
        expect(error).toMatchObject({ code: 'ERR_KMS_UNAVAILABLE' });
        // Under Jest the SDK wraps Node's cross-realm error ("AWS SDK error wrapper for Error: connect
        // ECONNREFUSED …"), dropping its code; the message still names the cause.
        expect(error.detail).toContain('did not answer kms:GenerateDataKey');
        expect(error.detail).toContain('ECONNREFUSED');
        expect(error.detail).toContain(fake.endpoint);
      } finally {
        await fake.start();
      }
      await expect(provider.generateSiteKey(context)).resolves.toMatchObject({ wrapped: { provider: 'aws-kms' } });
    });

    it('does not pass on an unparseable response (it may hold key bytes) as the cause', async () => {
      const provider = awsKms();
      const { wrapped } = await provider.generateSiteKey(context);
      fake.faults.truncate = true;
      const error = await failure(provider.unwrapSiteKey(wrapped, context));
      expect(error).toMatchObject({ code: 'ERR_KMS_UNAVAILABLE' });
      expect(error.cause).toBeUndefined();
      expect(error.detail).toMatch(/^AWS KMS kms:Decrypt on key \S+ failed: SyntaxError/);
      expect(error.detail).not.toContain('Plaintext');
    });
  });

  describe('the fake KMS itself', () => {
    it('refuses a request that is not signed', async () => {
      const response = await fetch(`${fake.endpoint}/`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'TrentService.DescribeKey' },
        body: JSON.stringify({ KeyId: fake.keyArn }),
      });
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ __type: 'MissingAuthenticationTokenException' });
    });

    it('binds the EncryptionContext into Encrypt blobs, as KMS does', async () => {
      const client = new KMSClient({ region: 'eu-west-1', endpoint: fake.endpoint, credentials: fake.credentials });
      try {
        const EncryptionContext = { purpose: 'self-check' };
        const { CiphertextBlob } = await client.send(
          new EncryptCommand({ KeyId: fake.alias, Plaintext: Buffer.from('hello'), EncryptionContext }),
        );
        const decrypted = await client.send(new DecryptCommand({ CiphertextBlob, EncryptionContext }));
        expect(Buffer.from(decrypted.Plaintext ?? []).toString()).toBe('hello');
        expect(decrypted.KeyId).toBe(fake.keyArn);
        await expect(client.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: {} }))).rejects.toMatchObject({
          name: 'InvalidCiphertextException',
        });
      } finally {
        client.destroy();
      }
    });
  });

  describe('readiness', () => {
    it('calls DescribeKey once per cache window, whatever the outcome', async () => {
      let now = Date.parse('2025-01-01T00:00:00Z');
      const provider = awsKms({ readyCacheMs: 30_000, clock: () => new Date(now) });
      await Promise.all([provider.checkReady(), provider.checkReady()]);
      now += 29_999;
      await provider.checkReady();
      expect(callsOf('DescribeKey')).toHaveLength(1);

      now += 1;
      fake.setKeyState('Disabled');
      await expect(provider.checkReady()).rejects.toMatchObject({ code: 'ERR_KMS_UNAVAILABLE' });
      fake.setKeyState('Enabled');
      await expect(provider.checkReady()).rejects.toMatchObject({ code: 'ERR_KMS_UNAVAILABLE' });
      expect(callsOf('DescribeKey')).toHaveLength(2);

      now += 30_000;
      await expect(provider.checkReady()).resolves.toBeUndefined();
      expect(callsOf('DescribeKey')).toHaveLength(3);
    });
  });
});
