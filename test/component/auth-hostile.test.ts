import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { createTestApp, type TestApp } from '../support/app';
import { captureLogs, findSecretLeaks, type NamedSecret } from '../support/log-capture';
import { testCertificate } from '../support/services';
import { buildSpekeV2Request } from '../support/speke-request';

/**
 * What a hostile tenant (or anyone on the internet) sends to the credential checks, over HTTP on the
 * real app: floods of bad tokens from the address every client shares behind an ingress, spoofed
 * X-Forwarded-For, a credential repeated or split over parameters, two credentials in one request.
 * A credential that verifies is answered whatever others did (decision 53); a request whose credential
 * forms are ambiguous is refused (decision 55); every refusal leaves no key and no audit record.
 * The failure windows run on an injected clock: nothing here waits.
 */

const WIDEVINE = 'edef8ba9-79d6-4ace-a3c8-27dcd51d21ed';
const PER_ADDRESS = 5;
const PER_CREDENTIAL = 8;
const WINDOW_MS = 60_000;

interface Site {
  readonly id: string;
  readonly token: string;
}

describe('hostile requests to the credential checks', () => {
  const logs = captureLogs();
  const secrets: NamedSecret[] = [];
  let now = Date.parse('2026-12-08T10:00:00Z');
  /** Closes every failure window: each test starts with fresh counters. */
  const nextWindow = () => {
    now += WINDOW_MS + 1;
  };
  const metricsToken = randomBytes(32).toString('base64url');
  /** TRUST_PROXY_HOPS=0: every client behind the ingress has the ingress's address (127.0.0.1 here). */
  let ingress: TestApp;
  /** TRUST_PROXY_HOPS=1 with clients reaching the service directly: X-Forwarded-For is theirs to forge. */
  let direct: TestApp;
  let a: Site;
  let b: Site;
  let licenseCredential: string;
  /** `direct`'s tokens of the same two sites. */
  let directTokens: { a: string; b: string };
  let contentCounter = 0;
  const freshContent = () => `hostile-auth-${(contentCounter += 1)}`;

  const limits = { perAddress: PER_ADDRESS, perCredential: PER_CREDENTIAL, windowMs: WINDOW_MS };
  beforeAll(async () => {
    ingress = createTestApp(logs.logger, undefined, { authFailureLimits: limits, authFailureClock: () => new Date(now), metricsToken });
    direct = createTestApp(logs.logger, undefined, { authFailureLimits: limits, authFailureClock: () => new Date(now), trustProxyHops: 1 });
    for (const t of [ingress, direct]) {
      const one = await t.services.sites.createSite({ id: 'SITA', name: 'tenant A' });
      const two = await t.services.sites.createSite({ id: 'SITB', name: 'tenant B' });
      secrets.push({ name: 'token A', value: one.token.token }, { name: 'token B', value: two.token.token });
      secrets.push({ name: 'access key A', value: one.accessKey }, { name: 'access key B', value: two.accessKey });
    }
    // Both apps' sites share IDs, not tokens: the tests below use `ingress`'s unless they say otherwise.
    const sitesOf = async (t: TestApp) => {
      const [one, two] = await Promise.all(['SITA', 'SITB'].map((id) => t.services.sites.issueToken(id, 'hostile')));
      return [one, two] as const;
    };
    const [ia, ib] = await sitesOf(ingress);
    a = { id: 'SITA', token: ia?.token ?? '' };
    b = { id: 'SITB', token: ib?.token ?? '' };
    const [da, db] = await sitesOf(direct);
    directTokens = { a: da?.token ?? '', b: db?.token ?? '' };
    const registered = await ingress.services.licenseServers.register('SITA', { name: 'hostile', certificate: testCertificate('rsa2048') });
    licenseCredential = registered.credential;
    secrets.push(
      { name: 'token A (ingress)', value: a.token },
      { name: 'token B (ingress)', value: b.token },
      { name: 'token A (direct)', value: directTokens.a },
      { name: 'token B (direct)', value: directTokens.b },
      { name: 'license-server credential', value: licenseCredential },
      { name: 'admin token (ingress)', value: ingress.adminToken },
      { name: 'admin token (direct)', value: direct.adminToken },
      { name: 'metrics token', value: metricsToken },
    );
  });
  beforeEach(nextWindow);
  afterAll(async () => {
    await ingress?.close();
    await direct?.close();
  });

  /** A well-formed token with `token`'s ID and a secret nobody was issued. */
  const wrongSecret = (token: string) => `${token.slice(0, token.lastIndexOf('.'))}.${randomBytes(32).toString('base64url')}`;
  const unknownToken = () => `kms1.${randomBytes(12).toString('base64url')}.${randomBytes(32).toString('base64url')}`;

  /** A SPEKE v2.0 key request (no credential, no body yet). */
  const speke = (t: TestApp, path = '/speke/copyProtection') =>
    request(t.app).post(path).set('Content-Type', 'application/xml').set('X-Speke-Version', '2.0');
  const body = (contentId: string) => buildSpekeV2Request(contentId, 'cenc', [WIDEVINE]);
  /**
   * Sends `name` once per value: superagent hands an array to node's `setHeader`, which writes one
   * header line per element; its types admit arrays for `Cookie` only.
   */
  const repeated = (req: request.Test, name: string, values: readonly string[]) => req.set(name as 'Cookie', [...values]);

  /** Keys and audit records `contentId` has on either site. */
  async function traces(t: TestApp, contentId: string) {
    const keys = await Promise.all(['SITA', 'SITB'].map((site) => t.services.contentKeys.listMetadata(site, contentId)));
    const audit = await Promise.all(['SITA', 'SITB'].map(async (site) => (await t.services.audit.list(site, { limit: 500 })).records.filter((r) => r.contentId === contentId)));
    return { keys: keys.flat().length, audit: audit.flat().length };
  }
  const nothingCreated = { keys: 0, audit: 0 };

  describe('finding 6: a credential that verifies is never refused for failures it did not make', () => {
    it('a flood of bad tokens from the shared ingress address, then a valid token from it: keys are issued', async () => {
      for (let i = 0; i < PER_ADDRESS; i += 1) {
        const res = await speke(ingress).set('Authorization', `Bearer ${unknownToken()}`).send(body(freshContent()));
        expect(res.status).toBe(401);
      }
      const limited = await speke(ingress).set('Authorization', `Bearer ${unknownToken()}`).send(body(freshContent()));
      expect(limited.status).toBe(429);
      expect(Number(limited.headers['retry-after'])).toBe(WINDOW_MS / 1000);
      const contentId = freshContent();
      const served = await speke(ingress).set('Authorization', `Bearer ${a.token}`).send(body(contentId));
      expect(served.status).toBe(200);
      expect(await ingress.services.contentKeys.listMetadata(a.id, contentId)).toHaveLength(2);
      // Failures are still refused with 429 (RFC 6585 §4), and leave nothing behind.
      const failed = freshContent();
      expect((await speke(ingress).set('Authorization', `Bearer ${unknownToken()}`).send(body(failed))).status).toBe(429);
      expect(await traces(ingress, failed)).toEqual(nothingCreated);
    });

    it('the admin API has its own counter, and its right token is answered after its own failures', async () => {
      for (let i = 0; i <= PER_ADDRESS; i += 1) await speke(ingress).set('X-KMS-Token', unknownToken()).send(body(freshContent()));
      const admin = (token: string) => request(ingress.app).get('/admin/v1/sites').set('Authorization', `Bearer ${token}`);
      expect((await admin(ingress.adminToken)).status).toBe(200);
      // The key routes' failures did not use up the admin counter: a wrong admin token is a plain 401.
      expect((await admin(randomBytes(32).toString('base64url'))).status).toBe(401);
      for (let i = 1; i < PER_ADDRESS; i += 1) expect((await admin(randomBytes(32).toString('base64url'))).status).toBe(401);
      const limited = await admin(randomBytes(32).toString('base64url'));
      expect(limited.status).toBe(429);
      expect(limited.body.error.code).toBe('ERR_RATE_LIMITED');
      expect((await admin(ingress.adminToken)).status).toBe(200);
      expect((await request(ingress.app).get('/metrics').set('Authorization', `Bearer ${metricsToken}`)).status).toBe(200);
    });

    it('an attacker who forges X-Forwarded-For is counted by the address it really comes from (TRUST_PROXY_HOPS=0)', async () => {
      for (let i = 0; i < PER_ADDRESS; i += 1) {
        const res = await speke(ingress).set('X-Forwarded-For', `198.51.100.${i}`).set('X-KMS-Token', unknownToken()).send(body(freshContent()));
        expect(res.status).toBe(401);
      }
      expect((await speke(ingress).set('X-Forwarded-For', '198.51.100.200').set('X-KMS-Token', unknownToken()).send(body(freshContent()))).status).toBe(429);
    });

    it('an attacker who knows a token ID and forges X-Forwarded-For cannot lock that token out (TRUST_PROXY_HOPS=1)', async () => {
      for (let i = 0; i < PER_CREDENTIAL; i += 1) {
        const res = await speke(direct).set('X-Forwarded-For', `203.0.113.${i}`).set('Authorization', `Bearer ${wrongSecret(directTokens.a)}`).send(body(freshContent()));
        expect(res.status).toBe(401);
      }
      const limited = await speke(direct).set('X-Forwarded-For', '203.0.113.100').set('Authorization', `Bearer ${wrongSecret(directTokens.a)}`).send(body(freshContent()));
      expect(limited.status).toBe(429);
      // The token's owner, from the attacker's forged address or its own, still gets keys.
      for (const address of ['203.0.113.100', '192.0.2.50']) {
        const contentId = freshContent();
        const served = await speke(direct).set('X-Forwarded-For', address).set('Authorization', `Bearer ${directTokens.a}`).send(body(contentId));
        expect(served.status).toBe(200);
      }
    });

    it('counts an IPv6 client by its /64: new interface IDs do not buy new guesses', async () => {
      for (let i = 1; i <= PER_ADDRESS; i += 1) {
        const res = await speke(direct).set('X-Forwarded-For', `2001:db8:7:7::${i}`).set('X-KMS-Token', unknownToken()).send(body(freshContent()));
        expect(res.status).toBe(401);
      }
      const limited = await speke(direct).set('X-Forwarded-For', '2001:db8:7:7:a:b:c:d').set('X-KMS-Token', unknownToken()).send(body(freshContent()));
      expect(limited.status).toBe(429);
      const neighbour = await speke(direct).set('X-Forwarded-For', '2001:db8:7:8::1').set('X-KMS-Token', unknownToken()).send(body(freshContent()));
      expect(neighbour.status).toBe(401);
    });
  });

  it('records the socket address, not a forged X-Forwarded-For entry that is no address, in the audit record', async () => {
    const contentId = freshContent();
    const forged = `${directTokens.b}`;
    const res = await speke(direct).set('X-Forwarded-For', forged).set('Authorization', `Bearer ${directTokens.a}`).send(body(contentId));
    expect(res.status).toBe(200);
    const [record] = (await direct.services.audit.list(a.id, { limit: 500 })).records.filter((r) => r.contentId === contentId);
    expect(record?.clientAddress).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
  });

  describe('finding 7: one request, one credential, in one form', () => {
    const split = (token: string) => {
      const dot = token.lastIndexOf('.');
      return [token.slice(0, dot), token.slice(dot)] as const;
    };

    const refusedKeyRequests: readonly (readonly [string, () => request.Test])[] = [
      ['a repeated enc-token beside a bearer token', () => speke(ingress, `/speke/copyProtection?enc-token=${b.token}&enc-token=${b.token}`).set('Authorization', `Bearer ${a.token}`)],
      ['a repeated enc-token alone', () => speke(ingress, `/speke/copyProtection?enc-token=${a.token}&enc-token=${a.token}`)],
      ['a bracketed enc-token beside a bearer token', () => speke(ingress, `/speke/copyProtection?enc-token[a]=${b.token}`).set('Authorization', `Bearer ${a.token}`)],
      ['a differently cased Enc-Token beside a bearer token', () => speke(ingress, `/speke/copyProtection?Enc-Token=${b.token}`).set('Authorization', `Bearer ${a.token}`)],
      ['an empty enc-token beside a bearer token', () => speke(ingress, '/speke/copyProtection?enc-token=').set('Authorization', `Bearer ${a.token}`)],
      ['a token split over two enc-token parameters', () => speke(ingress, `/speke/copyProtection?enc-token=${split(a.token)[0]}&enc-token=${split(a.token)[1]}`)],
      ['a token split over the query and X-KMS-Token', () => speke(ingress, `/speke/copyProtection?enc-token=${split(a.token)[0]}`).set('X-KMS-Token', split(a.token)[1])],
      ['two Authorization headers with different tokens', () => repeated(speke(ingress), 'Authorization', [`Bearer ${a.token}`, `Bearer ${b.token}`])],
      ['the same token in two Authorization headers', () => repeated(speke(ingress), 'Authorization', [`Bearer ${a.token}`, `Bearer ${a.token}`])],
      ['a repeated X-KMS-Token', () => repeated(speke(ingress), 'X-KMS-Token', [a.token, a.token])],
      ['X-KMS-Token of one site, a bearer token of another', () => speke(ingress).set('X-KMS-Token', a.token).set('Authorization', `Bearer ${b.token}`)],
      ['a Bearer header holding two credentials beside X-KMS-Token', () => speke(ingress).set('Authorization', `Bearer ${b.token} ${a.token}`).set('X-KMS-Token', a.token)],
      ['an empty X-KMS-Token beside a bearer token', () => speke(ingress).set('X-KMS-Token', '').set('Authorization', `Bearer ${a.token}`)],
      ['a path token of one site, enc-token of another', () => speke(ingress, `/v2/cpix/pallycon/getKey/${a.token}?enc-token=${b.token}`)],
    ];

    it.each(refusedKeyRequests)('refuses %s: 401 ERR_AUTH_REQUIRED, no key, no audit record', async (_name, send) => {
      const contentId = freshContent();
      const res = await send().send(body(contentId));
      expect(res.status).toBe(401);
      expect(res.text).toContain('authentication failed');
      expect(await traces(ingress, contentId)).toEqual(nothingCreated);
    });

    it.each([
      ['the path and X-KMS-Token', () => speke(ingress, `/v2/cpix/pallycon/getKey/${a.token}`).set('X-KMS-Token', a.token)],
      ['Authorization and enc-token', () => speke(ingress, `/speke/copyProtection?enc-token=${a.token}`).set('Authorization', `Bearer ${a.token}`)],
    ])('takes the same valid token in %s as one credential', async (_name, send) => {
      const contentId = freshContent();
      const res = await send().send(body(contentId));
      expect(res.status).toBe(200);
      expect(await traces(ingress, contentId)).toEqual({ keys: 2, audit: 1 });
    });

    it('reads the Bearer scheme case-insensitively (RFC 9110 §11.1)', async () => {
      const contentId = freshContent();
      expect((await speke(ingress).set('Authorization', `bearer ${a.token}`).send(body(contentId))).status).toBe(200);
    });

    it.each([
      ['a KMS token in X-KMS-Token', () => request(ingress.app).get('/license/v1/sites/SITA/contents/movie').set('Authorization', `Bearer ${licenseCredential}`).set('X-KMS-Token', a.token)],
      ['a KMS token in enc-token', () => request(ingress.app).get(`/license/v1/sites/SITA/contents/movie?enc-token=${a.token}`).set('Authorization', `Bearer ${licenseCredential}`)],
      ['a second Authorization header', () => repeated(request(ingress.app).get('/license/v1/sites/SITA/contents/movie'), 'Authorization', [`Bearer ${licenseCredential}`, `Bearer ${a.token}`])],
    ])('refuses a license-server credential with %s', async (_name, send) => {
      const res = await send();
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('ERR_AUTH_REQUIRED');
      // …which alone is accepted (there are no keys to export: 404, past authentication).
      expect((await request(ingress.app).get('/license/v1/sites/SITA/contents/movie').set('Authorization', `Bearer ${licenseCredential}`)).status).not.toBe(401);
    });

    it.each([
      ['a KMS token in enc-token', () => request(ingress.app).get(`/admin/v1/sites?enc-token=${a.token}`).set('Authorization', `Bearer ${ingress.adminToken}`)],
      ['a KMS token in X-KMS-Token', () => request(ingress.app).get('/admin/v1/sites').set('Authorization', `Bearer ${ingress.adminToken}`).set('X-KMS-Token', a.token)],
      ['a second Authorization header', () => repeated(request(ingress.app).get('/admin/v1/sites'), 'Authorization', [`Bearer ${ingress.adminToken}`, 'Bearer other'])],
    ])('refuses the admin token with %s', async (_name, send) => {
      const res = await send();
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('ERR_AUTH_REQUIRED');
      expect(res.headers['www-authenticate']).toBe('Bearer realm="cpix-kms admin"');
    });
  });

  it('writes none of the credentials into any log line', () => {
    expect(logs.lines.length).toBeGreaterThan(50);
    expect(findSecretLeaks(logs.lines, secrets)).toEqual([]);
  });
});
