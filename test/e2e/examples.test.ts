import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { bareEnv, createSiteOverHttp, requireBuiltService, type ServiceProcess, spawnService } from '../support/service-process';

/**
 * examples/: every example script runs against the built service, started fresh in the development
 * setup in an empty folder (as `npm start` does), so the examples cannot rot. The KMS token is the
 * first site's, made through the admin API; the scripts find the admin token and the export
 * certificate in the service's data folder (examples/README.md), exactly as a newcomer runs them.
 * The OpenAPI document's key-route examples are the example request files, byte for byte.
 */

const ROOT = resolve(__dirname, '../..');
const EXAMPLES = join(ROOT, 'examples');
const TOOLS = ['bash', 'curl', 'openssl', 'xmlsec1', 'xxd'];

const run = promisify(execFile);

/** Example scripts in run order; 00-create-site only runs when run-all is given no token. */
const scripts = readdirSync(EXAMPLES)
  .filter((name) => /^\d\d-.+\.sh$/.test(name))
  .sort()
  .map((name) => name.replace(/\.sh$/, ''));

const missingTools = TOOLS.filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);
if (missingTools.length > 0 && process.env.CI === 'true') {
  throw new Error(`the examples need ${missingTools.join(', ')} under CI=true (apt-get install ${missingTools.join(' ')})`);
}
const describeWithTools: jest.Describe =
  missingTools.length === 0
    ? describe
    : (((name: string, fn: () => void) => {
        // eslint-disable-next-line no-console
        console.warn(`skipping "${name}": ${missingTools.join(', ')} not installed`);
        describe.skip(name, fn);
      }) as jest.Describe);

interface Outcome {
  readonly code: number;
  readonly output: string;
}

/** Runs a script in the service's folder with a fresh shell's environment; never throws on exit codes. */
async function runScript(cwd: string, script: string, args: readonly string[]): Promise<Outcome> {
  try {
    const { stdout, stderr } = await run('bash', [join(EXAMPLES, script), ...args], {
      cwd,
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
      timeout: 60_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, output: `${stdout}${stderr}` };
  } catch (error) {
    const failed = error as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof failed.code !== 'number') throw error;
    return { code: failed.code, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

describeWithTools('examples/ against a freshly started service (development setup)', () => {
  let cwd: string;
  let service: ServiceProcess;
  let url: string;
  let adminToken: string;
  let token: string;

  beforeAll(async () => {
    requireBuiltService();
    cwd = mkdtempSync(join(tmpdir(), 'cpix-kms-examples-'));
    service = spawnService(cwd, bareEnv());
    url = `http://127.0.0.1:${new URL(await service.serving(30_000)).port}`;
    adminToken = readFileSync(join(cwd, 'data', 'admin-token'), 'utf8').trim();
    token = (await createSiteOverHttp(url, adminToken, 'examples test')).token;
  }, 40_000);

  afterAll(async () => {
    if (service !== undefined && service.child.exitCode === null) {
      service.child.kill('SIGTERM');
      await service.exit();
    }
    if (cwd !== undefined) rmSync(cwd, { recursive: true, force: true });
  }, 15_000);

  it('has the examples the README lists, each with a header naming what it shows', () => {
    expect(scripts).toEqual([
      '00-create-site',
      '01-speke-v1',
      '02-speke-v2',
      '03-speke-v21-periods',
      '04-pallycon-v1',
      '05-pallycon-v2',
      '06-pallycon-rotation',
      '07-license-export',
      '08-key-import',
      '09-revoke',
      '10-policy',
      '11-clearkey',
    ]);
    const readme = readFileSync(join(EXAMPLES, 'README.md'), 'utf8');
    for (const script of scripts) {
      expect(readme).toContain(`${script}.sh`);
      const text = readFileSync(join(EXAMPLES, `${script}.sh`), 'utf8');
      expect(text).toMatch(/^#!\/usr\/bin\/env bash\n# \d\d — /);
      expect(text).toContain('source "$(dirname "$0")/lib.sh"'); // lib.sh: set -euo pipefail
    }
  });

  it('run-all.sh BASE_URL TOKEN passes every example, and prints no credential', async () => {
    const { code, output } = await runScript(cwd, 'run-all.sh', [url, token]);
    expect({ code, output }).toMatchObject({ code: 0 });
    for (const script of scripts.filter((name) => name !== '00-create-site')) {
      expect(output).toMatch(new RegExp(`^PASS ${script} \\(\\d+s\\)$`, 'm'));
    }
    expect(output).not.toMatch(/^FAIL /m);
    expect(output).toMatch(new RegExp(`^run-all: all ${scripts.length - 1} examples passed$`, 'm'));
    // Credentials are shown hidden (kms1.<id>.<secret>, $ADMIN_TOKEN, <licence token>).
    const tokenSecret = token.split('.')[2] ?? '';
    expect(tokenSecret.length).toBeGreaterThan(20);
    expect(output).not.toContain(tokenSecret);
    expect(output).not.toContain(adminToken);
    expect(output).toContain('Bearer $ADMIN_TOKEN');
  }, 90_000);

  it('runs again without collisions: revocation and import use new contents each time', async () => {
    for (const script of ['08-key-import.sh', '09-revoke.sh']) {
      const { code, output } = await runScript(cwd, script, [url, token]);
      expect({ script, code, output }).toMatchObject({ script, code: 0 });
    }
  }, 30_000);

  it('00-create-site.sh makes a site whose token the key examples take', async () => {
    const created = await runScript(cwd, '00-create-site.sh', [url]);
    expect({ code: created.code, output: created.output }).toMatchObject({ code: 0 });
    const newToken = /^TOKEN=(kms1\.\S+)$/m.exec(created.output)?.[1] ?? '';
    const siteId = /^SITE_ID=([A-Z0-9]{4})$/m.exec(created.output)?.[1] ?? '';
    const site = await fetch(`${url}/admin/v1/sites/${siteId}`, { headers: { Authorization: `Bearer ${adminToken}` } });
    expect(site.status).toBe(200);
    const speke = await runScript(cwd, '04-pallycon-v1.sh', [url, newToken]);
    expect({ code: speke.code, output: speke.output }).toMatchObject({ code: 0 });
  }, 30_000);

  it('fails, saying why, when the service refuses (a wrong token)', async () => {
    const { code, output } = await runScript(cwd, '02-speke-v2.sh', [url, 'kms1.AAAAAAAAAAAAAAAA.wrong']);
    expect(code).not.toBe(0);
    expect(output).toMatch(/→ HTTP 401/);
    expect(output).toMatch(/FAILED \(02-speke-v2\): expected HTTP 200, got 401/);
  }, 30_000);

  it('refuses to run without its arguments (usage, exit 2)', async () => {
    const { code, output } = await runScript(cwd, '01-speke-v1.sh', []);
    expect(code).toBe(2);
    expect(output).toMatch(/^usage: .*01-speke-v1\.sh BASE_URL TOKEN/m);
  });
});

describe('OpenAPI examples of the key routes (schemas/openapi.json)', () => {
  type Json = Record<string, unknown>;
  const doc = JSON.parse(readFileSync(join(ROOT, 'schemas', 'openapi.json'), 'utf8')) as Json;
  const at = (value: unknown, ...keys: string[]): Json => {
    let current = value;
    for (const key of keys) current = (current as Json | undefined)?.[key];
    if (typeof current !== 'object' || current === null) throw new Error(`nothing at ${keys.join('.')}`);
    return current as Json;
  };
  /** Component → the example file it copies. */
  const FILES: Readonly<Record<string, string>> = {
    SpekeV1Request: '01-speke-v1.xml',
    SpekeV20Request: '02-speke-v2.xml',
    SpekeV21Request: '03-speke-v21-periods.xml',
    PallyConV1Request: '04-pallycon-v1.xml',
    PallyConV2Request: '05-pallycon-v2.xml',
    PallyConV2RotationRequest: '06-pallycon-rotation.xml',
    ClearKeyLicenseRequest: '11-clearkey.json',
  };

  it.each(Object.entries(FILES))('components/examples/%s is examples/%s', (name, file) => {
    const text = readFileSync(join(EXAMPLES, file), 'utf8');
    const { value } = at(doc, 'components', 'examples', name);
    expect(value).toEqual(file.endsWith('.json') ? JSON.parse(text) : text);
  });

  it.each([
    ['/speke/copyProtection', 'application/xml', ['SpekeV1Request', 'SpekeV20Request', 'SpekeV21Request']],
    ['/speke/{spekePath}/copyProtection', 'application/xml', ['SpekeV1Request', 'SpekeV20Request', 'SpekeV21Request']],
    ['/cpix/getKey', 'application/xml', ['SpekeV1Request', 'SpekeV20Request', 'SpekeV21Request']],
    ['/v1/cpix/pallycon/getKey/{token}', 'application/xml', ['PallyConV1Request']],
    ['/cpix/pallycon/getKey/{token}', 'application/xml', ['PallyConV1Request']],
    ['/v2/cpix/pallycon/getKey/{token}', 'application/xml', ['PallyConV2Request', 'PallyConV2RotationRequest']],
    ['/v2/cpix/doverunner/getKey/{token}', 'application/xml', ['PallyConV2Request', 'PallyConV2RotationRequest']],
    ['/clearkey/v1/license', 'application/json', ['ClearKeyLicenseRequest']],
  ])('POST %s has an example request body (%s)', (path, type, names) => {
    const examples = at(doc, 'paths', path, 'post', 'requestBody', 'content', type, 'examples');
    expect(Object.keys(examples).sort()).toEqual([...names].sort());
    for (const name of names) expect(examples[name]).toEqual({ $ref: `#/components/examples/${name}` });
  });
});
