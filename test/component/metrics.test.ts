import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { createAwsKmsMasterKey, type AwsKmsMasterKey } from '../../src/crypto/kms/aws-kms-master-key';
import { createTestApp, type TestApp } from '../support/app';
import { createFakeKms, type FakeKms } from '../support/fake-kms';
import { captureLogs, encodingsOf } from '../support/log-capture';
import { buildDoveRunnerRequest } from '../support/doverunner-clients';
import { describeWithVectors } from '../support/shared-vectors';
import { freshContentId, readAwslabs, withContentId } from '../support/speke-http';

/**
 * `GET /metrics` (docs/operations.md): requests by route pattern, dialect and status, latency histograms,
 * keys created, store and KMS latency and errors, process metrics; label values never carry a token.
 */
const V2_FIVE_KEYS = 'generated/live/test_case_2_p_v_3_a_2/7_widevine_playready_fairplay.xml';

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** The samples of a Prometheus text exposition (comments skipped). */
function samples(text: string): Sample[] {
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!match) throw new Error(`not an exposition line: ${line}`);
      const labels: Record<string, string> = {};
      for (const [, key = '', value = ''] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[key] = value;
      return { name: match[1] ?? '', labels, value: Number(match[3]) };
    });
}

/** The value of the one sample named `name` whose labels include `labels` (0 when there is none). */
function valueOf(text: string, name: string, labels: Readonly<Record<string, string>> = {}): number {
  const found = samples(text).filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return found[0]?.value ?? 0;
}

describeWithVectors('GET /metrics', () => {
  const logs = captureLogs();
  let kms: FakeKms;
  let masterKey: AwsKmsMasterKey;
  let t: TestApp;
  let token: string;
  const scrape = async () => {
    const res = await request(t.app).get('/metrics').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    return res.text;
  };
  const spekeV2 = (contentId: string) =>
    request(t.app).post('/speke/copyProtection').set('Authorization', `Bearer ${token}`).set('X-Speke-Version', '2.0')
      .set('Content-Type', 'application/xml').send(withContentId(readAwslabs(V2_FIVE_KEYS), contentId));

  beforeAll(async () => {
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
    kms = createFakeKms();
    const endpoint = await kms.start();
    masterKey = createAwsKmsMasterKey({ keyId: kms.keyArn, region: kms.region, endpoint, credentials: kms.credentials, readyCacheMs: 0, maxAttempts: 1 });
    t = createTestApp(logs.logger, masterKey, { processMetrics: true });
    const created = await request(t.app).post('/admin/v1/sites').set('Authorization', `Bearer ${t.adminToken}`).send({ name: 'metered' }).expect(201);
    token = created.body.token.token as string;
  });
  afterEach(() => kms.reset());
  afterAll(async () => {
    await t.close();
    masterKey.close();
    await kms.stop();
  });

  it('counts requests by route pattern, dialect and status, and keys created only when they are new', async () => {
    const before = await scrape();
    const contentId = freshContentId('metrics');
    await spekeV2(contentId).expect(200);
    await spekeV2(contentId).expect(200);
    const after = await scrape();
    const labels = { route: '/speke/copyProtection', dialect: 'speke-v2.0', status: '200' };
    expect(valueOf(after, 'cpix_kms_http_requests_total', labels) - valueOf(before, 'cpix_kms_http_requests_total', labels)).toBe(2);
    // PRESET_VIDEO_3 + PRESET_AUDIO_2: five keys, created by the first request only.
    const created = { dialect: 'speke-v2.0' };
    expect(valueOf(after, 'cpix_kms_keys_created_total', created) - valueOf(before, 'cpix_kms_keys_created_total', created)).toBe(5);
    const histogram = { route: '/speke/copyProtection', dialect: 'speke-v2.0' };
    expect(valueOf(after, 'cpix_kms_http_request_duration_seconds_count', histogram) - valueOf(before, 'cpix_kms_http_request_duration_seconds_count', histogram)).toBe(2);
    expect(valueOf(after, 'cpix_kms_http_request_duration_seconds_bucket', { ...histogram, le: '+Inf' })).toBe(valueOf(after, 'cpix_kms_http_request_duration_seconds_count', histogram));
  });

  it('labels routes by pattern: no token, content ID or unknown path becomes a label value', async () => {
    const contentId = freshContentId('pattern');
    await request(t.app).post(`/v2/cpix/pallycon/getKey/${token}`).set('Content-Type', 'application/xml').send(buildDoveRunnerRequest(contentId, ['HD']).xml).expect(200);
    const wrong = `kms1.${randomBytes(12).toString('base64url')}.${randomBytes(32).toString('base64url')}`;
    await request(t.app).post(`/v2/cpix/pallycon/getKey/${wrong}`).set('Content-Type', 'application/xml').send('<x/>').expect(401);
    // Routes that answer several URLs: each URL is its own label (the legacy PallyCon URL, DoveRunner's).
    await request(t.app).post(`/cpix/pallycon/getKey/${token}`).set('Content-Type', 'application/xml').send(buildDoveRunnerRequest(`${contentId}-v1`, ['HD']).xml).expect(200);
    await request(t.app).post(`/V2/CPIX/DoveRunner/getKey/${token}`).set('Content-Type', 'application/xml').send(buildDoveRunnerRequest(contentId, ['HD']).xml).expect(200);
    await request(t.app).post('/speke/v2.0/copyProtection').send('<x/>').expect(401);
    await request(t.app).get(`/no/such/route/${token}`).expect(404);
    await request(t.app).get(`/admin/v1/sites/${encodeURIComponent(contentId)}`).set('Authorization', `Bearer ${t.adminToken}`).expect(404);
    const text = await scrape();
    expect(valueOf(text, 'cpix_kms_http_requests_total', { route: '/v2/cpix/pallycon/getKey/:token', dialect: 'cpix-api-v2', status: '200' })).toBe(1);
    expect(valueOf(text, 'cpix_kms_http_requests_total', { route: '/v2/cpix/pallycon/getKey/:token', dialect: 'none', status: '401' })).toBe(1);
    expect(valueOf(text, 'cpix_kms_http_requests_total', { route: '/cpix/pallycon/getKey/:token', dialect: 'cpix-api-v1', status: '200' })).toBe(1);
    expect(valueOf(text, 'cpix_kms_http_requests_total', { route: '/v1/cpix/pallycon/getKey/:token', dialect: 'cpix-api-v1', status: '200' })).toBe(0);
    expect(valueOf(text, 'cpix_kms_http_requests_total', { route: '/v2/cpix/doverunner/getKey/:token', dialect: 'cpix-api-v2', status: '200' })).toBe(1);
    expect(valueOf(text, 'cpix_kms_http_requests_total', { route: '/speke/:spekePath/copyProtection', dialect: 'none', status: '401' })).toBe(1);
    expect(valueOf(text, 'cpix_kms_http_requests_total', { route: '(unmatched)', status: '404' })).toBeGreaterThanOrEqual(1);
    expect(valueOf(text, 'cpix_kms_http_requests_total', { route: '/admin/v1/sites/:siteId', status: '404' })).toBe(1);
    for (const secret of [token, wrong, t.adminToken]) for (const form of encodingsOf(secret)) expect(text).not.toContain(form);
    expect(text).not.toContain(contentId);
  });

  it('times store and KMS calls and counts their failures', async () => {
    const before = await scrape();
    kms.faults.denyAll = true;
    await request(t.app).post('/admin/v1/sites').set('Authorization', `Bearer ${t.adminToken}`).send({ name: 'refused' }).expect(503);
    kms.faults.denyAll = false;
    const after = await scrape();
    const generate = { dependency: 'kms', operation: 'masterKey.generateSiteKey' };
    expect(valueOf(after, 'cpix_kms_dependency_errors_total', generate) - valueOf(before, 'cpix_kms_dependency_errors_total', generate)).toBe(1);
    expect(valueOf(after, 'cpix_kms_dependency_duration_seconds_count', generate)).toBeGreaterThanOrEqual(2);
    // The store: every key exchange gets or creates its keys and writes its audit record in one step.
    const step = { dependency: 'store', operation: 'contentKeys.getOrCreateAll' };
    expect(valueOf(after, 'cpix_kms_dependency_duration_seconds_count', step)).toBeGreaterThanOrEqual(3);
    expect(valueOf(after, 'cpix_kms_dependency_errors_total', step)).toBe(0);
  });

  it('exports process metrics', async () => {
    const text = await scrape();
    for (const name of ['cpix_kms_process_cpu_user_seconds_total', 'cpix_kms_process_resident_memory_bytes', 'cpix_kms_nodejs_eventloop_lag_seconds', 'cpix_kms_nodejs_heap_size_used_bytes']) {
      expect({ name, present: samples(text).some((s) => s.name === name) }).toEqual({ name, present: true });
    }
  });
});

describe('GET /metrics with METRICS_TOKEN', () => {
  const logs = captureLogs();
  const metricsToken = randomBytes(32).toString('base64url');
  let t: TestApp;
  beforeAll(() => {
    t = createTestApp(logs.logger, undefined, { metricsToken });
  });
  afterAll(() => t.close());

  it.each([
    ['no Authorization', undefined, 401],
    ['a wrong token', `Bearer ${randomBytes(32).toString('base64url')}`, 401],
    ['the admin token', 'ADMIN', 401],
    ['the metrics token', 'METRICS', 200],
  ])('%s', async (_name, authorization, status) => {
    const value = authorization === 'ADMIN' ? `Bearer ${t.adminToken}` : authorization === 'METRICS' ? `Bearer ${metricsToken}` : authorization;
    const req = request(t.app).get('/metrics');
    const res = await (value === undefined ? req : req.set('Authorization', value));
    expect(res.status).toBe(status);
    if (status === 401) {
      expect(res.body.error).toMatchObject({ code: 'ERR_AUTH_REQUIRED' });
      expect(res.text).not.toContain('cpix_kms_');
    }
  });
});
