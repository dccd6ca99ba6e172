import { createAllowedOrigins } from '../../../src/licence/allowed-origins';
import { contentLicencePolicyOf } from '../../../src/licence/content-licence-policy';
import type { ContentPolicy } from '../../../src/content-policy/ports';
import type { KeyId } from '../../../src/keys/key-id';
import type { ContentRevocations, Revocation } from '../../../src/revocation/ports';
import { parseLicenceRequest } from '../../../src/licence/clearkey-licence';
import { licenceTokenKeyId, parseBase64UrlKid } from '../../../src/licence/licence-token';
import { isWebOrigin } from '../../../src/sites/site';

describe('ClearKey KIDs (EME §9.1.3: base64url of 16 bytes, no padding)', () => {
  it('reads the canonical spelling only', () => {
    expect(parseBase64UrlKid('EAAAABAAEAAQABAAAAAAAQ')).toBe('10000000-1000-1000-1000-100000000001');
    for (const text of ['EAAAABAAEAAQABAAAAAAAQ==', 'EAAAABAAEAAQABAAAAAAAR', 'EAAAABAAEAAQABAAAAAAA', '+AAAABAAEAAQABAAAAAAAQ', '', 16, null]) {
      expect(parseBase64UrlKid(text)).toBeUndefined();
    }
  });

  it('licence requests: KIDs folded, type required', () => {
    expect(parseLicenceRequest({ kids: ['EAAAABAAEAAQABAAAAAAAQ', 'EAAAABAAEAAQABAAAAAAAQ'], type: 'temporary', extra: 1 })).toEqual({
      kids: ['10000000-1000-1000-1000-100000000001'],
      type: 'temporary',
    });
    expect(() => parseLicenceRequest({ kids: ['EAAAABAAEAAQABAAAAAAAQ'], type: 'persistent-release-message' })).toThrow(/type/);
  });
});

describe('licence token key IDs for failure counters', () => {
  const header = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  it('takes a kid of our shape from a compact JWS, nothing else', () => {
    expect(licenceTokenKeyId(`${header({ alg: 'HS256', kid: 'AAAAAAAAAAAAAAAA' })}.e30.sig`)).toBe('AAAAAAAAAAAAAAAA');
    expect(licenceTokenKeyId(`${header({ alg: 'HS256', kid: 'cred:addr:x' })}.e30.sig`)).toBeUndefined();
    expect(licenceTokenKeyId(`${header({ alg: 'HS256' })}.e30.sig`)).toBeUndefined();
    expect(licenceTokenKeyId('not a token')).toBeUndefined();
    expect(licenceTokenKeyId(`${header({ kid: 'AAAAAAAAAAAAAAAA', pad: 'x'.repeat(5000) })}.e30.sig`)).toBeUndefined();
  });
});

describe('web origins (RFC 6454 §6.2)', () => {
  it.each(['https://player.example', 'http://localhost:8000', 'https://xn--bcher-kva.example'])('%s is one', (origin) => expect(isWebOrigin(origin)).toBe(true));
  it.each(['*', 'null', 'https://player.example/', 'https://Player.example', 'https://player.example:443', 'https://u@player.example', 'file:///x', 'https://*.example'])(
    '%s is not',
    (origin) => expect(isWebOrigin(origin)).toBe(false),
  );
});

describe('allowed origins of all sites (CORS preflight)', () => {
  it('reads the store at most once per TTL, by the injected clock, and once for concurrent callers', async () => {
    let now = 0;
    let reads = 0;
    let lists: string[][] = [['https://a.example'], ['https://b.example']];
    const allows = createAllowedOrigins({
      originsOfAllSites: async () => {
        reads += 1;
        return lists;
      },
      clock: () => new Date(now),
      ttlMs: 30_000,
    });
    expect(await Promise.all([allows('https://a.example'), allows('https://b.example'), allows('https://c.example')])).toEqual([true, true, false]);
    expect(reads).toBe(1);
    lists = [['https://c.example']];
    now = 29_999;
    expect(await allows('https://c.example')).toBe(false);
    now = 30_000;
    expect(await allows('https://c.example')).toBe(true);
    expect(await allows('https://a.example')).toBe(false);
    expect(reads).toBe(2);
  });

  it('a failed read is not cached', async () => {
    let fail = true;
    const allows = createAllowedOrigins({
      originsOfAllSites: async () => {
        if (fail) throw new Error('store down');
        return [['https://a.example']];
      },
      clock: () => new Date(0),
      ttlMs: 30_000,
    });
    await expect(allows('https://a.example')).rejects.toThrow('store down');
    fail = false;
    expect(await allows('https://a.example')).toBe(true);
  });
});

describe('the licence policy of a content (contentLicencePolicyOf)', () => {
  const revocation = (contentId: string, kids?: KeyId[]): Revocation => ({
    siteId: 'S',
    contentId,
    ...(kids !== undefined && { kids }),
    revokedAt: '2026-12-07T00:00:00.000Z',
    reason: 'test',
    credentialId: 'admin',
  });
  const k2 = 'k2' as KeyId;
  const revocations = new Map<string, ContentRevocations>([
    ['S/whole', { content: revocation('whole'), kids: new Map() }],
    ['S/some', { kids: new Map([[k2, revocation('some', [k2])]]) }],
  ]);
  const base: ContentPolicy = { name: 'p', securityLevel: 'HIGH', persistentLicense: false, licenseDurationSeconds: 0, rotationIntervalMinutes: 0 };
  const policies = new Map<string, ContentPolicy>([
    ['S/offline', { ...base, persistentLicense: true }],
    ['S/online', base],
  ]);
  const policy = contentLicencePolicyOf({
    revocations: { state: async (siteId, contentId) => revocations.get(`${siteId}/${contentId}`) ?? { kids: new Map() } },
    policies: { policyOf: async (siteId, contentId) => policies.get(`${siteId}/${contentId}`) },
  });

  it('revoked: the whole content, or any requested key of it', async () => {
    expect(await policy.isRevoked('S', 'whole', ['k1'])).toBe(true);
    expect(await policy.isRevoked('S', 'some', ['k1', 'k2'])).toBe(true);
    expect(await policy.isRevoked('S', 'some', ['k1'])).toBe(false);
    expect(await policy.isRevoked('S', 'clean', ['k1'])).toBe(false);
  });

  it('persistent: only under a policy that allows it', async () => {
    expect(await policy.allowsPersistent('S', 'offline')).toBe(true);
    expect(await policy.allowsPersistent('S', 'online')).toBe(false);
    expect(await policy.allowsPersistent('S', 'no-policy')).toBe(false);
  });
});
