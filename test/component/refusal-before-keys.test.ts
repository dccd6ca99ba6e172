import request from 'supertest';
import { createTestApp, type TestApp } from '../support/app';
import { DRM_TYPES, buildClientRequest, buildDoveRunnerRequest } from '../support/doverunner-clients';
import { captureLogs } from '../support/log-capture';
import { readCpix } from '../support/pallycon-cpix';
import { buildSpekeV2Request } from '../support/speke-request';

/**
 * What a hostile (or merely wrong) tenant can send to the key routes, in every dialect: each request
 * is refused with a 4xx in the route's error format, echoes none of its markup, and leaves no key and
 * no audit record behind — the refusal happens before any key is created, wherever in the answer the
 * problem is found (protocol rules, signaling, what the answer's CPIX version can carry).
 */

const WIDEVINE = 'edef8ba9-79d6-4ace-a3c8-27dcd51d21ed';
const COMMON = '1077efec-c0b2-4d02-ace3-3c1e52e2fb4b';
const CPIX_ROOT = '<cpix:CPIX xmlns:cpix="urn:dashif:org:cpix" xmlns:pskc="urn:ietf:params:xml:ns:keyprov:pskc"';
const KID = '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0';

type Route = 'speke-v2.0' | 'speke' | 'pallycon-v2' | 'pallycon-v2-rotation' | 'pallycon-v1';

interface HostileCase {
  readonly name: string;
  readonly route: Route;
  /** The request, for the content `contentId`. */
  readonly body: (contentId: string) => string;
  readonly status: number;
  /** The stable error code of a JSON error, or a text the SPEKE text body contains. */
  readonly error: string;
}

/** A one-key request on a SPEKE URL without `X-Speke-Version`; `attributes` go on the root, `key` on the ContentKey. */
const plainRequest = (contentId: string, attributes: string, key: string, systems: string) =>
  `${CPIX_ROOT} id="${contentId}" contentId="${contentId}" ${attributes}><cpix:ContentKeyList><cpix:ContentKey kid="${KID}" ${key}/></cpix:ContentKeyList><cpix:DRMSystemList>${systems}</cpix:DRMSystemList></cpix:CPIX>`;

const CASES: readonly HostileCase[] = [
  {
    name: 'SPEKE v2.0: a placeholder the DRM system has no value for (Widevine URIExtXKey)',
    route: 'speke-v2.0',
    body: (contentId) => buildSpekeV2Request(contentId, 'cenc', [WIDEVINE], { placeholders: '<cpix:PSSH/><cpix:URIExtXKey/>' }),
    status: 400,
    error: 'URIExtXKey: no value for this DRM system',
  },
  {
    name: 'SPEKE v2.0: W3C Common with HLS placeholders (it has no HLS form)',
    route: 'speke-v2.0',
    body: (contentId) => buildSpekeV2Request(contentId, 'cenc', [COMMON]),
    status: 400,
    error: 'HLSSignalingData: no value for this DRM system',
  },
  {
    name: 'SPEKE v1: commonEncryptionScheme, which CPIX 2.0 cannot carry',
    route: 'speke',
    body: (contentId) => plainRequest(contentId, '', 'commonEncryptionScheme="cbcs"', `<cpix:DRMSystem kid="${KID}" systemId="${WIDEVINE}"><cpix:PSSH/></cpix:DRMSystem>`),
    status: 400,
    error: 'commonEncryptionScheme cannot be expressed in CPIX 2.0',
  },
  {
    name: 'SPEKE v1: a DRM system only the PallyCon API signals (WisePlay)',
    route: 'speke',
    body: (contentId) => plainRequest(contentId, '', '', `<cpix:DRMSystem kid="${KID}" systemId="${DRM_TYPES.WISEPLAY}"><cpix:PSSH/></cpix:DRMSystem>`),
    status: 400,
    error: 'DRM system not supported',
  },
  {
    name: 'plain CPIX 2.4: FairPlay, whose key URI CPIX 2.4 cannot carry',
    route: 'speke',
    body: (contentId) => plainRequest(contentId, 'version="2.4"', '', `<cpix:DRMSystem kid="${KID}" systemId="94ce86fb-07ff-4f43-adb8-93d2fa968ca2"><cpix:URIExtXKey/></cpix:DRMSystem>`),
    status: 400,
    error: 'URIExtXKey cannot be expressed in CPIX 2.4',
  },
  {
    name: 'no SPEKE header: a CPIX@version no answer can carry (2.1 has no such attribute)',
    route: 'speke',
    body: (contentId) => plainRequest(contentId, 'version="2.1"', '', `<cpix:DRMSystem kid="${KID}" systemId="${WIDEVINE}"><cpix:PSSH/></cpix:DRMSystem>`),
    status: 400,
    error: 'CPIX@version="2.1": a request names 2.3 or 2.4, or no version',
  },
  {
    name: 'PallyCon: a CPIX@version no answer can carry, with markup in it',
    route: 'pallycon-v2',
    body: (contentId) => buildDoveRunnerRequest(contentId, ['HD']).xml.replace('<cpix:CPIX id=', '<cpix:CPIX version="&lt;script&gt;" id='),
    status: 400,
    error: 'ERR_CPIX_UNSUPPORTED',
  },
  {
    name: 'PallyCon: FairPlay with cenc',
    route: 'pallycon-v2',
    body: (contentId) => buildClientRequest('python', { contentId, drmTypes: ['FAIRPLAY'], scheme: 'CENC', tracks: 'ALL_TRACKS', periodIndex: 0 }).xml,
    status: 400,
    error: 'ERR_CPIX_UNSUPPORTED',
  },
  {
    name: 'PallyCon: clear SAMPLE-AES with cens',
    route: 'pallycon-v2',
    body: (contentId) => buildClientRequest('java', { contentId, drmTypes: ['SAMPLEAES'], scheme: 'CENS', tracks: 'ALL_TRACKS', periodIndex: 0 }).xml,
    status: 400,
    error: 'ERR_CPIX_UNSUPPORTED',
  },
  {
    name: 'PallyCon: PlayReady with cbc1',
    route: 'pallycon-v2',
    body: (contentId) => buildClientRequest('python', { contentId, drmTypes: ['WIDEVINE', 'PLAYREADY'], scheme: 'CBC1', tracks: ['SD', 'HD'], periodIndex: 0 }).xml,
    status: 400,
    error: 'ERR_CPIX_UNSUPPORTED',
  },
  {
    name: 'PallyCon: a scheme that is no FourCC, with markup in it',
    route: 'pallycon-v2',
    body: (contentId) =>
      buildDoveRunnerRequest(contentId, ['HD'], { systemIds: [DRM_TYPES.WIDEVINE] }).xml.replace('<cpix:ContentKey kid=', '<cpix:ContentKey commonEncryptionScheme="&lt;script&gt;" kid='),
    status: 400,
    error: 'ERR_CPIX_UNSUPPORTED',
  },
  {
    name: 'PallyCon: an upper-case scheme (FourCCs are case-sensitive)',
    route: 'pallycon-v2',
    body: (contentId) => buildDoveRunnerRequest(contentId, ['HD'], { systemIds: [DRM_TYPES.WIDEVINE] }).xml.replace('<cpix:ContentKey kid=', '<cpix:ContentKey commonEncryptionScheme="CENC" kid='),
    status: 400,
    error: 'ERR_CPIX_UNSUPPORTED',
  },
  {
    name: 'PallyCon: CPIX@version 2.4, which has no URIExtXKey for FairPlay',
    route: 'pallycon-v2',
    body: (contentId) =>
      buildClientRequest('python', { contentId, drmTypes: ['FAIRPLAY'], scheme: 'CBCS', tracks: 'ALL_TRACKS', periodIndex: 0 }).xml.replace('<cpix:CPIX id=', '<cpix:CPIX version="2.4" id='),
    status: 400,
    error: 'ERR_CPIX_UNSUPPORTED',
  },
  {
    name: 'PallyCon: multi-key without a track type per key',
    route: 'pallycon-v2',
    body: (contentId) => buildDoveRunnerRequest(contentId, ['SD', 'HD']).xml.replace(/ intendedTrackType="SD"/, ''),
    status: 400,
    error: 'ERR_CPIX_INVALID',
  },
  {
    name: 'PallyCon: two keys for one track type',
    route: 'pallycon-v2',
    body: (contentId) => buildDoveRunnerRequest(contentId, ['HD', 'HD']).xml,
    status: 400,
    error: 'ERR_CPIX_INVALID',
  },
  {
    name: 'PallyCon: a rotation period beyond what a Widevine pssh can carry (uint32)',
    route: 'pallycon-v2-rotation',
    body: (contentId) => buildDoveRunnerRequest(contentId, ['HD'], { periodIndex: 2 ** 32 }).xml,
    status: 400,
    error: 'ERR_CPIX_UNSUPPORTED',
  },
  {
    name: 'PallyCon v1: two keys',
    route: 'pallycon-v1',
    body: (contentId) => buildDoveRunnerRequest(contentId, ['SD', 'HD']).xml,
    status: 400,
    error: 'ERR_CPIX_INVALID',
  },
];

describe('refusals happen before any key is created, in every dialect', () => {
  const logs = captureLogs();
  let t: TestApp;
  let site: { siteId: string; token: string };

  beforeAll(async () => {
    t = createTestApp(logs.logger);
    const created = await t.services.sites.createSite({ name: 'hostile', options: {} });
    site = { siteId: created.site.id, token: created.token.token };
  });
  afterAll(() => t.close());

  /** Posts to `route` on the app and site given (this suite's by default). */
  function post(route: Route, body: string, on: { readonly app: TestApp; readonly token: string } = { app: t, token: site.token }) {
    const path = {
      'speke-v2.0': '/speke/copyProtection',
      speke: '/speke/copyProtection',
      'pallycon-v2': `/v2/cpix/pallycon/getKey/${on.token}`,
      'pallycon-v2-rotation': `/v2/cpix/pallycon/getKey/${on.token}?key-rotation=true`,
      'pallycon-v1': `/v1/cpix/pallycon/getKey/${on.token}`,
    }[route];
    const req = request(on.app.app).post(path).set('Content-Type', 'application/xml');
    if (route.startsWith('speke')) req.set('Authorization', `Bearer ${on.token}`);
    if (route === 'speke-v2.0') req.set('X-Speke-Version', '2.0');
    return req.send(Buffer.from(body, 'utf8'));
  }

  it.each(CASES.map((c, i) => ({ ...c, contentId: `hostile-${i}` })))('$name: $status, no key, no audit record', async ({ route, body, status, error, contentId }) => {
    const res = await post(route, body(contentId));
    expect(res.status).toBe(status);
    if (route.startsWith('pallycon')) expect(res.body.error.code).toBe(error);
    else expect(res.text).toContain(error);
    expect(res.text).not.toMatch(/<script|&lt;script/);
    expect(await t.services.contentKeys.listMetadata(site.siteId, contentId)).toEqual([]);
    const { records } = await t.services.audit.list(site.siteId, { limit: 500 });
    expect(records.filter((record) => record.contentId === contentId)).toEqual([]);
  });

  it('refuses another explicitIV for an existing key with 409 (SPEKE text, PallyCon JSON), creating nothing, and answers the stored one again', async () => {
    const kid = '11111111-2222-4333-8444-555555555555';
    const other = '66666666-7777-4888-8999-aaaaaaaaaaaa';
    const iv = (byte: number) => Buffer.alloc(16, byte).toString('base64');
    const speke = (keys: readonly (readonly [string, number])[]) =>
      plainRequest('iv-content', '', '', `<cpix:DRMSystem kid="${kid}" systemId="94ce86fb-07ff-4f43-adb8-93d2fa968ca2"><cpix:URIExtXKey/></cpix:DRMSystem>`).replace(
        `<cpix:ContentKey kid="${KID}" />`,
        keys.map(([id, byte]) => `<cpix:ContentKey kid="${id}" explicitIV="${iv(byte)}"/>`).join(''),
      );
    expect((await post('speke', speke([[kid, 1]]))).status).toBe(200);
    const refused = await post('speke', speke([[other, 3], [kid, 2]]));
    expect({ status: refused.status, type: refused.headers['content-type'], text: refused.text }).toEqual({
      status: 409,
      type: 'text/plain; charset=utf-8',
      text: `ContentKey[kid=${kid}]@explicitIV differs from the IV this key was created with`,
    });
    expect((await t.services.contentKeys.listMetadata(site.siteId, 'iv-content')).map((key) => key.kid)).toEqual([kid]);
    const again = await post('speke', speke([[kid, 1]]));
    expect(readCpix(again.text).contentKeys.map((key) => key.explicitIV?.toString('base64'))).toEqual([iv(1)]);

    // PallyCon assigns its KIDs, so the same content and track asked with another IV is the same key.
    const pallycon = (byte: number) =>
      buildDoveRunnerRequest('iv-pallycon', ['HD'], { systemIds: [DRM_TYPES.FAIRPLAY], scheme: 'CBCS' }).xml.replace('<cpix:ContentKey kid=', `<cpix:ContentKey explicitIV="${iv(byte)}" kid=`);
    expect((await post('pallycon-v2', pallycon(1))).status).toBe(200);
    const json = await post('pallycon-v2', pallycon(2));
    expect({ status: json.status, code: json.body.error.code }).toEqual({ status: 409, code: 'ERR_KEY_CONFLICT' });
  });

  it('accepts a content ID with a quote and a line break: its key URL is percent-encoded, the HLS line well-formed', async () => {
    const contentId = 'movie "1"\r\n/a?b#c';
    const xml = buildClientRequest('python', { contentId: 'placeholder', drmTypes: ['AES128'], scheme: 'NONE', tracks: 'ALL_TRACKS', periodIndex: 0 }).xml.replace(
      'id="placeholder"',
      'id="movie &quot;1&quot;&#13;&#10;/a?b#c"',
    );
    const res = await post('pallycon-v2', xml);
    expect(res.status).toBe(200);
    const [system] = readCpix(res.text).drmSystems;
    const lines = system?.element.children.flatMap((child) => (child.kind === 'element' && child.localName === 'HLSSignalingData' ? [child] : [])) ?? [];
    expect(lines).toHaveLength(2);
    expect(res.text).toContain(Buffer.from('https://key-delivery.invalid/movie%20%221%22%0D%0A%2Fa%3Fb%23c/', 'utf8').toString('base64').slice(0, 40));
    expect((await t.services.contentKeys.listMetadata(site.siteId, contentId)).length).toBe(1);
  });

  /**
   * A request as MediaPackage sends it: per key, three DRM systems with four signaling placeholders
   * each, a usage rule with a filter and a period filter, and a period.
   */
  function mediaPackageRequest(contentId: string, keys: number): string {
    const kids = Array.from({ length: keys }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
    const systems = [WIDEVINE, '9a04f079-9840-4286-ab92-e65be0885f95', '94ce86fb-07ff-4f43-adb8-93d2fa968ca2'];
    const placeholders = '<cpix:PSSH/><cpix:ContentProtectionData/><cpix:HLSSignalingData playlist="media"/><cpix:HLSSignalingData playlist="master"/>';
    return [
      `<?xml version="1.0" encoding="UTF-8"?>${CPIX_ROOT} contentId="${contentId}" version="2.3">`,
      `<cpix:ContentKeyList>${kids.map((kid) => `<cpix:ContentKey kid="${kid}" commonEncryptionScheme="cbcs"/>`).join('')}</cpix:ContentKeyList>`,
      `<cpix:DRMSystemList>${kids.flatMap((kid) => systems.map((system) => `<cpix:DRMSystem kid="${kid}" systemId="${system}">${placeholders}</cpix:DRMSystem>`)).join('')}</cpix:DRMSystemList>`,
      `<cpix:ContentKeyPeriodList><cpix:ContentKeyPeriod id="p0" index="0"/></cpix:ContentKeyPeriodList>`,
      `<cpix:ContentKeyUsageRuleList>${kids.map((kid, i) => `<cpix:ContentKeyUsageRule kid="${kid}" intendedTrackType="V${i}"><cpix:KeyPeriodFilter periodId="p0"/><cpix:VideoFilter/></cpix:ContentKeyUsageRule>`).join('')}</cpix:ContentKeyUsageRuleList>`,
      '</cpix:CPIX>',
    ].join('');
  }

  it('answers a MediaPackage-shaped request of MAX_KEYS_PER_REQUEST (1000) keys, and refuses 1001 as too many keys (413), not as XML', async () => {
    const full = await post('speke-v2.0', mediaPackageRequest('at-the-cap', 1000));
    expect({ status: full.status, keys: full.status === 200 ? (full.text.match(/<cpix:ContentKey /g) ?? []).length : full.text }).toEqual({ status: 200, keys: 1000 });
    const over = await post('speke-v2.0', mediaPackageRequest('over-the-cap', 1001));
    expect({ status: over.status, text: over.text }).toEqual({ status: 413, text: expect.stringContaining('1001 keys, at most 1000') });
    expect(await t.services.contentKeys.listMetadata(site.siteId, 'over-the-cap')).toEqual([]);
  });

  describe('MAX_KEYS_PER_REQUEST (here 3) and MAX_KEYS_CREATED_PER_MINUTE (here 4)', () => {
    let limited: { app: TestApp; token: string; siteId: string };
    beforeAll(async () => {
      const app = createTestApp(logs.logger, undefined, { keyLimits: { perRequest: 3, createdPerMinute: 4 } });
      const created = await app.services.sites.createSite({ name: 'limited', options: {} });
      limited = { app, token: created.token.token, siteId: created.site.id };
    });
    afterAll(() => limited.app.close());

    it('refuses a request for more keys than allowed with 413 before any work, on every route', async () => {
      const res = await post('pallycon-v2', buildDoveRunnerRequest('too-many', ['AUDIO', 'SD', 'HD', 'UHD1']).xml, limited);
      expect({ status: res.status, code: res.body.error.code, message: res.body.error.message }).toEqual({
        status: 413,
        code: 'ERR_PAYLOAD_TOO_LARGE',
        message: 'ContentKeyList: 4 keys, at most 3 per request',
      });
      const speke = await post('speke-v2.0', buildSpekeV2Request('too-many-speke', 'cenc', [WIDEVINE]).replace(/(<cpix:ContentKeyList>)/, `$1<cpix:ContentKey kid="${KID}" commonEncryptionScheme="cenc"/><cpix:ContentKey kid="${KID.replace('0f', '1f')}" commonEncryptionScheme="cenc"/>`), limited);
      expect(speke.status).toBe(413);
      expect(await limited.app.services.contentKeys.listMetadata(limited.siteId, 'too-many')).toEqual([]);
    });

    it("answers 429 with Retry-After once the site's new keys of the minute are used up, creating nothing; repeats still pass", async () => {
      expect((await post('pallycon-v2', buildDoveRunnerRequest('budget-1', ['SD', 'HD', 'UHD1']).xml, limited)).status).toBe(200);
      const refused = await post('pallycon-v2', buildDoveRunnerRequest('budget-2', ['SD', 'HD']).xml, limited);
      expect({ status: refused.status, code: refused.body.error.code }).toEqual({ status: 429, code: 'ERR_RATE_LIMITED' });
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(60);
      expect(await limited.app.services.contentKeys.listMetadata(limited.siteId, 'budget-2')).toEqual([]);
      expect((await post('pallycon-v2', buildDoveRunnerRequest('budget-1', ['SD', 'HD', 'UHD1']).xml, limited)).status).toBe(200);
      expect((await post('pallycon-v2', buildDoveRunnerRequest('budget-3', ['SD']).xml, limited)).status).toBe(200);
    });
  });
});
