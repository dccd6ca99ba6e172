import { readFileSync } from 'node:fs';
import request from 'supertest';
import { auditKidsDigest } from '../../src/audit/summary';
import type { SiteOptions } from '../../src/sites/site';
import { createTestApp, type TestApp } from '../support/app';
import { captureLogs, encodingsOf } from '../support/log-capture';
import {
  NS,
  SYSTEM,
  WV_FIELD,
  base64Of,
  child,
  children,
  readCpix,
  readPlayReadyObject,
  readWidevinePssh,
  readWidevinePsshData,
  psshOf,
  playReadyChecksum,
  signatureCount,
  uuidBytes,
  type CpixDrmSystem,
  type CpixView,
} from '../support/pallycon-cpix';
import { buildDoveRunnerRequest } from '../support/doverunner-clients';
import { parsePlayReadyObject, parsePsshBox } from '../support/pssh-parser';
import { testSigningIdentity } from '../support/services';
import { describeWithVectors, vectorPath } from '../support/shared-vectors';
import { describeWithXmlsec, xmlsecVerify } from '../support/xmlsec';

/**
 * The PallyCon / DoveRunner CPIX API (docs/pallycon-api.md) over HTTP on the real app and a real
 * SQLite store: the published requests, the multi-key and rotation requests the official clients
 * build, the four URL forms, errors, tenant isolation and the audit trail.
 */

const V2 = '/v2/cpix/pallycon/getKey';
const PALLYCON_PATHS = [
  ['/v1/cpix/pallycon/getKey', 'cpix-api-v1'],
  ['/cpix/pallycon/getKey', 'cpix-api-v1'],
  ['/v2/cpix/pallycon/getKey', 'cpix-api-v2'],
  ['/v2/cpix/doverunner/getKey', 'cpix-api-v2'],
] as const;
const TRACKS = ['AUDIO', 'SD', 'HD', 'UHD1', 'UHD2'] as const;
const pinned = () => ({ pinnedCertPem: testSigningIdentity().certificatePem });

/**
 * The published PallyCon request/response pairs, plus BuyDRM's Widevine request (Unified Streaming's
 * generic CPIX request: root `id` = content ID, one key, one empty Widevine DRMSystem — exactly what
 * the CPIX API answers, so a packager configured with plain CPIX must get keys from it too; it has
 * no published response, so its DRMSystem is compared with PallyCon's published Widevine answers).
 * The live request carries a period (index 128) and its published response a rotated key, so it is
 * sent with `?key-rotation=true`.
 */
const PUBLISHED = [
  { name: 'pallycon-v2-dash-vod', response: 'pallycon-v2-dash-vod', rotation: false },
  { name: 'pallycon-v2-dash-live-keyrotation-multikey', response: 'pallycon-v2-dash-live-keyrotation-multikey', rotation: true },
  { name: 'pallycon-v2-hls-live-fairplay', response: 'pallycon-v2-hls-live-fairplay', rotation: false },
  { name: 'pallycon-v2-hls-vod-fairplay-ncghls', response: 'pallycon-v2-hls-vod-fairplay-ncghls', rotation: false },
  { name: 'thirdparty-buydrm-widevine', response: undefined, rotation: false },
] as const;
type Published = (typeof PUBLISHED)[number];

const readVector = (file: string): Buffer => readFileSync(vectorPath('pallycon', file));
const sameId = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/** The 16-hex-digit period suffix PallyCon appends to the content ID under rotation (docs/pallycon-api.md, Answer). */
const rotationContentId = (contentId: string, period: number) => `${contentId}${period.toString(16).padStart(16, '0')}`;

describeWithVectors('PallyCon CPIX API', () => {
  const logs = captureLogs();
  let t: TestApp;
  const secrets: string[] = [];

  beforeAll(() => {
    t = createTestApp(logs.logger);
  });
  afterAll(() => t.close());

  async function createSite(options: Partial<SiteOptions> = {}): Promise<{ siteId: string; token: string; tokenId: string; accessKey: string }> {
    const created = await t.services.sites.createSite({ name: 'packager', options });
    secrets.push(created.token.token, created.accessKey);
    return { siteId: created.site.id, token: created.token.token, tokenId: created.token.id, accessKey: created.accessKey };
  }

  function post(path: string, token: string, body: string | Buffer, rotation = false) {
    return request(t.app)
      .post(`${path}/${token}${rotation ? '?key-rotation=true' : ''}`)
      .set('Content-Type', 'application/xml')
      .send(Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8'));
  }

  async function exchange(path: string, token: string, body: string | Buffer, rotation = false): Promise<CpixView & { xml: string }> {
    const res = await post(path, token, body, rotation);
    expect({ status: res.status, type: res.headers['content-type'] }).toEqual({ status: 200, type: 'application/xml' });
    return { ...readCpix(res.text), xml: res.text };
  }

  /** `kid → key` of a response; keys by track type in request order for the multi-key tests. */
  const keyOf = (view: CpixView, kid: string) => view.contentKeys.find((key) => sameId(key.kid, kid))?.key?.toString('base64');
  const kidsByTrack = (view: CpixView) => Object.fromEntries(view.usageRules.map((rule) => [rule.intendedTrackType, rule.kid]));

  describe('the published requests', () => {
    let site: Awaited<ReturnType<typeof createSite>>;
    const answers = new Map<string, CpixView & { xml: string }>();
    const requests = new Map<string, CpixView>();

    beforeAll(async () => {
      site = await createSite();
      for (const vector of PUBLISHED) {
        const body = readVector(`${vector.name}.request.xml`);
        requests.set(vector.name, readCpix(body));
        answers.set(vector.name, await exchange(V2, site.token, body, vector.rotation));
      }
    });

    const answerOf = (vector: Published) => answers.get(vector.name) as CpixView & { xml: string };
    const requestOf = (vector: Published) => requests.get(vector.name) as CpixView;
    const publishedOf = (vector: Published) => (vector.response === undefined ? undefined : readCpix(readVector(`${vector.response}.response.xml`)));
    /** For BuyDRM (no published answer): the union of PallyCon's published answers per system. */
    const publishedSystems = (vector: Published): readonly CpixDrmSystem[] =>
      publishedOf(vector)?.drmSystems ??
      PUBLISHED.flatMap((other) => (other.response === undefined ? [] : readCpix(readVector(`${other.response}.response.xml`)).drmSystems));

    it.each(PUBLISHED)('$name: echoes the root id and answers one key with a 16-byte key and a 16-byte explicitIV', (vector) => {
      const answer = answerOf(vector);
      expect(answer.id).toBe(requestOf(vector).id);
      expect(answer.contentKeys).toHaveLength(1);
      const [key] = answer.contentKeys;
      expect(key?.key).toHaveLength(16);
      expect(key?.explicitIV).toHaveLength(16);
    });

    it.each(PUBLISHED)('$name: returns every list the request had (and the published answer has, where the request asked)', (vector) => {
      const lists = (view: CpixView) => view.rootChildren.filter((name) => name.endsWith('List'));
      const requested = lists(requestOf(vector));
      expect([...lists(answerOf(vector))].sort()).toEqual([...requested].sort());
      // The published hls-live-fairplay answer belongs to the live request (same KID and period); its
      // request has no period or usage-rule list, so only lists the request asked for are expected.
      const published = publishedOf(vector);
      for (const list of published === undefined ? [] : lists(published).filter((name) => requested.includes(name))) {
        expect(lists(answerOf(vector))).toContain(list);
      }
    });

    it.each(PUBLISHED)('$name: replaces the request KIDs by a server KID used by every DRMSystem and usage rule', (vector) => {
      const answer = answerOf(vector);
      const requestKids = [...requestOf(vector).contentKeys, ...requestOf(vector).drmSystems].map((item) => item.kid.toLowerCase());
      const serverKid = answer.contentKeys[0]?.kid ?? '';
      expect(serverKid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(requestKids).not.toContain(serverKid.toLowerCase());
      expect([...answer.drmSystems, ...answer.usageRules].map((item) => item.kid)).toEqual(
        [...answer.drmSystems, ...answer.usageRules].map(() => serverKid),
      );
    });

    it.each(PUBLISHED)('$name: echoes each DRMSystem in request order with its systemId spelled as sent', (vector) => {
      expect(answerOf(vector).drmSystems.map((system) => system.systemId)).toEqual(requestOf(vector).drmSystems.map((system) => system.systemId));
    });

    it.each(PUBLISHED)('$name: answers each DRMSystem with at least the elements PallyCon publishes for that system', (vector) => {
      for (const system of answerOf(vector).drmSystems) {
        const published = publishedSystems(vector).filter((candidate) => sameId(candidate.systemId, system.systemId));
        expect(published.length).toBeGreaterThan(0);
        const expected = new Set(published.flatMap((candidate) => candidate.childNames));
        expect({ systemId: system.systemId, names: [...new Set(system.childNames)].sort() }).toEqual({
          systemId: system.systemId,
          names: expect.arrayContaining([...expected]),
        });
      }
    });

    it.each(PUBLISHED)('$name: Widevine PSSH and PlayReady PRO name the server KID; the CHECKSUM matches the returned key', (vector) => {
      const answer = answerOf(vector);
      const [key] = answer.contentKeys;
      const kid = key?.kid ?? '';
      const contentId = answer.id ?? '';
      let checked = 0;
      for (const system of answer.drmSystems) {
        const pssh = base64Of(child(system.element, NS.cpix, 'PSSH'));
        if (sameId(system.systemId, SYSTEM.widevine)) {
          const wv = readWidevinePssh(psshOf(system));
          expect(wv).toMatchObject({
            keyIds: [kid],
            contentId: vector.rotation ? rotationContentId(contentId, 128) : contentId,
          });
          if (vector.rotation) expect(wv.cryptoPeriodIndex).toBe(128);
          else expect(wv.fieldNumbers).not.toContain(WV_FIELD.cryptoPeriodIndex);
          const cpd = base64Of(child(system.element, NS.cpix, 'ContentProtectionData'));
          if (cpd !== undefined) expect(readWidevinePsshData(cpd).keyIds).toEqual([kid]);
          checked += 1;
        }
        if (sameId(system.systemId, SYSTEM.playready)) {
          const box = parsePsshBox(psshOf(system));
          expect(box.systemId).toBe(SYSTEM.playready.toLowerCase());
          const pro = base64Of(child(system.element, NS.cpix, 'ContentProtectionData'));
          const header = base64Of(child(system.element, NS.speke, 'ProtectionHeader'));
          // ContentProtectionData and speke:ProtectionHeader are the PRO itself, as in the PSSH data.
          expect(pro?.toString('base64')).toBe(box.data.toString('base64'));
          expect(header?.toString('base64')).toBe(box.data.toString('base64'));
          const signal = readPlayReadyObject(box.data);
          expect(signal.kids).toEqual([expect.objectContaining({ kid, checksum: playReadyChecksum(kid, key?.key ?? Buffer.alloc(16)) })]);
          expect(signal.periodIndex).toBe(vector.rotation ? 128 : undefined);
          checked += 1;
        }
        if (sameId(system.systemId, SYSTEM.fairplay)) {
          const uri = base64Of(child(system.element, NS.cpix, 'URIExtXKey'))?.toString('utf8') ?? '';
          expect(uri).toMatch(/^skd:\/\//);
          expect(uri).toContain(uuidBytes(kid).toString('hex'));
          // A requested FairPlay PSSH (hls-live request) is a v1 box listing the server KID.
          if (pssh !== undefined) expect(parsePsshBox(pssh)).toMatchObject({ version: 1, keyIds: [kid] });
          const lines = children(system.element, NS.cpix, 'HLSSignalingData').map((element) => base64Of(element)?.toString('utf8') ?? '');
          expect(lines.map((line) => line.split(':')[0]).sort()).toEqual(['#EXT-X-KEY', '#EXT-X-SESSION-KEY']);
          for (const line of lines) expect(line).toContain(`URI="${uri}"`);
          checked += 1;
        }
        if (sameId(system.systemId, '81376844-f976-481e-a84e-cc25d39b0b33')) {
          const url = base64Of(child(system.element, NS.cpix, 'URIExtXKey'))?.toString('utf8') ?? '';
          expect(url).toMatch(/^https:\/\//);
          const lines = children(system.element, NS.cpix, 'HLSSignalingData').map((element) => base64Of(element)?.toString('utf8') ?? '');
          expect(lines.length).toBeGreaterThan(0);
          // The packager encrypts with the returned IV, so the key line must state exactly that IV.
          for (const line of lines) expect(line).toContain(`IV=0x${key?.explicitIV?.toString('hex').toUpperCase()}`);
          checked += 1;
        }
      }
      expect(checked).toBe(answer.drmSystems.length);
    });

    it('reproduces the published rotated Widevine PSSH data field by field except key_id and provider', () => {
      const vector = PUBLISHED[1];
      const published = publishedOf(vector)?.drmSystems.find((system) => sameId(system.systemId, SYSTEM.widevine));
      const ours = answerOf(vector).drmSystems.find((system) => sameId(system.systemId, SYSTEM.widevine));
      const theirs = readWidevinePssh(psshOf(published));
      const mine = readWidevinePssh(psshOf(ours));
      expect(mine.fieldNumbers).toEqual(theirs.fieldNumbers);
      expect({ contentId: mine.contentId, trackType: mine.trackType, period: mine.cryptoPeriodIndex }).toEqual({
        contentId: theirs.contentId,
        trackType: theirs.trackType,
        period: theirs.cryptoPeriodIndex,
      });
    });

    it.each(PUBLISHED.filter((vector) => vector.name.includes('keyrotation')))(
      '$name: returns one usage rule per requested rule, in order, with echoed track type, filters and periods',
      (vector) => {
        const requested = requestOf(vector);
        const answer = answerOf(vector);
        expect(answer.usageRules.map(({ intendedTrackType, filters }) => ({ intendedTrackType, filters }))).toEqual(
          requested.usageRules.map(({ intendedTrackType, filters }) => ({ intendedTrackType, filters })),
        );
        expect(answer.periods).toEqual(requested.periods);
      },
    );

    describeWithXmlsec('XML signature', () => {
      it.each(PUBLISHED)('$name: carries one signature that xmlsec1 verifies with the pinned service certificate', (vector) => {
        const answer = answerOf(vector);
        expect(signatureCount(answer)).toBe(1);
        expect(xmlsecVerify(answer.xml, 1, pinned())).toMatchObject({ ok: true });
      });

      it('fails verification after a one-character change of the key (negative control)', () => {
        const { xml } = answerOf(PUBLISHED[0]);
        const tampered = xml.replace(/<pskc:PlainValue>(.)/, (_m, c: string) => `<pskc:PlainValue>${c === 'A' ? 'B' : 'A'}`);
        expect(tampered).not.toBe(xml);
        expect(xmlsecVerify(tampered, 1, pinned()).ok).toBe(false);
      });
    });

    it('answers without any Signature for a site with signCpixApiResponses: false, with the same keys', async () => {
      const unsigned = await createSite({ signCpixApiResponses: false });
      for (const vector of PUBLISHED) {
        const answer = await exchange(V2, unsigned.token, readVector(`${vector.name}.request.xml`), vector.rotation);
        expect(signatureCount(answer)).toBe(0);
        expect(answer.xml).not.toContain('SignatureValue');
        expect(answer.drmSystems.map((s) => s.childNames)).toEqual(answerOf(vector).drmSystems.map((s) => s.childNames));
      }
    });
  });

  describe('multi-key (DoveRunner client request)', () => {
    let site: Awaited<ReturnType<typeof createSite>>;
    let first: CpixView;
    let sent: readonly string[];

    beforeAll(async () => {
      site = await createSite();
      const built = buildDoveRunnerRequest('multikey-content', TRACKS);
      sent = built.kids;
      first = await exchange('/v2/cpix/doverunner/getKey', site.token, built.xml);
    });

    it('answers five distinct server KIDs, one per track, none of them a request KID', () => {
      const kids = first.contentKeys.map((key) => key.kid);
      expect(new Set(kids).size).toBe(5);
      for (const kid of kids) expect(sent).not.toContain(kid);
      expect(first.usageRules.map((rule) => rule.intendedTrackType)).toEqual([...TRACKS]);
      expect(first.usageRules.map((rule) => rule.kid)).toEqual(kids);
      expect(new Set(first.contentKeys.map((key) => keyOf(first, key.kid))).size).toBe(5);
    });

    it('binds every DRMSystem to the server KID of its own track (Widevine track_type, PlayReady KID)', () => {
      // Request order: per track, Widevine then PlayReady.
      first.drmSystems.forEach((system, i) => {
        const track = TRACKS[Math.floor(i / 2)] ?? '';
        const kid = kidsByTrack(first)[track];
        expect(system.kid).toBe(kid);
        const pssh = psshOf(system);
        if (sameId(system.systemId, SYSTEM.widevine)) expect(readWidevinePssh(pssh)).toMatchObject({ keyIds: [kid], trackType: track });
        else expect(readPlayReadyObject(parsePsshBox(pssh).data).kids).toEqual([expect.objectContaining({ kid })]);
      });
    });

    it('answers the same KIDs and keys to the same request with new random request KIDs', async () => {
      const again = await exchange(V2, site.token, buildDoveRunnerRequest('multikey-content', TRACKS).xml);
      expect(again.contentKeys).toEqual(first.contentKeys);
    });

    it('answers other KIDs and keys for another content', async () => {
      const other = await exchange(V2, site.token, buildDoveRunnerRequest('multikey-other', TRACKS).xml);
      const kids = new Set(first.contentKeys.map((key) => key.kid));
      const keys = new Set(first.contentKeys.map((key) => key.key?.toString('base64')));
      for (const key of other.contentKeys) {
        expect(kids.has(key.kid)).toBe(false);
        expect(keys.has(key.key?.toString('base64'))).toBe(false);
      }
    });

    it('answers concurrent first requests for a new content with the same KIDs and keys', async () => {
      const answers = await Promise.all(
        [1, 2, 3, 4].map(() => exchange(V2, site.token, buildDoveRunnerRequest('multikey-concurrent', TRACKS).xml)),
      );
      expect(new Set(answers.map((answer) => JSON.stringify(answer.contentKeys))).size).toBe(1);
      const { records } = await t.services.audit.list(site.siteId, { limit: 4 });
      expect(records.reduce((sum, record) => sum + record.keysCreated, 0)).toBe(5);
    });

    it('refuses two keys for the same track type with a JSON 400', async () => {
      const res = await post(V2, site.token, buildDoveRunnerRequest('multikey-duplicate', ['HD', 'HD']).xml);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('ERR_CPIX_INVALID');
    });

    it('refuses a multi-key request on v1 with a JSON 400 and answers it on v2', async () => {
      const twoKeys = buildDoveRunnerRequest('v1-two-keys', ['SD', 'HD']).xml;
      for (const [path, dialect] of PALLYCON_PATHS) {
        const res = await post(path, site.token, twoKeys);
        if (dialect === 'cpix-api-v1') {
          expect(res.status).toBe(400);
          expect(res.headers['content-type']).toMatch(/^application\/json/);
          expect(res.body.error).toEqual({ code: 'ERR_CPIX_INVALID', message: expect.stringContaining('/v2/'), requestId: expect.any(String) });
        } else {
          expect(res.status).toBe(200);
        }
      }
    });
  });

  describe('key rotation', () => {
    let site: Awaited<ReturnType<typeof createSite>>;
    const rotate = (periodIndex: number, rotation: boolean, tracks: readonly string[] = ['SD', 'HD']) =>
      exchange(V2, site.token, buildDoveRunnerRequest('live-channel', tracks, { periodIndex }).xml, rotation);

    it.each([
      ['Python client order (usage rules, then periods)', 'python' as const],
      ['Java client order (periods, then usage rules)', 'java' as const],
    ])('echoes the periods and one usage rule per requested rule with its KeyPeriodFilter: %s', async (_name, client) => {
      const sent = readCpix(buildDoveRunnerRequest('live-channel', TRACKS, { periodIndex: 9, client }).xml);
      const answer = await exchange(V2, site.token, buildDoveRunnerRequest('live-channel', TRACKS, { periodIndex: 9, client }).xml, true);
      const again = await exchange(V2, site.token, buildDoveRunnerRequest('live-channel', TRACKS, { periodIndex: 9 }).xml, true);
      expect(answer.contentKeys).toEqual(again.contentKeys);
      expect(answer.periods.map((period) => period.index)).toEqual(sent.periods.map((period) => period.index));
      expect(answer.usageRules.map((rule) => [rule.intendedTrackType, rule.filters.length])).toEqual(
        sent.usageRules.map((rule) => [rule.intendedTrackType, 1]),
      );
      // Each rule's KeyPeriodFilter names a period of the answer, and each rule names its own server KID.
      const periodIds = new Set(answer.periods.map((period) => period.id));
      for (const rule of answer.usageRules) expect(periodIds.has(/periodId="([^"]+)"/.exec(rule.filters[0] ?? '')?.[1] ?? '')).toBe(true);
      expect(answer.usageRules.map((rule) => rule.kid)).toEqual(answer.contentKeys.map((key) => key.kid));
    });

    beforeAll(async () => {
      site = await createSite();
    });

    it('gives periods 5 and 6 different KIDs and keys, and period 5 again the same ones', async () => {
      const p5 = await rotate(5, true);
      const p6 = await rotate(6, true);
      const p5again = await rotate(5, true);
      expect(p5again.contentKeys).toEqual(p5.contentKeys);
      for (const track of ['SD', 'HD']) {
        const kid5 = kidsByTrack(p5)[track] ?? '';
        const kid6 = kidsByTrack(p6)[track] ?? '';
        expect(kid5).not.toBe(kid6);
        expect(keyOf(p5, kid5)).not.toBe(keyOf(p6, kid6));
      }
      expect(p5.periods.map((period) => period.index)).toEqual([5, 5]);
    });

    it('carries the period in the Widevine PSSH (crypto_period_index, content ID suffix) and the PlayReady PERIOD_INDEX', async () => {
      const p6 = await rotate(6, true, ['HD']);
      const [wv, pr] = p6.drmSystems;
      expect(readWidevinePssh(psshOf(wv))).toMatchObject({
        cryptoPeriodIndex: 6,
        contentId: rotationContentId('live-channel', 6),
        trackType: 'HD',
      });
      const pro = parsePsshBox(psshOf(pr)).data;
      expect(readPlayReadyObject(pro).periodIndex).toBe(6);
    });

    it('ignores period indexes without ?key-rotation=true: same KID and key for every period, no period in the PSSH', async () => {
      const p5 = await rotate(5, false);
      const p6 = await rotate(6, false);
      const unperiodic = await exchange(V2, site.token, buildDoveRunnerRequest('live-channel', ['SD', 'HD']).xml);
      expect(p6.contentKeys).toEqual(p5.contentKeys);
      expect(unperiodic.contentKeys).toEqual(p5.contentKeys);
      const rotated = await rotate(5, true);
      expect(rotated.contentKeys.map((key) => key.kid)).not.toEqual(p5.contentKeys.map((key) => key.kid));
      const wv = p6.drmSystems.find((system) => sameId(system.systemId, SYSTEM.widevine));
      const signal = readWidevinePssh(psshOf(wv));
      expect(signal.fieldNumbers).not.toContain(WV_FIELD.cryptoPeriodIndex);
      expect(signal.contentId).toBe('live-channel');
      const pr = p6.drmSystems.find((system) => sameId(system.systemId, SYSTEM.playready));
      expect(parsePlayReadyObject(parsePsshBox(psshOf(pr)).data)).not.toContain('PERIOD_INDEX');
    });
  });

  describe('URLs and errors', () => {
    let site: Awaited<ReturnType<typeof createSite>>;
    const vod = () => readVector('pallycon-v2-dash-vod.request.xml');

    beforeAll(async () => {
      site = await createSite();
    });

    it.each(PALLYCON_PATHS)('answers on %s, with the same server KID and key as every other path', async (path) => {
      const answer = await exchange(path, site.token, vod());
      const reference = await exchange(V2, site.token, vod());
      expect(answer.contentKeys).toEqual(reference.contentKeys);
      expect(answer.id).toBe('your-content-id');
    });

    const unknownToken = 'kms1.AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB';
    it.each([
      ['an unknown KMS token', 401, 'ERR_AUTH_REQUIRED', () => unknownToken, () => vod()],
      ['a blank token', 401, 'ERR_AUTH_REQUIRED', () => '%20', () => vod()],
      ['a garbage token', 401, 'ERR_AUTH_REQUIRED', () => 'not-a-token', () => vod()],
      ['the token with one character changed', 401, 'ERR_AUTH_REQUIRED', () => site.token.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')), () => vod()],
      ['malformed XML', 400, 'ERR_CPIX_INVALID', () => site.token, () => Buffer.from('<cpix:CPIX id="x"')],
      ['a root that is not CPIX', 400, 'ERR_CPIX_INVALID', () => site.token, () => Buffer.from('<CPIX xmlns="urn:example"/>')],
      ['a request without a content ID', 400, 'ERR_CPIX_INVALID', () => site.token, () => Buffer.from(vod().toString('utf8').replace('id="your-content-id"', ''))],
      [
        'a DRM system ID the service cannot signal',
        400,
        'ERR_CPIX_UNSUPPORTED',
        () => site.token,
        () => Buffer.from(vod().toString('utf8').replace(SYSTEM.widevine, '00000000-0000-4000-8000-0000000000AA')),
      ],
    ])('answers %s on every path with a JSON error: %i %s', async (_name, status, code, token, body) => {
      for (const [path] of PALLYCON_PATHS) {
        const res = await post(path, token(), body());
        expect({ path, status: res.status, type: res.headers['content-type'] }).toEqual({ path, status, type: expect.stringMatching(/^application\/json/) });
        expect(res.body.error).toEqual({ code, message: expect.any(String), requestId: expect.any(String) });
        expect(res.text).not.toContain(site.token);
      }
    });

    it("answers the PallyCon packager's legacy path with its legacy token (base64 JSON of site_id and access_key), when the site accepts it", async () => {
      const legacySite = await createSite({ acceptLegacyToken: true });
      const json = JSON.stringify({ site_id: legacySite.siteId, access_key: legacySite.accessKey });
      // Standard base64 may hold '/', which a path segment carries percent-encoded (RFC 3986 §3.3); URL-safe base64 needs nothing.
      const forms = [encodeURIComponent(Buffer.from(json).toString('base64')), Buffer.from(json).toString('base64url')];
      secrets.push(...forms);
      const reference = await exchange(V2, legacySite.token, vod());
      for (const form of forms) {
        const answer = await exchange('/cpix/pallycon/getKey', form, vod());
        expect(answer.contentKeys).toEqual(reference.contentKeys);
      }
      const optedOut = await createSite();
      const refused = await post('/cpix/pallycon/getKey', Buffer.from(JSON.stringify({ site_id: optedOut.siteId, access_key: optedOut.accessKey })).toString('base64url'), vod());
      expect({ status: refused.status, code: refused.body.error.code }).toEqual({ status: 401, code: 'ERR_AUTH_REQUIRED' });
    });

    it('answers a path without a token with a JSON 404, never 200', async () => {
      const res = await request(t.app).post(`${V2}/`).set('Content-Type', 'application/xml').send(vod());
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('ERR_NOT_FOUND');
    });
  });

  describe('tenant isolation', () => {
    it('answers two sites different KIDs and keys for the same request', async () => {
      const a = await createSite();
      const b = await createSite();
      const body = buildDoveRunnerRequest('shared-content-id', TRACKS).xml;
      const fromA = await exchange(V2, a.token, body);
      const fromB = await exchange(V2, b.token, body);
      const kidsA = new Set(fromA.contentKeys.map((key) => key.kid));
      const keysA = new Set(fromA.contentKeys.map((key) => key.key?.toString('base64')));
      expect(fromB.contentKeys).toHaveLength(5);
      for (const key of fromB.contentKeys) {
        expect(kidsA.has(key.kid)).toBe(false);
        expect(keysA.has(key.key?.toString('base64'))).toBe(false);
      }
    });
  });

  describe('audit trail', () => {
    const latest = async (siteId: string) => (await t.services.audit.list(siteId, { limit: 1 })).records[0];

    it.each(PALLYCON_PATHS)('records an issue on %s with dialect %s, the token ID and the server KIDs', async (path, dialect) => {
      const site = await createSite();
      const answer = await exchange(path, site.token, readVector('pallycon-v2-dash-vod.request.xml'));
      expect(await latest(site.siteId)).toEqual({
        id: expect.any(String),
        at: expect.any(String),
        siteId: site.siteId,
        action: 'issue',
        credentialId: site.tokenId,
        clientAddress: expect.any(String),
        dialect,
        contentId: 'your-content-id',
        kids: answer.contentKeys.map((key) => key.kid),
        kidCount: answer.contentKeys.length,
        kidsSha256: auditKidsDigest(answer.contentKeys.map((key) => key.kid)),
        periodIndexes: [],
        periodIndexCount: 0,
        keysCreated: 1,
        requestId: expect.any(String),
      });
    });

    it('records the period indexes under rotation, none without, and no key bytes', async () => {
      const site = await createSite();
      const rotated = await exchange(V2, site.token, buildDoveRunnerRequest('audited-live', TRACKS, { periodIndex: 7 }).xml, true);
      const rotatedRecord = await latest(site.siteId);
      expect(rotatedRecord).toMatchObject({ dialect: 'cpix-api-v2', kids: rotated.contentKeys.map((key) => key.kid), periodIndexes: [7], keysCreated: 5 });
      const plain = await exchange(V2, site.token, buildDoveRunnerRequest('audited-live', TRACKS, { periodIndex: 7 }).xml, false);
      expect(await latest(site.siteId)).toMatchObject({ kids: plain.contentKeys.map((key) => key.kid), periodIndexes: [] });
      const serialized = JSON.stringify(rotatedRecord);
      for (const key of rotated.contentKeys) {
        for (const form of [...encodingsOf(key.key ?? Buffer.alloc(0)), ...encodingsOf(key.explicitIV ?? Buffer.alloc(0))]) {
          expect(serialized).not.toContain(form);
        }
      }
    });
  });

  it('wrote no KMS token into any log line; the path is logged redacted', () => {
    const text = logs.text();
    expect(text).toContain('/getKey/[redacted]');
    expect(secrets.length).toBeGreaterThan(10);
    for (const secret of secrets) for (const form of encodingsOf(secret)) expect(text).not.toContain(form);
  });
});
