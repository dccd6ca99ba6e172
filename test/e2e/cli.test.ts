import { execFile } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { SignJWT } from 'jose';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parseCpixDocument } from '../../src/cpix/parse';
import { bareEnv, productionEnv, requireBuiltService, spawnService, type ServiceProcess } from '../support/service-process';
import { describeWithVectors } from '../support/shared-vectors';
import { contentKeys, freshContentId, readAwslabs, withContentId } from '../support/speke-http';

/**
 * The admin CLI (docs/cli.md) drives a full site lifecycle against the built service in
 * production mode on SQLite, with nothing but `node dist/cli/main.js`: create, list, show, tokens,
 * a real SPEKE v2 key request, the content's key metadata, a license server, site-key rotation,
 * disable/enable, revocation, the audit trail. Every CLI run is kept so the last test can check
 * that the admin token never shows up in anything the CLI printed.
 */

const CLI = resolve(__dirname, '../../dist/cli/main.js');
/** Five keys (3 video, 2 audio), Widevine + PlayReady + FairPlay. */
const LIVE_V2 = 'generated/live/test_case_2_p_v_3_a_2/7_widevine_playready_fairplay.xml';
const CERTIFICATE = resolve(__dirname, '../fixtures/certificates/license-server-rsa2048.pem');
const KMS_TOKEN = /^kms1\.([A-Za-z0-9_-]{16})\.[A-Za-z0-9_-]{43}$/;

interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** `label (shown once, store it now): value` from the CLI's human output. */
function shownOnce(stdout: string, label: string): string {
  const escaped = label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const match = new RegExp(`^${escaped} \\(shown once, store it now\\): (\\S+)$`, 'm').exec(stdout);
  if (!match?.[1]) throw new Error(`no "${label}" line in: ${stdout}`);
  return match[1];
}

const parseJson = <T>(run: CliRun): T => JSON.parse(run.stdout) as T;

describeWithVectors('cpix-kms CLI: a full site lifecycle over the admin API', () => {
  const adminToken = randomBytes(32).toString('base64url');
  const runs: CliRun[] = [];
  let cwd: string;
  let service: ServiceProcess;
  let url: string;

  /** Runs the CLI with a bare environment: the admin token only where `env` puts it. */
  const cli = (args: readonly string[], env: Record<string, string> = { CPIX_KMS_ADMIN_TOKEN: adminToken }): Promise<CliRun> =>
    new Promise((done) => {
      execFile(process.execPath, [CLI, ...args], { env: bareEnv({ CPIX_KMS_URL: url, ...env }), timeout: 15_000 }, (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        const run = { code, stdout, stderr };
        runs.push(run);
        done(run);
      });
    });

  /** A CLI run that must succeed: exit 0, nothing on stderr. */
  const ok = async (args: readonly string[]): Promise<CliRun> => {
    const run = await cli(args);
    expect({ args, code: run.code, stderr: run.stderr }).toEqual({ args, code: 0, stderr: '' });
    return run;
  };

  const speke = (token: string, contentId: string) =>
    fetch(`${url}/speke/v2.0/copyProtection`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'X-Speke-Version': '2.0', 'Content-Type': 'application/xml' },
      body: withContentId(readAwslabs(LIVE_V2), contentId),
    });

  /** `kid → base64 key` of a SPEKE response (plain keys: no DeliveryData in the request). */
  const keysOf = (xml: string): Map<string, string> =>
    new Map(
      contentKeys(parseCpixDocument(xml)).map((key) => {
        if (key.data?.kind !== 'plain') throw new Error(`ContentKey ${key.kid} has no PlainValue`);
        return [key.kid.toLowerCase(), key.data.value.toString('base64')];
      }),
    );

  beforeAll(async () => {
    requireBuiltService();
    cwd = mkdtempSync(join(tmpdir(), 'cpix-kms-cli-'));
    service = spawnService(
      cwd,
      productionEnv(cwd, adminToken, {
        // Refusals on purpose (wrong admin token, revoked KMS token) must not lock the test out.
        AUTH_FAILURES_PER_ADDRESS: '1000',
        AUTH_FAILURES_PER_CREDENTIAL: '1000',
      }),
    );
    url = await service.serving();
  });

  afterAll(async () => {
    if (service.child.exitCode === null) {
      service.child.kill('SIGTERM');
      await service.exit();
    }
    rmSync(cwd, { recursive: true, force: true });
  });

  it('help and --help print usage on stdout with exit 0, and say why there is no --admin-token flag', async () => {
    for (const args of [['help'], ['--help']]) {
      const run = await cli(args, {});
      expect(run.code).toBe(0);
      expect(run.stderr).toBe('');
      expect(run.stdout).toContain('Usage: cpix-kms <command>');
      expect(run.stdout).toContain('cpix-kms tokens revoke <siteId> <tokenId>');
      expect(run.stdout).toMatch(/no --admin-token option on purpose: command lines are\s+visible to other users \(ps/);
    }
  });

  it('runs as `npx cpix-kms` in the project (the package bin, built by npm ci), with no download', async () => {
    const { stdout } = await promisify(execFile)('npx', ['--no-install', 'cpix-kms', '--help'], { cwd: resolve(__dirname, '../..'), env: bareEnv() });
    expect(stdout).toContain('Usage: cpix-kms <command>');
  });

  it('an unknown command exits 2 with the usage on stderr and nothing on stdout', async () => {
    const run = await cli(['frobnicate', 'sites']);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^cpix-kms: unknown command "frobnicate sites"\n/);
    expect(run.stderr).toContain('Usage: cpix-kms <command>');
  });

  it('refuses --admin-token on the command line without echoing it, and needs a token from env or file', async () => {
    for (const args of [['sites', 'list', `--admin-token=${adminToken}`], ['sites', 'list', '--admin-token', adminToken]]) {
      const run = await cli(args, {});
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/there is no --admin-token option: command lines are visible to other users \(ps\)/);
    }
    const none = await cli(['sites', 'list'], {});
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^cpix-kms: no admin token: set CPIX_KMS_ADMIN_TOKEN or use --admin-token-file/);
  });

  it('a wrong admin token exits 1 with the service error on stderr; --admin-token-file is read', async () => {
    const wrong = await cli(['sites', 'list'], { CPIX_KMS_ADMIN_TOKEN: randomBytes(32).toString('base64url') });
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toBe('');
    expect(wrong.stderr).toMatch(/^cpix-kms: 401 ERR_AUTH_REQUIRED: .+\n$/);

    const tokenFile = join(cwd, 'admin-token');
    writeFileSync(tokenFile, `${adminToken}\n`, { mode: 0o600 });
    const fromFile = await cli(['sites', 'list', '--admin-token-file', tokenFile], {});
    expect(fromFile).toEqual({ code: 0, stdout: 'no sites\n', stderr: '' });
  });

  // State carried through the lifecycle, in test order.
  let siteId: string;
  let initialToken: string;
  let secondToken: string;
  let secondTokenId: string;
  let contentId: string;
  let issuedKeys: Map<string, string>;
  let licenseServerId: string;

  it('sites create prints the site, its first KMS token and its access key once, on stdout', async () => {
    const run = await ok(['sites', 'create', '--name', 'CLI lifecycle', '--option', 'signSpekeResponses=false']);
    siteId = /^created site ([A-Z0-9]{4}) \(CLI lifecycle\), site key v1$/m.exec(run.stdout)?.[1] ?? '';
    expect(siteId).toMatch(/^[A-Z0-9]{4}$/);
    initialToken = shownOnce(run.stdout, 'KMS token');
    expect(initialToken).toMatch(KMS_TOKEN);
    expect(shownOnce(run.stdout, 'access key')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(run.stdout).toContain(`token ID: ${KMS_TOKEN.exec(initialToken)?.[1]} (initial)`);
  });

  it('sites list and sites show, as lines and as --json', async () => {
    const lines = await ok(['sites', 'list']);
    expect(lines.stdout.split('\n')[0]).toMatch(/^ID\s+STATUS\s+SITE KEY\s+CREATED\s+NAME$/);
    expect(lines.stdout).toMatch(new RegExp(`^${siteId}\\s+active\\s+v1\\s+\\S+Z\\s+CLI lifecycle$`, 'm'));

    const listed = parseJson<{ sites: { id: string; status: string; siteKeyVersion: number }[] }>(await ok(['sites', 'list', '--json']));
    expect(listed.sites).toEqual([expect.objectContaining({ id: siteId, status: 'active', siteKeyVersion: 1 })]);

    const shown = await ok(['sites', 'show', siteId]);
    expect(shown.stdout).toMatch(/^status: +active$/m);
    expect(shown.stdout).toMatch(/^ {2}signSpekeResponses: false$/m);
    const json = parseJson<{ id: string; name: string; options: { signCpixApiResponses: boolean } }>(await ok(['sites', 'show', siteId, '--json']));
    expect(json).toMatchObject({ id: siteId, name: 'CLI lifecycle', options: { signCpixApiResponses: true } });
  });

  it('tokens issue prints a second token once; tokens list shows both by ID and never a token', async () => {
    const run = await ok(['tokens', 'issue', siteId, '--name', 'second packager']);
    secondToken = shownOnce(run.stdout, 'KMS token');
    secondTokenId = KMS_TOKEN.exec(secondToken)?.[1] ?? '';
    expect(run.stdout).toContain(`issued token ${secondTokenId} (second packager) for site ${siteId}`);

    const initialId = KMS_TOKEN.exec(initialToken)?.[1] ?? '';
    const listed = parseJson<{ tokens: { id: string; name: string; revokedAt?: string }[] }>(await ok(['tokens', 'list', siteId, '--json']));
    expect(listed.tokens.map(({ id, name, revokedAt }) => ({ id, name, revokedAt }))).toEqual([
      { id: initialId, name: 'initial', revokedAt: undefined },
      { id: secondTokenId, name: 'second packager', revokedAt: undefined },
    ]);
    const lines = await ok(['tokens', 'list', siteId]);
    expect(lines.stdout).toMatch(new RegExp(`^${secondTokenId}\\s+active\\s+\\S+Z\\s+-\\s+second packager$`, 'm'));
    for (const output of [lines.stdout, JSON.stringify(listed)]) {
      expect(output).not.toContain(secondToken.split('.')[2]);
      expect(output).not.toContain(initialToken.split('.')[2]);
    }
  });

  it('keys list shows the KIDs a SPEKE v2 request with the CLI-issued token created, and no key bytes', async () => {
    contentId = freshContentId('cli');
    const res = await speke(secondToken, contentId);
    expect(res.status).toBe(200);
    issuedKeys = keysOf(await res.text());
    expect(issuedKeys.size).toBe(5);

    const json = await ok(['keys', 'list', siteId, contentId, '--json']);
    const listed = parseJson<{ siteId: string; contentId: string; keys: { kid: string; createdAt: string }[] }>(json);
    expect({ siteId: listed.siteId, contentId: listed.contentId }).toEqual({ siteId, contentId });
    expect(listed.keys.map((k) => k.kid).sort()).toEqual([...issuedKeys.keys()].sort());

    const lines = await ok(['keys', 'list', siteId, contentId]);
    expect(lines.stdout.split('\n')[0]).toBe(`site ${siteId}, content "${contentId}": 5 keys`);
    for (const kid of issuedKeys.keys()) expect(lines.stdout).toMatch(new RegExp(`^${kid}\\s+[A-Z_]+\\s+0\\s+cbcs\\s+\\S+Z\\s+-$`, 'm'));
    for (const key of issuedKeys.values()) {
      for (const output of [json.stdout, lines.stdout]) {
        expect(output).not.toContain(key);
        expect(output).not.toContain(Buffer.from(key, 'base64').toString('hex'));
      }
    }

    // Page by page: a cursor line to go on, and --all following every page.
    const page = await ok(['keys', 'list', siteId, contentId, '--limit', '2']);
    expect(page.stdout.split('\n')[0]).toBe(`site ${siteId}, content "${contentId}": 2 keys`);
    const after = new RegExp(`^more: cpix-kms keys list ${siteId} --after (\\S+) -- "${contentId}"$`, 'm').exec(page.stdout)?.[1] ?? '';
    expect(after).not.toBe('');
    const rest = parseJson<{ keys: { kid: string }[]; next?: string }>(await ok(['keys', 'list', siteId, '--after', after, '--limit', '3', '--json', '--', contentId]));
    expect(rest.keys.map((k) => k.kid)).toEqual(listed.keys.slice(2).map((k) => k.kid));
    const followed = parseJson<typeof listed>(await ok(['keys', 'list', siteId, contentId, '--limit', '2', '--all', '--json']));
    expect(followed).toEqual(listed);

    const unknown = await cli(['keys', 'list', siteId, 'never-requested']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^cpix-kms: 404 ERR_NOT_FOUND: no keys for this content/);
  });

  it('license-servers register sends the PEM file and prints the credential once; list shows its thumbprint', async () => {
    const thumbprint = createHash('sha256').update(new X509Certificate(readFileSync(CERTIFICATE)).raw).digest('hex');
    const run = await ok(['license-servers', 'register', siteId, '--name', 'drm.example', '--certificate', CERTIFICATE]);
    licenseServerId = new RegExp(`^registered license server (\\S{16}) \\(drm\\.example\\) for site ${siteId}$`, 'm').exec(run.stdout)?.[1] ?? '';
    expect(licenseServerId).toHaveLength(16);
    expect(run.stdout).toContain(`certificate SHA-256: ${thumbprint}`);
    const credential = shownOnce(run.stdout, 'license-server credential');
    expect(credential).toMatch(new RegExp(`^lsc1\\.${licenseServerId}\\.[A-Za-z0-9_-]{43}$`));

    const listed = await ok(['license-servers', 'list', siteId, '--json']);
    expect(parseJson<{ licenseServers: unknown[] }>(listed).licenseServers).toEqual([
      expect.objectContaining({ id: licenseServerId, name: 'drm.example', certificateThumbprint: thumbprint }),
    ]);
    const lines = await ok(['license-servers', 'list', siteId]);
    expect(lines.stdout).toMatch(new RegExp(`^${licenseServerId}\\s+active\\s+${thumbprint}\\s`, 'm'));
    for (const output of [listed.stdout, lines.stdout]) expect(output).not.toContain(credential.split('.')[2]);
  });

  it('site-key rotate makes v2 current and re-wraps the content keys, which still come back unchanged', async () => {
    const run = await ok(['site-key', 'rotate', siteId]);
    expect(run.stdout).toBe(`site ${siteId}: site key v2 is current; 5 content keys re-wrapped\n`);
    expect(parseJson<{ siteKeyVersion: number }>(await ok(['sites', 'show', siteId, '--json'])).siteKeyVersion).toBe(2);

    const again = await speke(initialToken, contentId);
    expect(again.status).toBe(200);
    expect(keysOf(await again.text())).toEqual(issuedKeys);
  });

  it('sites disable refuses the site (403) until sites enable', async () => {
    expect((await ok(['sites', 'disable', siteId])).stdout).toBe(`site ${siteId} is now disabled\n`);
    expect((await speke(initialToken, contentId)).status).toBe(403);
    expect((await ok(['sites', 'enable', siteId])).stdout).toBe(`site ${siteId} is now active\n`);
    expect((await speke(initialToken, contentId)).status).toBe(200);
  });

  it('tokens revoke refuses the second token from then on (401); the first still works', async () => {
    const refused = await cli(['tokens', 'revoke', siteId, secondToken]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/pass the token ID .*not the whole credential/);
    expect((await speke(secondToken, contentId)).status).toBe(200);

    expect((await ok(['tokens', 'revoke', siteId, secondTokenId])).stdout).toBe(`revoked token ${secondTokenId} of site ${siteId}\n`);
    expect((await speke(secondToken, contentId)).status).toBe(401);
    expect((await speke(initialToken, contentId)).status).toBe(200);
    const listed = parseJson<{ tokens: { id: string; revokedAt?: string }[] }>(await ok(['tokens', 'list', siteId, '--json']));
    expect(listed.tokens.find((t) => t.id === secondTokenId)?.revokedAt).toEqual(expect.stringMatching(/Z$/));
  });

  it('audit list reads the trail newest first, as lines and --json, page by page and with --all', async () => {
    interface AuditEntry {
      credentialId: string;
      contentId: string;
      kids: string[];
      keysCreated: number;
      dialect: string;
    }
    const all = parseJson<{ records: AuditEntry[]; next?: string }>(await ok(['audit', 'list', siteId, '--json']));
    // Five answered requests carried keys: the first (second token), after rotation, after enable,
    // the second token before its revocation, the first token after it. Refused ones leave no record.
    expect(all.records).toHaveLength(5);
    expect(all.next).toBeUndefined();
    const first = all.records[all.records.length - 1];
    expect(first).toMatchObject({ credentialId: secondTokenId, contentId, keysCreated: 5, dialect: 'speke-v2.0' });
    expect([...(first?.kids ?? [])].sort()).toEqual([...issuedKeys.keys()].sort());
    expect(all.records.slice(0, -1).every((r) => r.keysCreated === 0)).toBe(true);

    const page = await ok(['audit', 'list', siteId, '--limit', '2']);
    const next = new RegExp(`^more: cpix-kms audit list ${siteId} --before (\\S+)$`, 'm').exec(page.stdout)?.[1] ?? '';
    expect(next).not.toBe('');
    expect(page.stdout.match(/ speke-v2\.0 /g)).toHaveLength(2);
    expect(page.stdout).toContain(`content "${contentId}"`);
    for (const kid of issuedKeys.keys()) expect(page.stdout).toContain(kid);
    const rest = parseJson<{ records: AuditEntry[] }>(await ok(['audit', 'list', siteId, '--limit', '2', '--before', next, '--json']));
    expect(rest.records).toEqual(all.records.slice(2, 4));

    const followed = parseJson<{ records: AuditEntry[]; next?: string }>(await ok(['audit', 'list', siteId, '--limit', '2', '--all', '--json']));
    expect(followed).toEqual({ records: all.records });
  });

  it('licence-token-keys create (HS256 secret once; ES256 from a JWK file), list, revoke: the secret signs a licence token until revoked', async () => {
    const created = await ok(['licence-token-keys', 'create', siteId, '--alg', 'HS256']);
    const kid = new RegExp(`^registered licence-token key ([A-Za-z0-9_-]{16}) \\(HS256\\) for site ${siteId}$`, 'm').exec(created.stdout)?.[1] ?? '';
    expect(kid).toHaveLength(16);
    const secret = shownOnce(created.stdout, 'HS256 secret (base64url)');
    expect(Buffer.from(secret, 'base64url')).toHaveLength(32);

    const jwkFile = join(cwd, 'licence-key.jwk.json');
    writeFileSync(jwkFile, JSON.stringify(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' })));
    const es = parseJson<{ kid: string; alg: string; secret?: string }>(await ok(['licence-token-keys', 'create', siteId, '--alg', 'ES256', '--jwk', jwkFile, '--json']));
    expect(es).toMatchObject({ alg: 'ES256' });
    expect(es.secret).toBeUndefined();
    const noJwk = await cli(['licence-token-keys', 'create', siteId, '--alg', 'ES256']);
    expect({ code: noJwk.code, stderr: noJwk.stderr }).toEqual({ code: 2, stderr: expect.stringMatching(/--jwk <file> is required for ES256/) });

    const lines = await ok(['licence-token-keys', 'list', siteId]);
    expect(lines.stdout).toMatch(new RegExp(`^${kid}\\s+HS256\\s+active\\s`, 'm'));
    expect(lines.stdout).not.toContain(secret);

    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ sub: 'cli-viewer', cid: contentId }).setProtectedHeader({ alg: 'HS256', kid }).setIssuer(siteId).setIssuedAt(now).setExpirationTime(now + 300).sign(Buffer.from(secret, 'base64url'));
    const [someKid] = [...issuedKeys.keys()];
    const licence = () =>
      fetch(`${url}/clearkey/v1/license`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ kids: [Buffer.from((someKid ?? '').replace(/-/g, ''), 'hex').toString('base64url')], type: 'temporary' }),
      });
    const granted = await licence();
    expect(granted.status).toBe(200);
    expect(((await granted.json()) as { keys: { k: string }[] }).keys[0]?.k).toBe(Buffer.from(issuedKeys.get(someKid ?? '') ?? '', 'base64').toString('base64url'));

    expect((await ok(['licence-token-keys', 'revoke', siteId, kid])).stdout).toBe(`revoked licence-token key ${kid} of site ${siteId}\n`);
    expect((await licence()).status).toBe(401);
    const listed = parseJson<{ licenceTokenKeys: { kid: string; revokedAt?: string }[] }>(await ok(['licence-token-keys', 'list', siteId, '--json']));
    expect(listed.licenceTokenKeys.find((k) => k.kid === kid)?.revokedAt).toEqual(expect.stringMatching(/Z$/));
  });

  it('keys import, policies, contents policy, contents revoke and revocations list drive the key lifecycle', async () => {
    // Key bytes come from a file, never from the command line.
    const cek = randomBytes(32);
    const kid = '0e8b3b43-7c64-4e2e-9f1a-3b0b5d8c2a11';
    const file = join(cwd, 'keys.json');
    writeFileSync(file, JSON.stringify({ keys: [{ kid, key: cek.toString('base64'), trackType: 'HD' }] }));
    const imported = await ok(['keys', 'import', siteId, 'manual/movie', '--file', file]);
    expect(imported.stdout).toBe(`site ${siteId}, content "manual/movie": 1 keys imported or already there\n  ${kid}  HD  -\n`);
    expect((await ok(['keys', 'import', siteId, 'manual/movie', '--file', file, '--json'])).stdout).toContain(kid);
    writeFileSync(file, JSON.stringify([{ kid, key: randomBytes(16).toString('base64') }]));
    const conflict = await cli(['keys', 'import', siteId, 'manual/movie', '--file', file]);
    expect({ code: conflict.code, stderr: conflict.stderr }).toEqual({ code: 1, stderr: expect.stringMatching(/^cpix-kms: 409 ERR_KEY_CONFLICT/) });

    const created = await ok([
      'policies', 'create', siteId, '--name', 'premium', '--security-level', 'HIGH', '--persistent-license', 'false', '--license-duration', '86400', '--rotation-interval', '0',
    ]);
    expect(created.stdout).toMatch(/^name:\s+premium$/m);
    expect((await ok(['policies', 'update', siteId, 'premium', '--persistent-license', 'true'])).stdout).toMatch(/^persistent licence:\s+true$/m);
    expect((await ok(['policies', 'list', siteId])).stdout).toMatch(/^premium\s+HIGH\s+true\s+86400\s+0$/m);
    expect((await ok(['policies', 'rules', siteId, '--rule', 'manual/=premium'])).stdout).toMatch(/^"manual\/"\s+premium$/m);
    expect((await ok(['contents', 'policy', siteId, 'manual/movie'])).stdout).toMatch(/^name:\s+premium$/m);
    expect((await ok(['contents', 'policy', siteId, 'other'])).stdout).toBe('content "other" is under no policy\n');
    const inUse = await cli(['policies', 'delete', siteId, 'premium']);
    expect(inUse.code).toBe(1);
    expect(inUse.stderr).toMatch(/^cpix-kms: 409 ERR_IN_USE/);

    const revoked = await ok(['contents', 'revoke', siteId, contentId, '--reason', 'leaked on a forum']);
    expect(revoked.stdout).toMatch(new RegExp(`^\\S+Z  content "${contentId}"  whole content  by admin  reason "leaked on a forum"$`, 'm'));
    expect((await speke(initialToken, contentId)).status).toBe(410);
    expect((await ok(['revocations', 'list', siteId])).stdout).toContain('reason "leaked on a forum"');
    expect((await ok(['keys', 'list', siteId, contentId])).stdout).toMatch(/^revoked \S+Z: "leaked on a forum"$/m);
    for (const run of runs) expect(run.stdout + run.stderr).not.toContain(cek.toString('base64'));
  });

  it('usage errors exit 2 before anything is sent: wrong arity, an option the command does not take', async () => {
    const arity = await cli(['tokens', 'revoke', siteId]);
    expect(arity).toEqual({ code: 2, stdout: '', stderr: 'cpix-kms: usage: cpix-kms tokens revoke <siteId> <tokenId>\nRun "cpix-kms help" for usage.\n' });
    const option = await cli(['sites', 'list', '--certificate', CERTIFICATE]);
    expect(option.code).toBe(2);
    expect(option.stderr).toMatch(/^cpix-kms: sites list does not take --certificate/);
    const missing = await cli(['sites', 'create']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^cpix-kms: --name is required/);
  });

  it('the admin token appears in no CLI output, and in nothing the service wrote', () => {
    expect(runs.length).toBeGreaterThan(30);
    const leaks = runs.filter((run) => run.stdout.includes(adminToken) || run.stderr.includes(adminToken));
    expect(leaks).toEqual([]);
    expect(service.stdout() + service.stderr()).not.toContain(adminToken);
  });
});
