import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { maxElementsFor } from '../../src/exchange/dialect';
import { createSiteOverHttp, requireBuiltService, productionEnv, type ServiceProcess, spawnService } from '../support/service-process';
import { HOSTILE_CASES, type HostileCase } from '../unit/xml/hostile-cases';
import { parseResponse, type ParsedResponse } from '../support/raw-http';

/**
 * Hostile input through HTTP (docs/testing.md, Reliability and security suite): the parser-level table
 * (test/unit/xml/hostile-input.test.ts) sent to the built service's key-exchange routes over raw
 * sockets, plus what only exists at the HTTP layer: content types, content encodings, framing,
 * authentication order and slow-drip clients against the configured server timeouts. Every hostile
 * request must be refused with its documented status, fast (well inside the server's own timeouts, so a
 * request that hung until a timeout cannot pass), without echoing the request, and the process must
 * stay up with bounded memory.
 */

const HEADERS_TIMEOUT_SECONDS = 2;
const REQUEST_TIMEOUT_SECONDS = 3;
/** Node checks connections against its timeouts once a second (src/service.ts), plus scheduling slack. */
const TIMEOUT_SLACK_MS = 1_500;
/** "Refused quickly": below REQUEST_TIMEOUT_SECONDS, so an answer that waited for a timeout fails. */
const QUICK_MS = 2_000;
const DRIP_INTERVAL_MS = 500;
/** Each request of the tables is sent this many times in all. */
const PASSES = 50;
/** Passes whose end-of-pass RSS is the warm baseline; the passes after them are measured against it. */
const WARM_WINDOW = { from: 11, to: 30 } as const;
/**
 * Memory bounds on the service's RSS. The first passes grow it while V8 and malloc size themselves for
 * 1 MiB bodies and 10,000-element trees, whatever is live. After that it is not flat but a sawtooth or
 * a staircase, so no single reading is a baseline: on Node 20 old space fills with garbage between full
 * collections and empties again (165 to 235 MiB and back within 15 to 20 passes, measured over 70
 * passes in three runs); on Node 24 it rises in steps of 8 to 16 MiB at different passes in each run,
 * up to about pass 60, and is flat between them (274 to 300 MiB at pass 70). So the bounds compare
 * windows of 20 passes of about 75 requests each, passes 11 to 30 against 31 to 50:
 * - the lowest end-of-pass RSS of the later window may not exceed that of the earlier one by more than
 *   64 MiB (a leak of 64 KiB a request adds about 94 MiB; without one, the most seen was 43 MiB, on
 *   Node 24 in a CI run, where the steps came late);
 * - the peak during the later window (the high-water mark is reset when it starts) may not pass the
 *   highest end-of-pass RSS of both windows by 64 MiB (a body held whole past the 1 MiB limit fails:
 *   the gzip bomb inflates to 64 MiB). Against the earlier window alone the sawtooth could put it up
 *   to 52 MiB above (seen on Node 20 in CI) while nothing was wrong.
 * The growth before is only capped, generously, so a service that balloons at once still fails.
 */
const MIB = 1024 * 1024;
const RSS_GROWTH_BOUND_BYTES = 256 * MIB;
const RSS_STEADY_GROWTH_BOUND_BYTES = 64 * MIB;
const RSS_PEAK_BOUND_BYTES = 64 * MIB;

interface Answer {
  /** HTTP status, `closed` when the connection ended without one, `none` when nothing came in time. */
  readonly status: number | 'closed' | 'none';
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** From connecting until the answer was complete (or the connection closed). */
  readonly ms: number;
  /** Whether the server closed the connection before the client gave up. */
  readonly closedByServer: boolean;
}

/**
 * Opens a connection, lets `send` write to it (at its own pace; write errors after the server has
 * answered or closed are expected and ignored) and resolves with the first response. With
 * `untilClosed` it also waits for the server to close the connection.
 */
function exchange(port: number, send: (socket: Socket) => void | Promise<void>, options: { untilClosed?: boolean; giveUpMs?: number } = {}): Promise<Answer> {
  const giveUpMs = options.giveUpMs ?? 10_000;
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1');
    let data = Buffer.alloc(0);
    let response: ParsedResponse | undefined;
    let settled = false;
    const finish = (closedByServer: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const parsed = response ?? parseResponse(data, true);
      resolve({
        status: parsed?.status ?? (closedByServer ? 'closed' : 'none'),
        headers: parsed?.headers ?? {},
        body: parsed?.body.toString('utf8') ?? '',
        ms: Date.now() - started,
        closedByServer,
      });
    };
    const timer = setTimeout(() => finish(false), giveUpMs);
    socket.on('error', () => undefined);
    socket.on('close', () => finish(true));
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      response ??= parseResponse(data, false);
      if (response && !options.untilClosed) finish(false);
    });
    socket.once('connect', () => {
      void Promise.resolve(send(socket)).catch(() => undefined);
    });
  });
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** Writes `bytes` one at a time until the connection goes away. */
async function drip(socket: Socket, bytes: Buffer): Promise<void> {
  for (const byte of bytes) {
    if (socket.destroyed || !socket.writable) return;
    socket.write(Buffer.from([byte]));
    await sleep(DRIP_INTERVAL_MS);
  }
}

type Framing = 'content-length' | 'chunked';

function requestHead(path: string, headers: Readonly<Record<string, string>>, body: Buffer, framing: Framing): Buffer {
  const all: Record<string, string> = { host: '127.0.0.1', ...headers };
  if (framing === 'chunked') all['transfer-encoding'] = 'chunked';
  else all['content-length'] = String(body.length);
  return Buffer.from(`POST ${path} HTTP/1.1\r\n${Object.entries(all).map(([name, value]) => `${name}: ${value}\r\n`).join('')}\r\n`, 'latin1');
}

/** The body as 64 KiB chunks, so the server's limit bites while the body is still streaming in. */
function chunked(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let offset = 0; offset < body.length; offset += 64 * 1024) {
    const part = body.subarray(offset, offset + 64 * 1024);
    parts.push(Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

interface Route {
  readonly name: string;
  readonly path: (token: string) => string;
  readonly headers: (token: string) => Readonly<Record<string, string>>;
  /** The error as the route writes it: SPEKE as plain text, PallyCon as JSON (docs/key-exchange.md). */
  readonly error: (answer: Answer) => { readonly code?: string; readonly message: string };
}

const ROUTES: readonly Route[] = [
  {
    name: 'SPEKE v2',
    path: () => '/speke/copyProtection',
    headers: (token) => ({ authorization: `Bearer ${token}`, 'x-speke-version': '2.0' }),
    error: (answer) => {
      expect(answer.headers['content-type']).toBe('text/plain; charset=utf-8');
      return { message: answer.body };
    },
  },
  {
    name: 'PallyCon CPIX v2',
    path: (token) => `/v2/cpix/pallycon/getKey/${token}`,
    headers: () => ({}),
    error: (answer) => {
      expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
      const { error } = JSON.parse(answer.body) as { error: { code: string; message: string } };
      return error;
    },
  },
];

interface Expected {
  readonly status: number;
  readonly code: string;
  readonly message: RegExp;
}

const CPIX_INVALID = (message: RegExp): Expected => ({ status: 400, code: 'ERR_CPIX_INVALID', message });
const DOCTYPE = CPIX_INVALID(/DOCTYPE declarations are not allowed/);
const TOO_LARGE: Expected = { status: 413, code: 'ERR_PAYLOAD_TOO_LARGE', message: /^request body is too large$/ };
const UNSUPPORTED_TYPE: Expected = { status: 415, code: 'ERR_UNSUPPORTED_MEDIA_TYPE', message: /^request body must be CPIX XML \(application\/xml\)$/ };
const UNAUTHENTICATED: Expected = { status: 401, code: 'ERR_AUTH_REQUIRED', message: /^authentication failed$/ };

function hostile(name: string): HostileCase {
  const found = HOSTILE_CASES.find((c) => c.name === name);
  if (!found) throw new Error(`no hostile case named ${name}`);
  return found;
}

/** What each parser-level case must come back as over HTTP (BODY_LIMIT_BYTES = 1 MiB). */
const EXPECTED_BY_CASE: Readonly<Record<string, Expected>> = {
  'XXE file': DOCTYPE,
  'XXE URL': DOCTYPE,
  'XXE in UTF-16 LE with a BOM': DOCTYPE,
  'billion laughs': DOCTYPE,
  'quadratic blow-up': DOCTYPE,
  'undeclared entity without DOCTYPE': CPIX_INVALID(/not well-formed: undefined entity/),
  '10,000-deep nesting': CPIX_INVALID(/nested deeper than the limit of 64/),
  // The body limit (express's raw parser) refuses these before the XML parser sees a byte.
  '10 MB body': TOO_LARGE,
  // Key requests get an element limit that follows MAX_KEYS_PER_REQUEST (default 1000).
  '100k elements': CPIX_INVALID(new RegExp(`exceeds the limit of ${maxElementsFor(1000)} elements`)),
  'too many attributes': CPIX_INVALID(/more than 64 attributes/),
  '2 MB attribute value': TOO_LARGE,
  '512 KiB attribute value': CPIX_INVALID(/attribute value exceeds the limit of 16384/),
  'invalid UTF-8': CPIX_INVALID(/not valid UTF-8/),
  'undeclared prefix (P24)': CPIX_INVALID(/not well-formed: unbound namespace prefix/),
  'text after the root element': CPIX_INVALID(/not well-formed: text data outside of root node/),
};

/** A case added to the parser table without an HTTP expectation fails here instead of passing unchecked. */
function expectedFor(hostileCase: HostileCase): Expected {
  const expected = EXPECTED_BY_CASE[hostileCase.name];
  if (!expected) throw new Error(`hostile case ${hostileCase.name} has no expected HTTP answer in EXPECTED_BY_CASE`);
  return expected;
}

interface Row {
  readonly name: string;
  readonly route: Route;
  readonly expected: Expected;
  readonly payload: Buffer;
  /** A string of the payload the answer must not contain. */
  readonly marker: string;
  readonly framing: Framing;
  /** Header changes over the route's own (`undefined` removes one); `authenticated: false` sends a wrong token. */
  readonly headers?: Readonly<Record<string, string | undefined>>;
  readonly authenticated?: boolean;
}

const payloads = new Map<string, Buffer>();
function payloadOf(hostileCase: HostileCase): Buffer {
  let payload = payloads.get(hostileCase.name);
  if (!payload) {
    const input = hostileCase.input();
    payload = Buffer.isBuffer(input) ? input : Buffer.from(input, 'utf8');
    payloads.set(hostileCase.name, payload);
  }
  return payload;
}

const XXE = hostile('XXE file');
const TEN_MB = hostile('10 MB body');
/** 64 MiB of zeros in about 64 KiB: inflated by body-parser, so only the limit on inflated bytes holds it. */
const GZIP_BOMB = gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });

const BODY_ROWS: readonly Row[] = ROUTES.flatMap((route) => [
  ...HOSTILE_CASES.map((c): Row => ({ name: c.name, route, expected: expectedFor(c), payload: payloadOf(c), marker: c.marker, framing: 'content-length' })),
  { name: '10 MB body, chunked (no Content-Length)', route, expected: TOO_LARGE, payload: payloadOf(TEN_MB), marker: TEN_MB.marker, framing: 'chunked' },
  { name: 'XXE file, chunked', route, expected: DOCTYPE, payload: payloadOf(XXE), marker: XXE.marker, framing: 'chunked' },
  { name: 'gzip bomb (64 MiB inflated)', route, expected: TOO_LARGE, payload: GZIP_BOMB, marker: '\u0000\u0000', framing: 'content-length', headers: { 'content-encoding': 'gzip' } },
  {
    name: 'unknown Content-Encoding',
    route,
    expected: { status: 400, code: 'ERR_REQUEST_INVALID', message: /^request body could not be read$/ },
    payload: payloadOf(XXE),
    marker: XXE.marker,
    framing: 'content-length',
    headers: { 'content-encoding': 'x-hostile' },
  },
  // A declared encoding over bytes that are not in it: zlib's error, which once became a 500 (found by scripts/fuzz.mjs).
  ...(['gzip', 'deflate', 'br'] as const).map((encoding): Row => ({
    name: `Content-Encoding ${encoding} over plain XML`,
    route,
    expected: { status: 400, code: 'ERR_REQUEST_INVALID', message: /^request body could not be read$/ },
    payload: payloadOf(XXE),
    marker: XXE.marker,
    framing: 'content-length',
    headers: { 'content-encoding': encoding },
  })),
  { name: 'empty body', route, expected: { status: 400, code: 'ERR_REQUEST_INVALID', message: /^request body is empty$/ }, payload: Buffer.alloc(0), marker: '<', framing: 'content-length' },
]);

/**
 * Content types (src/http/cpix-body.ts): XML types, octet-stream and none at all are read (PallyCon's
 * client sends none), anything else is refused before the body is read. The body is the XXE payload,
 * so "read" shows as the parser's DOCTYPE refusal.
 */
const CONTENT_TYPES: readonly (readonly [string | undefined, Expected])[] = [
  [undefined, DOCTYPE],
  ['', DOCTYPE],
  ['application/xml', DOCTYPE],
  ['text/xml', DOCTYPE],
  ['application/cpix+xml', DOCTYPE],
  ['application/octet-stream', DOCTYPE],
  // The charset parameter is not trusted: the parser decodes by BOM and checks the XML declaration.
  ['application/xml; charset=utf-16', DOCTYPE],
  ['APPLICATION/XML', DOCTYPE],
  ['text/plain', UNSUPPORTED_TYPE],
  ['application/json', UNSUPPORTED_TYPE],
  ['multipart/form-data; boundary=x', UNSUPPORTED_TYPE],
  ['application/x-www-form-urlencoded', UNSUPPORTED_TYPE],
  ['text/html', UNSUPPORTED_TYPE],
  ['application/xml-dtd', UNSUPPORTED_TYPE],
];
const TYPE_ROWS: readonly Row[] = ROUTES.flatMap((route) =>
  CONTENT_TYPES.map(([type, expected]): Row => ({
    name: `Content-Type ${type === undefined ? '(missing)' : type === '' ? '(empty)' : type}`,
    route,
    expected,
    payload: payloadOf(XXE),
    marker: XXE.marker,
    framing: 'content-length',
    headers: { 'content-type': type },
  })),
);

/** Authentication comes first on both routes: a request without a valid token is refused before its type or body matter. */
const UNAUTHENTICATED_ROWS: readonly Row[] = ROUTES.flatMap((route) => [
  { name: 'XXE without a valid token', route, expected: UNAUTHENTICATED, payload: payloadOf(XXE), marker: XXE.marker, framing: 'content-length', authenticated: false },
  { name: '10 MB body without a valid token', route, expected: UNAUTHENTICATED, payload: payloadOf(TEN_MB), marker: TEN_MB.marker, framing: 'content-length', authenticated: false },
  {
    name: 'text/plain without a valid token',
    route,
    expected: UNAUTHENTICATED,
    payload: payloadOf(XXE),
    marker: XXE.marker,
    framing: 'content-length',
    authenticated: false,
    headers: { 'content-type': 'text/plain' },
  },
]);

const ALL_ROWS = [...BODY_ROWS, ...TYPE_ROWS, ...UNAUTHENTICATED_ROWS];

/** Resets the process's RSS high-water mark (VmHWM) to its current RSS (proc(5), clear_refs "5"). */
function resetPeak(pid: number): void {
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
}

/** VmRSS and VmHWM (peak) of a process, in bytes (Linux). */
function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]) * 1024;
  return { rss: kib('VmRSS'), peak: kib('VmHWM') };
}

/** Whether some 24-character run of `text` occurs in `payload`: an echo longer than an element or prefix name. */
function echoes(text: string, payload: Buffer): boolean {
  for (let start = 0; start + 24 <= text.length; start += 8) if (payload.includes(text.slice(start, start + 24))) return true;
  return false;
}

const mib = (bytes: number) => `${(bytes / MIB).toFixed(1)} MiB`;

describe('hostile input over HTTP (built service)', () => {
  const adminToken = randomBytes(32).toString('base64url');
  let cwd: string;
  let service: ServiceProcess;
  let port: number;
  let token: string;
  /** A syntactically valid KMS token of no site. */
  const wrongToken = `kms1.${randomBytes(12).toString('base64url')}.${randomBytes(32).toString('base64url')}`;
  let memoryAtStart: { rss: number; peak: number };
  const timings = new Map<string, number[]>();

  const send = (row: Row): Promise<Answer> => {
    const credential = row.authenticated === false ? wrongToken : token;
    const headers: Record<string, string> = { 'content-type': 'application/xml', ...row.route.headers(credential) };
    for (const [name, value] of Object.entries(row.headers ?? {})) {
      if (value === undefined) delete headers[name];
      else headers[name] = value;
    }
    const head = requestHead(row.route.path(credential), headers, row.payload, row.framing);
    const body = row.framing === 'chunked' ? chunked(row.payload) : row.payload;
    return exchange(port, (socket) => {
      socket.write(head);
      socket.write(body);
    });
  };

  const record = (row: Row, answer: Answer) => {
    const key = `${row.route.name} | ${row.name}`;
    timings.set(key, [...(timings.get(key) ?? []), answer.ms]);
  };

  beforeAll(async () => {
    requireBuiltService();
    cwd = mkdtempSync(join(tmpdir(), 'cpix-kms-hostile-http-'));
    service = spawnService(
      cwd,
      productionEnv(cwd, adminToken, {
        HTTP_HEADERS_TIMEOUT_SECONDS: String(HEADERS_TIMEOUT_SECONDS),
        HTTP_REQUEST_TIMEOUT_SECONDS: String(REQUEST_TIMEOUT_SECONDS),
        // The unauthenticated rows fail authentication on purpose, PASSES times each: the failure limiter
        // must not lock 127.0.0.1 out of the authenticated rows (it has its own test, auth-rate-limit).
        AUTH_FAILURES_PER_ADDRESS: '1000000',
        AUTH_FAILURES_PER_CREDENTIAL: '1000000',
      }),
    );
    const url = await service.serving();
    port = Number(new URL(url).port);
    token = (await createSiteOverHttp(url, adminToken, 'hostile input')).token;
    memoryAtStart = memoryOf(service.child.pid ?? 0);
  }, 30_000);

  afterAll(() => {
    if (service?.child.exitCode === null) service.child.kill('SIGKILL');
    if (cwd) rmSync(cwd, { recursive: true, force: true });
    // The per-case figures the issue asks for, one line per row: median and worst of the passes.
    const lines = [...timings].map(([key, ms]) => {
      const sorted = [...ms].sort((a, b) => a - b);
      return `${key}: median ${sorted[Math.floor(sorted.length / 2)]} ms, max ${sorted[sorted.length - 1]} ms (${ms.length}×)`;
    });
    if (process.env.HOSTILE_HTTP_REPORT === '1') process.stdout.write(`${lines.join('\n')}\n`);
  });

  const assertRefused = (row: Row, answer: Answer) => {
    expect(answer.status).toBe(row.expected.status);
    expect(answer.ms).toBeLessThan(QUICK_MS);
    const error = row.route.error(answer);
    if (error.code !== undefined) expect(error.code).toBe(row.expected.code);
    expect(error.message).toMatch(row.expected.message);
    // Nothing of the request comes back: no markup, no payload marker, nothing longer than a short sentence.
    expect(answer.body).not.toContain('<');
    expect(answer.body).not.toContain(row.marker);
    expect(answer.body.length).toBeLessThan(300);
    expect(echoes(answer.body, row.payload)).toBe(false);
  };

  describe.each([
    ['hostile bodies', BODY_ROWS],
    ['content types', TYPE_ROWS],
    ['authentication before the body', UNAUTHENTICATED_ROWS],
  ] as const)('%s', (_table, rows) => {
    it.each(rows.map((row) => [row.route.name, row.name, row] as const))(
      '%s: %s → refused with the documented status, quickly, echoing nothing',
      async (_route, _name, row) => {
        const answer = await send(row);
        record(row, answer);
        assertRefused(row, answer);
      },
    );
  });

  it('closes slow-drip connections at the headers and request timeouts, and keeps serving meanwhile', async () => {
    const xxe = payloadOf(XXE);
    const drips = ROUTES.flatMap((route) => {
      const head = requestHead(route.path(token), { 'content-type': 'application/xml', ...route.headers(token) }, xxe, 'content-length');
      return [
        // Headers one byte at a time: never complete, so only headersTimeout ends it.
        { what: `${route.name}: headers dripped`, limitMs: HEADERS_TIMEOUT_SECONDS * 1000 + TIMEOUT_SLACK_MS, answer: exchange(port, (socket) => drip(socket, head), { untilClosed: true }) },
        // Complete headers, then the body one byte at a time: requestTimeout ends it.
        {
          what: `${route.name}: body dripped`,
          limitMs: REQUEST_TIMEOUT_SECONDS * 1000 + TIMEOUT_SLACK_MS,
          answer: exchange(
            port,
            async (socket) => {
              socket.write(head);
              await drip(socket, xxe);
            },
            { untilClosed: true },
          ),
        },
      ];
    });
    // While the drips hold their connections, an ordinary request is still answered at once.
    await sleep(DRIP_INTERVAL_MS * 2);
    const healthStarted = Date.now();
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    expect(Date.now() - healthStarted).toBeLessThan(QUICK_MS);

    for (const { what, limitMs, answer } of drips) {
      const result = await answer;
      timings.set(what, [result.ms]);
      expect({ what, status: result.status, closedByServer: result.closedByServer }).toEqual({ what, status: 408, closedByServer: true });
      expect(result.ms).toBeLessThan(limitMs);
    }
  }, 15_000);

  it(`keeps memory bounded over ${PASSES} passes of every table, and stays up`, async () => {
    const pid = service.child.pid ?? 0;
    const afterFirstPass = memoryOf(pid);
    const warmWindow: number[] = [];
    const laterWindow: number[] = [];
    for (let pass = 2; pass <= PASSES; pass += 1) {
      for (const row of ALL_ROWS) {
        const answer = await send(row);
        record(row, answer);
        expect({ row: `${row.route.name} | ${row.name}`, status: answer.status }).toEqual({ row: `${row.route.name} | ${row.name}`, status: row.expected.status });
      }
      const { rss } = memoryOf(pid);
      if (pass >= WARM_WINDOW.from && pass <= WARM_WINDOW.to) warmWindow.push(rss);
      if (pass > WARM_WINDOW.to) laterWindow.push(rss);
      if (pass === WARM_WINDOW.to) resetPeak(pid);
    }
    const atEnd = memoryOf(pid);
    const [warmLow, laterLow] = [Math.min(...warmWindow), Math.min(...laterWindow)];
    const highest = Math.max(...warmWindow, ...laterWindow);
    process.stdout.write(
      `hostile-http RSS: start ${mib(memoryAtStart.rss)}, after pass 1 ${mib(afterFirstPass.rss)} (peak ${mib(afterFirstPass.peak)}), ` +
        `lowest after passes ${WARM_WINDOW.from}-${WARM_WINDOW.to} ${mib(warmLow)} and after ${WARM_WINDOW.to + 1}-${PASSES} ${mib(laterLow)}, ` +
        `highest after a pass ${mib(highest)}, peak during ${WARM_WINDOW.to + 1}-${PASSES} ${mib(atEnd.peak)}, after pass ${PASSES} ${mib(atEnd.rss)}\n`,
    );
    expect(atEnd.rss - memoryAtStart.rss).toBeLessThan(RSS_GROWTH_BOUND_BYTES);
    expect(laterLow - warmLow).toBeLessThan(RSS_STEADY_GROWTH_BOUND_BYTES);
    expect(atEnd.peak - highest).toBeLessThan(RSS_PEAK_BOUND_BYTES);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    expect(service.child.exitCode).toBeNull();
    expect(service.stdout() + service.stderr()).not.toMatch(/"level":50.*unexpected error/);
  }, 60_000);
});
