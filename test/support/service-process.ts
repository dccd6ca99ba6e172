import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { SigningConfig } from '../../src/config/config';
import { testExportSigningIdentity, testSigningIdentity } from './services';

/** The built service (`npm test` builds it before jest runs). */
export const MAIN = resolve(__dirname, '../../dist/main.js');

export function requireBuiltService(): void {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: npm test builds it first (npm run build)`);
}

/** Only what a fresh shell has: no cpix-kms variables leak in from the test runner. */
export function bareEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, PORT: '0', ...extra };
}

export interface ServiceProcess {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code once the process has ended. */
  exit(): Promise<number | null>;
  /** Resolves with the first match of `pattern` in stdout+stderr, rejects if the process ends first. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** Resolves with the service's URL at the first worker's "cpix-kms listening" line; other workers may still be starting. */
  listening(timeoutMs?: number): Promise<string>;
  /**
   * Resolves with the service's URL once every process it starts serves: the "cpix-kms listening" line
   * (the first worker's, which says how many there are) and, with WORKERS > 1, the primary's "worker
   * listening" line for each worker.
   * A test that stops or swaps the store next must not race a worker still starting: that worker would
   * fail to start, and the primary then stops the whole service (src/workers.ts).
   */
  serving(timeoutMs?: number): Promise<string>;
  /** How many "worker listening" lines the primary has logged so far (a replaced worker's included). */
  workersListening(): number;
}

/** The first worker's line (src/main.ts): the URL, and how many workers the primary starts. */
const LISTENING = /"url":"(http:\/\/[^"]+)".*"workers":(\d+),"msg":"cpix-kms listening"/;
/** The primary's line for each worker that listens (src/workers.ts). */
const WORKER_LISTENING = '"msg":"worker listening"';

/** Starts `node dist/main.js` in `cwd` with exactly `env`. */
export function spawnService(cwd: string, env: NodeJS.ProcessEnv): ServiceProcess {
  const child = spawn(process.execPath, [MAIN], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  const notify = () => listeners.forEach((listener) => listener());
  child.stdout?.on('data', (chunk: Buffer) => ((out += chunk.toString()), notify()));
  child.stderr?.on('data', (chunk: Buffer) => ((err += chunk.toString()), notify()));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  /** Resolves with what `found` returns once it returns something, checked on every output; rejects on exit or after `timeoutMs`. */
  const waitUntil = <T>(what: string, found: () => T | null | undefined, timeoutMs = 15_000) =>
    new Promise<T>((resolveFound, reject) => {
      const check = () => {
        const value = found();
        if (value === null || value === undefined) return;
        cleanup();
        resolveFound(value);
      };
      const timer = setTimeout(() => (cleanup(), reject(new Error(`no ${what} within ${timeoutMs} ms; output: ${out}${err}`))), timeoutMs);
      const cleanup = () => (clearTimeout(timer), listeners.delete(check));
      listeners.add(check);
      void exited.then((code) => {
        if (!listeners.has(check)) return;
        cleanup();
        reject(new Error(`exited with ${code} before ${what}; output: ${out}${err}`));
      });
      check();
    });
  const waitFor = (pattern: RegExp, timeoutMs?: number) => waitUntil(String(pattern), () => pattern.exec(out + err), timeoutMs);
  const workersListening = () => out.split(WORKER_LISTENING).length - 1;
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exit: () => exited,
    waitFor,
    async listening(timeoutMs) {
      const [, url = ''] = await waitFor(LISTENING, timeoutMs);
      return url;
    },
    async serving(timeoutMs) {
      const [, url = '', workers = '1'] = await waitFor(LISTENING, timeoutMs);
      const count = Number(workers);
      if (count > 1) await waitUntil(`${count} × ${WORKER_LISTENING}`, () => (workersListening() >= count ? true : undefined), timeoutMs);
      return url;
    },
    workersListening,
  };
}

/**
 * Writes the test signing identities (`testSigningIdentity`, `testExportSigningIdentity`) into `dir`
 * and returns the four variables production requires for them (NODE_ENV=production refuses to start
 * without both configured).
 */
export function signingEnv(dir: string): Readonly<Record<'SIGNING_KEY_FILE' | 'SIGNING_CERT_FILE' | 'EXPORT_SIGNING_KEY_FILE' | 'EXPORT_SIGNING_CERT_FILE', string>> {
  const write = (identity: SigningConfig, name: string) => {
    const keyFile = join(dir, `${name}.key`);
    const certFile = join(dir, `${name}.crt`);
    writeFileSync(keyFile, identity.privateKeyPem, { mode: 0o600 });
    writeFileSync(certFile, identity.certificatePem);
    return { keyFile, certFile };
  };
  const signing = write(testSigningIdentity(), 'signing');
  const exporting = write(testExportSigningIdentity(), 'export-signing');
  return {
    SIGNING_KEY_FILE: signing.keyFile,
    SIGNING_CERT_FILE: signing.certFile,
    EXPORT_SIGNING_KEY_FILE: exporting.keyFile,
    EXPORT_SIGNING_CERT_FILE: exporting.certFile,
  };
}

/**
 * A production environment: a random master key, `adminToken`, the test signing identity, the
 * embedded store in `dir` (its `data` folder) unless `extra` names another `STORE`, and `extra` on top.
 */
export function productionEnv(dir: string, adminToken: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return bareEnv({
    NODE_ENV: 'production',
    DATA_DIR: join(dir, 'data'),
    MASTER_KEY: randomBytes(32).toString('base64'),
    ADMIN_TOKEN: adminToken,
    ...signingEnv(dir),
    ...extra,
  });
}

/**
 * A process as Linux's /proc shows it: its PID and its start time. The kernel gives an ended process's
 * PID to a new one (pid_max is 32,768 here, and a test run starts many thousands of processes), so a
 * PID alone may name another test's process by the time it is used.
 */
export interface ProcessIdentity {
  readonly pid: number;
  /** Field 22 of /proc/<pid>/stat: clock ticks after boot. */
  readonly startTime: string;
}

/** Fields 3 onwards of /proc/<pid>/stat (state, parent PID, …), or undefined when no such process exists. */
function statOf(pid: number): string[] | undefined {
  try {
    // The command name (field 2) may hold spaces and parentheses: the fields after it start at the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined; // the process ended meanwhile
  }
}

/** The processes whose parent is `pid`: the cluster workers of a WORKERS > 1 service. */
export function childProcessesOf(pid: number): ProcessIdentity[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .flatMap((entry) => {
      const fields = statOf(Number(entry));
      return fields !== undefined && Number(fields[1]) === pid ? [{ pid: Number(entry), startTime: fields[19] ?? '' }] : [];
    });
}

/** Whether `process` still runs: its PID names a process started when it was, and not a zombie. */
export function isRunning(process: ProcessIdentity): boolean {
  const fields = statOf(process.pid);
  return fields !== undefined && fields[19] === process.startTime && fields[0] !== 'Z';
}

/** SIGKILL of a service and of its cluster workers at once, as an OOM kill of its container would. */
export function killServiceTree(service: ServiceProcess): void {
  const { child } = service;
  // A primary that has exited has no workers of its own left, and its PID may be another process's now.
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  // Stopped, the primary cannot reap a worker, so no worker's PID passes to another process before its kill.
  child.kill('SIGSTOP');
  for (const worker of childProcessesOf(child.pid)) process.kill(worker.pid, 'SIGKILL');
  child.kill('SIGKILL');
}

/** A site made through the admin API of a running service: its ID and first KMS token. */
export interface CreatedSite {
  readonly id: string;
  readonly token: string;
}

/** Creates a site named `name` through the admin API at `url`; fails the test unless it is answered 201. */
export async function createSiteOverHttp(url: string, adminToken: string, name: string): Promise<CreatedSite> {
  const res = await fetch(`${url}/admin/v1/sites`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
  });
  expect(res.status).toBe(201);
  const body = (await res.json()) as { site: { id: string }; token: { token: string } };
  return { id: body.site.id, token: body.token.token };
}
