// What the fuzzer and the benchmark both need to run the built service and watch its processes.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const MAIN = join(ROOT, 'dist', 'main.js');
/** /proc/<pid>/stat counts CPU time in clock ticks of 1/100 s on Linux. */
const TICKS_PER_SECOND = 100;

/** A port nothing listens on now (the service is told it, so no log line is needed to find it). */
export function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

/**
 * Two self-signed signing identities (the service's own development generator) written to `dir`,
 * as the four variables production requires: key exchange and license export.
 */
export function writeSigningIdentity(dir, commonName) {
  const { createSelfSignedIdentityPem } = require(join(ROOT, 'dist', 'dev-signing.js'));
  const write = (name, prefix) => {
    const blocks = createSelfSignedIdentityPem(`${commonName} (${name})`).match(/-----BEGIN [^-]+-----[\s\S]+?-----END [^-]+-----\n?/g) ?? [];
    const keyFile = join(dir, `${name}.key`);
    const certFile = join(dir, `${name}.crt`);
    writeFileSync(keyFile, blocks.find((b) => /PRIVATE KEY/.test(b)), { mode: 0o600 });
    writeFileSync(certFile, blocks.find((b) => /CERTIFICATE/.test(b)));
    return { [`${prefix}_KEY_FILE`]: keyFile, [`${prefix}_CERT_FILE`]: certFile };
  };
  return { ...write('signing', 'SIGNING'), ...write('export-signing', 'EXPORT_SIGNING') };
}

/** Polls `url` until it answers 200; fails when `child` exits first or after 30 s. */
export async function waitForHttp(url, child, what) {
  for (let waited = 0; waited < 30_000; waited += 100) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    if ((await fetch(url).then((res) => res.status, () => 0)) === 200) return;
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error(`${what} did not answer ${url} within 30 s`);
}

/** User + system CPU seconds of these processes so far. */
export function cpuSeconds(pids) {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // the process ended meanwhile
    }
  }
  return ticks / TICKS_PER_SECOND;
}

/** Resident memory of these processes together, in bytes. */
export function rssBytes(pids) {
  let total = 0;
  for (const pid of pids) {
    try {
      total += Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
    } catch {
      // gone
    }
  }
  return total;
}

/**
 * Command-line options (node:util parseArgs, strict): `integers` and `paths` name the options of each
 * kind, `defaults` gives every option's value when absent. Integers must be non-negative.
 */
export function readOptions(argv, { integers = [], paths = [], defaults }) {
  const spec = Object.fromEntries([...integers, ...paths].map((name) => [name, { type: 'string' }]));
  const { values } = parseArgs({ args: argv, options: spec, strict: true });
  const options = { ...defaults };
  for (const name of integers) {
    if (values[name] === undefined) continue;
    const value = Number(values[name]);
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`--${name} must be a non-negative integer`);
    options[name] = value;
  }
  for (const name of paths) if (values[name] !== undefined) options[name] = resolve(values[name]);
  return options;
}

/** The node flags of `npm start` (package.json), so the scripts measure the service as it is run (docs/performance.md). */
const PRODUCTION_NODE_FLAGS = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
  .scripts.start.split(' ')
  .filter((word) => word.startsWith('--'));

/**
 * The built service in production mode, in `dir`, on 127.0.0.1 and a free port, with a random master
 * key and admin token, a fresh signing identity and `env` on top (the store, LOG_LEVEL…). Its output
 * is kept (the last 200 kB) for failure reports. Resolves once /readyz answers 200.
 */
export async function startProductionService(dir, env, { nodeArgs = [] } = {}) {
  const port = await freePort();
  const adminToken = randomBytes(32).toString('base64url');
  const masterKey = randomBytes(32).toString('base64');
  const child = spawn(process.execPath, [...PRODUCTION_NODE_FLAGS, ...nodeArgs, MAIN], {
    cwd: dir,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      MASTER_KEY: masterKey,
      ADMIN_TOKEN: adminToken,
      ...writeSigningIdentity(dir, 'cpix-kms script'),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk) => (output = (output + chunk.toString()).slice(-200_000));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${url}/readyz`, child, 'the service');
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${error.message}:\n${output}`);
  }
  return { child, url, adminToken, masterKey, output: () => output };
}
