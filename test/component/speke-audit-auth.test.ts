/**
 * SPEKE routes over HTTP on the real app: the audit record written for every issuance and the fail
 * closed rule when it cannot be written (nothing is returned), KMS-token authentication, and what
 * reaches the logs (no token, no key). Requests are read in place from ../shared/vectors/speke.
 */

import { readFileSync } from 'node:fs';
import type { AuditRecord } from '../../src/audit/ports';
import { parseCpixDocument } from '../../src/cpix/parse';
import { DependencyUnavailable } from '../../src/errors';
import { createTestApp, type TestApp } from '../support/app';
import { captureLogs, encodingsOf } from '../support/log-capture';
import { describeWithVectors, vectorPath } from '../support/shared-vectors';
import {
  bodyText,
  cpixElements,
  explicitIvs,
  freshContentId,
  parseDom,
  parseResponse,
  plainKeys,
  postSpeke,
  readAwslabs,
  withContentId,
} from '../support/speke-http';

const LIVE_V2 = 'generated/live/test_case_2_p_v_3_a_2/7_widevine_playready_fairplay.xml';
const V1_LIVE = (): string => readFileSync(vectorPath('speke', 'aws-speke-v1-docs', 'live_request_clear.xml'), 'utf8');

/** One request per SPEKE dialect, with a fresh content ID so its keys are created by the test. */
const DIALECTS = [
  {
    dialect: 'speke-v2.0',
    version: '2.0',
    periodIndexes: [0],
    request: (contentId: string) => withContentId(readAwslabs(LIVE_V2), contentId),
  },
  {
    dialect: 'speke-v2.1',
    version: '2.1',
    periodIndexes: [0],
    request: (contentId: string) => withContentId(readAwslabs(LIVE_V2), contentId).replace(/(<cpix:CPIX\b[^>]*\sversion=")2\.3"/, '$12.4"'),
  },
  { dialect: 'speke-v1', version: undefined, periodIndexes: [1], request: (contentId: string) => withContentId(V1_LIVE(), contentId, 'id') },
] as const;

const kidsOf = (xml: string): string[] => cpixElements(parseDom(xml), 'ContentKey').map((key) => (key.getAttribute('kid') ?? '').toLowerCase());

/** Every encoding of every key and IV of a response. */
function secretFormsOf(xml: string): string[] {
  const doc = parseCpixDocument(xml);
  const values = [...Object.values(plainKeys(doc)), ...Object.values(explicitIvs(doc)).filter((iv): iv is string => iv !== null)];
  return values.flatMap((value) => encodingsOf(Buffer.from(value, 'base64')));
}

describeWithVectors('SPEKE audit records (one per issuance, before the response)', () => {
  const logs = captureLogs();
  let t: TestApp;
  let siteId: string;
  let token: string;
  let tokenId: string;
  beforeAll(async () => {
    t = createTestApp(logs.logger);
    const created = await t.services.sites.createSite({ name: 'audited' });
    siteId = created.site.id;
    token = created.token.token;
    tokenId = created.token.id;
  });
  afterAll(() => t.close());

  const recordOf = async (requestId: unknown): Promise<AuditRecord | undefined> =>
    (await t.services.audit.list(siteId, { limit: 500 })).records.find((record) => record.requestId === requestId);

  it.each(DIALECTS)('$dialect: records the issuance, then keysCreated 0 for the same request, never a key byte', async (entry) => {
    const contentId = freshContentId('audit');
    const body = entry.request(contentId);
    const kids = kidsOf(body);
    const post = () => postSpeke(t.app, { body, token, ...(entry.version !== undefined && { version: entry.version }) });

    const first = await post();
    expect(first.status).toBe(200);
    const expected = {
      siteId,
      action: 'issue',
      dialect: entry.dialect,
      contentId,
      kids,
      periodIndexes: entry.periodIndexes,
      credentialId: tokenId,
      requestId: first.headers['x-request-id'],
    };
    expect(await recordOf(first.headers['x-request-id'])).toMatchObject({ ...expected, keysCreated: kids.length });

    const second = await post();
    expect(second.status).toBe(200);
    expect(await recordOf(second.headers['x-request-id'])).toMatchObject({
      ...expected,
      requestId: second.headers['x-request-id'],
      keysCreated: 0,
    });

    const audit = JSON.stringify((await t.services.audit.list(siteId, { limit: 500 })).records);
    const secrets = secretFormsOf(bodyText(first));
    expect(secrets.length).toBeGreaterThan(0);
    for (const form of secrets) expect(audit).not.toContain(form);
    expect(audit).not.toContain(token);
  });
});

describeWithVectors('SPEKE fails closed when the step that stores keys and audit record fails', () => {
  const logs = captureLogs();

  it.each([
    {
      name: 'the store is unavailable',
      error: () => new DependencyUnavailable('ERR_STORE_UNAVAILABLE', 'key store unavailable'),
      status: 503,
    },
    { name: 'the store fails unexpectedly', error: () => new Error('disk on fire'), status: 500 },
  ])('$name: $status, a text body with no key and no CPIX (for every dialect)', async ({ error, status }) => {
    const t = createTestApp(logs.logger, undefined, {
      wrapStore: (store) => ({
        ...store,
        contentKeys: {
          ...store.contentKeys,
          getOrCreateAll: async () => {
            throw error();
          },
        },
      }),
    });
    try {
      const created = await t.services.sites.createSite({ name: 'no audit' });
      for (const entry of DIALECTS) {
        const contentId = freshContentId('fail-closed');
        const res = await postSpeke(t.app, {
          body: entry.request(contentId),
          token: created.token.token,
          ...(entry.version !== undefined && { version: entry.version }),
        });
        const body = bodyText(res);
        expect({ dialect: entry.dialect, status: res.status }).toEqual({ dialect: entry.dialect, status });
        if (status === 503) expect(res.headers['retry-after']).toMatch(/^\d+$/);
        // v2 errors carry the v2 headers too (X-Speke-Version echoed, X-Speke-User-Agent); v1 ones the v1 user agent.
        if (entry.version !== undefined) expect(res.headers['x-speke-version']).toBe(entry.version);
        expect(res.headers[entry.version === undefined ? 'speke-user-agent' : 'x-speke-user-agent']).toEqual(expect.stringMatching(/\S/));
        expect(res.headers['content-type']).toMatch(/^text\/plain/);
        expect(body).not.toMatch(/CPIX|PlainValue|<\?xml|<cpix:/);
      }
    } finally {
      await t.close();
    }
  });
});

describeWithVectors('SPEKE authentication and what reaches the logs', () => {
  const logs = captureLogs();
  let t: TestApp;
  let token: string;
  const tokens: string[] = [];
  const issuedKeys: string[] = [];
  beforeAll(async () => {
    t = createTestApp(logs.logger);
    const created = await t.services.sites.createSite({ name: 'auth' });
    token = created.token.token;
    tokens.push(token, created.accessKey);
  });
  afterAll(() => t.close());

  const body = (): string => withContentId(readAwslabs(LIVE_V2), freshContentId('auth'));

  it.each([
    { name: 'Authorization: Bearer on /speke/copyProtection', path: '/speke/copyProtection', tokenIn: 'bearer' },
    { name: 'X-KMS-Token on /speke/v2.0/copyProtection', path: '/speke/v2.0/copyProtection', tokenIn: 'x-kms-token' },
    { name: '?enc-token= on /cpix/getKey (PallyCon SPEKE URL)', path: '/cpix/getKey', tokenIn: 'enc-token' },
  ] as const)('accepts the token as $name', async ({ path, tokenIn }) => {
    const res = await postSpeke(t.app, { body: body(), version: '2.0', token, tokenIn, path });
    expect(res.status).toBe(200);
    const doc = parseResponse(res);
    issuedKeys.push(...Object.values(plainKeys(doc)));
  });

  it.each([
    { name: 'no token', token: () => undefined, status: 401, text: 'authentication failed' },
    { name: 'an unknown token', token: () => 'kms1.AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB', status: 401, text: 'authentication failed' },
    { name: 'a tampered token', token: () => `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`, status: 401, text: 'authentication failed' },
  ])('refuses $name with $status (v2 and v1)', async ({ token: credential, status, text }) => {
    const presented = credential();
    if (presented !== undefined) tokens.push(presented);
    for (const version of ['2.0', undefined]) {
      const res = await postSpeke(t.app, {
        body: body(),
        ...(presented !== undefined && { token: presented }),
        ...(version !== undefined && { version }),
      });
      expect({ version, status: res.status, body: bodyText(res) }).toEqual({ version, status, body: text });
    }
  });

  it('refuses a revoked token with 401 and a disabled site with 403', async () => {
    const revoked = await t.services.sites.createSite({ name: 'revoked' });
    tokens.push(revoked.token.token, revoked.accessKey);
    await t.services.sites.revokeToken(revoked.site.id, revoked.token.id);
    expect((await postSpeke(t.app, { body: body(), version: '2.0', token: revoked.token.token })).status).toBe(401);

    const disabled = await t.services.sites.createSite({ name: 'disabled' });
    tokens.push(disabled.token.token, disabled.accessKey);
    // Works while active, then 403 once disabled: the token is fine, the site is not.
    expect((await postSpeke(t.app, { body: body(), version: '2.0', token: disabled.token.token })).status).toBe(200);
    await t.services.sites.updateSite(disabled.site.id, { status: 'disabled' });
    const res = await postSpeke(t.app, { body: body(), version: '2.0', token: disabled.token.token });
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
  });

  it('never writes a token or a key into the logs; URLs with a token are redacted', () => {
    const text = logs.text();
    expect(text).toContain('enc-token=[redacted]');
    expect(issuedKeys.length).toBeGreaterThan(0);
    for (const secret of tokens) for (const form of encodingsOf(secret)) expect(text).not.toContain(form);
    for (const key of issuedKeys) for (const form of encodingsOf(Buffer.from(key, 'base64'))) expect(text).not.toContain(form);
  });
});
