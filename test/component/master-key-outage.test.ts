import request from 'supertest';
import { createAwsKmsMasterKey, type AwsKmsMasterKey } from '../../src/crypto/kms/aws-kms-master-key';
import { createTestApp, type TestApp } from '../support/app';
import { createFakeKms, type FakeKms } from '../support/fake-kms';
import { captureLogs } from '../support/log-capture';

/**
 * The aws-kms master key behind the real HTTP stack: when KMS refuses or is unreachable, requests
 * that need a site key answer 503 with Retry-After, and the log says what the operator must fix.
 */
describe('AWS KMS outages through the admin API', () => {
  const logs = captureLogs();
  let kms: FakeKms;
  let masterKey: AwsKmsMasterKey;
  let t: TestApp;
  const admin = () => ({ Authorization: `Bearer ${t.adminToken}` });

  beforeAll(async () => {
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
    kms = createFakeKms();
    const endpoint = await kms.start();
    masterKey = createAwsKmsMasterKey({
      keyId: kms.keyArn,
      region: kms.region,
      endpoint,
      credentials: kms.credentials,
      readyCacheMs: 0,
      maxAttempts: 1,
    });
    t = createTestApp(logs.logger, masterKey);
  });
  afterEach(() => kms.reset());
  afterAll(async () => {
    await t.close();
    masterKey.close();
    await kms.stop();
  });

  it('creates a site and rotates its key through KMS when KMS answers', async () => {
    const created = await request(t.app).post('/admin/v1/sites').set(admin()).send({ name: 'kms' }).expect(201);
    await request(t.app).post(`/admin/v1/sites/${created.body.site.id}/site-key/rotate`).set(admin()).expect(200);
    expect(kms.calls.filter((c) => c.operation === 'GenerateDataKey' && c.outcome === 'ok')).toHaveLength(2);
  });

  it('answers 503 with Retry-After and logs an actionable line when KMS denies access', async () => {
    kms.faults.denyAll = true;
    const res = await request(t.app).post('/admin/v1/sites').set(admin()).send({ name: 'denied' }).expect(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.body.error).toMatchObject({ code: 'ERR_KMS_UNAVAILABLE', message: 'master key service unavailable' });
    expect(JSON.stringify(res.body)).not.toContain('AccessDenied');

    const line = logs.lines.map((l) => JSON.parse(l) as { msg: string; requestId?: string }).find((l) => l.requestId === res.body.error.requestId && /AccessDenied/.test(l.msg));
    expect(line?.msg).toMatch(/GenerateDataKey/);
    expect(line?.msg).toContain(kms.keyArn);

    const ready = await request(t.app).get('/readyz').expect(503);
    expect(ready.body.checks).toEqual({ store: 'ok', masterKey: 'ERR_KMS_UNAVAILABLE' });
  });

  it('answers 503 when KMS cannot be reached, and recovers when it is back', async () => {
    await kms.stop();
    await request(t.app).post('/admin/v1/sites').set(admin()).send({ name: 'down' }).expect(503);
    await kms.start();
    await request(t.app).post('/admin/v1/sites').set(admin()).send({ name: 'back' }).expect(201);
    await request(t.app).get('/readyz').expect(200);
  });
});
