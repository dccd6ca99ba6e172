import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import request from 'supertest';
import type { Page } from 'puppeteer-core';
import { COMMON_PSSH_SYSTEM_ID } from '../../src/drm/system-ids';
import { createTestApp, type TestApp } from '../support/app';
import { chromiumVersion, describeWithChromium, launchChromium } from '../support/chromium';
import { mintToken, registerTokenKey, seconds, type SigningKey } from '../support/licence-tokens';
import { captureLogs } from '../support/log-capture';
import { makeTestClip, type TestClip } from '../support/media';
import { readCpix, psshOf } from '../support/pallycon-cpix';
import { parsePsshBox } from '../support/pssh-parser';
import { describeWithShakaPackager, rawKeysFlag, runShakaPackager } from '../support/shaka-packager';
import { buildSpekeV2Request } from '../support/speke-request';
import { startStaticServer, type StaticServer } from '../support/static-server';

/**
 * Proof of playback (docs/testing.md; docs/clearkey.md), with real parts only: a clip made by ffmpeg
 * (H.264 + AAC), keys and W3C common PSSH boxes from a SPEKE v2.0 response of the service, Shaka
 * Packager encrypting it to DASH `cenc` and HLS fMP4 `cbcs`, and Debian's chromium playing it in Shaka
 * Player (the npm package, served from node_modules) with the W3C ClearKey CDM, its licences from POST
 * /clearkey/v1/license on another origin (CORS) with a licence token minted here. Playback must pass
 * 3 s with no player error; a token for another content and a revoked content (revoked through the admin
 * API) must fail with the licence error. Screenshots of the successful playbacks are kept as artifacts.
 */

const ROOT = resolve(__dirname, '../..');
const PLAYER_DIR = join(ROOT, 'scripts', 'demo');
const SHAKA_DIST = join(dirname(require.resolve('shaka-player/package.json')), 'dist');
/** Where screenshots go (gitignored); CPIX_KMS_ARTIFACTS moves them. */
const ARTIFACTS = resolve(process.env.CPIX_KMS_ARTIFACTS ?? join(ROOT, 'test-artifacts'), 'playback');
/** Playback has to get past this (seconds of media time). */
const PLAYED_SECONDS = 3;
/** Bounds a browser step that hangs; playback itself takes about 4 s. */
const STEP_TIMEOUT_MS = 30_000;

type Stream = 'video' | 'audio';
const STREAMS: readonly Stream[] = ['video', 'audio'];

interface Packaged {
  readonly contentId: string;
  /** Manifest path under the media mount. */
  readonly manifest: string;
  readonly kids: Readonly<Record<Stream, string>>;
}

/** What the page records (scripts/demo/player.js). */
interface Playback {
  readonly state: string;
  readonly currentTime: number;
  readonly requests: readonly { readonly kids: readonly string[]; readonly type: string }[];
  readonly licences: readonly { readonly kids: readonly string[]; readonly type: string }[];
  readonly errors: readonly { readonly code: number; readonly httpStatus?: number; readonly message: string }[];
}

const hexOf = (uuid: string) => uuid.replace(/-/g, '');

describeWithChromium(
  'Playback in Chromium: Shaka Player, W3C ClearKey, licences from /clearkey/v1/license',
  () => {
    const logs = captureLogs();
    let t: TestApp;
    let service: Server;
    let serviceOrigin: string;
    let pages: StaticServer;
    let dir: string;
    let clip: TestClip;
    let siteId: string;
    let kmsToken: string;
    let tokenKey: SigningKey;
    let browser: Awaited<ReturnType<typeof launchChromium>>;
    const packaged: Partial<Record<'dash' | 'hls', Packaged>> = {};

    /** SPEKE v2.0 keys and W3C common PSSH boxes for a content, then Shaka Packager's output. */
    async function packageContent(format: 'dash' | 'hls'): Promise<Packaged> {
      const scheme = format === 'dash' ? 'cenc' : 'cbcs';
      const contentId = `playback-${format}-${Date.now().toString(36)}`;
      const xml = buildSpekeV2Request(contentId, scheme, [COMMON_PSSH_SYSTEM_ID], { placeholders: '<cpix:PSSH/>' });
      const res = await request(t.app)
        .post('/speke/copyProtection')
        .set('X-Speke-Version', '2.0')
        .set('X-KMS-Token', kmsToken)
        .set('Content-Type', 'application/xml')
        .send(xml);
      expect({ status: res.status, body: res.status === 200 ? '' : res.text }).toEqual({ status: 200, body: '' });
      const view = readCpix(res.text);
      const track = (type: string) => {
        const rule = view.usageRules.find((candidate) => candidate.intendedTrackType === type);
        const key = view.contentKeys.find((candidate) => candidate.kid.toLowerCase() === rule?.kid.toLowerCase());
        if (rule === undefined || key?.key === undefined) throw new Error(`no key for ${type}`);
        return { label: type, kid: key.kid.toLowerCase(), key: key.key, iv: key.explicitIV };
      };
      const tracks = { video: track('VIDEO'), audio: track('AUDIO') };
      // One version-1 common PSSH per key, naming its KID (W3C "cenc" Initialization Data Format): what
      // the ClearKey CDM reads the KIDs of its licence request from.
      const pssh = view.drmSystems.map((system) => psshOf(system));
      expect(pssh.map((box) => parsePsshBox(box)).map((box) => ({ systemId: box.systemId, version: box.version, kids: box.keyIds }))).toEqual(
        STREAMS.map((stream) => ({ systemId: COMMON_PSSH_SYSTEM_ID, version: 1, kids: [tracks[stream].kid] })),
      );

      const out = join(dir, format);
      mkdirSync(out);
      const keys = STREAMS.map((stream) => {
        const { label, kid, key, iv } = tracks[stream];
        return { label, kidHex: hexOf(kid), keyHex: key.toString('hex'), ...(scheme === 'cbcs' && iv !== undefined && { ivHex: iv.toString('hex') }) };
      });
      const descriptors = STREAMS.map((stream) => {
        const common = `in=${clip.file},stream=${stream},drm_label=${tracks[stream].label}`;
        return format === 'dash'
          ? `${common},output=${join(out, `${stream}.mp4`)}`
          : `${common},init_segment=${join(out, stream, 'init.mp4')},segment_template=${join(out, stream, '$Number$.m4s')},playlist_name=${stream}.m3u8${stream === 'audio' ? ',hls_group_id=audio' : ''}`;
      });
      await runShakaPackager([
        ...descriptors,
        '--enable_raw_key_encryption',
        ...['--keys', rawKeysFlag(keys)],
        ...['--pssh', Buffer.concat(pssh).toString('hex')],
        ...['--protection_scheme', scheme],
        ...['--clear_lead', '0'],
        ...['--segment_duration', '2'],
        ...(format === 'dash' ? ['--mpd_output', join(out, 'manifest.mpd')] : ['--hls_master_playlist_output', join(out, 'master.m3u8')]),
      ]);
      return { contentId, manifest: `${format}/${format === 'dash' ? 'manifest.mpd' : 'master.m3u8'}`, kids: { video: tracks.video.kid, audio: tracks.audio.kid } };
    }

    async function token(contentId: string): Promise<string> {
      const now = new Date();
      return mintToken(tokenKey, { iss: siteId, sub: 'e2e-viewer', cid: contentId, iat: seconds(now), exp: seconds(now) + 600 });
    }

    /** Opens the player page for a manifest with a token; resolves when playback passed 3 s or failed. */
    async function play(page: Page, content: Packaged, bearer: string): Promise<Playback> {
      const url = `${pages.origin}/player.html?manifest=${encodeURIComponent(`${pages.origin}/media/${content.manifest}`)}&server=${encodeURIComponent(`${serviceOrigin}/clearkey/v1/license`)}#token=${bearer}`;
      const console: string[] = [];
      page.on('console', (message) => console.push(`${message.type()}: ${message.text()}`));
      await page.goto(url, { waitUntil: 'load', timeout: STEP_TIMEOUT_MS });
      const waited = await page
        .waitForFunction(
          (seconds: number) => {
            const state = (globalThis as unknown as { playback: Playback }).playback;
            return state.errors.length > 0 || state.currentTime > seconds;
          },
          { timeout: STEP_TIMEOUT_MS, polling: 100 },
          PLAYED_SECONDS,
        )
        .then(
          () => undefined,
          (error: unknown) => error,
        );
      const playback = await page.evaluate(() => (globalThis as unknown as { playback: Playback }).playback);
      // A playback that neither advanced nor failed: say what the page saw.
      if (waited !== undefined) return { ...playback, errors: [...playback.errors, { code: -1, message: `no progress, no error: ${String(waited)}; state ${JSON.stringify(playback)}; page console: ${console.join(' | ')}` }] };
      return playback;
    }

    beforeAll(async () => {
      t = createTestApp(logs.logger);
      service = createServer(t.app);
      await new Promise<void>((done) => service.listen(0, '127.0.0.1', done));
      serviceOrigin = `http://127.0.0.1:${(service.address() as AddressInfo).port}`;
      dir = mkdtempSync(join(tmpdir(), 'cpix-kms-playback-'));
      pages = await startStaticServer({ '/shaka/': SHAKA_DIST, '/media/': dir, '/': PLAYER_DIR });
      // The player page is another origin than the key server: the licence crosses CORS.
      const site = await t.services.sites.createSite({ name: 'playback', options: { clearKeyAllowedOrigins: [pages.origin] } });
      siteId = site.site.id;
      kmsToken = site.token.token;
      const [madeClip, key, launched] = await Promise.all([makeTestClip(dir, { seconds: 6 }), registerTokenKey(t.app, t.adminToken, siteId, 'ES256'), launchChromium()]);
      clip = madeClip;
      tokenKey = key;
      browser = launched;
      packaged.dash = await packageContent('dash');
      packaged.hls = await packageContent('hls');
      mkdirSync(ARTIFACTS, { recursive: true });
      // eslint-disable-next-line no-console
      console.log(`playback screenshots (${chromiumVersion ?? 'chromium'}): ${ARTIFACTS}`);
    }, 60_000);

    afterAll(async () => {
      await browser?.close();
      await pages?.close();
      if (service !== undefined) {
        service.closeAllConnections();
        await new Promise<void>((done) => service.close(() => done()));
      }
      await t?.close();
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    });

    describe.each([
      ['dash', 'DASH cenc'],
      ['hls', 'HLS fMP4 cbcs'],
    ] as const)('%s (%s)', (format, label) => {
      it(
        `plays past ${PLAYED_SECONDS} s with no player error, both keys licensed by the service (screenshot kept)`,
        async () => {
          const content = packaged[format];
          if (content === undefined) throw new Error('not packaged');
          const page = await browser.browser.newPage();
          try {
            const playback = await play(page, content, await token(content.contentId));
            expect(playback.errors).toEqual([]);
            expect(playback.currentTime).toBeGreaterThan(PLAYED_SECONDS);
            expect(playback.state).toBe('playing');
            // The page asked the service for exactly the content's KIDs (from the init segments' PSSH
            // or the playlists), temporary licences, and got those keys back.
            const asked = new Set(playback.requests.flatMap((r) => r.kids));
            expect([...asked].sort()).toEqual([content.kids.video, content.kids.audio].sort());
            expect(new Set(playback.licences.flatMap((l) => l.kids))).toEqual(asked);
            expect(new Set(playback.requests.map((r) => r.type))).toEqual(new Set(['temporary']));
            const file = join(ARTIFACTS, `${format}-${label.split(' ').pop() ?? ''}.png`);
            await page.screenshot({ path: file as `${string}.png` });
            // eslint-disable-next-line no-console
            console.log(`${label}: played to ${playback.currentTime.toFixed(2)} s; screenshot ${file}`);
            const audit = await request(t.app).get(`/admin/v1/sites/${siteId}/audit?limit=10`).set('Authorization', `Bearer ${t.adminToken}`);
            const licences = (audit.body.records as { action: string; contentId: string; credentialId: string; kids: string[] }[]).filter(
              (record) => record.action === 'licence' && record.contentId === content.contentId,
            );
            expect(new Set(licences.flatMap((record) => record.kids))).toEqual(asked);
            expect(licences.every((record) => record.credentialId === `${tokenKey.kid}:e2e-viewer`)).toBe(true);
          } finally {
            await page.close();
          }
        },
        STEP_TIMEOUT_MS * 2,
      );

      it(
        'a token for another content fails with the licence error (HTTP 403), and playback never starts',
        async () => {
          const content = packaged[format];
          if (content === undefined) throw new Error('not packaged');
          const page = await browser.browser.newPage();
          try {
            // Another content of the same site (not the other format's, which an earlier test revokes).
            const playback = await play(page, content, await token(`${content.contentId}-other`));
            // Shaka's LICENSE_REQUEST_FAILED (6007), caused by the service's 403.
            expect(playback.errors[0]).toMatchObject({ code: 6007, httpStatus: 403 });
            expect(playback.licences).toEqual([]);
            expect(playback.currentTime).toBeLessThan(1);
          } finally {
            await page.close();
          }
        },
        STEP_TIMEOUT_MS * 2,
      );

      it(
        'a revoked content fails with the licence error (HTTP 410); runs last, revocation being final',
        async () => {
          const content = packaged[format];
          if (content === undefined) throw new Error('not packaged');
          await request(t.app)
            .post(`/admin/v1/sites/${siteId}/contents/${encodeURIComponent(content.contentId)}/revoke`)
            .set('Authorization', `Bearer ${t.adminToken}`)
            .send({ reason: 'playback test' })
            .expect(201);
          const page = await browser.browser.newPage();
          try {
            const playback = await play(page, content, await token(content.contentId));
            expect(playback.errors[0]).toMatchObject({ code: 6007, httpStatus: 410 });
            expect(playback.licences).toEqual([]);
          } finally {
            await page.close();
          }
        },
        STEP_TIMEOUT_MS * 2,
      );
    });

    it('no licence token reached a log line (the page keeps it in the URL fragment)', () => {
      expect(logs.text()).toContain('/clearkey/v1/license');
      expect(logs.text()).not.toMatch(/eyJ[A-Za-z0-9_-]{20,}/);
    });
  },
  describeWithShakaPackager,
);
