import { createPrivateKey, randomBytes, randomUUID } from 'node:crypto';
import request from 'supertest';
import { decryptDocumentKeys } from '../support/cpix-decrypt';
import { parseCpixDocument } from '../../src/cpix/parse';
import type { CpixDocument } from '../../src/cpix/model';
import { KMS_EXPORT_NAMESPACE } from '../../src/cpix/constants';
import { createSelfSignedIdentityPem, signingConfigFromPem } from '../../src/dev-signing';
import { parseKeyId } from '../../src/keys/key-id';
import type { Store } from '../../src/store/store';
import { createTestApp, type TestApp } from '../support/app';
import { buildDoveRunnerRequest, DRM_TYPES, readAsPythonClient } from '../support/doverunner-clients';
import { assignPallyConKid } from '../../src/exchange/pallycon-kid';
import { captureLogs, encodingsOf } from '../support/log-capture';
import { b64Kid, mintToken, registerTokenKey, seconds } from '../support/licence-tokens';
import { redisAnswers, redisHarness, sharedRedisConfig } from '../support/redis-server';
import type { StoreHarness } from '../store/store-contract';

/**
 * Key lifecycle (docs/content-policies.md) over HTTP, on both stores: key import (the PallyCon
 * packager's manual mode, migrations), revocation, and content policies (DRM groups) carried to the
 * license server — each admin route, its refusals (400, 404, 409, 410) before anything changes, and the
 * key routes and license export that must honour them.
 */

const WIDEVINE = 'edef8ba9-79d6-4ace-a3c8-27dcd51d21ed';
const FAIRPLAY = '94ce86fb-07ff-4f43-adb8-93d2fa968ca2';
const HOUR_MS = 3_600_000;
/** The key exchange's clock: half past the current hour, so no hour turns while a test runs. */
const NOW = Math.floor(Date.now() / HOUR_MS) * HOUR_MS + HOUR_MS / 2;
const PREMIUM = { name: 'premium', securityLevel: 'HIGH', persistentLicense: false, licenseDurationSeconds: 86_400, rotationIntervalMinutes: 0 } as const;

interface SpekeKey {
  readonly kid: string;
  readonly period?: { readonly index: number; readonly start?: string; readonly end?: string };
}

/**
 * A SPEKE v2 request (CPIX 2.3, or 2.4 with periods for v2.1): cbcs keys for Widevine and FairPlay,
 * one video rule per key, labelled apart (SPEKE track types are unique in a contract).
 */
function spekeRequest(contentId: string, keys: readonly SpekeKey[], cpixVersion: '2.3' | '2.4' = '2.3'): string {
  const periods = keys.flatMap(({ period }, i) =>
    period === undefined
      ? []
      : [`<cpix:ContentKeyPeriod id="p${i}" index="${period.index}"${period.start ? ` start="${period.start}"` : ''}${period.end ? ` end="${period.end}"` : ''}/>`],
  );
  return [
    `<?xml version="1.0" encoding="UTF-8"?><cpix:CPIX xmlns:cpix="urn:dashif:org:cpix" xmlns:pskc="urn:ietf:params:xml:ns:keyprov:pskc" contentId="${contentId}" version="${cpixVersion}">`,
    `<cpix:ContentKeyList>${keys.map(({ kid }) => `<cpix:ContentKey kid="${kid}" commonEncryptionScheme="cbcs"/>`).join('')}</cpix:ContentKeyList>`,
    '<cpix:DRMSystemList>',
    ...keys.flatMap(({ kid }) =>
      [WIDEVINE, FAIRPLAY].map((system) => `<cpix:DRMSystem kid="${kid}" systemId="${system}"><cpix:PSSH/><cpix:HLSSignalingData playlist="media"/></cpix:DRMSystem>`),
    ),
    '</cpix:DRMSystemList>',
    periods.length > 0 ? `<cpix:ContentKeyPeriodList>${periods.join('')}</cpix:ContentKeyPeriodList>` : '',
    '<cpix:ContentKeyUsageRuleList>',
    ...keys.map(
      ({ kid, period }, i) =>
        `<cpix:ContentKeyUsageRule kid="${kid}" intendedTrackType="VIDEO_${i}">${period ? `<cpix:KeyPeriodFilter periodId="p${i}"/>` : ''}<cpix:VideoFilter/></cpix:ContentKeyUsageRule>`,
    ),
    '</cpix:ContentKeyUsageRuleList></cpix:CPIX>',
  ].join('');
}

/** Plain keys and IVs of a key-exchange answer, by KID. */
function answeredKeys(xml: string): Record<string, { readonly key: string; readonly iv?: string }> {
  const doc = parseCpixDocument(xml);
  return Object.fromEntries(
    (doc.contentKeyList?.items ?? []).map((key) => [
      key.kid,
      { key: key.data?.kind === 'plain' ? key.data.value.toString('base64') : '(not plain)', ...(key.explicitIV && { iv: key.explicitIV.toString('base64') }) },
    ]),
  );
}

/** The `kms:` elements of an export's usage rules, as attribute maps. */
function kmsExtensions(doc: CpixDocument): Record<string, string>[] {
  return (doc.contentKeyUsageRuleList?.items ?? []).flatMap((rule) =>
    (rule.extensions ?? []).flatMap((node) =>
      node.kind === 'element' && node.namespace === KMS_EXPORT_NAMESPACE
        ? [{ element: node.localName, ...Object.fromEntries(node.attributes.map((a) => [a.localName, a.value])) }]
        : [],
    ),
  );
}

const config = sharedRedisConfig();
const redisHere = redisAnswers(config) || process.env.CI === 'true';
if (!redisHere) console.warn('key lifecycle on Redis skipped: no Redis answers (start one, or set REDIS_URL)');

const STORES: readonly (readonly [string, (() => Promise<StoreHarness>) | undefined])[] = [
  ['SQLite', undefined],
  ...(redisHere ? [['Redis', () => redisHarness(config)] as const] : []),
];

describe.each(STORES)('key lifecycle over HTTP on %s', (_name, makeHarness) => {
  const logs = captureLogs();
  let t: TestApp;
  let harness: StoreHarness | undefined;
  let redisStore: Store | undefined;
  let siteId: string;
  let kmsToken: string;
  let lsCredential: string;
  const licenseServer = signingConfigFromPem(createSelfSignedIdentityPem('lifecycle test license server'), 'license server');
  const secrets: string[] = [];
  const keyBytes: string[] = [];

  const admin = () => ({ Authorization: `Bearer ${t.adminToken}` });
  const sitePath = (path: string) => `/admin/v1/sites/${siteId}${path}`;
  const contentPath = (contentId: string, path: string) => sitePath(`/contents/${encodeURIComponent(contentId)}${path}`);
  const importKeys = (contentId: string, keys: readonly object[]) => request(t.app).post(contentPath(contentId, '/keys')).set(admin()).send({ keys });
  const listKeys = (contentId: string) => request(t.app).get(contentPath(contentId, '/keys')).set(admin());
  const speke = (body: string, version: '2.0' | '2.1' = '2.0') =>
    request(t.app).post('/speke/copyProtection').set('X-Speke-Version', version).set('X-KMS-Token', kmsToken).set('Content-Type', 'application/xml').send(body);
  const pallycon = (body: string, query = '') =>
    request(t.app).post(`/v2/cpix/pallycon/getKey/${kmsToken}${query}`).set('Content-Type', 'application/xml').send(body);
  const exportOf = (contentId: string) =>
    request(t.app).get(`/license/v1/sites/${siteId}/contents/${encodeURIComponent(contentId)}`).set('Authorization', `Bearer ${lsCredential}`);
  const exported = (xml: string) =>
    decryptDocumentKeys(parseCpixDocument(xml), [{ certificate: licenseServer.certificate, privateKey: createPrivateKey(licenseServer.privateKeyPem) }]);
  /** A fresh 32-byte KEY ‖ IV, remembered so the log check can look for its bytes. */
  const keyAndIv = () => {
    const bytes = randomBytes(32);
    keyBytes.push(bytes.toString('base64'), bytes.subarray(0, 16).toString('base64'), bytes.subarray(0, 16).toString('hex'));
    return { both: bytes.toString('base64'), key: bytes.subarray(0, 16).toString('base64'), iv: bytes.subarray(16).toString('base64') };
  };

  beforeAll(async () => {
    harness = await makeHarness?.();
    redisStore = await harness?.open();
    t = createTestApp(logs.logger, undefined, { exchangeClock: () => new Date(NOW), ...(redisStore && { store: redisStore }) });
    const created = await t.services.sites.createSite({ name: 'lifecycle' });
    siteId = created.site.id;
    kmsToken = created.token.token;
    const ls = await request(t.app)
      .post(sitePath('/license-servers'))
      .set(admin())
      .send({ name: 'license server', certificate: licenseServer.certificatePem })
      .expect(201);
    lsCredential = ls.body.credential as string;
    secrets.push(kmsToken, lsCredential, created.accessKey);
  });
  afterAll(async () => {
    await t.close();
    await redisStore?.close();
    await harness?.destroy();
  });

  describe('key import', () => {
    it('imports 32-byte KEY ‖ IV keys (201), answers a repeat with 200, and lists metadata only', async () => {
      const contentId = `import-${randomUUID()}`;
      const [hd, audio] = [keyAndIv(), keyAndIv()];
      const [hdKid, audioKid] = [randomUUID(), randomUUID()];
      const body = [
        { kid: hdKid.replace(/-/g, '').toUpperCase(), key: hd.both, trackType: 'HD' },
        { kid: audioKid, key: audio.key, iv: audio.iv, trackType: 'AUDIO' },
      ];
      const first = await importKeys(contentId, body);
      expect(first.status).toBe(201);
      expect(first.body).toEqual({
        siteId,
        contentId,
        keys: [
          { kid: hdKid, trackType: 'HD', createdAt: expect.any(String) },
          { kid: audioKid, trackType: 'AUDIO', createdAt: expect.any(String) },
        ],
      });
      const again = await importKeys(contentId, body);
      expect({ status: again.status, body: again.body }).toEqual({ status: 200, body: first.body });
      // The same key with its IV given separately (equal to the 32-byte form's) is the same import.
      expect((await importKeys(contentId, [{ kid: hdKid, key: hd.key, iv: hd.iv, trackType: 'HD' }])).status).toBe(200);
      const listed = await listKeys(contentId).expect(200);
      expect(listed.body.keys.map((k: { kid: string }) => k.kid).sort()).toEqual([hdKid, audioKid].sort());
      expect(JSON.stringify([first.body, listed.body])).not.toMatch(new RegExp([hd.key, hd.iv, audio.key].map((s) => s.replace(/[+/]/g, '\\$&')).join('|')));
    });

    it.each([
      ['another key', (kid: string, stored: ReturnType<typeof keyAndIv>) => ({ kid, key: randomBytes(16).toString('base64'), iv: stored.iv })],
      ['another IV', (kid: string, stored: ReturnType<typeof keyAndIv>) => ({ kid, key: stored.key, iv: randomBytes(16).toString('base64') })],
      ['another 32-byte KEY ‖ IV', (kid: string) => ({ kid, key: randomBytes(32).toString('base64') })],
    ])('answers 409 ERR_KEY_CONFLICT for %s under a stored KID, and imports none of the batch', async (_name, conflicting) => {
      const contentId = `conflict-${randomUUID()}`;
      const stored = keyAndIv();
      const kid = randomUUID();
      await importKeys(contentId, [{ kid, key: stored.both }]).expect(201);
      const fresh = randomUUID();
      const res = await importKeys(contentId, [{ kid: fresh, key: randomBytes(16).toString('base64') }, conflicting(kid, stored)]);
      expect({ status: res.status, code: res.body.error?.code }).toEqual({ status: 409, code: 'ERR_KEY_CONFLICT' });
      expect((await listKeys(contentId)).body.keys.map((k: { kid: string }) => k.kid)).toEqual([kid]);
      const answered = answeredKeys((await speke(spekeRequest(contentId, [{ kid }])).expect(200)).text);
      expect(answered[kid]).toEqual({ key: stored.key, iv: stored.iv });
    });

    it('answers 409 when the KID was generated by a key request first', async () => {
      const contentId = `generated-${randomUUID()}`;
      const kid = randomUUID();
      await speke(spekeRequest(contentId, [{ kid }])).expect(200);
      const res = await importKeys(contentId, [{ kid, key: randomBytes(16).toString('base64') }]);
      expect(res.status).toBe(409);
    });

    /** What a hostile or careless operator script might send; each is refused before any key exists. */
    const HOSTILE: readonly (readonly [name: string, keys: () => readonly object[], status: number])[] = [
      ['an IV that contradicts the 32-byte key', () => [{ kid: randomUUID(), key: randomBytes(32).toString('base64'), iv: randomBytes(16).toString('base64') }], 400],
      ['one KID twice (as a UUID and as hex)', () => {
        const kid = randomUUID();
        return [{ kid, key: randomBytes(16).toString('base64') }, { kid: kid.replace(/-/g, ''), key: randomBytes(16).toString('base64') }];
      }, 400],
      ['two keys for one track type and period', () => [
        { kid: randomUUID(), key: randomBytes(16).toString('base64'), trackType: 'HD', periodIndex: 1 },
        { kid: randomUUID(), key: randomBytes(16).toString('base64'), trackType: 'HD', periodIndex: 1 },
      ], 400],
      ['a 24-byte key', () => [{ kid: randomUUID(), key: randomBytes(24).toString('base64') }], 400],
      ['a key in hex', () => [{ kid: randomUUID(), key: randomBytes(16).toString('hex') }], 400],
      ['a 12-byte IV', () => [{ kid: randomUUID(), key: randomBytes(16).toString('base64'), iv: randomBytes(12).toString('base64') }], 400],
      ['a KID that is no UUID', () => [{ kid: 'not-a-kid', key: randomBytes(16).toString('base64') }], 400],
      ['a negative period', () => [{ kid: randomUUID(), key: randomBytes(16).toString('base64'), periodIndex: -1 }], 400],
      ['a period past uint32', () => [{ kid: randomUUID(), key: randomBytes(16).toString('base64'), periodIndex: 2 ** 32 }], 400],
      ['a track type with markup', () => [{ kid: randomUUID(), key: randomBytes(16).toString('base64'), trackType: '<HD>' }], 400],
      ['an extra property (scheme)', () => [{ kid: randomUUID(), key: randomBytes(16).toString('base64'), scheme: 'cbcs' }], 400],
      ['no keys', () => [], 400],
      ['1001 keys', () => Array.from({ length: 1001 }, () => ({ kid: randomUUID(), key: randomBytes(16).toString('base64') })), 400],
    ];

    it.each(HOSTILE)('refuses %s and creates nothing', async (_name, keys, status) => {
      const contentId = `hostile-${randomUUID()}`;
      const res = await importKeys(contentId, keys() as object[]);
      expect({ status: res.status, code: res.body.error?.code }).toEqual({ status, code: 'ERR_REQUEST_INVALID' });
      expect((await listKeys(contentId)).status).toBe(404);
    });

    it('refuses a content ID past 256 characters, an unknown site, and a body that is not an object', async () => {
      const key = { kid: randomUUID(), key: randomBytes(16).toString('base64') };
      expect((await importKeys('x'.repeat(257), [key])).status).toBe(400);
      const unknown = await request(t.app).post('/admin/v1/sites/ZZZZ/contents/movie/keys').set(admin()).send({ keys: [key] });
      expect(unknown.status).toBe(404);
      expect((await request(t.app).post(contentPath('movie', '/keys')).set(admin()).send([key])).status).toBe(400);
    });

    it('issues an imported key through SPEKE v2 with its IV, and through the PallyCon API as NCG and as FairPlay', async () => {
      const contentId = `manual-${randomUUID()}`;
      const cek = keyAndIv();
      const kid = randomUUID();
      await importKeys(contentId, [{ kid, key: cek.both, trackType: 'HD' }]).expect(201);

      // SPEKE v2.0, cbcs, naming the imported KID: the imported key and IV.
      expect(answeredKeys((await speke(spekeRequest(contentId, [{ kid }])).expect(200)).text)[kid]).toEqual({ key: cek.key, iv: cek.iv });

      // PallyCon: the server assigns KIDs per track type; for HD it answers the imported one.
      const ncg = buildDoveRunnerRequest(contentId, ['HD'], { systemIds: [DRM_TYPES.NCG] });
      const ncgAnswer = readAsPythonClient((await pallycon(ncg.xml).expect(200)).text);
      expect(ncgAnswer.keys).toEqual([expect.objectContaining({ track_type: 'HD', key_id: kid, key: cek.key, 'ncg:cpix:URIExtXKey': cek.both })]);

      const fairplay = buildDoveRunnerRequest(contentId, ['HD'], { systemIds: [DRM_TYPES.FAIRPLAY], scheme: 'CBCS' });
      const fpAnswer = readAsPythonClient((await pallycon(fairplay.xml).expect(200)).text);
      expect(fpAnswer.keys).toEqual([expect.objectContaining({ track_type: 'HD', key_id: kid, key: cek.key, iv: cek.iv })]);

      // A track type without an imported key gets the one the site assigns, not the imported one.
      const sd = readAsPythonClient((await pallycon(buildDoveRunnerRequest(contentId, ['SD'], { systemIds: [DRM_TYPES.NCG] }).xml).expect(200)).text);
      expect(sd.keys[0]?.key_id).not.toBe(kid);
    });

    it('refuses, with 409 and before any key is created, a PallyCon request whose imported key has the KID the site derives for another of its tracks', async () => {
      const contentId = `clash-${randomUUID()}`;
      const hdKid = assignPallyConKid(siteId, contentId, 'HD', undefined);
      await importKeys(contentId, [{ kid: hdKid, key: keyAndIv().both, trackType: 'SD' }]).expect(201);
      const res = await pallycon(buildDoveRunnerRequest(contentId, ['SD', 'HD'], { systemIds: [DRM_TYPES.NCG] }).xml);
      expect({ status: res.status, body: res.body as unknown }).toEqual({
        status: 409,
        body: {
          error: expect.objectContaining({
            code: 'ERR_KEY_CONFLICT',
            message: expect.stringContaining("the key imported for one of this request's track types and periods has the KID of another") as unknown,
          }) as unknown,
        },
      });
      const listed = (await listKeys(contentId).expect(200)).body as { keys: { kid: string }[] };
      expect(listed.keys.map((key) => key.kid)).toEqual([hdKid]);
    });
  });

  describe('content policies', () => {
    it('creates, reads, changes and deletes policies over HTTP, with 409 and 404 where they apply', async () => {
      const created = await request(t.app).post(sitePath('/policies')).set(admin()).send(PREMIUM);
      expect({ status: created.status, body: created.body }).toEqual({ status: 201, body: PREMIUM });
      expect((await request(t.app).post(sitePath('/policies')).set(admin()).send(PREMIUM)).status).toBe(409);
      expect((await request(t.app).get(sitePath('/policies/premium')).set(admin())).body).toEqual(PREMIUM);
      expect((await request(t.app).get(sitePath('/policies/missing')).set(admin())).status).toBe(404);
      const patched = await request(t.app).patch(sitePath('/policies/premium')).set(admin()).send({ persistentLicense: true });
      expect(patched.body).toEqual({ ...PREMIUM, persistentLicense: true });
      await request(t.app).patch(sitePath('/policies/premium')).set(admin()).send({ persistentLicense: false }).expect(200);
      expect((await request(t.app).patch(sitePath('/policies/premium')).set(admin()).send({ name: 'renamed' })).status).toBe(400);
      await request(t.app).post(sitePath('/policies')).set(admin()).send({ ...PREMIUM, name: 'doomed' }).expect(201);
      expect((await request(t.app).get(sitePath('/policies')).set(admin())).body.policies.map((p: { name: string }) => p.name)).toEqual(['doomed', 'premium']);
      await request(t.app).delete(sitePath('/policies/doomed')).set(admin()).expect(204);
      expect((await request(t.app).delete(sitePath('/policies/doomed')).set(admin())).status).toBe(404);
    });

    it.each([
      ['an unknown security level', { ...PREMIUM, name: 'x1', securityLevel: 'ULTRA' }],
      ['a negative duration', { ...PREMIUM, name: 'x2', licenseDurationSeconds: -1 }],
      ['a fractional interval', { ...PREMIUM, name: 'x3', rotationIntervalMinutes: 1.5 }],
      ['a name with a slash', { ...PREMIUM, name: 'a/b' }],
      ['a missing field', { name: 'x4', securityLevel: 'LOW' }],
    ])('refuses a policy with %s (400) and creates nothing', async (_name, body) => {
      const res = await request(t.app).post(sitePath('/policies')).set(admin()).send(body);
      expect(res.status).toBe(400);
      expect((await request(t.app).get(sitePath('/policies')).set(admin())).body.policies.map((p: { name: string }) => p.name)).not.toContain(body.name);
    });

    it('decides a content\'s policy by assignment, else the longest rule, else the default; a policy in use is not deleted', async () => {
      for (const name of ['live', 'default']) await request(t.app).post(sitePath('/policies')).set(admin()).send({ ...PREMIUM, name }).expect(201);
      const rules = [
        { contentIdPrefix: 'live/', policy: 'live' },
        { contentIdPrefix: '', policy: 'default' },
      ];
      expect((await request(t.app).put(sitePath('/policy-rules')).set(admin()).send(rules)).body).toEqual(rules);
      expect((await request(t.app).get(sitePath('/policy-rules')).set(admin())).body).toEqual(rules);
      const policyOf = async (contentId: string) => (await request(t.app).get(contentPath(contentId, '/policy')).set(admin()).expect(200)).body.policy?.name;
      expect(await policyOf('live/news')).toBe('live');
      expect(await policyOf('vod/movie')).toBe('default');
      const assigned = await request(t.app).put(contentPath('live/news', '/policy')).set(admin()).send({ policy: 'premium' });
      expect(assigned.body).toEqual({ siteId, contentId: 'live/news', policy: PREMIUM });
      expect((await request(t.app).put(contentPath('live/news', '/policy')).set(admin()).send({ policy: 'missing' })).status).toBe(404);
      expect(await policyOf('live/news')).toBe('premium');
      for (const name of ['premium', 'live']) {
        const refused = await request(t.app).delete(sitePath(`/policies/${name}`)).set(admin());
        expect([refused.status, refused.body.error?.code]).toEqual([409, 'ERR_IN_USE']);
      }
      await request(t.app).put(contentPath('live/news', '/policy')).set(admin()).send({ policy: null }).expect(200);
      expect(await policyOf('live/news')).toBe('live');
      expect((await request(t.app).put(sitePath('/policy-rules')).set(admin()).send([{ contentIdPrefix: 'x', policy: 'missing' }])).status).toBe(400);
      await request(t.app).put(sitePath('/policy-rules')).set(admin()).send([]).expect(200);
      expect(await policyOf('vod/movie')).toBeUndefined();
    });

    it('exports imported keys with the content\'s policy, every field by name, in signed content', async () => {
      const contentId = `exported-${randomUUID()}`;
      const cek = keyAndIv();
      const kid = randomUUID();
      await importKeys(contentId, [{ kid, key: cek.both, trackType: 'HD' }]).expect(201);
      await request(t.app).put(contentPath(contentId, '/policy')).set(admin()).send({ policy: 'premium' }).expect(200);
      const doc = exported((await exportOf(contentId).expect(200)).text);
      expect(doc.contentKeyList?.items.map((k) => [k.kid, k.data?.kind === 'plain' ? k.data.value.toString('base64') : '', k.explicitIV?.toString('base64')])).toEqual([
        [kid, cek.key, cek.iv],
      ]);
      expect(kmsExtensions(doc).filter((e) => e.element === 'ContentPolicy')).toEqual([
        { element: 'ContentPolicy', name: 'premium', securityLevel: 'HIGH', persistentLicense: 'false', licenseDurationSeconds: '86400', rotationIntervalMinutes: '0' },
      ]);
    });

    it('checks rotating content against the interval: SPEKE v2.1 period bounds, PallyCon periods ahead; the export lists start and end', async () => {
      await request(t.app).post(sitePath('/policies')).set(admin()).send({ ...PREMIUM, name: 'hourly', rotationIntervalMinutes: 60 }).expect(201);
      const contentId = `rotating-${randomUUID()}`;
      await request(t.app).put(contentPath(contentId, '/policy')).set(admin()).send({ policy: 'hourly' }).expect(200);
      const hour = HOUR_MS;
      const current = Math.floor(NOW / hour);
      const bounds = (index: number) => ({ start: new Date(index * hour).toISOString(), end: new Date((index + 1) * hour).toISOString() });
      const [kid, next] = [randomUUID(), randomUUID()];
      const inBounds = await speke(spekeRequest(contentId, [{ kid, period: { index: current, ...bounds(current) } }, { kid: next, period: { index: current + 1, ...bounds(current + 1) } }], '2.4'), '2.1');
      expect({ status: inBounds.status, text: inBounds.status === 200 ? '' : inBounds.text }).toEqual({ status: 200, text: '' });

      const shifted = await speke(spekeRequest(contentId, [{ kid: randomUUID(), period: { index: current, start: bounds(current).start, end: bounds(current + 1).start.replace(':00.000Z', ':01.000Z') } }], '2.4'), '2.1');
      expect({ status: shifted.status, text: shifted.text }).toEqual({
        status: 400,
        text: `ContentKeyPeriod[index=${current}]: the content rotates every 60 min, so this period is ${bounds(current).start} to ${bounds(current).end}`,
      });
      const harvest = await speke(spekeRequest(contentId, [{ kid: randomUUID(), period: { index: current + 3, ...bounds(current + 3) } }], '2.4'), '2.1');
      expect({ status: harvest.status, text: harvest.text }).toEqual({ status: 400, text: expect.stringContaining('more than 2 periods ahead') });
      const ahead = await pallycon(buildDoveRunnerRequest(contentId, ['HD'], { periodIndex: current + 3 }).xml, '?key-rotation=true');
      expect({ status: ahead.status, code: ahead.body.error?.code }).toEqual({ status: 400, code: 'ERR_CPIX_UNSUPPORTED' });
      const inTime = buildDoveRunnerRequest(contentId, ['HD'], { periodIndex: current + 2 });
      expect((await pallycon(inTime.xml, '?key-rotation=true')).status).toBe(200);

      const doc = exported((await exportOf(contentId).expect(200)).text);
      const periods = (doc.contentKeyPeriodList?.items ?? []).map((p) => ({ index: p.index, start: p.start, end: p.end }));
      expect(periods).toEqual([current, current + 1, current + 2].map((index) => ({ index, ...bounds(index) })));
      expect(kmsExtensions(doc).find((e) => e.element === 'ContentPolicy')?.rotationIntervalMinutes).toBe('60');
    });
  });

  describe('revocation', () => {
    it('revokes a content: both key routes and the export answer 410; the listing, revocations and audit trail show it', async () => {
      const contentId = `revoked-${randomUUID()}`;
      const cek = keyAndIv();
      const kid = randomUUID();
      await importKeys(contentId, [{ kid, key: cek.both, trackType: 'HD' }]).expect(201);
      await speke(spekeRequest(contentId, [{ kid }])).expect(200);
      const before = Date.now();

      const revoked = await request(t.app).post(contentPath(contentId, '/revoke')).set(admin()).send({ reason: 'key leaked' });
      expect(revoked.status).toBe(201);
      const revocation = { siteId, contentId, revokedAt: expect.any(String), reason: 'key leaked', credentialId: 'admin' };
      expect(revoked.body).toEqual({ siteId, contentId, revocations: [revocation] });
      const repeat = await request(t.app).post(contentPath(contentId, '/revoke')).set(admin()).send({ reason: 'again' });
      expect({ status: repeat.status, body: repeat.body }).toEqual({ status: 200, body: revoked.body });

      const spekeAnswer = await speke(spekeRequest(contentId, [{ kid }]));
      expect({ status: spekeAnswer.status, type: spekeAnswer.headers['content-type'] }).toEqual({ status: 410, type: expect.stringMatching(/^text\/plain/) });
      const fresh = await speke(spekeRequest(contentId, [{ kid: randomUUID() }]));
      expect(fresh.status).toBe(410);
      const pc = await pallycon(buildDoveRunnerRequest(contentId, ['HD'], { systemIds: [DRM_TYPES.NCG] }).xml);
      expect({ status: pc.status, code: pc.body.error?.code }).toEqual({ status: 410, code: 'ERR_CONTENT_REVOKED' });
      const ex = await exportOf(contentId);
      expect({ status: ex.status, code: ex.body.error?.code }).toEqual({ status: 410, code: 'ERR_CONTENT_REVOKED' });
      // Nothing was created by the refused requests.
      const listed = await listKeys(contentId).expect(200);
      expect(listed.body).toMatchObject({ revokedAt: revoked.body.revocations[0].revokedAt, revocationReason: 'key leaked' });
      expect(listed.body.keys).toEqual([expect.objectContaining({ kid, revokedAt: revoked.body.revocations[0].revokedAt, revocationReason: 'key leaked' })]);

      const polled = await request(t.app).get(sitePath('/revocations')).query({ since: new Date(before).toISOString() }).set(admin()).expect(200);
      expect(polled.body.revocations).toContainEqual(revoked.body.revocations[0]);
      const later = await request(t.app).get(sitePath('/revocations')).query({ since: new Date(Date.now() + 60_000).toISOString() }).set(admin()).expect(200);
      expect(later.body.revocations).toEqual([]);
      expect((await request(t.app).get(sitePath('/revocations')).query({ since: 'yesterday' }).set(admin())).status).toBe(400);

      // The license server polls with its own credential, for its own site only.
      const lsPoll = (bearer: string | undefined, site = siteId, query: Record<string, string> = { since: new Date(before).toISOString() }) => {
        const req = request(t.app).get(`/license/v1/sites/${site}/revocations`).query(query);
        return bearer === undefined ? req : req.set('Authorization', `Bearer ${bearer}`);
      };
      expect((await lsPoll(lsCredential).expect(200)).body).toEqual(polled.body);
      expect((await lsPoll(undefined)).status).toBe(401);
      expect((await lsPoll(kmsToken)).status).toBe(401);
      expect((await lsPoll(lsCredential, 'ZZZZ')).status).toBe(403);
      expect((await lsPoll(lsCredential, siteId, { since: '1 hour ago' })).status).toBe(400);
      expect((await lsPoll(lsCredential, siteId, { after: 'x' })).status).toBe(400);

      const audit = await request(t.app).get(sitePath('/audit')).set(admin()).expect(200);
      const revokeRecords = audit.body.records.filter((r: { action: string; contentId: string }) => r.action === 'revoke' && r.contentId === contentId);
      // Newest first: the repeat is audited too (who tried, and why), though it changed nothing.
      expect(revokeRecords).toEqual([
        expect.objectContaining({ action: 'revoke', credentialId: 'admin', reason: 'again' }),
        expect.objectContaining({ action: 'revoke', credentialId: 'admin', dialect: 'admin-api', reason: 'key leaked', kids: [] }),
      ]);
      const importRecord = audit.body.records.find((r: { action: string; contentId: string }) => r.action === 'import' && r.contentId === contentId);
      expect(importRecord).toMatchObject({ credentialId: 'admin', kids: [kid], keysCreated: 1 });
    });

    it('revokes single keys: a request naming one answers 410, the export leaves it out, other keys are served', async () => {
      const contentId = `partly-${randomUUID()}`;
      const [bad, good] = [randomUUID(), randomUUID()];
      const first = await speke(spekeRequest(contentId, [{ kid: bad }, { kid: good }]));
      expect({ status: first.status, text: first.status === 200 ? '' : first.text }).toEqual({ status: 200, text: '' });
      await request(t.app).post(contentPath(contentId, '/revoke')).set(admin()).send({ reason: 'one key leaked', kids: [bad] }).expect(201);
      expect((await speke(spekeRequest(contentId, [{ kid: bad }]))).status).toBe(410);
      expect((await speke(spekeRequest(contentId, [{ kid: good }, { kid: bad }]))).status).toBe(410);
      await speke(spekeRequest(contentId, [{ kid: good }])).expect(200);
      const doc = exported((await exportOf(contentId).expect(200)).text);
      expect(doc.contentKeyList?.items.map((k) => k.kid)).toEqual([good]);
      const listed = (await listKeys(contentId).expect(200)).body;
      expect(listed.revokedAt).toBeUndefined();
      expect(listed.keys.find((k: { kid: string }) => k.kid === bad)).toMatchObject({ revocationReason: 'one key leaked' });
      expect(listed.keys.find((k: { kid: string }) => k.kid === good).revokedAt).toBeUndefined();
    });

    it.each([
      ['no reason', {}],
      ['an empty reason', { reason: '' }],
      ['a KID that is no UUID', { reason: 'x', kids: ['nope'] }],
      ['an empty KID list', { reason: 'x', kids: [] }],
      ['an extra property', { reason: 'x', all: true }],
    ])('refuses a revocation with %s (400) and revokes nothing', async (_name, body) => {
      const contentId = `not-revoked-${randomUUID()}`;
      const kid = randomUUID();
      await speke(spekeRequest(contentId, [{ kid }])).expect(200);
      expect((await request(t.app).post(contentPath(contentId, '/revoke')).set(admin()).send(body)).status).toBe(400);
      await speke(spekeRequest(contentId, [{ kid }])).expect(200);
    });

    it('keeps a re-used content ID revoked, and a revoked content cannot be imported into', async () => {
      const contentId = `reused-${randomUUID()}`;
      await request(t.app).post(contentPath(contentId, '/revoke')).set(admin()).send({ reason: 'pulled' }).expect(201);
      expect((await speke(spekeRequest(contentId, [{ kid: randomUUID() }]))).status).toBe(410);
      const res = await importKeys(contentId, [{ kid: randomUUID(), key: randomBytes(16).toString('base64') }]);
      expect({ status: res.status, code: res.body.error?.code }).toEqual({ status: 410, code: 'ERR_CONTENT_REVOKED' });
      expect((await listKeys(contentId)).status).toBe(404);
    });
  });

  it('races an import with first SPEKE requests for one KID: one key, and the import is told 409 when it lost', async () => {
    const outcomes = new Set<number>();
    for (let round = 0; round < 10; round += 1) {
      const contentId = `race-${round}-${randomUUID()}`;
      const kid = randomUUID();
      const cek = keyAndIv();
      const [imported, ...answers] = await Promise.all([
        importKeys(contentId, [{ kid, key: cek.both }]),
        ...Array.from({ length: 3 }, () => speke(spekeRequest(contentId, [{ kid }]))),
      ]);
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
      const keys = new Set(answers.map((a) => answeredKeys(a.text)[kid]?.key));
      expect(keys.size).toBe(1);
      expect([201, 409]).toContain(imported?.status);
      expect(keys.has(cek.key)).toBe(imported?.status === 201);
      outcomes.add(imported?.status ?? 0);
      expect((await listKeys(contentId)).body.keys).toHaveLength(1);
    }
    expect(outcomes.size).toBeGreaterThan(0);
  });

  it('ClearKey licences obey the real revocations and content policies: persistent only where the policy allows, 410 once revoked', async () => {
    const contentId = `licensed-${randomUUID()}`;
    const cek = keyAndIv();
    const kid = randomUUID();
    await importKeys(contentId, [{ kid, key: cek.both }]).expect(201);
    const signer = await registerTokenKey(t.app, t.adminToken, siteId, 'ES256');
    const token = await mintToken(signer, { iss: siteId, sub: 'viewer', cid: contentId, exp: seconds(new Date()) + 600 });
    const licence = (type: string) =>
      request(t.app).post('/clearkey/v1/license').set('Authorization', `Bearer ${token}`).send({ kids: [b64Kid(kid)], type });
    const granted = await licence('temporary');
    expect({ status: granted.status, k: granted.body.keys?.[0]?.k }).toEqual({ status: 200, k: Buffer.from(cek.key, 'base64').toString('base64url') });
    expect((await licence('persistent-license')).status).toBe(403);
    await request(t.app).post(sitePath('/policies')).set(admin()).send({ ...PREMIUM, name: 'offline', persistentLicense: true }).expect(201);
    await request(t.app).put(contentPath(contentId, '/policy')).set(admin()).send({ policy: 'offline' }).expect(200);
    expect((await licence('persistent-license')).status).toBe(200);
    await request(t.app).post(contentPath(contentId, '/revoke')).set(admin()).send({ reason: 'licence test', kids: [kid] }).expect(201);
    const refused = await licence('temporary');
    expect({ status: refused.status, code: refused.body.error?.code }).toEqual({ status: 410, code: 'ERR_CONTENT_REVOKED' });
  });

  it('wrote no key byte, token or credential into any log line', () => {
    const text = logs.text();
    expect(keyBytes.length).toBeGreaterThan(10);
    for (const secret of [t.adminToken, ...secrets]) for (const form of encodingsOf(secret)) expect(text).not.toContain(form);
    for (const bytes of keyBytes) expect(text).not.toContain(bytes);
  });
});

describe('license export of a content with more keys than one export holds', () => {
  const logs = captureLogs();
  let t: TestApp;
  afterAll(() => t.close());

  it('answers 413 past MAX_KEYS_PER_REQUEST matching keys, and the keys a filter narrows to', async () => {
    t = createTestApp(logs.logger, undefined, { keyLimits: { perRequest: 2 } });
    const { site } = await t.services.sites.createSite({ name: 'many keys' });
    const ls = signingConfigFromPem(createSelfSignedIdentityPem('export cap license server'), 'license server');
    const registered = await t.services.licenseServers.register(site.id, { name: 'ls', certificate: ls.certificatePem });
    const kids = [randomUUID(), randomUUID(), randomUUID()];
    await t.services.contentKeys.importKeys(
      site.id,
      'live',
      kids.map((kid, periodIndex) => ({ kid: parseKeyId(kid), key: randomBytes(16), periodIndex })),
    );
    const exportOf = (query: Record<string, string>) =>
      request(t.app).get(`/license/v1/sites/${site.id}/contents/live`).query(query).set('Authorization', `Bearer ${registered.credential}`);
    const all = await exportOf({});
    expect({ status: all.status, code: all.body.error?.code }).toEqual({ status: 413, code: 'ERR_PAYLOAD_TOO_LARGE' });
    const one = await exportOf({ period: '2' });
    expect(one.status).toBe(200);
    expect(parseCpixDocument(one.text).contentKeyList?.items.map((k) => k.kid)).toEqual([kids[2]]);
  });
});
