// Benchmark (docs/performance.md): the service in production mode on Redis (appendonly yes, appendfsync always: the
// documented durable settings) against its reference limits, in one run on the same cores.
//
//   npm run bench [-- --duration 10 --connections 16 --workers N --json bench-results.json --keys 1000000 --profile DIR --scaling 7]
//
// Workloads, each for --duration seconds at --connections concurrent connections (autocannon, in this
// process; the service runs in its own):
//   P5 signed / unsigned  SPEKE v2, 5 keys (PRESET_VIDEO_3 + PRESET_AUDIO_2), Widevine + PlayReady + FairPlay,
//                         a new content ID and new KIDs on every request (keys created and persisted)
//   P5 PallyCon signed    PallyCon CPIX API v2 as its official clients send it: AUDIO/SD/HD/UHD1/UHD2,
//                         Widevine + PlayReady + FairPlay, commonEncryptionScheme cbcs, no CPIX@version,
//                         a new content ID each time; signed (the site default of that API)
//   P1                    SPEKE v2, one key, Widevine only, new content each time
//   live                  one channel re-requesting rotating periods: each period's five keys are asked
//                         for LIVE_REQUESTS_PER_PERIOD times, so most requests find existing keys
//   scaling               SPEKE v2.0 requests for 250 and for 2,000 keys (new content and KIDs each, so
//                         every key is created), one at a time, --scaling runs of each interleaved; the
//                         ratio of their medians against its target (≤ 12×: linear is 8×, quadratic
//                         64×), the same for repeats of those requests (every key exists), and a request
//                         for 2,001 keys, one above the bench's MAX_KEYS_PER_REQUEST, which must be
//                         answered 413 with none of its keys created
// Reference limits:
//   RSA-2048              raw signatures/s (crypto.sign, SHA-256) on as many threads as service workers
//   bare express          an express route (same version) reading a body and answering with a body of
//                         the signed P5 response's size, in as many processes as service workers
//   store floor           the bare route on the service's HTTP server and express settings, plus the
//                         store traffic of one P5 request, made through the service's own Redis
//                         repository on the same Redis: the key step (site and token checks, five new
//                         keys, audit record, one script call). What the durability rules cost before
//                         any CPIX work; no key route can be faster than this.
// Redis recovery: after the workloads Redis is SIGKILLed and restarted on its AOF; how long after it
// answers PING again the service's /readyz and a P1 request first answer 200 (target: a second, README
// "Performance"; the fault tests only check that it recovers by itself).
// Redis commands: after the timed runs, each workload again for 2,000 requests with MONITOR attached,
// counting the commands the service sends per request (script-internal ones are not its own).
// Prints a table (req/s, p50, p99, CPU ms per request of the service and of Redis), the commands per
// request, the targets (ratios, including service CPU per request against a bare express request and
// against one RSA-2048 signature, which do not depend on how many processes share the cores), and
// writes JSON.
// CPIX work in process: after the HTTP runs, the P5 workloads' requests read and answered in this process
// (the service's own protocol and key-exchange code from dist/, keys handed over as created, no HTTP and no
// store), CPU per request; against the service row and the store floor it splits where a request's CPU goes.
// --keys N adds a long unsigned P5 run until N keys were created, sampling the service's RSS.
import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { cpuSeconds, freePort, readOptions, ROOT, rssBytes, startProductionService, waitForHttp } from './lib/processes.mjs';

const require = createRequire(import.meta.url);
const autocannon = require('autocannon');

const LIVE_REQUESTS_PER_PERIOD = 20;
/**
 * Requests per workload in the MONITOR run: a few seconds' worth, so that the once-a-second reads of
 * a token and its site by each process weigh per request about as much as they do under load.
 */
const COMMAND_COUNT_REQUESTS = 2000;

const parseOptions = (argv) =>
  readOptions(argv, {
    integers: ['duration', 'connections', 'workers', 'keys', 'warmup', 'scaling'],
    paths: ['json', 'profile'],
    defaults: { duration: 10, connections: 16, workers: availableParallelism(), json: join(ROOT, 'bench-results.json'), keys: 0, warmup: 3, profile: undefined, scaling: 7 },
  });

// ------------------------------------------------------------------------------------------- requests

const CPIX_OPEN = '<?xml version="1.0" encoding="UTF-8"?><cpix:CPIX xmlns:cpix="urn:dashif:org:cpix" xmlns:pskc="urn:ietf:params:xml:ns:keyprov:pskc"';
const WIDEVINE = 'edef8ba9-79d6-4ace-a3c8-27dcd51d21ed';
const PLAYREADY = '9a04f079-9840-4286-ab92-e65be0885f95';
const FAIRPLAY = '94ce86fb-07ff-4f43-adb8-93d2fa968ca2';
/** PRESET_VIDEO_3 + PRESET_AUDIO_2 (the AWS SPEKE v2 presets of MediaConvert and MediaPackage): SD, HD, UHD video keys and two audio keys. */
const P5_TRACKS = ['SD', 'HD', 'UHD', 'STEREO_AUDIO', 'MULTICHANNEL_AUDIO'];
/** The filters the AWS SPEKE v2 verification suite generates for these presets (awslabs/speke-reference-server). */
const FILTERS = {
  VIDEO: '<cpix:VideoFilter/>',
  SD: '<cpix:VideoFilter maxPixels="589824"/>',
  HD: '<cpix:VideoFilter minPixels="589825" maxPixels="2073600"/>',
  UHD: '<cpix:VideoFilter minPixels="2073601"/>',
  STEREO_AUDIO: '<cpix:AudioFilter maxChannels="2"/>',
  MULTICHANNEL_AUDIO: '<cpix:AudioFilter minChannels="3"/>',
};
const SIGNALING = '<cpix:PSSH/><cpix:ContentProtectionData/><cpix:HLSSignalingData playlist="media"/><cpix:HLSSignalingData playlist="master"/>';

/** A SPEKE v2.0 request as MediaPackage sends it: keys, DRM systems per key, usage rules, one period. */
function spekeV2(contentId, kids, tracks, systems, periodIndex) {
  const period = periodIndex === undefined ? '' : `<cpix:ContentKeyPeriodList><cpix:ContentKeyPeriod id="keyPeriod_${periodIndex}" index="${periodIndex}"/></cpix:ContentKeyPeriodList>`;
  const filter = periodIndex === undefined ? '' : `<cpix:KeyPeriodFilter periodId="keyPeriod_${periodIndex}"/>`;
  return [
    `${CPIX_OPEN} contentId="${contentId}" version="2.3">`,
    `<cpix:ContentKeyList>${kids.map((kid) => `<cpix:ContentKey kid="${kid}" commonEncryptionScheme="cbcs"/>`).join('')}</cpix:ContentKeyList>`,
    `<cpix:DRMSystemList>${kids.flatMap((kid) => systems.map((system) => `<cpix:DRMSystem kid="${kid}" systemId="${system}">${SIGNALING}</cpix:DRMSystem>`)).join('')}</cpix:DRMSystemList>`,
    period,
    `<cpix:ContentKeyUsageRuleList>${kids.map((kid, i) => `<cpix:ContentKeyUsageRule kid="${kid}" intendedTrackType="${tracks[i]}">${filter}${FILTERS[tracks[i]]}</cpix:ContentKeyUsageRule>`).join('')}</cpix:ContentKeyUsageRuleList>`,
    '</cpix:CPIX>',
  ].join('');
}

const PALLYCON_TRACKS = ['AUDIO', 'SD', 'HD', 'UHD1', 'UHD2'];
/** Upper case, as the DoveRunner clients send system IDs. */
const PALLYCON_SYSTEMS = [WIDEVINE, PLAYREADY, FAIRPLAY].map((id) => id.toUpperCase());

/** A PallyCon CPIX API v2 request in the official clients' shape: one key per track, empty DRMSystems. */
function pallyConV2(contentId, kids) {
  return [
    `${CPIX_OPEN} id="${contentId}" xmlns:speke="urn:aws:amazon:com:speke">`,
    `<cpix:ContentKeyList>${kids.map((kid) => `<cpix:ContentKey kid="${kid}" commonEncryptionScheme="cbcs"/>`).join('')}</cpix:ContentKeyList>`,
    `<cpix:DRMSystemList>${kids.flatMap((kid) => PALLYCON_SYSTEMS.map((system) => `<cpix:DRMSystem kid="${kid}" systemId="${system}"/>`)).join('')}</cpix:DRMSystemList>`,
    `<cpix:ContentKeyUsageRuleList>${kids.map((kid, i) => `<cpix:ContentKeyUsageRule intendedTrackType="${PALLYCON_TRACKS[i]}" kid="${kid}"/>`).join('')}</cpix:ContentKeyUsageRuleList>`,
    '</cpix:CPIX>',
  ].join('');
}

/** Keys per request of the scaling rows: the issue's two sizes, and one above the bench's cap. */
const SCALING_SMALL = 250;
const SCALING_LARGE = 2000;
/** MAX_KEYS_PER_REQUEST of the bench's service: the large request is at the cap, SCALING_LARGE + 1 above it. */
const SCALING_CAP = SCALING_LARGE;

/**
 * A SPEKE v2.0 request for many keys (the scaling rows): per key a ContentKey, a Widevine DRMSystem
 * and a usage rule with its own intendedTrackType (SPEKE v2 refuses a track type used twice) and a
 * VideoFilter. The DRMSystems are empty rather than holding a <cpix:PSSH/> placeholder: the XML
 * parser admits 10,000 elements (src/xml/limits.ts), which 2,000 keys at five elements each (10,004)
 * exceed and at four (8,004) do not.
 */
function spekeV2ManyKeys(contentId, kids) {
  return [
    `${CPIX_OPEN} contentId="${contentId}" version="2.3">`,
    `<cpix:ContentKeyList>${kids.map((kid) => `<cpix:ContentKey kid="${kid}" commonEncryptionScheme="cenc"/>`).join('')}</cpix:ContentKeyList>`,
    `<cpix:DRMSystemList>${kids.map((kid) => `<cpix:DRMSystem kid="${kid}" systemId="${WIDEVINE}"/>`).join('')}</cpix:DRMSystemList>`,
    `<cpix:ContentKeyUsageRuleList>${kids.map((kid, i) => `<cpix:ContentKeyUsageRule kid="${kid}" intendedTrackType="VIDEO_${i}"><cpix:VideoFilter/></cpix:ContentKeyUsageRule>`).join('')}</cpix:ContentKeyUsageRuleList>`,
    '</cpix:CPIX>',
  ].join('');
}

const uuids = (n) => Array.from({ length: n }, () => randomUUID());
/** Deterministic KIDs for a live period, so every re-request of the period asks for the same keys. */
const periodKids = (channel, period) => P5_TRACKS.map((_, track) => {
  const hex = Buffer.from(`${channel}:${period}:${track}`).toString('hex').padEnd(32, '0').slice(-32);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
});

const WORKLOADS = {
  'P5 unsigned': { site: 'unsigned', body: () => spekeV2(`bench-${randomUUID()}`, uuids(5), P5_TRACKS, [WIDEVINE, PLAYREADY, FAIRPLAY]), keysPerRequest: 5 },
  'P5 signed': { site: 'signed', body: () => spekeV2(`bench-${randomUUID()}`, uuids(5), P5_TRACKS, [WIDEVINE, PLAYREADY, FAIRPLAY]), keysPerRequest: 5 },
  'P5 PallyCon signed': { site: 'pallycon', protocol: 'pallycon', body: () => pallyConV2(`bench-${randomUUID()}`, uuids(5)), keysPerRequest: 5 },
  P1: { site: 'unsigned', body: () => spekeV2(`bench-${randomUUID()}`, uuids(1), ['VIDEO'], [WIDEVINE]), keysPerRequest: 1 },
  live: (() => {
    const channel = `live-${randomUUID()}`;
    let request = 0;
    return {
      site: 'unsigned',
      body: () => {
        const period = Math.floor(request++ / LIVE_REQUESTS_PER_PERIOD);
        return spekeV2(channel, periodKids(channel, period), P5_TRACKS, [WIDEVINE, PLAYREADY, FAIRPLAY], period);
      },
      keysPerRequest: 5 / LIVE_REQUESTS_PER_PERIOD,
    };
  })(),
};

// ------------------------------------------------------------------------------------------- processes

/** Whether a Redis answers PING on `port` (false on any error, close or silence). */
function redisAnswers(port) {
  return new Promise((done) => {
    const socket = connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
    const finish = (ok) => (socket.destroy(), done(ok));
    socket.setTimeout(1000, () => finish(false));
    socket.once('data', (data) => finish(data.toString().startsWith('+PONG')));
    socket.once('error', () => finish(false));
    socket.once('close', () => finish(false));
  });
}

/** redis-server with the documented durable settings, on `port` (a free one by default); resolves once it answers PING. */
async function startRedis(dir, port) {
  port ??= await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--maxmemory-policy', 'noeviction'], { stdio: 'ignore' });
  for (let waited = 0; waited < 10_000; waited += 20) {
    if (await redisAnswers(port)) return { port, child };
    await new Promise((done) => setTimeout(done, 20));
  }
  throw new Error('redis-server did not start');
}

/**
 * SIGKILLs the bench's Redis, starts it again on the same port and AOF, and measures how long after it
 * answers PING the service's /readyz and a P1 request (new content) first answer 200. `redis.child`
 * becomes the new process.
 */
async function measureRedisRecovery(service, redis, dir, token) {
  const exited = new Promise((done) => redis.child.once('exit', done));
  redis.child.kill('SIGKILL');
  await exited;
  redis.child = (await startRedis(dir, redis.port)).child;
  const backAt = performance.now();
  const firstSuccess = async (request) => {
    while (performance.now() - backAt < 15_000) {
      const status = await request().then(async (res) => (await res.arrayBuffer(), res.status), () => 0);
      if (status === 200) return Math.round(performance.now() - backAt);
      await new Promise((done) => setTimeout(done, 5));
    }
    throw new Error('the service did not recover within 15 s of Redis answering again');
  };
  const [readyzMs, spekeMs] = await Promise.all([
    firstSuccess(() => fetch(`${service.url}/readyz`)),
    firstSuccess(() => fetch(`${service.url}/speke/copyProtection`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'x-speke-version': '2.0', 'content-type': 'application/xml' },
      body: WORKLOADS.P1.body(),
    })),
  ]);
  return { 'readyz ms': readyzMs, 'SPEKE ms': spekeMs };
}

function startService(dir, redisPort, workers, profileDir) {
  // --profile: V8 CPU profiles of the service (one file per process, written on exit) for chrome://inspect.
  const nodeArgs = profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`];
  // MAX_KEYS_CREATED_PER_MINUTE=0: the workloads create keys far faster than the default 10,000 a site
  // and minute (P5 at 700 req/s: 3,500 a second), and a run measures the key routes, not 429s.
  // MAX_KEYS_PER_REQUEST: the scaling rows' large request is at the cap, and one key more is above it.
  const limits = { MAX_KEYS_CREATED_PER_MINUTE: '0', MAX_KEYS_PER_REQUEST: String(SCALING_CAP) };
  return startProductionService(dir, { STORE: `redis://127.0.0.1:${redisPort}`, LOG_LEVEL: 'warn', WORKERS: String(workers), ...limits }, { nodeArgs });
}

/** The processes of the service: the primary and, with WORKERS > 1, its cluster workers. */
function serviceProcesses(pid) {
  const pids = [pid];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.replace(/^.*\) /, '').split(' ')[1]) === pid) pids.push(Number(entry));
    } catch {
      // the process ended meanwhile
    }
  }
  return pids;
}

async function createSite(url, adminToken, name, options) {
  const res = await fetch(`${url}/admin/v1/sites`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name, options }),
  });
  if (res.status !== 201) throw new Error(`creating site ${name}: ${res.status} ${await res.text()}`);
  const created = await res.json();
  return { siteId: created.site.id, tokenId: created.token.id, token: created.token.token };
}

// ------------------------------------------------------------------------------------------- load

function load(url, { path, headers, body, duration, connections, amount }) {
  return new Promise((done, fail) => {
    const instance = autocannon(
      {
        url,
        connections,
        pipelining: 1,
        ...(amount === undefined ? { duration } : { amount }),
        requests: [{ method: 'POST', path, headers, setupRequest: (req) => ({ ...req, body: body() }) }],
      },
      (error, result) => (error ? fail(error) : done(result)),
    );
    autocannon.track(instance, { renderProgressBar: false, renderResultsTable: false, renderLatencyTable: false, outputStream: { write() {} } });
  });
}

/** One row: `service` under `spec`, with its CPU and that of the bench's Redis, which shares the cores. */
async function measure(name, service, pids, redisPid, spec) {
  const cpuBefore = cpuSeconds(pids());
  const redisBefore = cpuSeconds([redisPid]);
  const result = await load(service.url, spec);
  const cpu = cpuSeconds(pids()) - cpuBefore;
  const redisCpu = cpuSeconds([redisPid]) - redisBefore;
  const requests = result.requests.total;
  const errors = result.non2xx + result.errors + result.timeouts;
  return {
    workload: name,
    'req/s': Math.round(requests / result.duration),
    'p50 ms': result.latency.p50,
    'p99 ms': result.latency.p99,
    'CPU ms/req': requests > 0 ? Number(((cpu * 1000) / requests).toFixed(2)) : null,
    'Redis CPU ms/req': requests > 0 ? Number(((redisCpu * 1000) / requests).toFixed(2)) : null,
    requests,
    errors,
  };
}

/**
 * Whether a command MONITOR listed is one a process sends on its own schedule rather than for the
 * request it serves: the authentication cache's read of a token and its site (`HGETALL` of the token,
 * the site and the site's keys, at most once a second per process: src/sites/site-service.ts) and the
 * token's last-use write (a one-key script on the token record, at most once a minute per process:
 * src/sites/kms-token.ts).
 */
function isPerProcessRefresh(name, args) {
  if (name === 'hgetall') return /:token:|\}:site(-keys)?$/.test(args[0] ?? '');
  return name === 'evalsha' && args[1] === '1' && /:token:/.test(args[2] ?? '');
}

/**
 * The Redis commands the service sends per request of `spec`, counted with MONITOR over `amount`
 * requests at 4 connections (MONITOR slows Redis down, so this is a run of its own, after the timed
 * ones). Commands a script runs inside Redis are listed by MONITOR as `[0 lua]` and are not the
 * service's: each command the service sends is one round trip here, as the key route does not pipeline.
 * Also counted apart: the per-process refreshes (`isPerProcessRefresh`), and the authentication
 * cache's reads per process and started second of the run (its bound: 3, the token, site and site keys).
 */
async function commandsPerRequest(redisPort, service, spec, amount, processes) {
  const socket = connect(redisPort, '127.0.0.1');
  let text = '';
  socket.on('data', (chunk) => (text += chunk.toString('latin1')));
  await new Promise((done, fail) => socket.once('connect', done).once('error', fail));
  socket.write('MONITOR\r\n');
  while (!text.startsWith('+OK')) await new Promise((done) => setTimeout(done, 5));
  const result = await load(service.url, { ...spec, connections: 4, amount, duration: undefined });
  // Let the last commands reach the monitor.
  await new Promise((done) => setTimeout(done, 200));
  socket.destroy();
  const byCommand = {};
  let refreshes = 0;
  let cacheReads = 0;
  const times = [];
  for (const line of text.split('\r\n').slice(1)) {
    const match = /^\+([\d.]+) \[(\d+) ([^\]]+)\] "([^"]+)"(.*)$/.exec(line);
    if (!match || match[3] === 'lua') continue;
    const name = match[4].toLowerCase();
    const args = [...match[5].matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((arg) => arg[1]);
    times.push(Number(match[1]));
    byCommand[name] = (byCommand[name] ?? 0) + 1;
    if (isPerProcessRefresh(name, args)) {
      refreshes += 1;
      if (name === 'hgetall') cacheReads += 1;
    }
  }
  const requests = result.requests.total;
  const perRequest = Object.fromEntries(Object.entries(byCommand).map(([name, n]) => [name, Number((n / requests).toFixed(3))]));
  const total = Object.values(byCommand).reduce((a, b) => a + b, 0);
  const startedSeconds = Math.ceil(Math.max(...times) - Math.min(...times)) + 1;
  return {
    requests,
    'commands/req': Number((total / requests).toFixed(3)),
    ...perRequest,
    'request\'s own/req': Number(((total - refreshes) / requests).toFixed(3)),
    'cache reads/process/s': Number((cacheReads / (processes * startedSeconds)).toFixed(2)),
  };
}

// ------------------------------------------------------------------------------------------- scaling

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** One SPEKE v2.0 request, alone on its connection, timed until its body is read to the end. */
async function timedSpeke(url, token, body) {
  const started = performance.now();
  const res = await fetch(`${url}/speke/copyProtection`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'x-speke-version': '2.0', 'content-type': 'application/xml' },
    body,
  });
  const text = await res.text();
  return { status: res.status, ms: performance.now() - started, text };
}

/** The status of the admin API's listing of a content's keys: 404 when the content has none. */
async function contentKeysStatus(url, adminToken, siteId, contentId) {
  const res = await fetch(`${url}/admin/v1/sites/${siteId}/contents/${encodeURIComponent(contentId)}/keys?limit=1`, {
    headers: { authorization: `Bearer ${adminToken}` },
  });
  await res.arrayBuffer();
  return res.status;
}

/**
 * The scaling rows. `runs` rounds, each a SCALING_SMALL-key and a SCALING_LARGE-key request for a new
 * content (every key created) and a repeat of each (the same body: every key exists, so unwrapped),
 * one request at a time: this measures how a request's time grows with its keys, not queueing. The
 * sizes alternate so that load from elsewhere on the machine falls on both alike, and an uncounted
 * first round warms the JIT. Then a request for SCALING_CAP + 1 keys, which must be answered 413 and
 * leave its content without keys.
 */
async function measureScaling(service, site, runs) {
  const times = { [SCALING_SMALL]: { created: [], existing: [] }, [SCALING_LARGE]: { created: [], existing: [] } };
  let largeContentId;
  for (let round = 0; round <= runs; round += 1) {
    for (const keys of [SCALING_SMALL, SCALING_LARGE]) {
      const contentId = `bench-scaling-${randomUUID()}`;
      const body = spekeV2ManyKeys(contentId, uuids(keys));
      const created = await timedSpeke(service.url, site.token, body);
      const existing = await timedSpeke(service.url, site.token, body);
      for (const answer of [created, existing]) {
        const answered = answer.text.match(/<(?:\w+:)?ContentKey[\s/>]/g)?.length ?? 0;
        if (answer.status !== 200 || answered !== keys) {
          throw new Error(`scaling: a ${keys}-key request answered ${answer.status} with ${answered} keys: ${answer.text.slice(0, 300)}`);
        }
      }
      if (round === 0) continue;
      times[keys].created.push(created.ms);
      times[keys].existing.push(existing.ms);
      largeContentId = keys === SCALING_LARGE ? contentId : largeContentId;
    }
  }
  const ms = (value) => Number(value.toFixed(1));
  const row = (requests, kind) => {
    const small = median(times[SCALING_SMALL][kind]);
    const large = median(times[SCALING_LARGE][kind]);
    return { requests, [`${SCALING_SMALL} keys p50 ms`]: ms(small), [`${SCALING_LARGE} keys p50 ms`]: ms(large), ratio: Number((large / small).toFixed(2)) };
  };

  const overContentId = `bench-scaling-over-${randomUUID()}`;
  const over = await timedSpeke(service.url, site.token, spekeV2ManyKeys(overContentId, uuids(SCALING_CAP + 1)));
  const overKeysStatus = await contentKeysStatus(service.url, service.adminToken, site.siteId, overContentId);
  // The same listing for a content this run did create must be 200, or the 404 above proves nothing.
  const controlStatus = await contentKeysStatus(service.url, service.adminToken, site.siteId, largeContentId);
  if (controlStatus !== 200) throw new Error(`scaling: the admin key listing of a ${SCALING_LARGE}-key content answered ${controlStatus}`);

  return {
    runs,
    rows: [row('new content (keys created)', 'created'), row('repeat (keys exist)', 'existing')],
    samplesMs: Object.fromEntries(Object.entries(times).map(([keys, kinds]) => [keys, { created: kinds.created.map(ms), existing: kinds.existing.map(ms) }])),
    aboveCap: { keys: SCALING_CAP + 1, cap: SCALING_CAP, status: over.status, body: over.text.slice(0, 200), ms: ms(over.ms), contentKeysStatus: overKeysStatus },
  };
}

// --------------------------------------------------------------------------------------- references

function rsaSignaturesPerSecond(threads, seconds) {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' });
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const { createPrivateKey, sign } = require('node:crypto');
    const key = createPrivateKey(workerData.pem);
    const data = Buffer.alloc(400, 7);
    const end = Date.now() + workerData.ms;
    let n = 0;
    while (Date.now() < end) { sign('sha256', data, key); n += 1; }
    parentPort.postMessage(n);`;
  sign('sha256', Buffer.alloc(1), privateKey); // warm the key
  return Promise.all(
    Array.from({ length: threads }, () => new Promise((done, fail) => {
      const worker = new Worker(code, { eval: true, workerData: { pem, ms: seconds * 1000 } });
      worker.once('message', done);
      worker.once('error', fail);
    })),
  ).then((counts) => Math.round(counts.reduce((a, b) => a + b, 0) / seconds));
}

async function startBareExpress(dir, workers, responseBytes) {
  const port = await freePort();
  // The same express, one route, reading the body as the key routes do and answering a body of the
  // signed P5 response's size: what HTTP + express cost with no CPIX work at all.
  const code = `
    const cluster = require('node:cluster');
    const express = require(${JSON.stringify(require.resolve('express'))});
    if (cluster.isPrimary && ${workers} > 1) { for (let i = 0; i < ${workers}; i += 1) cluster.fork(); }
    else {
      const app = express();
      const body = Buffer.alloc(${responseBytes}, 'a');
      app.get('/healthz', (_req, res) => res.send('ok'));
      app.post('/speke/copyProtection', express.raw({ type: () => true, limit: 1048576 }), (_req, res) => res.type('application/xml').send(body));
      app.listen(${port}, '127.0.0.1');
    }`;
  return startReferenceServer(dir, 'bare-express', code, port);
}

/** Runs a reference server's code from a file (not `node -e`: cluster.fork() re-runs the main module). */
async function startReferenceServer(dir, name, code, port) {
  const file = join(dir, `${name}.cjs`);
  writeFileSync(file, code);
  const child = spawn(process.execPath, [file], { stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/healthz`, child, `the ${name} server`);
  return { child, url };
}

/**
 * The store floor: the bare route, served by the service's HTTP server (src/http/server.ts) with the
 * service's express settings (no ETag), but before answering it makes the store call a P5 request
 * makes, through the service's own repository (dist/), on the bench's Redis: the key step, which
 * checks the site and token, gets or creates five new keys (random 44-byte blobs standing in for the
 * AES-GCM ones, drawn from the service's pooled random source as its keys are: a CSPRNG call of its
 * own per value costs some 5 µs here, ten a request) and writes the audit record (the token and site
 * are read from a cache, as the service does).
 */
async function startStoreFloor(dir, workers, responseBytes, redisPort, site) {
  const port = await freePort();
  const dist = (path) => JSON.stringify(join(ROOT, 'dist', path));
  const code = `
    const cluster = require('node:cluster');
    const { randomUUID } = require('node:crypto');
    const express = require(${JSON.stringify(require.resolve('express'))});
    const { cryptoRandom } = require(${dist('crypto/random.js')});
    const { parseStoreUrl } = require(${dist('config/store-url.js')});
    const { openRedisStore } = require(${dist('store/redis/redis-store.js')});
    const { parseKeyId } = require(${dist('keys/key-id.js')});
    const { createAppServer } = require(${dist('http/server.js')});
    if (cluster.isPrimary && ${workers} > 1) { for (let i = 0; i < ${workers}; i += 1) cluster.fork(); }
    else openRedisStore(parseStoreUrl('redis://127.0.0.1:${redisPort}')).then((store) => {
      const app = express();
      app.set('etag', false);
      const body = Buffer.alloc(${responseBytes}, 'a');
      const site = ${JSON.stringify(site)};
      app.get('/healthz', (_req, res) => res.send('ok'));
      app.post('/speke/copyProtection', express.raw({ type: () => true, limit: 1048576 }), async (req, res) => {
        const now = new Date();
        const contentId = 'floor-' + randomUUID();
        const records = Array.from({ length: 5 }, () => ({
          siteId: site.siteId, contentId, kid: parseKeyId(randomUUID()), siteKeyVersion: 1,
          wrappedKey: cryptoRandom(44), iv: cryptoRandom(16), scheme: 'cbcs', trackType: 'SD', createdAt: now.toISOString(),
        }));
        // The repository's request shape (src/keys/ports.ts), without a creation limit: the bench's
        // service runs with MAX_KEYS_CREATED_PER_MINUTE=0, so it passes none either.
        const audit = {
          at: now.toISOString(), siteId: site.siteId, action: 'issue', credentialId: site.tokenId, clientAddress: req.ip,
          dialect: 'speke-v2.0', contentId, kids: records.map((record) => record.kid), periodIndexes: [], requestId: randomUUID(),
        };
        const outcome = await store.contentKeys.getOrCreateAll(records.map((record) => ({ record, ivMustMatch: false })), {
          issue: { credentialId: site.tokenId, siteRevision: site.revision, audit },
        });
        if (outcome.kind !== 'obtained') throw new Error('store floor: the key step answered ' + outcome.kind);
        res.type('application/xml').send(body);
      });
      createAppServer(app, {}).listen(${port}, '127.0.0.1');
    });`;
  return startReferenceServer(dir, 'store-floor', code, port);
}

// ------------------------------------------------------------------------------------------- CPIX work

/** Requests answered in process per P5 workload (after as many unmeasured ones). */
const CPIX_WORK_REQUESTS = 2000;

/**
 * CPU per request of the CPIX work alone: a workload's requests read by the service's protocol code
 * and answered by its key exchange (signaling, building, signing where the site signs), in this
 * process, one at a time. The key service hands the candidate keys back as created, so no store and
 * no HTTP is in the figure: that is what the service row adds (and the store floor measures). The
 * key exchange and its signing identity are made once, for every workload measured with them.
 */
function cpixWorkMeter() {
  const dist = (path) => require(join(ROOT, 'dist', path));
  const { SPEKE } = dist('exchange/dialects/speke.js');
  const { PALLYCON_API_V2 } = dist('exchange/dialects/pallycon.js');
  const { createKeyExchange } = dist('exchange/key-exchange.js');
  const { DEFAULT_SITE_OPTIONS } = dist('sites/site.js');
  const { cryptoRandom } = dist('crypto/random.js');
  const { createSelfSignedIdentityPem, signingConfigFromPem } = dist('dev-signing.js');
  const keyExchange = createKeyExchange({
    contentKeys: { issue: async (_siteId, _version, requests) => ({ kind: 'issued', keys: requests.map((request) => ({ ...request, created: true })) }) },
    policies: { policyAt: async () => undefined },
    signing: signingConfigFromPem(createSelfSignedIdentityPem('cpix-kms bench'), 'bench'),
    random: cryptoRandom,
    clock: () => new Date(),
  });
  return async function cpuMsPerRequest(workload, signed) {
    const pallyCon = workload.protocol === 'pallycon';
    const site = { id: 'BNCH', name: 'bench', status: 'active', options: { ...DEFAULT_SITE_OPTIONS, signSpekeResponses: signed }, siteKeyVersion: 1, createdAt: '', updatedAt: '' };
    const answer = async (body) => {
      const request = (pallyCon ? PALLYCON_API_V2 : SPEKE).read({
        body: Buffer.from(body),
        limits: { bodyBytes: 1 << 20, keys: SCALING_CAP },
        requiredSigners: [],
        header: (name) => (name.toLowerCase() === 'x-speke-version' && !pallyCon ? '2.0' : undefined),
        query: () => undefined,
      });
      return keyExchange.exchange({ ...request, site, credentialId: 'bench', siteRevision: 0, clientAddress: '127.0.0.1', requestId: 'bench' });
    };
    // As many unmeasured requests first, then the measured ones.
    for (const body of Array.from({ length: CPIX_WORK_REQUESTS }, () => workload.body())) await answer(body);
    const measured = Array.from({ length: CPIX_WORK_REQUESTS }, () => workload.body());
    const before = process.cpuUsage();
    for (const body of measured) await answer(body);
    const used = process.cpuUsage(before);
    return Number(((used.user + used.system) / 1000 / CPIX_WORK_REQUESTS).toFixed(3));
  };
}

// ------------------------------------------------------------------------------------------- the run

async function main() {
  const options = parseOptions(process.argv.slice(2));
  const dir = mkdtempSync(join(tmpdir(), 'cpix-kms-bench-'));
  const redis = await startRedis(dir);
  const children = [redis.child];
  try {
    const service = await startService(dir, redis.port, options.workers, options.profile);
    children.push(service.child);
    const pids = () => serviceProcesses(service.child.pid);
    const tokens = {
      unsigned: await createSite(service.url, service.adminToken, 'bench unsigned', { signSpekeResponses: false }),
      signed: await createSite(service.url, service.adminToken, 'bench signed', { signSpekeResponses: true }),
      pallycon: await createSite(service.url, service.adminToken, 'bench pallycon', {}),
    };
    const spec = (workload, extra = {}) => ({
      ...(workload.protocol === 'pallycon'
        ? { path: `/v2/cpix/pallycon/getKey/${tokens[workload.site].token}`, headers: { 'content-type': 'application/xml' } }
        : {
            path: '/speke/copyProtection',
            headers: { authorization: `Bearer ${tokens[workload.site].token}`, 'x-speke-version': '2.0', 'content-type': 'application/xml' },
          }),
      body: workload.body,
      connections: options.connections,
      duration: options.duration,
      ...extra,
    });

    // One signed P5 answer: its size is the bare route's response size.
    const sample = await fetch(`${service.url}/speke/copyProtection`, { method: 'POST', ...spec(WORKLOADS['P5 signed']), body: WORKLOADS['P5 signed'].body() });
    const sampleBody = await sample.text();
    if (sample.status !== 200 || !sampleBody.includes('SignatureValue')) throw new Error(`signed P5 sample: ${sample.status}`);
    const responseBytes = Buffer.byteLength(sampleBody);

    process.stdout.write(`cpix-kms bench: ${options.workers} worker(s), ${options.connections} connections, ${options.duration} s per workload, ${availableParallelism()} cores\n`);
    if (options.warmup > 0) await load(service.url, spec(WORKLOADS['P5 unsigned'], { duration: options.warmup }));
    const rows = [];
    for (const [name, workload] of Object.entries(WORKLOADS)) rows.push(await measure(name, service, pids, redis.child.pid, spec(workload)));

    // Redis commands per request, after a repeat of each workload's request so that both paths are seen:
    // the first request of each connection creates keys (and fills the process's caches), the rest too.
    const commands = [];
    // autocannon ends a timed run without waiting for the answers in flight: let the service finish
    // them, or their commands would count against the first MONITOR run (they did: 4–12 key steps).
    await new Promise((done) => setTimeout(done, 1000));
    for (const name of ['P5 unsigned', 'P5 signed', 'P5 PallyCon signed', 'P1', 'live']) {
      commands.push({ workload: name, ...(await commandsPerRequest(redis.port, service, spec(WORKLOADS[name]), COMMAND_COUNT_REQUESTS, options.workers)) });
    }
    const repeatBody = WORKLOADS['P5 unsigned'].body();
    commands.push({ workload: 'P5 unsigned, repeat (keys exist)', ...(await commandsPerRequest(redis.port, service, spec(WORKLOADS['P5 unsigned'], { body: () => repeatBody }), COMMAND_COUNT_REQUESTS, options.workers)) });
    console.log('Redis commands the service sends per request (MONITOR; script-internal commands not counted):');
    console.table(commands);

    let memory;
    if (options.keys > 0) {
      // Memory over a long run: unsigned P5 until --keys keys were created, RSS sampled every 5 s.
      const samples = [];
      const timer = setInterval(() => samples.push(rssBytes(pids())), 5000);
      const started = Date.now();
      await load(service.url, spec(WORKLOADS['P5 unsigned'], { amount: Math.ceil(options.keys / 5), duration: undefined }));
      clearInterval(timer);
      const mib = (b) => Math.round(b / 2 ** 20);
      memory = { keys: options.keys, seconds: Math.round((Date.now() - started) / 1000), 'RSS MiB samples': samples.map(mib), 'first 10% max': mib(Math.max(...samples.slice(0, Math.max(1, Math.floor(samples.length / 10))))), 'last 10% max': mib(Math.max(...samples.slice(-Math.max(1, Math.floor(samples.length / 10))))) };
    }
    let scaling;
    if (options.scaling > 0) {
      scaling = await measureScaling(service, tokens.unsigned, options.scaling);
      console.log(`scaling: SPEKE v2.0, one request at a time, median of ${scaling.runs} each (unsigned site)`);
      console.table(scaling.rows);
      console.log(`above the cap (${scaling.aboveCap.keys} keys, MAX_KEYS_PER_REQUEST ${scaling.aboveCap.cap}): ${scaling.aboveCap.status} ${scaling.aboveCap.body} in ${scaling.aboveCap.ms} ms; its content's keys: ${scaling.aboveCap.contentKeysStatus}`);
    }
    const recovery = await measureRedisRecovery(service, redis, dir, tokens.unsigned.token);
    console.log('first 200 after a Redis SIGKILL, from when it answered PING again:', recovery);
    service.child.kill('SIGTERM');
    await new Promise((done) => service.child.once('exit', done));
    children.push(redis.child);

    const rsa = await rsaSignaturesPerSecond(options.workers, Math.min(options.duration, 5));
    const bare = await startBareExpress(dir, options.workers, responseBytes);
    children.push(bare.child);
    // The references answer any body; they get the unsigned P5 requests, without a token.
    const referenceSpec = {
      path: '/speke/copyProtection', headers: { 'content-type': 'application/xml' }, body: WORKLOADS['P5 unsigned'].body, connections: options.connections, duration: options.duration,
    };
    const bareRow = await measure('bare express', bare, () => serviceProcesses(bare.child.pid), redis.child.pid, referenceSpec);
    bare.child.kill('SIGTERM');
    // IDs only: the token itself has no business in the floor's source file.
    const floor = await startStoreFloor(dir, options.workers, responseBytes, redis.port, { siteId: tokens.unsigned.siteId, tokenId: tokens.unsigned.tokenId, revision: 0 });
    children.push(floor.child);
    const floorRow = await measure('store floor', floor, () => serviceProcesses(floor.child.pid), redis.child.pid, referenceSpec);
    rows.push(bareRow, floorRow, { workload: `RSA-2048 sign (${options.workers} thread(s))`, 'req/s': rsa, 'p50 ms': null, 'p99 ms': null, 'CPU ms/req': Number((1000 / (rsa / options.workers)).toFixed(3)), 'Redis CPU ms/req': null, requests: null, errors: 0 });
    console.table(rows);

    const row = (name) => rows.find((r) => r.workload === name);
    // Where a P5 request's service CPU goes: the store floor (HTTP, express and the key step), the CPIX
    // work measured in process, and the rest (authentication, middleware, the answer's bytes, GC of a busy heap).
    const cpixWork = [];
    const cpixCpuMs = cpixWorkMeter();
    for (const [name, signed] of [['P5 unsigned', false], ['P5 signed', true], ['P5 PallyCon signed', true]]) {
      const service = row(name)['CPU ms/req'];
      const cpix = await cpixCpuMs(WORKLOADS[name], signed);
      cpixWork.push({ workload: name, 'service CPU ms/req': service, 'store floor': floorRow['CPU ms/req'], 'CPIX work (in process)': cpix, rest: Number((service - floorRow['CPU ms/req'] - cpix).toFixed(2)) });
    }
    console.log('where a request\'s CPU goes (ms; the CPIX work measured in this process, one request at a time):');
    console.table(cpixWork);
    const ratio = (a, b) => Number((a / b).toFixed(3));
    const rsaCpuMs = 1000 / (rsa / options.workers);
    const commandOf = (name, figure) => commands.find((c) => c.workload === name)[figure];
    const targets = [
      // The issue's goal is one command per key request; its cache clause allows the once-a-second
      // reads of the authentication cache, counted apart (as the token's once-a-minute last-use write).
      { target: 'Redis commands of the request itself per unsigned P5 request, keys created', value: commandOf('P5 unsigned', "request's own/req"), goal: 1, atMost: true },
      { target: 'Redis commands of the request itself per unsigned P5 request, keys exist', value: commandOf('P5 unsigned, repeat (keys exist)', "request's own/req"), goal: 1, atMost: true },
      { target: 'Redis commands of the request itself per signed PallyCon P5 request', value: commandOf('P5 PallyCon signed', "request's own/req"), goal: 1, atMost: true },
      ...commands.map((c) => ({ target: `${c.workload}: authentication cache reads per process and started second ≤ 3 (token, site, site keys)`, value: c['cache reads/process/s'], goal: 3, atMost: true })),
      { target: 'service CPU per unsigned P5 request ≤ 3 × per bare express request', value: ratio(row('P5 unsigned')['CPU ms/req'], bareRow['CPU ms/req']), goal: 3, atMost: true },
      { target: 'service CPU per signed P5 request ≤ 3 × one RSA-2048 signature', value: ratio(row('P5 signed')['CPU ms/req'], rsaCpuMs), goal: 3, atMost: true },
      { target: 'service CPU per signed PallyCon P5 request ≤ 3 × one RSA-2048 signature', value: ratio(row('P5 PallyCon signed')['CPU ms/req'], rsaCpuMs), goal: 3, atMost: true },
      { target: 'signed P5 ≥ 50 % of raw RSA-2048 signatures/s', value: ratio(row('P5 signed')['req/s'], rsa), goal: 0.5 },
      { target: 'signed P5 PallyCon ≥ 50 % of raw RSA-2048 signatures/s', value: ratio(row('P5 PallyCon signed')['req/s'], rsa), goal: 0.5 },
      { target: 'unsigned P5 ≥ 40 % of the bare express route', value: ratio(row('P5 unsigned')['req/s'], bareRow['req/s']), goal: 0.4 },
      // Not targets: where the store floor itself stands against the two, i.e. the best any key route could reach.
      { target: '(store floor / RSA-2048 signatures/s)', value: ratio(floorRow['req/s'], rsa), goal: null },
      { target: '(store floor / bare express route)', value: ratio(floorRow['req/s'], bareRow['req/s']), goal: null },
      ...['P5 unsigned', 'P5 signed', 'P5 PallyCon signed', 'P1', 'live'].map((name) => ({ target: `${name}: p99 ≤ 3 × p50 at concurrency ${options.connections}`, value: ratio(row(name)['p99 ms'], Math.max(row(name)['p50 ms'], 1)), goal: 3, atMost: true })),
      { target: 'Redis SIGKILL: first 200 (/readyz and SPEKE) ≤ 1000 ms after Redis answers again', value: Math.max(recovery['readyz ms'], recovery['SPEKE ms']), goal: 1000, atMost: true },
      ...(scaling === undefined
        ? []
        : [
            { target: `SPEKE v2 ${SCALING_LARGE} keys ≤ 12 × the time of ${SCALING_SMALL} keys (medians, keys created; linear 8 ×, quadratic 64 ×)`, value: scaling.rows[0].ratio, goal: 12, atMost: true },
            { target: `(the same for repeats, every key existing)`, value: scaling.rows[1].ratio, goal: null },
            { target: `${SCALING_CAP + 1} keys (cap ${SCALING_CAP}): answered 413, content without keys (admin listing 404)`, value: `${scaling.aboveCap.status} / ${scaling.aboveCap.contentKeysStatus}`, goal: '413 / 404', exactly: true },
          ]),
    ].map((t) => ({ ...t, met: t.goal === null ? null : t.exactly ? t.value === t.goal : t.atMost ? t.value <= t.goal : t.value >= t.goal }));
    console.table(targets);
    if (memory) console.log('memory over the long run:', memory);
    const failedRequests = rows.filter((r) => r.errors > 0);
    if (failedRequests.length > 0) console.log('WARNING: non-2xx answers or errors in', failedRequests.map((r) => r.workload).join(', '));
    writeFileSync(options.json, `${JSON.stringify({ at: new Date().toISOString(), options, responseBytes, rows, cpixWork, commands, targets, memory, scaling, recovery }, null, 2)}\n`);
    console.log(`figures written to ${options.json}`);
    process.exitCode = failedRequests.length > 0 ? 1 : 0;
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(2);
});
