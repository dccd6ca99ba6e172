#!/usr/bin/env node
// npm run demo: ClearKey playback from this service, on one machine, in one command (README, "Demo").
//
//   1. starts the built service on its embedded store in the development setup (DATA_DIR=demo/data),
//   2. creates a demo site (its player origin allowed for CORS) and an ES256 licence-token key,
//   3. makes a 10 s clip with ffmpeg (H.264 + AAC), asks the service for keys and W3C common PSSH
//      boxes over SPEKE v2.0, and packages the clip with Shaka Packager: DASH cenc and HLS fMP4 cbcs,
//   4. serves the player page (Shaka Player from node_modules) and prints the URL to open.
//
// The page shows the video, the key server, the KIDs it asked for and the licences it got. Ctrl-C
// stops everything and removes the packaged media; only the demo folder (the service's data) stays.
//
//   node scripts/demo.mjs [--dir demo] [--page-port 8000] [--service-port 0]
import { spawn, execFile } from 'node:child_process';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { freePort, MAIN, ROOT, waitForHttp } from './lib/processes.mjs';

const require = createRequire(import.meta.url);
const run = promisify(execFile);

const { values: args } = parseArgs({
  options: {
    dir: { type: 'string', default: 'demo' },
    'page-port': { type: 'string', default: '8000' },
    'service-port': { type: 'string', default: '0' },
  },
});
const DEMO_DIR = resolve(args.dir);
const DATA_DIR = join(DEMO_DIR, 'data');
const HOST = '127.0.0.1';
const CLIP_SECONDS = 10;
/** Tokens the page gets are valid this long; the page mints fresh ones on every load. */
const TOKEN_LIFETIME_SECONDS = 3600;
const CPIX = 'urn:dashif:org:cpix';
const PSKC = 'urn:ietf:params:xml:ns:keyprov:pskc';
const COMMON_SYSTEM_ID = '1077efec-c0b2-4d02-ace3-3c1e52e2fb4b';

const say = (line = '') => process.stdout.write(`${line}\n`);
const fail = (message) => {
  process.stderr.write(`demo: ${message}\n`);
  process.exit(1);
};

// ---------------------------------------------------------------------------------------------
// What the demo needs before it starts anything.

if (!existsSync(MAIN)) fail(`${MAIN} is missing: run npm run demo (it builds first), or npm run build`);
const PACKAGER = join(dirname(require.resolve('shaka-packager/package.json')), 'bin', { 'linux-x64': 'packager-linux-x64', 'linux-arm64': 'packager-linux-arm64', 'darwin-x64': 'packager-osx-x64', 'darwin-arm64': 'packager-osx-arm64' }[`${process.platform}-${process.arch}`] ?? 'none');
if (!existsSync(PACKAGER)) fail(`Shaka Packager has no binary for ${process.platform}-${process.arch} in node_modules/shaka-packager (npm ci)`);
await run('ffmpeg', ['-version']).catch(() => fail('ffmpeg is not installed (Debian: apt-get install ffmpeg)'));
const SHAKA_DIST = join(dirname(require.resolve('shaka-player/package.json')), 'dist');
const { DOMParser } = require('@xmldom/xmldom');
const { SignJWT } = require('jose');

// ---------------------------------------------------------------------------------------------
// Everything the demo starts, and how it stops: Ctrl-C (SIGINT) or SIGTERM stop the page server and
// the service (SIGTERM, it drains and closes its store) and remove the media folder.

let service;
let pageServer;
let mediaDir;
let stopping;
function stop(code = 0) {
  stopping ??= (async () => {
    if (pageServer !== undefined) {
      pageServer.closeAllConnections();
      await new Promise((done) => pageServer.close(() => done()));
    }
    if (service !== undefined && service.exitCode === null && service.signalCode === null) {
      const exited = new Promise((done) => service.once('exit', done));
      service.kill('SIGTERM');
      await exited;
    }
    if (mediaDir !== undefined) rmSync(mediaDir, { recursive: true, force: true });
    say('demo stopped; the service data stays in ' + DATA_DIR);
    process.exit(code);
  })();
  return stopping;
}
process.once('SIGINT', () => void stop(0));
process.once('SIGTERM', () => void stop(0));
// If the demo dies some other way, the service must not outlive it.
process.once('exit', () => {
  if (service !== undefined && service.exitCode === null) service.kill('SIGTERM');
});

async function main() {
  // 1. The service, development setup, on its embedded store.
  mkdirSync(DATA_DIR, { recursive: true, mode: 0o700 });
  const servicePort = Number(args['service-port']) || (await freePort());
  const serviceUrl = `http://${HOST}:${servicePort}`;
  const log = openSync(join(DEMO_DIR, 'service.log'), 'a');
  service = spawn(process.execPath, ['--max-semi-space-size=32', MAIN], {
    cwd: ROOT,
    // Only what the development setup needs: no STORE, MASTER_KEY, ADMIN_TOKEN or NODE_ENV from the shell.
    env: { PATH: process.env.PATH, HOME: process.env.HOME, DATA_DIR, PORT: String(servicePort), HOST, LOG_LEVEL: 'info' },
    stdio: ['ignore', log, log],
    // Its own process group: Ctrl-C reaches the demo only, which then stops the service in order.
    detached: true,
  });
  service.once('exit', (code, signal) => {
    if (stopping === undefined) {
      process.stderr.write(`demo: the service exited (${signal ?? code}); see ${join(DEMO_DIR, 'service.log')}\n`);
      void stop(1);
    }
  });
  await waitForHttp(`${serviceUrl}/readyz`, service, 'the service');
  const adminToken = readFileSync(join(DATA_DIR, 'admin-token'), 'utf8').trim();
  const admin = async (method, path, body) => {
    const res = await fetch(`${serviceUrl}/admin/v1${path}`, {
      method,
      headers: { Authorization: `Bearer ${adminToken}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return res.json();
  };

  // 2. The page server first (its origin goes into the site's CORS option), then the site and its key.
  mediaDir = mkdtempSync(join(tmpdir(), 'cpix-kms-demo-'));
  let page = (_req, res) => void res.writeHead(503, { 'Retry-After': '1' }).end();
  pageServer = createServer((req, res) => page(req, res));
  await new Promise((done, reject) => {
    pageServer.once('error', reject);
    pageServer.listen(Number(args['page-port']), HOST, done);
  });
  const pagePort = pageServer.address().port;
  const pageOrigins = [`http://${HOST}:${pagePort}`, `http://localhost:${pagePort}`];
  const { site, token: kmsToken } = await admin('POST', '/sites', {
    name: `demo ${new Date().toISOString()}`,
    options: { clearKeyAllowedOrigins: pageOrigins },
  });
  // The customer's backend: it keeps the private key and signs licence tokens; the service gets the public JWK.
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const tokenKey = await admin('POST', `/sites/${site.id}/licence-token-keys`, { alg: 'ES256', jwk: publicKey.export({ format: 'jwk' }) });

  // 3. A clip, keys over SPEKE v2.0, packaged twice.
  say(`making a ${CLIP_SECONDS} s clip and packaging it ...`);
  const clip = join(mediaDir, 'clear.mp4');
  await run('ffmpeg', [
    ...['-y', '-hide_banner', '-loglevel', 'error'],
    ...['-f', 'lavfi', '-i', `testsrc2=size=640x360:rate=25:duration=${CLIP_SECONDS}`],
    ...['-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${CLIP_SECONDS}`],
    ...['-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'main', '-pix_fmt', 'yuv420p', '-g', '25', '-keyint_min', '25', '-sc_threshold', '0'],
    ...['-c:a', 'aac', '-b:a', '96k', '-shortest', clip],
  ]);
  const contents = [];
  for (const [format, scheme] of [['dash', 'cenc'], ['hls', 'cbcs']]) {
    const contentId = `demo-${format}-${site.id.toLowerCase()}`;
    const issued = await spekeKeys(serviceUrl, kmsToken.token, contentId, scheme);
    await packageClip(clip, join(mediaDir, format), format, scheme, issued);
    contents.push({ format, scheme, contentId, manifest: `/media/${format}/${format === 'dash' ? 'manifest.mpd' : 'master.m3u8'}`, kids: issued.tracks.map((t) => t.kid) });
  }

  // 4. The page.
  const licenceUrl = `${serviceUrl}/clearkey/v1/license`;
  const mint = (contentId) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ sub: 'demo-viewer', cid: contentId })
      .setProtectedHeader({ alg: 'ES256', kid: tokenKey.kid, typ: 'JWT' })
      .setIssuer(site.id)
      .setIssuedAt(now)
      .setExpirationTime(now + TOKEN_LIFETIME_SECONDS)
      .sign(privateKey);
  };
  const index = async (origin) => {
    const links = await Promise.all(
      contents.map(async (content) => {
        const href = `/player.html?manifest=${encodeURIComponent(origin + content.manifest)}&server=${encodeURIComponent(licenceUrl)}#token=${await mint(content.contentId)}`;
        return `<li><a href="${href}">${content.format.toUpperCase()} (${content.scheme})</a>: content <code>${content.contentId}</code>, KIDs <code>${content.kids.join(', ')}</code></li>`;
      }),
    );
    return `<!doctype html><meta charset="utf-8"><title>cpix-kms demo</title>
<style>body{font:14px/1.5 system-ui,sans-serif;margin:16px}code{font-family:ui-monospace,monospace}</style>
<h1>cpix-kms ClearKey demo</h1>
<p>Site <code>${site.id}</code>, licence-token key <code>${tokenKey.kid}</code> (ES256), key server <code>${licenceUrl}</code>.
Each link carries a fresh licence token (valid ${TOKEN_LIFETIME_SECONDS / 60} min) in its fragment.</p>
<ul>${links.join('\n')}</ul>`;
  };
  page = async (req, res) => {
    try {
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      if (req.method !== 'GET' && req.method !== 'HEAD') return void res.writeHead(405).end();
      if (path === '/') {
        const origin = `http://${req.headers.host ?? `${HOST}:${pagePort}`}`;
        const html = await index(pageOrigins.includes(origin) ? origin : pageOrigins[0]);
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' }).end(html);
        return;
      }
      if (path === '/player.html' || path === '/player.js') return sendFile(req, res, join(ROOT, 'scripts', 'demo', path.slice(1)));
      if (path.startsWith('/shaka/')) return sendFile(req, res, within(SHAKA_DIST, path.slice('/shaka/'.length)));
      if (path.startsWith('/media/')) return sendFile(req, res, within(mediaDir, path.slice('/media/'.length)));
      res.writeHead(404).end();
    } catch {
      if (!res.headersSent) res.writeHead(500).end();
    }
  };

  say('');
  say('================================================================================');
  say('  cpix-kms demo: ClearKey playback');
  say('================================================================================');
  say(`  key server   : ${serviceUrl} (development setup, data in ${DATA_DIR})`);
  say(`  licences     : POST ${licenceUrl}`);
  say(`  site         : ${site.id}, licence-token key ${tokenKey.kid} (ES256)`);
  say(`  media        : ${mediaDir} (removed when the demo stops)`);
  for (const content of contents) say(`  ${content.format.padEnd(4)} ${content.scheme} : content ${content.contentId}, KIDs ${content.kids.join(' ')}`);
  say('');
  say(`  Open ${pageOrigins[0]}/ in a browser (Chrome, Edge or Firefox) and pick DASH or HLS.`);
  say('  Ctrl-C stops the demo.');
  say('================================================================================');
}

/** A SPEKE v2.0 request for two keys (VIDEO, AUDIO) with the W3C common system, and what came back. */
async function spekeKeys(serviceUrl, kmsToken, contentId, scheme) {
  const tracks = [
    { kid: randomUUID(), type: 'VIDEO', filter: '<cpix:VideoFilter/>' },
    { kid: randomUUID(), type: 'AUDIO', filter: '<cpix:AudioFilter/>' },
  ];
  const xml = [
    `<?xml version="1.0" encoding="UTF-8"?><cpix:CPIX xmlns:cpix="${CPIX}" xmlns:pskc="${PSKC}" contentId="${contentId}" version="2.3">`,
    `<cpix:ContentKeyList>${tracks.map((t) => `<cpix:ContentKey kid="${t.kid}" commonEncryptionScheme="${scheme}"/>`).join('')}</cpix:ContentKeyList>`,
    `<cpix:DRMSystemList>${tracks.map((t) => `<cpix:DRMSystem kid="${t.kid}" systemId="${COMMON_SYSTEM_ID}"><cpix:PSSH/></cpix:DRMSystem>`).join('')}</cpix:DRMSystemList>`,
    `<cpix:ContentKeyUsageRuleList>${tracks.map((t) => `<cpix:ContentKeyUsageRule kid="${t.kid}" intendedTrackType="${t.type}">${t.filter}</cpix:ContentKeyUsageRule>`).join('')}</cpix:ContentKeyUsageRuleList>`,
    '</cpix:CPIX>',
  ].join('');
  const res = await fetch(`${serviceUrl}/speke/copyProtection`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/xml', 'X-Speke-Version': '2.0', 'X-KMS-Token': kmsToken },
    body: xml,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`SPEKE request for ${contentId}: ${res.status} ${text}`);
  const doc = new DOMParser().parseFromString(text, 'text/xml');
  const byKid = (localName) => Array.from(doc.getElementsByTagNameNS(CPIX, localName));
  const keys = byKid('ContentKey');
  const systems = byKid('DRMSystem');
  return {
    tracks: tracks.map(({ kid, type }) => {
      const key = keys.find((element) => element.getAttribute('kid').toLowerCase() === kid);
      const plain = key?.getElementsByTagNameNS(PSKC, 'PlainValue')[0]?.textContent;
      if (plain === undefined) throw new Error(`no key for ${type} in the SPEKE answer`);
      const iv = key.getAttribute('explicitIV');
      return { kid, label: type, key: Buffer.from(plain, 'base64'), ...(iv && { iv: Buffer.from(iv, 'base64') }) };
    }),
    pssh: systems.map((system) => Buffer.from(system.getElementsByTagNameNS(CPIX, 'PSSH')[0]?.textContent ?? '', 'base64')),
  };
}

/** Shaka Packager in raw-key mode with the SPEKE answer's keys and PSSH boxes. */
async function packageClip(clip, out, format, scheme, issued) {
  const [video, audio] = issued.tracks;
  const hex = (kid) => kid.replace(/-/g, '');
  const keys = issued.tracks
    .map((t) => `label=${t.label}:key_id=${hex(t.kid)}:key=${t.key.toString('hex')}${scheme === 'cbcs' && t.iv ? `:iv=${t.iv.toString('hex')}` : ''}`)
    .join(',');
  const streams =
    format === 'dash'
      ? [`in=${clip},stream=video,drm_label=${video.label},output=${join(out, 'video.mp4')}`, `in=${clip},stream=audio,drm_label=${audio.label},output=${join(out, 'audio.mp4')}`]
      : [
          `in=${clip},stream=video,drm_label=${video.label},init_segment=${join(out, 'video', 'init.mp4')},segment_template=${join(out, 'video', '$Number$.m4s')},playlist_name=video.m3u8`,
          `in=${clip},stream=audio,drm_label=${audio.label},init_segment=${join(out, 'audio', 'init.mp4')},segment_template=${join(out, 'audio', '$Number$.m4s')},playlist_name=audio.m3u8,hls_group_id=audio`,
        ];
  await run(PACKAGER, [
    ...streams,
    '--enable_raw_key_encryption',
    ...['--keys', keys],
    ...['--pssh', Buffer.concat(issued.pssh).toString('hex')],
    ...['--protection_scheme', scheme],
    ...['--clear_lead', '0'],
    ...['--segment_duration', '2'],
    ...(format === 'dash' ? ['--mpd_output', join(out, 'manifest.mpd')] : ['--hls_master_playlist_output', join(out, 'master.m3u8')]),
  ]);
}

/** `relative` inside `root`, or undefined (no `..` out of a mount). */
function within(root, relative) {
  const file = normalize(join(root, relative));
  return file.startsWith(normalize(root) + sep) ? file : undefined;
}

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.map': 'application/json', '.mpd': 'application/dash+xml', '.m3u8': 'application/vnd.apple.mpegurl', '.mp4': 'video/mp4', '.m4s': 'video/iso.segment' };

/** A file with single-range support (DASH on-demand segments are read by byte range). */
function sendFile(req, res, file) {
  let size;
  try {
    size = file !== undefined && statSync(file).isFile() ? statSync(file).size : undefined;
  } catch {
    size = undefined;
  }
  if (size === undefined) return void res.writeHead(404).end();
  const headers = { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream', 'Accept-Ranges': 'bytes', 'Cache-Control': 'no-store' };
  let start = 0;
  let end = size - 1;
  const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
  if (range !== null && (range[1] !== '' || range[2] !== '')) {
    if (range[1] === '') start = Math.max(0, size - Number(range[2]));
    else {
      start = Number(range[1]);
      if (range[2] !== '') end = Math.min(end, Number(range[2]));
    }
    if (start > end) return void res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
    res.writeHead(206, { ...headers, 'Content-Range': `bytes ${start}-${end}/${size}`, 'Content-Length': String(end - start + 1) });
  } else {
    res.writeHead(200, { ...headers, 'Content-Length': String(size) });
  }
  if (req.method === 'HEAD') res.end();
  else createReadStream(file, { start, end }).pipe(res);
}

main().catch((error) => {
  process.stderr.write(`demo: ${error instanceof Error ? error.message : String(error)}\n`);
  void stop(1);
});
