import request from 'supertest';
import { createTestApp, type TestApp } from '../support/app';
import {
  ClientError,
  buildClientRequest,
  readAsClient,
  type ClientKeyInfo,
  type ClientRequest,
  type DoveRunnerClient,
  type DrmType,
} from '../support/doverunner-clients';
import { captureLogs } from '../support/log-capture';
import { readPlayReadyObject, readWidevinePsshData, uuidBytes } from '../support/pallycon-cpix';
import { parsePsshBox } from '../support/pssh-parser';

/**
 * Every scenario the official DoveRunner / PallyCon clients' samples and tests use, sent as each
 * client sends it and read back as each client reads it (test/support/doverunner-clients.ts), on
 * both v2 URL forms. Each check is on what the client parsed, as a packager operator would get it.
 */

const PATHS = ['/v2/cpix/pallycon/getKey', '/v2/cpix/doverunner/getKey'] as const;
const CLIENTS: readonly DoveRunnerClient[] = ['python', 'java'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SYSTEM_IDS = {
  widevine: 'edef8ba9-79d6-4ace-a3c8-27dcd51d21ed',
  playready: '9a04f079-9840-4286-ab92-e65be0885f95',
  wiseplay: '3d5e6d35-9b9a-41e8-b843-dd3c6e72c42c',
} as const;

type Scenario = Omit<ClientRequest, 'contentId' | 'periodIndex'> & { readonly name: string };

/** The clients' scenarios: their sample (no scheme), DASH, multi-key, FairPlay HLS and every other DRM type they offer. */
const SCENARIOS: readonly Scenario[] = [
  { name: 'default sample: single key, Widevine + PlayReady + FairPlay, no scheme', drmTypes: ['WIDEVINE', 'PLAYREADY', 'FAIRPLAY'], scheme: 'NONE', tracks: 'ALL_TRACKS' },
  { name: 'DASH single key, cenc', drmTypes: ['WIDEVINE', 'PLAYREADY'], scheme: 'CENC', tracks: 'ALL_TRACKS' },
  { name: 'multi-key AUDIO/SD/HD/UHD1/UHD2, cenc', drmTypes: ['WIDEVINE', 'PLAYREADY'], scheme: 'CENC', tracks: ['AUDIO', 'SD', 'HD', 'UHD1', 'UHD2'] },
  { name: 'FairPlay HLS, cbcs', drmTypes: ['FAIRPLAY'], scheme: 'CBCS', tracks: 'ALL_TRACKS' },
  { name: 'CMAF multi-key SD/HD, three DRMs, cbcs', drmTypes: ['WIDEVINE', 'PLAYREADY', 'FAIRPLAY'], scheme: 'CBCS', tracks: ['SD', 'HD'] },
  { name: 'WisePlay, cenc', drmTypes: ['WISEPLAY'], scheme: 'CENC', tracks: 'ALL_TRACKS' },
  { name: 'clear AES-128', drmTypes: ['AES128'], scheme: 'NONE', tracks: 'ALL_TRACKS' },
  { name: 'clear SAMPLE-AES, cbcs', drmTypes: ['SAMPLEAES'], scheme: 'CBCS', tracks: 'ALL_TRACKS' },
  { name: 'NCG', drmTypes: ['NCG'], scheme: 'NONE', tracks: 'ALL_TRACKS' },
  { name: 'NCG-HLS AES-128', drmTypes: ['NCGHLS_AES128'], scheme: 'NONE', tracks: 'ALL_TRACKS' },
  { name: 'NCG-HLS SAMPLE-AES, cbcs', drmTypes: ['NCGHLS_SAMPLEAES'], scheme: 'CBCS', tracks: 'ALL_TRACKS' },
];

const b64Length = (text: string | undefined) => Buffer.from(text ?? '', 'base64').length;
const field = (info: ClientKeyInfo, name: string) => info[name] ?? '';

/**
 * The checks of one parsed key, per DRM type asked for; `errors` names what is wrong. The IV a key
 * line states must be the key's IV: the packager encrypts with the IV the answer gives.
 */
function checkKey(info: ClientKeyInfo, drmTypes: readonly DrmType[]): string[] {
  const errors: string[] = [];
  const expect = (ok: boolean, what: string) => {
    if (!ok) errors.push(what);
  };
  const kid = info.key_id ?? '';
  expect(UUID.test(kid), `key_id ${kid} is a UUID`);
  expect(b64Length(info.key) === 16, 'key is base64 of 16 bytes');
  expect(b64Length(info.iv) === 16, 'iv is base64 of 16 bytes');
  const ivHex = Buffer.from(info.iv ?? '', 'base64').toString('hex').toUpperCase();
  const pssh = (prefix: string, systemId: string) => {
    const box = parsePsshBox(Buffer.from(field(info, `${prefix}:cpix:PSSH`), 'base64'));
    expect(box.systemId === systemId, `${prefix} PSSH has system ID ${systemId}`);
    expect(field(info, `${prefix}:cpix:ContentProtectionData`) === box.data.toString('base64'), `${prefix} ContentProtectionData is the pssh payload`);
    return box.data;
  };
  const keyUrlLines = (prefix: string, method: string) => {
    const uri = field(info, `${prefix}:cpix:URIExtXKey`);
    expect(/^https:\/\/\S+$/.test(uri), `${prefix} key URI is an https URL`);
    for (const [playlist, tag] of [['media', '#EXT-X-KEY'], ['master', '#EXT-X-SESSION-KEY']] as const) {
      const line = field(info, `${prefix}:hls:${playlist}`);
      expect(line === `${tag}:METHOD=${method},URI="${uri}",IV=0x${ivHex},KEYFORMAT="identity",KEYFORMATVERSIONS="1"`, `${prefix} ${playlist} line`);
    }
  };
  for (const type of drmTypes) {
    if (type === 'WIDEVINE') expect(readWidevinePsshData(pssh('widevine', SYSTEM_IDS.widevine)).keyIds.includes(kid), 'Widevine pssh names the KID');
    if (type === 'PLAYREADY') {
      const pro = pssh('playready', SYSTEM_IDS.playready);
      expect(readPlayReadyObject(pro).kids.some((entry) => entry.kid === kid), 'PlayReady header names the KID');
      expect(field(info, 'playready:cpix:SmoothStreamingProtectionHeaderData') === pro.toString('base64'), 'SmoothStreaming header is the PRO');
    }
    if (type === 'WISEPLAY') {
      const json = JSON.parse(pssh('wiseplay', SYSTEM_IDS.wiseplay).toString('utf8')) as { kids: string[] };
      expect(json.kids[0] === uuidBytes(kid).toString('base64'), 'WisePlay pssh names the KID');
    }
    if (type === 'FAIRPLAY') {
      const uri = field(info, 'fairplay:cpix:URIExtXKey');
      expect(uri === `skd://${uuidBytes(kid).toString('hex')}`, 'FairPlay key URI is skd:// + the KID');
      expect(field(info, 'fairplay:hls:media').startsWith(`#EXT-X-KEY:METHOD=SAMPLE-AES,URI="${uri}"`), 'FairPlay media line');
      expect(field(info, 'fairplay:hls:master').startsWith(`#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI="${uri}"`), 'FairPlay master line');
    }
    if (type === 'AES128') keyUrlLines('aes128', 'AES-128');
    if (type === 'NCGHLS_AES128') keyUrlLines('ncghls_aes128', 'AES-128');
    if (type === 'SAMPLEAES') keyUrlLines('sampleaes', 'SAMPLE-AES');
    if (type === 'NCGHLS_SAMPLEAES') keyUrlLines('ncghls_sampleaes', 'SAMPLE-AES');
    if (type === 'NCG') {
      const cek = Buffer.from(field(info, 'ncg:cpix:URIExtXKey'), 'base64');
      expect(cek.equals(Buffer.concat([Buffer.from(info.key ?? '', 'base64'), Buffer.from(info.iv ?? '', 'base64')])), 'NCG CEK is the key followed by its IV');
    }
  }
  return errors;
}

describe('the official DoveRunner / PallyCon clients, every scenario, both paths', () => {
  const logs = captureLogs();
  let t: TestApp;
  let token: string;
  let siteId: string;
  let counter = 0;

  beforeAll(async () => {
    t = createTestApp(logs.logger);
    const created = await t.services.sites.createSite({ name: 'doverunner-clients', options: {} });
    ({ token } = created.token);
    siteId = created.site.id;
  });
  afterAll(() => t.close());

  /** One client call: the request the client builds, the client's reading of the answer. */
  async function call(client: DoveRunnerClient, path: string, req: ClientRequest, rotation = false) {
    const { xml } = buildClientRequest(client, req);
    const res = await request(t.app)
      .post(`${path}/${token}${rotation ? '?key-rotation=true' : ''}`)
      .set('Content-Type', 'application/xml')
      .send(Buffer.from(xml, 'utf8'));
    if (res.status !== 200) throw new ClientError(`HTTP ${res.status}: ${res.text}`);
    return readAsClient(client, res.text);
  }

  const cases = SCENARIOS.flatMap((scenario) => PATHS.flatMap((path) => CLIENTS.map((client) => ({ ...scenario, path, client }))));

  it.each(cases)('$client on $path: $name', async ({ client, path, name: _name, ...scenario }) => {
    const contentId = `scenario-${(counter += 1)}`;
    const parsed = await call(client, path, { ...scenario, contentId, periodIndex: 0 });
    expect(parsed.contentId).toBe(contentId);
    const tracks = scenario.tracks === 'ALL_TRACKS' ? ['HD'] : scenario.tracks;
    expect(parsed.keys.map((key) => key.track_type).sort()).toEqual([...tracks].sort());
    expect(new Set(parsed.keys.map((key) => key.key_id)).size).toBe(tracks.length);
    for (const key of parsed.keys) expect({ track: key.track_type, errors: checkKey(key, scenario.drmTypes) }).toEqual({ track: key.track_type, errors: [] });

    // Asked again, the content answers the same KIDs, keys, IVs and signaling.
    const again = await call(client, path, { ...scenario, contentId, periodIndex: 0 });
    expect(again).toEqual(parsed);
  });

  it.each(PATHS.flatMap((path) => CLIENTS.map((client) => ({ path, client }))))(
    '$client on $path: rotation over periods 1 and 2 (?key-rotation=true): own KIDs and keys per period, the same again for period 1',
    async ({ client, path }) => {
      const req = { contentId: `live-${client}-${path.length}`, drmTypes: ['WIDEVINE', 'PLAYREADY'], scheme: 'CENC', tracks: ['SD', 'HD'] } as const;
      const [p1, p2, p1again] = [
        await call(client, path, { ...req, periodIndex: 1 }, true),
        await call(client, path, { ...req, periodIndex: 2 }, true),
        await call(client, path, { ...req, periodIndex: 1 }, true),
      ];
      expect(p1again).toEqual(p1);
      expect(p1.keys.map((key) => key.period_index)).toEqual(['1', '1']);
      expect(p2.keys.map((key) => key.period_index)).toEqual(['2', '2']);
      for (const [first, second] of p1.keys.map((key, i) => [key, p2.keys[i]] as const)) {
        expect(second?.key_id).not.toBe(first.key_id);
        expect(second?.key).not.toBe(first.key);
        expect(checkKey(first, req.drmTypes)).toEqual([]);
      }
      const period = readWidevinePsshData(parsePsshBox(Buffer.from(field(p2.keys[0] ?? {}, 'widevine:cpix:PSSH'), 'base64')).data);
      expect(period.cryptoPeriodIndex).toBe(2);
    },
  );

  it.each(CLIENTS)('%s: a scheme that contradicts a DRM system is the KMS error, a JSON 400 naming the system', async (client) => {
    const refused = call(client, PATHS[0], { contentId: 'fairplay-cenc', drmTypes: ['FAIRPLAY'], scheme: 'CENC', tracks: 'ALL_TRACKS', periodIndex: 0 });
    await expect(refused).rejects.toThrow(/HTTP 400: \{"error":\{"code":"ERR_CPIX_UNSUPPORTED","message":"DRMSystem\[systemId=94CE86FB-07FF-4F43-ADB8-93D2FA968CA2\]: FairPlay needs commonEncryptionScheme cbcs/);
    // Refused before any key was created.
    expect(await t.services.contentKeys.listMetadata(siteId, 'fairplay-cenc')).toEqual([]);
  });
});
