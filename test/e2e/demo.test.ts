import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromiumVersion, launchChromium } from '../support/chromium';
import { requireBuiltService } from '../support/service-process';
import { describeWithShakaPackager } from '../support/shaka-packager';

/**
 * `npm run demo` (scripts/demo.mjs) as a user runs it after the build: it starts the service in the
 * development setup, packages a clip with keys from it and serves the player page; the page, the
 * manifests and a licence for the printed content are fetched, the DASH link plays in chromium when
 * it is there, and Ctrl-C (SIGINT) stops it all, leaving only the demo's data folder.
 */
const ROOT = resolve(__dirname, '../..');
const READY = /Open (http:\/\/127\.0\.0\.1:\d+)\/ in a browser/;
const SERVICE = /key server\s+: (http:\/\/127\.0\.0\.1:\d+)/;
const MEDIA = /media\s+: (\S+) \(removed/;
/** Start-up makes and packages a 10 s clip twice: a few seconds; this only bounds a hang. */
const START_TIMEOUT_MS = 60_000;

describeWithShakaPackager('npm run demo', () => {
  let dir: string;
  let demo: ChildProcess;
  let output = '';
  let pageUrl: string;
  let serviceUrl: string;
  let mediaDir: string;
  let exited: Promise<number | null>;

  beforeAll(async () => {
    requireBuiltService();
    dir = mkdtempSync(join(tmpdir(), 'cpix-kms-demo-test-'));
    demo = spawn(process.execPath, [join(ROOT, 'scripts', 'demo.mjs'), '--dir', join(dir, 'demo'), '--page-port', '0'], {
      cwd: dir,
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    exited = new Promise((done) => demo.once('exit', (code) => done(code)));
    await new Promise<void>((done, fail) => {
      const timer = setTimeout(() => fail(new Error(`the demo printed no URL within ${START_TIMEOUT_MS} ms:\n${output}`)), START_TIMEOUT_MS);
      const read = (chunk: Buffer) => {
        output += chunk.toString();
        if (READY.test(output)) {
          clearTimeout(timer);
          done();
        }
      };
      demo.stdout?.on('data', read);
      demo.stderr?.on('data', read);
      void exited.then((code) => {
        clearTimeout(timer);
        fail(new Error(`the demo exited with ${String(code)}:\n${output}`));
      });
    });
    pageUrl = READY.exec(output)?.[1] ?? '';
    serviceUrl = SERVICE.exec(output)?.[1] ?? '';
    mediaDir = MEDIA.exec(output)?.[1] ?? '';
  }, START_TIMEOUT_MS + 5_000);

  afterAll(async () => {
    if (demo?.exitCode === null) demo.kill('SIGKILL');
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  /** The links of the index page: DASH first, then HLS, each with its licence token in the fragment. */
  async function links(): Promise<{ readonly manifest: string; readonly server: string; readonly token: string; readonly href: string }[]> {
    const index = await fetch(`${pageUrl}/`);
    expect(index.status).toBe(200);
    const html = await index.text();
    return [...html.matchAll(/href="([^"]+)"/g)].map(([, href = '']) => {
      const url = new URL(href.replace(/&amp;/g, '&'), pageUrl);
      return { manifest: url.searchParams.get('manifest') ?? '', server: url.searchParams.get('server') ?? '', token: new URLSearchParams(url.hash.slice(1)).get('token') ?? '', href: url.href };
    });
  }

  it('prints the key server, the site, the contents and their KIDs', () => {
    expect(output).toMatch(/dash cenc : content demo-dash-\w+, KIDs [0-9a-f-]{36} [0-9a-f-]{36}/);
    expect(output).toMatch(/hls\s+cbcs : content demo-hls-\w+, KIDs [0-9a-f-]{36} [0-9a-f-]{36}/);
    expect(existsSync(mediaDir)).toBe(true);
  });

  it('serves the player page, Shaka Player and both manifests', async () => {
    const [dash, hls] = await links();
    expect(dash?.server).toBe(`${serviceUrl}/clearkey/v1/license`);
    const player = await fetch(`${pageUrl}/player.html`);
    expect(player.status).toBe(200);
    expect(await player.text()).toContain('/shaka/shaka-player.compiled.js');
    expect((await fetch(`${pageUrl}/player.js`)).status).toBe(200);
    expect((await fetch(`${pageUrl}/shaka/shaka-player.compiled.js`)).status).toBe(200);
    const mpd = await fetch(dash?.manifest ?? '');
    expect({ status: mpd.status, type: mpd.headers.get('content-type') }).toEqual({ status: 200, type: 'application/dash+xml' });
    expect(await mpd.text()).toContain('urn:uuid:1077efec-c0b2-4d02-ace3-3c1e52e2fb4b');
    const m3u8 = await fetch(hls?.manifest ?? '');
    expect(m3u8.status).toBe(200);
    expect(await m3u8.text()).toContain('#EXT-X-STREAM-INF');
  });

  it("the printed token gets the content's licence from the service, for the page's origin", async () => {
    const [dash] = await links();
    const kids = (/dash cenc : content \S+, KIDs ([0-9a-f-]{36}) ([0-9a-f-]{36})/.exec(output) ?? []).slice(1);
    const b64 = (uuid: string) => Buffer.from(uuid.replace(/-/g, ''), 'hex').toString('base64url');
    const res = await fetch(dash?.server ?? '', {
      method: 'POST',
      headers: { Authorization: `Bearer ${dash?.token ?? ''}`, 'Content-Type': 'application/json', Origin: pageUrl },
      body: JSON.stringify({ kids: kids.map(b64), type: 'temporary' }),
    });
    expect({ status: res.status, allow: res.headers.get('access-control-allow-origin') }).toEqual({ status: 200, allow: pageUrl });
    const licence = (await res.json()) as { keys: { kid: string }[] };
    expect(licence.keys.map((key) => key.kid)).toEqual(kids.map(b64));
  });

  (chromiumVersion !== undefined ? it : it.skip)(
    'the DASH link plays in chromium',
    async () => {
      const [dash] = await links();
      const chromium = await launchChromium();
      try {
        const page = await chromium.browser.newPage();
        await page.goto(dash?.href ?? '', { waitUntil: 'load' });
        await page.waitForFunction(() => {
          const state = (globalThis as unknown as { playback: { currentTime: number; errors: unknown[] } }).playback;
          return state.currentTime > 3 || state.errors.length > 0;
        }, { timeout: 30_000, polling: 100 });
        const playback = await page.evaluate(() => (globalThis as unknown as { playback: { currentTime: number; errors: unknown[] } }).playback);
        expect(playback.errors).toEqual([]);
        expect(playback.currentTime).toBeGreaterThan(3);
      } finally {
        await chromium.close();
      }
    },
    45_000,
  );

  it('stops on Ctrl-C (SIGINT): the service stops, the media goes, the data folder stays', async () => {
    demo.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(output).toContain('demo stopped');
    expect(existsSync(mediaDir)).toBe(false);
    expect(readdirSync(join(dir, 'demo')).sort()).toEqual(['data', 'service.log']);
    expect(readdirSync(join(dir, 'demo', 'data'))).toEqual(expect.arrayContaining(['cpix-kms.db', 'master.key', 'admin-token']));
    // Nothing answers on the service's or the page's port any more.
    await expect(fetch(`${serviceUrl}/healthz`)).rejects.toThrow();
    await expect(fetch(`${pageUrl}/`)).rejects.toThrow();
  });
});
