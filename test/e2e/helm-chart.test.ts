import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SETTINGS, type Setting } from '../../src/config/settings';
import { createFakeKms, type FakeKms } from '../support/fake-kms';
import { freePort, sendRaw, startRedisServer, stopAllRedisServers } from '../support/redis-server';
import { createSiteOverHttp, requireBuiltService, spawnService, type ServiceProcess } from '../support/service-process';
import { testExportSigningIdentity, testSigningIdentity } from '../support/services';
import { asArray, asObject, CHART, describeWithHelm, helm, helmResult, parseRendered, yamlToJson, type JsonObject } from './helm';

/**
 * The Helm chart against the service it deploys. Every `helm/cpix-kms/ci/*.yaml` example is rendered
 * by the real `helm` binary; the rendered ConfigMap, the container's `env` and the Secret items the
 * Deployment mounts become the environment and files of the built service, which must then start in
 * production mode and answer /readyz with 200 — so a chart default or example that would crash-loop
 * (a variable the service requires but the chart does not set, a Secret key mounted under the wrong
 * file name) fails here. Only what a cluster provides is substituted: the listen address and port,
 * the mount points (/data, the secrets folder) as local folders, the Redis server, and for AWS KMS the
 * endpoint and credentials (IRSA in the cluster, a local KMS-protocol fake here).
 *
 * helm comes from HELM_BIN or PATH (./helm.ts). The check that the chart sets every variable the
 * service reads needs no helm.
 */

/** `helm template` of the chart with one values file: its manifests, as JSON. */
function render(valuesFile: string): JsonObject[] {
  return parseRendered(helm(['template', 'cpix-kms', CHART, '--namespace', 'cpix-kms', '-f', valuesFile])).map((doc) => doc.manifest);
}

function only(manifests: readonly JsonObject[], kind: string): JsonObject {
  const found = manifests.filter((manifest) => manifest.kind === kind);
  expect(found).toHaveLength(1);
  return found[0] as JsonObject;
}

const EXAMPLES = readdirSync(join(CHART, 'ci'))
  .filter((file) => file.endsWith('.yaml'))
  .sort();

describe('the chart sets what the service reads', () => {
  /** Every variable the service reads: each setting of the schema, and `<NAME>_FILE` of those that may come from a file. */
  function serviceVariables(): Set<string> {
    return new Set(Object.entries(SETTINGS).flatMap(([name, setting]: [string, Setting]) => (setting.file === true ? [name, `${name}_FILE`] : [name])));
  }

  /** Variable names the templates can set: ConfigMap data keys and container env names. */
  function chartVariables(): Set<string> {
    const configMap = readFileSync(join(CHART, 'templates/configmap.yaml'), 'utf8');
    const deployment = readFileSync(join(CHART, 'templates/deployment.yaml'), 'utf8');
    const data = configMap.slice(configMap.indexOf('\ndata:'));
    return new Set([
      ...[...data.matchAll(/^ {2}([A-Z][A-Z0-9_]*):/gm)].map((m) => m[1] as string),
      ...[...deployment.matchAll(/- name: ([A-Z][A-Z0-9_]*)\b/g)].map((m) => m[1] as string),
    ]);
  }

  /**
   * Read by the service but deliberately not set by the chart: the inline forms of secrets (the chart
   * passes every secret as a file), and the SDK's fallback region name (the chart sets AWS_REGION).
   */
  const NOT_IN_CHART = new Set(['ADMIN_TOKEN', 'MASTER_KEY', 'METRICS_TOKEN', 'AWS_DEFAULT_REGION']);

  it('finds the variables at all', () => {
    const variables = serviceVariables();
    expect(variables.size).toBeGreaterThan(30);
    for (const name of ['NODE_ENV', 'WORKERS', 'EXPORT_SIGNING_KEY_FILE', 'MAX_KEYS_PER_REQUEST', 'ADMIN_TOKEN_FILE']) expect(variables).toContain(name);
  });

  it('sets every variable the service reads, except the inline forms of secrets', () => {
    const chart = chartVariables();
    const missing = [...serviceVariables()].filter((name) => !chart.has(name) && !NOT_IN_CHART.has(name)).sort();
    expect(missing).toEqual([]);
  });

  it('sets no variable the service does not read', () => {
    const service = serviceVariables();
    expect([...chartVariables()].filter((name) => !service.has(name)).sort()).toEqual([]);
  });
});

describeWithHelm('the chart rendered by helm starts the service', () => {
  const dirs: string[] = [];
  const services: ServiceProcess[] = [];
  let kms: FakeKms | undefined;

  beforeAll(() => requireBuiltService());
  afterEach(() => {
    for (const service of services.splice(0)) if (service.child.exitCode === null) service.child.kill('SIGKILL');
  });
  afterAll(async () => {
    await kms?.stop();
    await stopAllRedisServers();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('has examples to check', () => {
    expect(EXAMPLES.length).toBeGreaterThanOrEqual(3);
  });

  it.each(EXAMPLES)('lints with %s', (example) => {
    const out = helm(['lint', CHART, '--strict', '-f', join(CHART, 'ci', example)]);
    expect(out).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  it('refuses the default values without a Secret', () => {
    const result = helmResult(['template', 'cpix-kms', CHART]);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/existingSecret is required/);
  });

  it.each(EXAMPLES)('%s renders to an environment the service starts with', async (example) => {
    const dir = mkdtempSync(join(tmpdir(), 'cpix-kms-chart-'));
    dirs.push(dir);
    const [defaults, overrides] = yamlToJson([
      readFileSync(join(CHART, 'values.yaml'), 'utf8'),
      readFileSync(join(CHART, 'ci', example), 'utf8'),
    ]) as [JsonObject, JsonObject];
    const secretKeys = { ...asObject(defaults.secretKeys), ...asObject(overrides.secretKeys) } as Record<string, string>;

    const manifests = render(join(CHART, 'ci', example));
    const configMap = only(manifests, 'ConfigMap');
    const deployment = only(manifests, 'Deployment');
    const pod = asObject(asObject(asObject(deployment.spec).template).spec);
    const container = asObject(asArray(pod.containers)[0]);
    expect(asObject(asObject(asArray(container.envFrom)[0]).configMapRef).name).toBe(asObject(configMap.metadata).name);

    // The cluster side: a Redis (appendonly, fsync always, one replica in sync: the production example
    // requires durability and WAITs for a replica), a KMS, the Secret the operator created.
    const data = asObject(configMap.data) as Record<string, string>;
    let storeUrl = 'redis://127.0.0.1:1/0'; // unused unless the example mounts it
    if (data.STORE_FILE !== undefined) {
      const master = await startRedisServer({ appendonly: true, appendfsync: 'always' });
      await startRedisServer({ args: ['--replicaof', master.host, String(master.port)] });
      for (let i = 0; i < 100 && !/slave0:.*state=online/.test(await sendRaw(master.port, ['INFO', 'replication'])); i += 1) {
        await new Promise((done) => setTimeout(done, 50));
      }
      storeUrl = `redis://${master.host}:${master.port}/0`;
    }
    const adminToken = randomBytes(32).toString('hex');
    const metricsToken = randomBytes(32).toString('hex');
    const secret: Record<string, string> = {
      [secretKeys.adminToken as string]: adminToken,
      [secretKeys.masterKey as string]: randomBytes(32).toString('base64'),
      [secretKeys.storeUrl as string]: storeUrl,
      [secretKeys.signingKey as string]: testSigningIdentity().privateKeyPem,
      [secretKeys.signingCert as string]: testSigningIdentity().certificatePem,
      [secretKeys.exportSigningKey as string]: testExportSigningIdentity().privateKeyPem,
      [secretKeys.exportSigningCert as string]: testExportSigningIdentity().certificatePem,
      ...(secretKeys.metricsToken ? { [secretKeys.metricsToken]: metricsToken } : {}),
    };

    // The Deployment's volumes, as the kubelet would lay them out: each Secret item as a file.
    const mounts = new Map<string, string>();
    for (const mount of asArray(container.volumeMounts).map(asObject)) {
      const volume = asArray(pod.volumes).map(asObject).find((v) => v.name === mount.name);
      const local = join(dir, String(mount.name));
      mkdirSync(local, { recursive: true });
      mounts.set(String(mount.mountPath), local);
      const secretVolume = asObject(volume?.secret);
      for (const item of asArray(secretVolume.items).map(asObject)) {
        const value = secret[String(item.key)];
        if (value === undefined) throw new Error(`${example}: the Deployment mounts Secret key "${String(item.key)}", which the Secret the README describes does not hold`);
        writeFileSync(join(local, String(item.path)), value, { mode: 0o400 });
      }
      if (Object.keys(secretVolume).length > 0) chmodSync(local, 0o500);
    }
    const localPath = (value: string): string => {
      for (const [mountPath, local] of mounts) {
        if (value === mountPath) return local;
        value = value.split(`${mountPath}/`).join(`${local}/`);
      }
      return value;
    };

    const env: Record<string, string> = {};
    for (const [name, value] of Object.entries(data)) env[name] = localPath(value);
    for (const entry of asArray(container.env).map(asObject)) {
      if (typeof entry.value !== 'string') throw new Error(`${example}: env ${String(entry.name)} is not a plain value`);
      env[String(entry.name)] = localPath(entry.value);
    }
    expect(env.NODE_ENV).toBe('production');
    expect(env.STORE ?? env.STORE_FILE).toBeDefined();
    // What the pod's network gives it: its own address and port (here a free port on loopback).
    const port = await freePort();
    Object.assign(env, { HOST: '127.0.0.1', PORT: String(port) });
    if (env.MASTER_KEY_PROVIDER === 'aws-kms') {
      kms ??= createFakeKms({ region: env.AWS_REGION });
      await kms.start();
      if (env.AWS_KMS_KEY_ID?.startsWith('alias/')) kms.createKey(env.AWS_KMS_KEY_ID);
      Object.assign(env, {
        AWS_KMS_ENDPOINT: kms.endpoint,
        AWS_ACCESS_KEY_ID: kms.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: kms.credentials.secretAccessKey,
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_CONFIG_FILE: join(dir, 'no-aws-config'),
        AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-aws-credentials'),
      });
    }

    const service = spawnService(dir, { PATH: process.env.PATH, HOME: process.env.HOME, ...env });
    services.push(service);
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 20_000;
    let ready = 0;
    while (ready !== 200) {
      if (service.child.exitCode !== null) throw new Error(`${example}: the service exited ${service.child.exitCode}: ${service.stderr()}${service.stdout()}`);
      if (Date.now() > deadline) throw new Error(`${example}: /readyz not 200 within 20 s: ${service.stderr()}${service.stdout()}`);
      ready = await fetch(`${url}/readyz`).then(
        (res) => res.status,
        () => 0,
      );
      if (ready !== 200) await new Promise((done) => setTimeout(done, 100));
    }

    // The mounted admin token works, and a key request is answered, signed with the mounted identity.
    const { token } = await createSiteOverHttp(url, adminToken, `chart ${example}`);
    const keys = await fetch(`${url}/v2/cpix/pallycon/getKey/${token}`, {
      method: 'POST',
      headers: { 'content-type': 'application/xml' },
      body:
        '<cpix:CPIX id="chart-test" xmlns:cpix="urn:dashif:org:cpix" xmlns:pskc="urn:ietf:params:xml:ns:keyprov:pskc">' +
        '<cpix:ContentKeyList><cpix:ContentKey kid="681e5b39-49f2-4dfa-b744-86573c22e6fb"/></cpix:ContentKeyList>' +
        '<cpix:DRMSystemList><cpix:DRMSystem kid="681e5b39-49f2-4dfa-b744-86573c22e6fb" systemId="EDEF8BA9-79D6-4ACE-A3C8-27DCD51D21ED"/></cpix:DRMSystemList>' +
        '</cpix:CPIX>',
    });
    const answer = await keys.text();
    expect(keys.status).toBe(200);
    expect(answer).toContain('SignatureValue>');
    if (env.METRICS_TOKEN_FILE !== undefined) {
      expect((await fetch(`${url}/metrics`)).status).toBe(401);
      expect((await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } })).status).toBe(200);
    }

    service.child.kill('SIGTERM');
    expect(await service.exit()).toBe(0);
  }, 60_000);
});
