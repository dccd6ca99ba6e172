/**
 * Secrets hygiene over a full run (README "Security": someone who can read the logs). The built
 * service runs at LOG_LEVEL=trace and is driven through every route family — admin API, SPEKE v1,
 * v2.0 and v2.1 with the token as Bearer, X-KMS-Token and ?enc-token=, the PallyCon CPIX API with the
 * token in the path, a legacy PallyCon token, encrypted key delivery, the license export, site-key
 * rotation, the audit trail — and through refusals and outages. Then every line it wrote on stdout and
 * stderr, and every error body it sent, is searched for every secret the run produced or used, in
 * every encoding `encodingsOf` knows: credentials and their secret parts, the admin token, the master
 * key, the AWS secret key, the signing key, content keys and IVs, document and MAC keys, site keys
 * (unwrapped from the store) and every wrapped blob and secret hash the store holds.
 */

import { createPrivateKey, randomBytes, randomUUID, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { parseStoreUrl } from '../../src/config/store-url';
import { createAwsKmsMasterKey } from '../../src/crypto/kms/aws-kms-master-key';
import { createLocalMasterKey } from '../../src/crypto/kms/local-master-key';
import type { MasterKeyProvider } from '../../src/crypto/kms/master-key';
import { cryptoRandom } from '../../src/crypto/random';
import { decryptDocumentKeys, unwrapKeyRsaOaep, type RecipientKeyPair } from '../support/cpix-decrypt';
import { parseCpixDocument } from '../../src/cpix/parse';
import { DOCUMENT_KEY_LENGTH_BYTES, MAC_KEY_LENGTH_BYTES } from '../../src/cpix/constants';
import { createSelfSignedIdentityPem, signingConfigFromPem } from '../../src/dev-signing';
import { closeRedisClient } from '../../src/store/redis/client';
import { openRedisStore } from '../../src/store/redis/redis-store';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store';
import type { Store } from '../../src/store/store';
import { createFakeKms, type FakeKms } from '../support/fake-kms';
import { findSecretLeaks, type NamedSecret } from '../support/log-capture';
import {
  readCpix,
} from '../support/pallycon-cpix';
import { buildDoveRunnerRequest } from '../support/doverunner-clients';
import { keysWithPrefix, openAdminClient, startRedisServer, stopAllRedisServers, type RedisServer } from '../support/redis-server';
import { bareEnv, requireBuiltService, signingEnv, spawnService, type ServiceProcess } from '../support/service-process';
import { allSiteRecords, buildServices, testCertificate } from '../support/services';
import { buildSpekeV2Request } from '../support/speke-request';

const NS = 'xmlns:cpix="urn:dashif:org:cpix" xmlns:pskc="urn:ietf:params:xml:ns:keyprov:pskc"';
const SPEKE_NS = 'xmlns:speke="urn:aws:amazon:com:speke"';
const WIDEVINE = 'edef8ba9-79d6-4ace-a3c8-27dcd51d21ed';
const PLAYREADY = '9a04f079-9840-4286-ab92-e65be0885f95';
const FAIRPLAY = '94ce86fb-07ff-4f43-adb8-93d2fa968ca2';
/** A SPEKE v1 request (CPIX 2.0 with speke: placeholders) for one key and three DRM systems. */
function spekeV1Request(contentId: string): string {
  const kid = randomUUID();
  return [
    `<?xml version="1.0" encoding="UTF-8"?><cpix:CPIX id="${contentId}" ${NS} ${SPEKE_NS}>`,
    `<cpix:ContentKeyList><cpix:ContentKey kid="${kid}"/></cpix:ContentKeyList><cpix:DRMSystemList>`,
    `<cpix:DRMSystem kid="${kid}" systemId="${WIDEVINE}"><cpix:PSSH/></cpix:DRMSystem>`,
    `<cpix:DRMSystem kid="${kid}" systemId="${PLAYREADY}"><speke:ProtectionHeader/><cpix:PSSH/></cpix:DRMSystem>`,
    `<cpix:DRMSystem kid="${kid}" systemId="${FAIRPLAY}"><cpix:URIExtXKey/><speke:KeyFormat/><speke:KeyFormatVersions/></cpix:DRMSystem>`,
    '</cpix:DRMSystemList></cpix:CPIX>',
  ].join('');
}

/** `xml` asking for its keys encrypted to `certificate` (a DeliveryDataList first, XSD order). */
function withDeliveryData(xml: string, certificate: X509Certificate): string {
  const list =
    '<cpix:DeliveryDataList><cpix:DeliveryData id="packager"><cpix:DeliveryKey><ds:X509Data><ds:X509Certificate>' +
    `${certificate.raw.toString('base64')}</ds:X509Certificate></ds:X509Data></cpix:DeliveryKey></cpix:DeliveryData></cpix:DeliveryDataList>`;
  return xml.replace(/(<cpix:CPIX )([^>]*>)/, `$1xmlns:ds="http://www.w3.org/2000/09/xmldsig#" $2${list}`);
}

interface HttpAnswer {
  readonly status: number;
  readonly text: string;
}
type Http = (method: string, path: string, headers?: Record<string, string>, body?: string) => Promise<HttpAnswer>;

/** Every call is counted (each must leave one access line) and every error body kept for the search. */
function httpClient(base: string, errorBodies: string[], calls: { count: number }): Http {
  return async (method, path, headers = {}, body) => {
    calls.count += 1;
    const res = await fetch(`${base}${path}`, { method, headers, ...(body !== undefined && { body }) });
    const text = await res.text();
    if (res.status >= 400) errorBodies.push(text);
    return { status: res.status, text };
  };
}

/** Compares statuses only: a mismatch must not print a body that may hold keys. */
function expectStatus(answer: HttpAnswer, status: number, what: string): HttpAnswer {
  expect({ what, status: answer.status }).toEqual({ what, status });
  return answer;
}

const bearer = (credential: string) => ({ Authorization: `Bearer ${credential}` });
const XML = { 'Content-Type': 'application/xml' };
const secretPart = (credential: string) => credential.split('.')[2] ?? credential;
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** Plain keys and IVs of a CPIX answer, read with xmldom (what a packager sees); at least one key. */
function plainSecretsOf(answer: HttpAnswer, what: string): NamedSecret[] {
  const keys = readCpix(answer.text).contentKeys;
  const found = keys.flatMap((k) => [
    ...(k.key ? [{ name: `${what}: content key ${k.kid}`, value: k.key }] : []),
    ...(k.explicitIV ? [{ name: `${what}: IV ${k.kid}`, value: k.explicitIV }] : []),
  ]);
  expect({ what, keys: found.filter((s) => s.name.includes('content key')).length > 0 }).toEqual({ what, keys: true });
  return found;
}

/** Keys of an answer encrypted to `recipient`, with the document and MAC keys that protect them. */
function encryptedSecretsOf(answer: HttpAnswer, what: string, recipient: RecipientKeyPair): NamedSecret[] {
  const doc = parseCpixDocument(answer.text);
  const delivery = doc.deliveryDataList?.items.find((item) => item.certificates.some((der) => der.equals(recipient.certificate.raw)));
  const wrappedMac = delivery?.macMethod?.encryptedKey;
  const wrappedDocument = delivery?.documentKeys[0]?.encryptedValue;
  if (wrappedMac === undefined || wrappedDocument === undefined) throw new Error(`${what}: no DeliveryData for our certificate`);
  const keys = (decryptDocumentKeys(doc, [recipient]).contentKeyList?.items ?? []).map((key) => {
    if (key.data?.kind !== 'plain') throw new Error(`${what}: key ${key.kid} did not decrypt`);
    return { name: `${what}: content key ${key.kid}`, value: key.data.value };
  });
  expect({ what, keys: keys.length > 0 }).toEqual({ what, keys: true });
  return [
    ...keys,
    { name: `${what}: document key`, value: unwrapKeyRsaOaep(recipient.privateKey, wrappedDocument, DOCUMENT_KEY_LENGTH_BYTES) },
    { name: `${what}: MAC key`, value: unwrapKeyRsaOaep(recipient.privateKey, wrappedMac, MAC_KEY_LENGTH_BYTES) },
  ];
}

/** The signing key as its private exponent and its first PEM line (a PEM pasted into a log). */
function signingKeySecrets(pem: string): NamedSecret[] {
  const d = createPrivateKey(pem).export({ format: 'jwk' }).d ?? '';
  const firstLine = /-----BEGIN PRIVATE KEY-----\n([^\n]+)\n/.exec(pem)?.[1] ?? '';
  return [
    { name: 'signing key: private exponent', value: Buffer.from(d, 'base64url') },
    { name: 'signing key: PEM line', value: firstLine },
  ];
}

interface Lifecycle {
  readonly secrets: NamedSecret[];
  readonly siteId: string;
  readonly token: string;
  readonly contentId: string;
}

/**
 * The whole life of a site over HTTP, successes and refusals. Returns every secret it saw; steps that
 * need the store's view (raw blobs before rotation) run through `beforeRotation`.
 */
async function driveLifecycle(http: Http, adminToken: string, recipient: RecipientKeyPair, beforeRotation: () => Promise<void>): Promise<Lifecycle> {
  const secrets: NamedSecret[] = [];
  const keep = (name: string, value: string | Buffer) => secrets.push({ name, value });
  const admin = { ...bearer(adminToken), 'Content-Type': 'application/json' };
  const json = <T>(answer: HttpAnswer) => JSON.parse(answer.text) as T;
  const id = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

  const wrongAdmin = `${adminToken.slice(0, -4)}AAAA`;
  keep('wrong admin token', wrongAdmin);
  expectStatus(await http('GET', '/admin/v1/sites', bearer(wrongAdmin)), 401, 'wrong admin token');

  interface CreatedSite { site: { id: string }; accessKey: string; token: { id: string; token: string } }
  const created = json<CreatedSite>(expectStatus(await http('POST', '/admin/v1/sites', admin, '{"name":"hygiene"}'), 201, 'create site'));
  const siteId = created.site.id;
  const token = created.token.token;
  keep('site access key', created.accessKey);
  keep('first KMS token', token);
  keep('first KMS token secret', secretPart(token));
  const issue = async (name: string) => {
    const issued = json<{ id: string; token: string }>(expectStatus(await http('POST', `/admin/v1/sites/${siteId}/tokens`, admin, JSON.stringify({ name })), 201, `issue ${name}`));
    keep(`${name} KMS token`, issued.token);
    keep(`${name} KMS token secret`, secretPart(issued.token));
    return issued;
  };
  const second = (await issue('second')).token;
  const revoked = await issue('revoked');
  expectStatus(await http('DELETE', `/admin/v1/sites/${siteId}/tokens/${revoked.id}`, admin), 204, 'revoke token');
  for (const path of ['/admin/v1/sites', `/admin/v1/sites/${siteId}`, `/admin/v1/sites/${siteId}/tokens`]) {
    expectStatus(await http('GET', path, admin), 200, `GET ${path}`);
  }
  const registered = json<{ credential: string }>(
    expectStatus(
      await http('POST', `/admin/v1/sites/${siteId}/license-servers`, admin, JSON.stringify({ name: 'license server', certificate: recipient.certificate.toString() })),
      201,
      'register license server',
    ),
  );
  const lsc = registered.credential;
  keep('license-server credential', lsc);
  keep('license-server credential secret', secretPart(lsc));
  expectStatus(await http('GET', `/admin/v1/sites/${siteId}/license-servers`, admin), 200, 'list license servers');

  // SPEKE in every dialect and every token position.
  const contentId = id('vod');
  const speke = async (what: string, path: string, headers: Record<string, string>, body: string, status = 200) =>
    expectStatus(await http('POST', path, { ...XML, ...headers }, body), status, what);
  const v2 = buildSpekeV2Request(contentId, 'cenc', [WIDEVINE, PLAYREADY]);
  secrets.push(...plainSecretsOf(await speke('SPEKE v2.0, Bearer', '/speke/copyProtection', { ...bearer(token), 'X-Speke-Version': '2.0' }, v2), 'SPEKE v2.0'));
  secrets.push(...plainSecretsOf(await speke('SPEKE v2.0, X-KMS-Token', '/speke/v2.0/copyProtection', { 'X-KMS-Token': second, 'X-Speke-Version': '2.0' }, v2), 'SPEKE v2.0 again'));
  const cbcs = buildSpekeV2Request(id('hls'), 'cbcs', [FAIRPLAY, WIDEVINE]);
  secrets.push(...plainSecretsOf(await speke('SPEKE v2.0, enc-token', `/cpix/getKey?enc-token=${token}`, { 'X-Speke-Version': '2.0' }, cbcs), 'SPEKE cbcs'));
  const v21 = buildSpekeV2Request(id('v21'), 'cenc', [WIDEVINE, PLAYREADY], { cpixVersion: '2.4' });
  secrets.push(...plainSecretsOf(await speke('SPEKE v2.1', '/speke/hygiene/copyProtection', { ...bearer(token), 'X-Speke-Version': '2.1' }, v21), 'SPEKE v2.1'));
  secrets.push(...plainSecretsOf(await speke('SPEKE v1', '/speke/copyProtection', bearer(token), spekeV1Request(id('v1'))), 'SPEKE v1'));
  const encrypted = await speke('SPEKE encrypted delivery', '/speke/copyProtection', { ...bearer(token), 'X-Speke-Version': '2.0' }, withDeliveryData(buildSpekeV2Request(id('enc'), 'cbcs', [FAIRPLAY]), recipient.certificate));
  secrets.push(...encryptedSecretsOf(encrypted, 'SPEKE encrypted delivery', recipient));
  expectStatus(await http('GET', '/speke/heartbeat'), 200, 'heartbeat');

  // PallyCon CPIX API: the token is a path segment.
  const pallycon = async (what: string, path: string, body: string, status = 200) => expectStatus(await http('POST', path, XML, body), status, what);
  const multi = buildDoveRunnerRequest(id('pallycon'), ['SD', 'HD', 'AUDIO']).xml;
  secrets.push(...plainSecretsOf(await pallycon('PallyCon v2', `/v2/cpix/pallycon/getKey/${second}`, multi), 'PallyCon v2'));
  const live = buildDoveRunnerRequest(id('live'), ['HD', 'AUDIO'], { periodIndex: 3 }).xml;
  secrets.push(...plainSecretsOf(await pallycon('PallyCon v2 rotation', `/v2/cpix/doverunner/getKey/${token}?key-rotation=true`, live), 'PallyCon rotation'));
  const single = () => buildDoveRunnerRequest(id('single'), ['HD']).xml;
  secrets.push(...plainSecretsOf(await pallycon('PallyCon v1', `/v1/cpix/pallycon/getKey/${token}`, single()), 'PallyCon v1'));
  secrets.push(...plainSecretsOf(await pallycon('PallyCon legacy v1 path', `/cpix/pallycon/getKey/${second}`, single()), 'PallyCon legacy path'));

  // PallyCon's legacy token base64({"site_id","access_key"}): refused until the site opts in.
  const legacyJson = JSON.stringify({ site_id: siteId, access_key: created.accessKey });
  const legacy = Buffer.from(legacyJson).toString('base64');
  const legacyUrl = Buffer.from(legacyJson).toString('base64url');
  keep('legacy token', legacy);
  keep('legacy token (base64url)', legacyUrl);
  await pallycon('legacy token before opt-in', `/v1/cpix/pallycon/getKey/${legacyUrl}`, single(), 401);
  expectStatus(await http('PATCH', `/admin/v1/sites/${siteId}`, admin, '{"options":{"acceptLegacyToken":true}}'), 200, 'enable legacy tokens');
  secrets.push(...plainSecretsOf(await pallycon('legacy token in path', `/v1/cpix/pallycon/getKey/${legacyUrl}`, single()), 'legacy token'));
  const legacyQuery = `/cpix/getKey?enc-token=${encodeURIComponent(legacy)}`;
  secrets.push(...plainSecretsOf(await speke('legacy token in enc-token', legacyQuery, { 'X-Speke-Version': '2.0' }, buildSpekeV2Request(id('legacy'), 'cenc', [WIDEVINE])), 'legacy SPEKE'));

  // The license export and the admin views of what was issued.
  const exported = expectStatus(await http('GET', `/license/v1/sites/${siteId}/contents/${contentId}`, bearer(lsc)), 200, 'license export');
  secrets.push(...encryptedSecretsOf(exported, 'license export', recipient));
  expectStatus(await http('GET', `/admin/v1/sites/${siteId}/contents/${contentId}/keys`, admin), 200, 'content keys');

  await beforeRotation();
  expectStatus(await http('POST', `/admin/v1/sites/${siteId}/site-key/rotate`, admin), 200, 'rotate site key');
  secrets.push(...plainSecretsOf(await speke('SPEKE after rotation', '/speke/copyProtection', { ...bearer(token), 'X-Speke-Version': '2.0' }, buildSpekeV2Request(id('rotated'), 'cenc', [WIDEVINE])), 'after rotation'));
  const page = json<{ next?: string }>(expectStatus(await http('GET', `/admin/v1/sites/${siteId}/audit?limit=3`, admin), 200, 'audit'));
  expectStatus(await http('GET', `/admin/v1/sites/${siteId}/audit?limit=3&before=${page.next ?? ''}`, admin), 200, 'audit page 2');

  // Refusals: every presented credential is a secret too (a wrong one may be a typo of a real one).
  const unknown = `kms1.${randomBytes(12).toString('base64url')}.${randomBytes(32).toString('base64url')}`;
  const tampered = `${token.slice(0, token.lastIndexOf('.') + 1)}${randomBytes(32).toString('base64url')}`;
  const wrongLsc = `${lsc.slice(0, lsc.lastIndexOf('.') + 1)}${randomBytes(32).toString('base64url')}`;
  keep('unknown KMS token', unknown);
  keep('tampered KMS token', tampered);
  keep('wrong license-server credential', wrongLsc);
  const fresh = () => buildSpekeV2Request(id('refused'), 'cenc', [WIDEVINE]);
  const v2Headers = { 'X-Speke-Version': '2.0' };
  await speke('unknown token', '/speke/copyProtection', { ...bearer(unknown), ...v2Headers }, fresh(), 401);
  await speke('tampered token', '/speke/copyProtection', { 'X-KMS-Token': tampered, ...v2Headers }, fresh(), 401);
  await speke('revoked token', `/cpix/getKey?enc-token=${revoked.token}`, v2Headers, fresh(), 401);
  await pallycon('revoked token in path', `/v2/cpix/pallycon/getKey/${revoked.token}`, multi, 401);
  await speke('license-server credential on SPEKE', '/speke/copyProtection', { ...bearer(lsc), ...v2Headers }, fresh(), 401);
  expectStatus(await http('GET', `/license/v1/sites/${siteId}/contents/${contentId}`, bearer(token)), 401, 'KMS token on export');
  expectStatus(await http('GET', `/license/v1/sites/${siteId}/contents/${contentId}`, bearer(wrongLsc)), 401, 'wrong lsc1 secret');
  await speke('not XML', '/speke/copyProtection', bearer(token), 'this is not CPIX', 400);
  await speke('v2 without contentId', '/speke/copyProtection', { ...bearer(token), ...v2Headers }, fresh().replace(/ contentId="[^"]*"/, ''), 422);
  // A client that sends a key of its own (15 bytes: malformed) must not see it echoed or logged.
  const clientKey = randomBytes(15);
  keep('client-sent key', clientKey);
  const withPlainValue = spekeV1Request(id('client-key')).replace(
    /<cpix:ContentKey kid="([^"]+)"\/>/,
    `<cpix:ContentKey kid="$1"><cpix:Data><pskc:Secret><pskc:PlainValue>${clientKey.toString('base64')}</pskc:PlainValue></pskc:Secret></cpix:Data></cpix:ContentKey>`,
  );
  await speke('client-sent 15-byte key', '/speke/copyProtection', bearer(token), withPlainValue, 400);
  const weak = new X509Certificate(testCertificate('rsa1024'));
  await speke('weak delivery certificate', '/speke/copyProtection', { ...bearer(token), ...v2Headers }, withDeliveryData(fresh(), weak), 400);
  // Token-shaped strings where no route expects them.
  expectStatus(await http('GET', `/kms/${token}/status`), 404, 'token in an unknown path');
  expectStatus(await http('POST', `/v2/cpix/pallycon/getKeys/${second}`, XML, multi), 404, 'token after a mistyped getKey');
  expectStatus(await http('GET', `/debug/${created.accessKey}`), 404, 'access key in an unknown path');
  expectStatus(await http('GET', `/debug?access_key=${created.accessKey}&token=${token}`), 404, 'secrets in an unknown query');
  // A disabled site's token is refused with 403; an attacked credential ID ends at 429.
  const other = json<CreatedSite>(expectStatus(await http('POST', '/admin/v1/sites', admin, '{"name":"disabled"}'), 201, 'second site'));
  keep('second site access key', other.accessKey);
  keep('second site KMS token', other.token.token);
  expectStatus(await http('PATCH', `/admin/v1/sites/${other.site.id}`, admin, '{"status":"disabled"}'), 200, 'disable site');
  await speke('disabled site', '/speke/copyProtection', { ...bearer(other.token.token), ...v2Headers }, fresh(), 403);
  // A token of its own is attacked: failures with its ID end at 429 (the token itself would still be
  // answered, decision 53), and the caller goes on using the first token after the lifecycle (the
  // Redis run's outage checks).
  const attackedToken = (await issue('attacked')).token;
  const attacked = `${attackedToken.slice(0, attackedToken.lastIndexOf('.') + 1)}${randomBytes(32).toString('base64url')}`;
  keep('attacked KMS token, tampered', attacked);
  let limited = 0;
  for (let attempt = 0; attempt < 10 && limited === 0; attempt += 1) {
    if ((await http('POST', '/speke/copyProtection', { ...XML, ...bearer(attacked), ...v2Headers }, fresh())).status === 429) limited += 1;
  }
  expect({ limitedAfterRepeatedFailures: limited }).toEqual({ limitedAfterRepeatedFailures: 1 });
  for (const path of ['/healthz', '/readyz']) expectStatus(await http('GET', path), 200, path);
  return { secrets, siteId, token, contentId };
}

/** One access line must exist for each of these (method, redacted URL, status); the URL is matched whole. */
const ROUTE_LINES: readonly (readonly [string, RegExp, number])[] = [
  ['GET', /^\/admin\/v1\/sites$/, 401],
  ['POST', /^\/admin\/v1\/sites$/, 201],
  ['POST', /^\/admin\/v1\/sites\/\w{4}\/tokens$/, 201],
  ['DELETE', /^\/admin\/v1\/sites\/\w{4}\/tokens\/[\w-]{16}$/, 204],
  ['POST', /^\/admin\/v1\/sites\/\w{4}\/license-servers$/, 201],
  ['PATCH', /^\/admin\/v1\/sites\/\w{4}$/, 200],
  ['GET', /^\/admin\/v1\/sites\/\w{4}\/contents\/vod-\w+\/keys$/, 200],
  ['POST', /^\/admin\/v1\/sites\/\w{4}\/site-key\/rotate$/, 200],
  ['GET', /^\/admin\/v1\/sites\/\w{4}\/audit\?limit=3(&before=\S+)?$/, 200],
  ['POST', /^\/speke\/copyProtection$/, 200],
  ['POST', /^\/speke\/v2\.0\/copyProtection$/, 200],
  ['POST', /^\/speke\/hygiene\/copyProtection$/, 200],
  ['POST', /^\/cpix\/getKey\?enc-token=\[redacted\]$/, 200],
  ['POST', /^\/v2\/cpix\/pallycon\/getKey\/\[redacted\]$/, 200],
  ['POST', /^\/v2\/cpix\/doverunner\/getKey\/\[redacted\]\?key-rotation=true$/, 200],
  ['POST', /^\/v1\/cpix\/pallycon\/getKey\/\[redacted\]$/, 200],
  ['POST', /^\/v1\/cpix\/pallycon\/getKey\/\[redacted\]$/, 401],
  ['POST', /^\/cpix\/pallycon\/getKey\/\[redacted\]$/, 200],
  ['GET', /^\/license\/v1\/sites\/\w{4}\/contents\/vod-\w+$/, 200],
  ['GET', /^\/license\/v1\/sites\/\w{4}\/contents\/vod-\w+$/, 401],
  ['GET', /^\/speke\/heartbeat$/, 200],
  ['POST', /^\/speke\/copyProtection$/, 400],
  ['POST', /^\/speke\/copyProtection$/, 401],
  ['POST', /^\/speke\/copyProtection$/, 403],
  ['POST', /^\/speke\/copyProtection$/, 422],
  ['POST', /^\/speke\/copyProtection$/, 429],
  ['GET', /^\/kms\/\[redacted\]\/status$/, 404],
  ['POST', /^\/v2\/cpix\/pallycon\/getKeys\/\[redacted\]$/, 404],
  ['GET', /^\/debug\/\[redacted\]$/, 404],
  ['GET', /^\/debug\?access_key=\[redacted\]&token=\[redacted\]$/, 404],
  ['GET', /^\/healthz$/, 200],
  ['GET', /^\/readyz$/, 200],
];

interface AccessLine {
  readonly method: string;
  readonly url: string;
  readonly status: number;
}

function accessLines(lines: readonly string[]): AccessLine[] {
  return lines.flatMap((line) => {
    if (!line.startsWith('{')) return [];
    const entry = JSON.parse(line) as { msg?: string } & Partial<AccessLine>;
    return entry.msg === 'request' && entry.url !== undefined ? [{ method: entry.method ?? '', url: entry.url, status: entry.status ?? 0 }] : [];
  });
}

/** Every secret of a run, the log lines and error bodies; the assertions shared by both variants. */
function expectNoLeaks(lines: readonly string[], errorBodies: readonly string[], secrets: readonly NamedSecret[], calls: number, extraRoutes: typeof ROUTE_LINES = []) {
  const access = accessLines(lines);
  // Not vacuous: every call left its access line, and every route family is among them.
  expect(access).toHaveLength(calls);
  const missing = [...ROUTE_LINES, ...extraRoutes]
    .filter(([method, url, status]) => !access.some((line) => line.method === method && url.test(line.url) && line.status === status))
    .map(([method, url, status]) => `${method} ${url.source} ${status}`);
  expect(missing).toEqual([]);
  const unredacted = access.filter((line) => /\/getKeys?\/(?!\[redacted\])|enc-token=(?!\[redacted\])/.test(line.url)).map((line) => line.url.slice(0, 30));
  expect(unredacted).toEqual([]);
  const names = new Set(secrets.map((secret) => secret.name.replace(/ [0-9a-f-]{36}$/, '')));
  expect(names.size).toBeGreaterThan(30);
  expect(findSecretLeaks(lines, secrets)).toEqual([]);
  expect(findSecretLeaks(errorBodies, secrets)).toEqual([]);
}

/** Wrapped blobs and secret hashes exactly as SQLite holds them (read past the project's decoders). */
function rawSqliteSecrets(path: string): NamedSecret[] {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const all = (sql: string) => db.prepare(sql).all() as Record<string, string | number | Buffer | null>[];
    const blobs = (label: string, sql: string, column: string): NamedSecret[] =>
      all(sql).flatMap((row) => (Buffer.isBuffer(row[column]) ? [{ name: `${label} ${String(row['id'])}`, value: row[column] }] : []));
    return [
      ...blobs('stored wrapped site key', "SELECT site_id || ' v' || version AS id, blob FROM site_keys", 'blob'),
      ...blobs('stored wrapped content key', "SELECT site_id || '/' || content_id || '/' || kid AS id, wrapped_key FROM content_keys", 'wrapped_key'),
      ...blobs('stored access-key hash', 'SELECT id, access_key_hash FROM sites', 'access_key_hash'),
      ...blobs('stored token hash', 'SELECT id, secret_hash FROM kms_tokens', 'secret_hash'),
      ...blobs('stored license-server hash', 'SELECT id, secret_hash FROM license_servers', 'secret_hash'),
    ];
  } finally {
    db.close();
  }
}

/** The same from Redis hashes (codec.ts: base64 fields; site keys as JSON per version). */
async function rawRedisSecrets(port: number, keyPrefix: string): Promise<NamedSecret[]> {
  const config = parseStoreUrl(`redis://127.0.0.1:${port}`);
  if (config.kind !== 'redis') throw new Error('not a redis URL');
  const client = await openAdminClient(config);
  const found: NamedSecret[] = [];
  try {
    for (const key of await keysWithPrefix(client, keyPrefix)) {
      if ((await client.type(key)) !== 'hash') continue;
      for (const [field, value] of Object.entries(await client.hgetall(key))) {
        if (key.endsWith(':site-keys')) found.push({ name: `stored wrapped site key ${key} v${field}`, value: Buffer.from((JSON.parse(value) as { blob: string }).blob, 'base64') });
        else if (['wrappedKey', 'secretHash', 'accessKeyHash'].includes(field)) found.push({ name: `stored ${field} ${key}`, value: Buffer.from(value, 'base64') });
      }
    }
  } finally {
    await closeRedisClient(client);
  }
  expect(found.some((secret) => secret.name.startsWith('stored wrapped site key'))).toBe(true);
  return found;
}

/** Site keys (every version) and content keys with IVs, unwrapped from the store with the master key. */
async function unwrappedStoreSecrets(store: Store, masterKey: MasterKeyProvider): Promise<NamedSecret[]> {
  const services = buildServices(store, masterKey);
  const found: NamedSecret[] = [];
  try {
    for (const site of await store.sites.listSites()) {
      for (const { version } of site.siteKeys) found.push({ name: `site key ${site.id} v${version}`, value: await services.siteKeys.siteKey(site.id, version) });
      for (const record of await allSiteRecords(store, site.id)) {
        const key = await services.contentKeys.get(site.id, record.contentId, record.kid);
        if (key === undefined) throw new Error(`stored key ${record.kid} vanished`);
        found.push({ name: `stored content key ${record.kid}`, value: key.key }, ...(key.iv ? [{ name: `stored IV ${record.kid}`, value: key.iv }] : []));
      }
    }
  } finally {
    await store.close();
  }
  return found;
}

/** Every content key a response carried is one the store holds: the decoding on both sides is right. */
function expectResponsesMatchStore(secrets: readonly NamedSecret[]): void {
  const hex = (prefix: RegExp) => new Set(secrets.filter((s) => prefix.test(s.name)).map((s) => Buffer.from(s.value).toString('hex')));
  const stored = hex(/^stored content key /);
  const answered = [...hex(/: content key /)].filter((key) => !stored.has(key));
  expect({ answeredKeysNotInStore: answered.length, stored: stored.size > 20 }).toEqual({ answeredKeysNotInStore: 0, stored: true });
}

function recipientIdentity(): RecipientKeyPair {
  const identity = signingConfigFromPem(createSelfSignedIdentityPem('cpix-kms hygiene recipient'), 'recipient');
  return { certificate: identity.certificate, privateKey: identity.privateKey };
}

const COMMON_ENV = { LOG_LEVEL: 'trace', AUTH_FAILURES_PER_ADDRESS: '1000', AUTH_FAILURES_PER_CREDENTIAL: '3' };

async function stopService(service: ServiceProcess): Promise<string[]> {
  service.child.kill('SIGTERM');
  expect(await service.exit()).toBe(0);
  return `${service.stdout()}\n${service.stderr()}`.split('\n').filter((line) => line.trim() !== '');
}

describe('secrets hygiene: no log line of a full run holds a secret in any encoding', () => {
  const adminToken = randomBytes(32).toString('base64url');
  const recipient = recipientIdentity();
  let cwd: string;
  let kms: FakeKms;
  const services: ServiceProcess[] = [];

  beforeAll(async () => {
    requireBuiltService();
    cwd = mkdtempSync(join(tmpdir(), 'cpix-kms-hygiene-'));
    kms = createFakeKms();
    await kms.start();
  });
  afterAll(async () => {
    for (const service of services) if (service.child.exitCode === null) service.child.kill('SIGKILL');
    await kms.stop();
    await stopAllRedisServers();
    rmSync(cwd, { recursive: true, force: true });
  });

  it('SQLite store, local master key, development signing identity (banner on stderr)', async () => {
    const masterKey = randomBytes(32);
    const dataDir = join(cwd, 'sqlite');
    const service = spawnService(cwd, bareEnv({ ...COMMON_ENV, DATA_DIR: dataDir, MASTER_KEY: masterKey.toString('base64'), ADMIN_TOKEN: adminToken }));
    services.push(service);
    const url = await service.serving();
    const errorBodies: string[] = [];
    const calls = { count: 0 };
    const dbPath = join(dataDir, 'cpix-kms.db');
    let beforeRotation: NamedSecret[] = [];
    const run = await driveLifecycle(httpClient(url, errorBodies, calls), adminToken, recipient, async () => {
      beforeRotation = rawSqliteSecrets(dbPath).map((s) => ({ ...s, name: `${s.name} (before rotation)` }));
    });
    const lines = await stopService(service);
    expect(service.stderr()).toContain('DEVELOPMENT SETUP');

    const secrets = [
      ...run.secrets,
      ...beforeRotation,
      ...rawSqliteSecrets(dbPath),
      ...(await unwrappedStoreSecrets(openSqliteStore(dbPath), createLocalMasterKey(masterKey, cryptoRandom))),
      ...signingKeySecrets(readFileSync(join(dataDir, 'signing.pem'), 'utf8')),
      { name: 'admin token', value: adminToken },
      { name: 'master key', value: masterKey },
      { name: 'MASTER_KEY', value: masterKey.toString('base64') },
    ];
    expectResponsesMatchStore(secrets);
    expectNoLeaks(lines, errorBodies, secrets, calls.count);
  }, 40_000);

  it('Redis store through an outage, AWS KMS master key through a refusal, production mode', async () => {
    const redis: RedisServer = await startRedisServer({ appendonly: true, appendfsync: 'always' });
    const keyPrefix = `hygiene-${randomBytes(4).toString('hex')}`;
    const signing = signingEnv(cwd);
    const service = spawnService(
      cwd,
      bareEnv({
        ...COMMON_ENV,
        ...signing,
        NODE_ENV: 'production',
        ADMIN_TOKEN: adminToken,
        STORE: `redis://127.0.0.1:${redis.port}`,
        REDIS_KEY_PREFIX: keyPrefix,
        MASTER_KEY_PROVIDER: 'aws-kms',
        AWS_KMS_KEY_ID: kms.keyArn,
        AWS_REGION: kms.region,
        AWS_KMS_ENDPOINT: kms.endpoint,
        AWS_ACCESS_KEY_ID: kms.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: kms.credentials.secretAccessKey,
        AWS_EC2_METADATA_DISABLED: 'true',
        // Short, so a site key is unwrapped again (Decrypt) while KMS refuses.
        SITE_KEY_CACHE_TTL_SECONDS: '1',
      }),
    );
    services.push(service);
    const url = await service.serving();
    const errorBodies: string[] = [];
    const calls = { count: 0 };
    const http = httpClient(url, errorBodies, calls);
    let beforeRotation: NamedSecret[] = [];
    const run = await driveLifecycle(http, adminToken, recipient, async () => {
      beforeRotation = (await rawRedisSecrets(redis.port, keyPrefix)).map((s) => ({ ...s, name: `${s.name} (before rotation)` }));
    });

    // Store outage: 503s (logged with the driver's message), then the service recovers by itself.
    const spekeV2 = (contentId: string) =>
      http('POST', '/speke/copyProtection', { ...XML, ...bearer(run.token), 'X-Speke-Version': '2.0' }, buildSpekeV2Request(contentId, 'cenc', [WIDEVINE]));
    await redis.kill();
    expectStatus(await spekeV2(`outage-${randomUUID()}`), 503, 'SPEKE while Redis is down');
    expectStatus(await http('GET', '/readyz'), 503, 'readyz while Redis is down');
    await redis.restart();
    let ready = 0;
    for (let attempt = 0; attempt < 50 && ready !== 200; attempt += 1) {
      ready = (await http('GET', '/readyz')).status;
      if (ready !== 200) await sleep(100);
    }
    expect({ readyAfterRestart: ready }).toEqual({ readyAfterRestart: 200 });
    // With WORKERS > 1 each worker reconnects on its own schedule, and /readyz answered from one of
    // them: the first key requests may still reach one that is reconnecting (503, no key).
    let recovered: HttpAnswer | undefined;
    for (let attempt = 0; attempt < 50 && recovered?.status !== 200; attempt += 1) {
      if (recovered !== undefined) await sleep(100);
      recovered = await spekeV2(`after-outage-${randomUUID()}`);
    }
    const afterOutage = run.secrets.length;
    run.secrets.push(...plainSecretsOf(expectStatus(recovered as HttpAnswer, 200, 'SPEKE after the outage'), 'after outage'));
    expect(run.secrets.length).toBeGreaterThan(afterOutage);

    // KMS refuses: GenerateDataKey (new site) and Decrypt (the cached site key has expired) both 503.
    kms.faults.denyAll = true;
    expectStatus(await http('POST', '/admin/v1/sites', { ...bearer(adminToken), 'Content-Type': 'application/json' }, '{"name":"no kms"}'), 503, 'create site while KMS refuses');
    await sleep(1100);
    expectStatus(await spekeV2(`kms-refused-${randomUUID()}`), 503, 'SPEKE while KMS refuses Decrypt');
    kms.faults.denyAll = false;

    const lines = await stopService(service);
    expect(lines.some((line) => /AccessDenied/.test(line) && line.includes('Decrypt'))).toBe(true);
    // The outage was logged (the 503's cause; ioredis may reconnect before it emits a connection error).
    expect(lines.some((line) => line.includes('ERR_STORE_UNAVAILABLE'))).toBe(true);

    const storeConfig = parseStoreUrl(`redis://127.0.0.1:${redis.port}`);
    if (storeConfig.kind !== 'redis') throw new Error('not a redis URL');
    const masterKey = createAwsKmsMasterKey({ keyId: kms.keyArn, region: kms.region, endpoint: kms.endpoint, credentials: kms.credentials });
    const secrets = [
      ...run.secrets,
      ...beforeRotation,
      ...(await rawRedisSecrets(redis.port, keyPrefix)),
      ...(await unwrappedStoreSecrets(await openRedisStore(storeConfig, { keyPrefix }), masterKey)),
      ...signingKeySecrets(readFileSync(signing.SIGNING_KEY_FILE, 'utf8')),
      { name: 'admin token', value: adminToken },
      { name: 'AWS secret access key', value: kms.credentials.secretAccessKey },
    ];
    masterKey.close();
    expectResponsesMatchStore(secrets);
    const outageRoutes = [
      ['POST', /^\/speke\/copyProtection$/, 503],
      ['GET', /^\/readyz$/, 503],
      ['POST', /^\/admin\/v1\/sites$/, 503],
    ] as const;
    expectNoLeaks(lines, errorBodies, secrets, calls.count, outageRoutes);
  }, 40_000);
});
