import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { bareEnv, requireBuiltService, spawnService } from '../support/service-process';

/**
 * `npm start` on a fresh machine: the built service started with no configuration at all, in an
 * empty folder, exactly as the README's quick start runs it.
 */
const run = promisify(execFile);
const BANNER_CURL = /(curl -s -X POST (http:\/\/\S+)\/admin\/v1\/sites \\\n.*\\\n.*)\n/;

/** The processes whose parent is `pid` (from /proc). */
function childrenOf(pid: number): number[] {
  return readdirSync('/proc').flatMap((entry) => {
    if (!/^\d+$/.test(entry)) return [];
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      return Number(stat.replace(/^.*\) /, '').split(' ')[1]) === pid ? [Number(entry)] : [];
    } catch {
      return [];
    }
  });
}

async function start(cwd: string) {
  const service = spawnService(cwd, bareEnv());
  const [, curlLine, url] = await service.waitFor(BANNER_CURL);
  return { ...service, url: url as string, curlLine: curlLine as string };
}

describe('npm start on a fresh machine', () => {
  let cwd: string;
  const children: ChildProcess[] = [];

  beforeAll(() => {
    requireBuiltService();
    cwd = mkdtempSync(join(tmpdir(), 'cpix-kms-fresh-'));
  });
  afterAll(() => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(cwd, { recursive: true, force: true });
  });

  it('runs on the embedded store, prints a working curl line, stops on SIGTERM and keeps its data', async () => {
    const first = await start(cwd);
    children.push(first.child);
    expect(first.stderr()).toContain('DEVELOPMENT SETUP');
    expect(first.stderr()).toMatch(/admin token: data\/admin-token \(created now, mode 0600\)/);

    const health = await fetch(`${first.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await fetch(`${first.url}/readyz`).then((r) => r.status)).toBe(200);

    for (const file of ['data/master.key', 'data/admin-token', 'data/cpix-kms.db']) {
      expect(statSync(join(cwd, file)).mode & 0o777).toBe(0o600);
    }

    // The banner's own command, run by a shell in the service's folder.
    const { stdout } = await run('bash', ['-c', first.curlLine], { cwd });
    const created = JSON.parse(stdout) as { site: { id: string }; token: { token: string }; accessKey: string };
    expect(created.site.id).toMatch(/^[A-Z0-9]{4}$/);
    expect(created.token.token).toMatch(/^kms1\./);

    first.child.kill('SIGTERM');
    expect(await first.exit()).toBe(0);

    const adminToken = readFileSync(join(cwd, 'data/admin-token'), 'utf8').trim();
    const second = await start(cwd);
    children.push(second.child);
    expect(second.stderr()).toMatch(/admin token: data\/admin-token \(existing, mode 0600\)/);
    const site = await fetch(`${second.url}/admin/v1/sites/${created.site.id}`, { headers: { Authorization: `Bearer ${adminToken}` } });
    expect(site.status).toBe(200);
    second.child.kill('SIGTERM');
    expect(await second.exit()).toBe(0);

    const output = first.stdout() + first.stderr() + second.stdout() + second.stderr();
    for (const secret of [adminToken, created.token.token, created.accessKey]) expect(output).not.toContain(secret);
    expect(first.stdout()).toContain('"msg":"cpix-kms listening"');
  }, 60_000);

  it("npm run config-table prints the README's configuration table", async () => {
    const root = resolve(__dirname, '../..');
    const { stdout } = await run('npm', ['run', '--silent', 'config-table'], { cwd: root, env: bareEnv() });
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const start = readme.indexOf('| Variable | Default | Meaning |');
    expect(stdout.trimEnd()).toBe(readme.slice(start, readme.indexOf('\n\n', start)));
  });

  it('npm start: starts the current build without rebuilding it, and SIGTERM to npm stops the service (no orphan)', async () => {
    const root = resolve(__dirname, '../..');
    const stamp = join(root, 'dist', '.built');
    const builtAt = statSync(stamp).mtimeMs;
    const dataDir = join(cwd, 'npm-start-data');
    const npm = spawn('npm', ['start', '--silent'], { cwd: root, env: bareEnv({ DATA_DIR: dataDir }), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    npm.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    npm.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((done) => npm.once('exit', (code) => done(code)));
    try {
      for (let waited = 0; !/cpix-kms listening/.test(output); waited += 50) {
        if (waited > 30_000 || npm.exitCode !== null) throw new Error(`npm start did not come up: ${output}`);
        await new Promise((done) => setTimeout(done, 50));
      }
      // The build was current (npm test built it): prestart left it alone.
      expect(statSync(stamp).mtimeMs).toBe(builtAt);
      const service = childrenOf(npm.pid ?? -1);
      expect(service).toHaveLength(1);
      npm.kill('SIGTERM');
      expect(await exited).toBe(0);
      // The service itself ended, not only npm.
      for (const pid of service) expect(existsSync(`/proc/${pid}`)).toBe(false);
    } finally {
      if (npm.exitCode === null) npm.kill('SIGKILL');
    }
  }, 60_000);

  it.each([
    ['NODE_ENV=production without secrets', { NODE_ENV: 'production' }, /configuration error: MASTER_KEY \(or MASTER_KEY_FILE\) is required/],
    ['an invalid PORT', { PORT: 'eighty' }, /configuration error: PORT must be an integer/],
    ['an unknown master key provider', { MASTER_KEY_PROVIDER: 'vault' }, /configuration error: MASTER_KEY_PROVIDER must be one of local, aws-kms/],
  ])('stops at once with a message naming the value for %s', async (_name, extra, message) => {
    const service = spawnService(cwd, bareEnv(extra));
    children.push(service.child);
    expect(await service.exit()).toBe(1);
    expect(service.stderr()).toMatch(message);
  });
});
