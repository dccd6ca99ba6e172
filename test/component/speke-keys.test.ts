/**
 * What SPEKE packagers get as keys, over HTTP on the real app (SQLite store): SPEKE v1 answers to
 * the AWS documentation requests (AWS SPEKE API v1, live and VOD workflow examples), determinism
 * (the same request twice gets the same keys, as the AWS v2 suite checks) and concurrent first
 * requests, explicitIV (echoed when sent, else the key's stored IV where a system needs one;
 * docs/key-exchange.md, Keys and IVs), isolation between sites, and encrypted delivery to the
 * request's certificate (AWS SPEKE, Content key encryption; DASH-IF CPIX 2.3 §6.1). Requests are read
 * in place from ../shared/vectors/speke.
 */

import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { decryptDocumentKeys } from '../support/cpix-decrypt';
import { parseCpixDocument } from '../../src/cpix/parse';
import { FAIRPLAY_SYSTEM_ID, HLS_AES_128_SYSTEM_ID, PLAYREADY_SYSTEM_ID, WIDEVINE_SYSTEM_ID } from '../../src/drm/system-ids';
import { createTestApp, type TestApp } from '../support/app';
import { captureLogs, encodingsOf } from '../support/log-capture';
import { parsePlayReadyObject, parsePsshBox, parseWidevinePsshData, playReadyKidToUuid } from '../support/pssh-parser';
import { testCertificate } from '../support/services';
import { chosenKeyCertificate } from '../support/chosen-key-certificate';
import { MAX_RECIPIENTS_PER_REQUEST } from '../../src/exchange/dialect';
import { slowGetOrCreate } from '../support/speke-slow-store';
import { describeWithVectors, vectorPath } from '../support/shared-vectors';
import {
  bodyText,
  childElements,
  cpixElements,
  explicitIvs,
  filledChildrenBySystem,
  freshContentId,
  parseDom,
  parseResponse,
  plainKeys,
  postSpeke,
  readAwslabs,
  withContentId,
} from '../support/speke-http';
import { describeWithXmllint, validateAgainstCpixXsd } from '../support/xsd';

const V1_DOCS = (name: string): string => readFileSync(vectorPath('speke', 'aws-speke-v1-docs', name), 'utf8');
const XML_CONTENT_TYPE = /^application\/xml(; charset=utf-8)?$/i;

/** Suite-generated v2 requests used below (VOD: no key period). */
const V2 = {
  widevineCenc: 'generated/vod/test_case_1_p_v_1_a_1/1_widevine.xml',
  playreadyCenc: 'generated/vod/test_case_1_p_v_1_a_1/2_playready.xml',
  widevinePlayreadyCenc: 'generated/vod/test_case_2_p_v_3_a_2/4_widevine_playready.xml',
  fairplayCbcs: 'generated/vod/test_case_1_p_v_1_a_1/3_fairplay.xml',
  allThreeCbcs: 'generated/live/test_case_2_p_v_3_a_2/7_widevine_playready_fairplay.xml',
} as const;

const kidsOf = (xml: string): string[] => cpixElements(parseDom(xml), 'ContentKey').map((key) => key.getAttribute('kid') ?? '');

/** The DRMSystem children of a response, `{systemId: {localName: decoded bytes}}` for the non-empty ones. */
function signalingBySystem(xml: string): Record<string, Record<string, Buffer>> {
  const out: Record<string, Record<string, Buffer>> = {};
  for (const system of cpixElements(parseDom(xml), 'DRMSystem')) {
    const values: Record<string, Buffer> = {};
    for (const child of childElements(system)) {
      const text = (child.textContent ?? '').trim();
      if (text !== '') values[child.localName ?? ''] = Buffer.from(text, 'base64');
    }
    out[(system.getAttribute('systemId') ?? '').toLowerCase()] = values;
  }
  return out;
}

/** The KID in a PlayReady Object's WRMHEADER (v4.0 `<KID>` or v4.3 `VALUE`), as a big-endian UUID. */
function playReadyKid(pro: Buffer): string {
  const header = parsePlayReadyObject(pro);
  const match = /<KID>([^<]+)<\/KID>|<KID [^>]*VALUE="([^"]+)"/.exec(header);
  return playReadyKidToUuid(match?.[1] ?? match?.[2] ?? '');
}

describeWithVectors('SPEKE v1: the AWS documentation requests', () => {
  const logs = captureLogs();
  let t: TestApp;
  let token: string;
  beforeAll(async () => {
    t = createTestApp(logs.logger);
    token = (await t.services.sites.createSite({ name: 'speke v1' })).token.token;
  });
  afterAll(() => t.close());

  // XSD validation does not apply here: a v1 response is CPIX 2.0 with `speke:` elements, for
  // which no official schema exists (vectors/cpix-schemas starts at 2.1).
  const CASES = [
    { request: 'live_request_clear.xml', response: 'live_response_clear.xml' },
    { request: 'vod_request_clear.xml', response: 'vod_response_clear.xml' },
    // KID override (AWS SPEKE v1's KID-override page) is optional and we do not override: the kid stays, the
    // element set is the doc's.
    { request: 'kid_override_request.xml', response: 'kid_override_response.xml' },
  ];

  it('frames an answer with multi-byte characters by its UTF-8 length, as application/xml exactly', async () => {
    // The content ID is echoed: 2-, 3- and 4-byte UTF-8 make the byte length differ from the string length.
    const contentId = `${freshContentId('v1')}-café-鍵-🔑`;
    const res = await postSpeke(t.app, { body: withContentId(V1_DOCS('vod_request_clear.xml'), contentId, 'id'), token });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/xml');
    const body = bodyText(res);
    expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(body, 'utf8'));
    expect(Buffer.byteLength(body, 'utf8')).toBeGreaterThan(body.length);
    expect(parseDom(body).getAttribute('id')).toBe(contentId);
  });

  it.each(CASES)('$request: 200 with the elements the AWS doc response fills, per DRM system', async ({ request, response }) => {
    const xml = withContentId(V1_DOCS(request), freshContentId('v1'), 'id');
    const res = await postSpeke(t.app, { body: xml, token });
    expect(res.status).toBe(200);
    expect(res.headers['speke-user-agent']).toEqual(expect.stringMatching(/\S/));
    expect(res.headers['x-speke-version']).toBeUndefined();
    expect(res.headers['content-type']).toMatch(XML_CONTENT_TYPE);
    const body = bodyText(res);
    expect(filledChildrenBySystem(body)).toEqual(filledChildrenBySystem(V1_DOCS(response)));
    // The root keeps its id and its speke namespace (a v1 response echoes the request); the kid is echoed
    // (no override).
    const root = parseDom(body);
    expect(root.getAttribute('id')).toBe(parseDom(xml).getAttribute('id'));
    expect(kidsOf(body)).toEqual(kidsOf(xml));
    const keys = Object.values(plainKeys(parseResponse(res)));
    expect(keys.map((key) => Buffer.from(key, 'base64').length)).toEqual([16]);
  });

  it('signals the request KID in Widevine and PlayReady PSSH, and HLS key URIs for FairPlay and AES-128', async () => {
    const xml = withContentId(V1_DOCS('live_request_clear.xml'), freshContentId('v1-signaling'), 'id');
    const [kid = ''] = kidsOf(xml);
    const res = await postSpeke(t.app, { body: xml, token });
    expect(res.status).toBe(200);
    const signals = signalingBySystem(bodyText(res));

    const widevine = parsePsshBox(signals[WIDEVINE_SYSTEM_ID]?.['PSSH'] ?? Buffer.alloc(0));
    expect(widevine.systemId).toBe(WIDEVINE_SYSTEM_ID);
    expect(parseWidevinePsshData(widevine.data).get(2)).toEqual([Buffer.from(kid.replace(/-/g, ''), 'hex')]);

    const playReady = parsePsshBox(signals[PLAYREADY_SYSTEM_ID]?.['PSSH'] ?? Buffer.alloc(0));
    expect(playReady.systemId).toBe(PLAYREADY_SYSTEM_ID);
    // WRMHEADER KIDs are GUIDs (first three groups little-endian): decoding them as such gives the request's kid.
    expect(playReadyKid(playReady.data)).toBe(kid);
    expect(signals[PLAYREADY_SYSTEM_ID]?.['ProtectionHeader']).toEqual(playReady.data);

    const text = (systemId: string, name: string) => signals[systemId]?.[name]?.toString('utf8');
    expect({
      uri: text(FAIRPLAY_SYSTEM_ID, 'URIExtXKey'),
      format: text(FAIRPLAY_SYSTEM_ID, 'KeyFormat'),
      versions: text(FAIRPLAY_SYSTEM_ID, 'KeyFormatVersions'),
    }).toEqual({ uri: expect.stringMatching(/^skd:\/\/\S+$/), format: 'com.apple.streamingkeydelivery', versions: '1' });
    expect({
      uri: text(HLS_AES_128_SYSTEM_ID, 'URIExtXKey'),
      format: text(HLS_AES_128_SYSTEM_ID, 'KeyFormat'),
      versions: text(HLS_AES_128_SYSTEM_ID, 'KeyFormatVersions'),
    }).toEqual({ uri: expect.stringMatching(/^https:\/\/\S+$/), format: 'identity', versions: '1' });
  });
});

describeWithVectors('SPEKE keys: same request, same keys', () => {
  const logs = captureLogs();
  let t: TestApp;
  let token: string;
  beforeAll(async () => {
    t = createTestApp(logs.logger);
    token = (await t.services.sites.createSite({ name: 'determinism' })).token.token;
  });
  afterAll(() => t.close());

  it.each([
    { dialect: 'v2.0', xml: () => withContentId(readAwslabs(V2.allThreeCbcs), freshContentId('twice')), version: '2.0' },
    { dialect: 'v1', xml: () => withContentId(V1_DOCS('live_request_clear.xml'), freshContentId('twice'), 'id') },
  ])('SPEKE $dialect: the same request twice gets identical keys and IVs', async ({ xml, version }) => {
    const body = xml();
    const post = () => postSpeke(t.app, { body, token, ...(version !== undefined && { version }) });
    const first = await post();
    const second = await post();
    expect([first.status, second.status]).toEqual([200, 200]);
    const [a, b] = [parseResponse(first), parseResponse(second)];
    expect(Object.keys(plainKeys(a))).toHaveLength(kidsOf(body).length);
    expect(plainKeys(b)).toEqual(plainKeys(a));
    expect(explicitIvs(b)).toEqual(explicitIvs(a));
    expect(Object.values(explicitIvs(a))).not.toContain(null);
  });

  // Plain SQLite answers synchronously, so the 50 requests are served one after the other; with slow
  // store calls (as over a network) they all make candidates before any is stored and race to create them.
  it.each([
    { store: 'SQLite', app: () => createTestApp(logs.logger) },
    { store: 'SQLite with 5 ms store calls', app: () => createTestApp(logs.logger, undefined, { wrapStore: slowGetOrCreate(5) }) },
  ])('50 concurrent first requests for one content ($store): all 200, one key per KID, identical bytes', async ({ app }) => {
    const own = app();
    try {
      const created = await own.services.sites.createSite({ name: 'concurrent' });
      const contentId = freshContentId('concurrent');
      const body = withContentId(readAwslabs(V2.allThreeCbcs), contentId);
      const kids = kidsOf(body);
      const responses = await Promise.all(
        Array.from({ length: 50 }, () => postSpeke(own.app, { body, version: '2.0', token: created.token.token })),
      );
      expect(responses.map((res) => res.status)).toEqual(Array.from({ length: 50 }, () => 200));
      const keys = responses.map((res) => plainKeys(parseResponse(res)));
      const ivs = responses.map((res) => explicitIvs(parseResponse(res)));
      const [firstKeys = {}, firstIvs = {}] = [keys[0], ivs[0]];
      expect(Object.keys(firstKeys)).toEqual(kids);
      expect(new Set(Object.values(firstKeys)).size).toBe(kids.length);
      for (const [i, set] of keys.entries()) expect({ i, set }).toEqual({ i, set: firstKeys });
      for (const [i, set] of ivs.entries()) expect({ i, set }).toEqual({ i, set: firstIvs });
      const stored = await own.services.contentKeys.listMetadata(created.site.id, contentId);
      expect(stored.map((record) => record.kid).sort()).toEqual([...kids].sort());
    } finally {
      await own.close();
    }
  });
});

describeWithVectors('SPEKE v2 explicitIV: echoed when sent, added for FairPlay, never the key', () => {
  const logs = captureLogs();
  let t: TestApp;
  let token: string;
  beforeAll(async () => {
    t = createTestApp(logs.logger);
    token = (await t.services.sites.createSite({ name: 'iv' })).token.token;
  });
  afterAll(() => t.close());

  const ivAttributes = (xml: string): (string | null)[] => cpixElements(parseDom(xml), 'ContentKey').map((key) => key.getAttribute('explicitIV'));
  /** Adds `explicitIV` to every ContentKey of a suite request, a distinct value per key. */
  const withIvs = (xml: string): string => {
    let n = 0;
    return xml.replace(/<cpix:ContentKey\s/g, () => `<cpix:ContentKey explicitIV="${Buffer.alloc(16, 0xa0 + n++).toString('base64')}" `);
  };

  it.each([
    ['a cenc Widevine request', () => withIvs(readAwslabs(V2.widevineCenc))],
    ['a cbcs FairPlay request', () => withIvs(readAwslabs(V2.fairplayCbcs))],
    ['a cbcs Widevine+PlayReady+FairPlay request', () => withIvs(readAwslabs(V2.allThreeCbcs))],
    ['the AWS KID-override v2 doc request', () => readFileSync(vectorPath('speke', 'aws-speke-v2-docs', 'kid_override_v2_request.xml'), 'utf8')],
  ])('echoes a sent explicitIV unchanged: %s', async (_name, xml) => {
    const body = withContentId(xml(), freshContentId('iv-echo'));
    const sent = ivAttributes(body);
    expect(sent).not.toContain(null);
    const res = await postSpeke(t.app, { body, version: '2.0', token });
    expect(res.status).toBe(200);
    expect(ivAttributes(bodyText(res))).toEqual(sent);
  });

  it('refuses a sent explicitIV that differs from the IV the key already has (409), and keeps answering the stored one', async () => {
    // The packager would encrypt with the sent IV while the license server gets the stored one.
    const body = withContentId(readAwslabs(V2.fairplayCbcs), freshContentId('iv-later'));
    const stored = explicitIvs(parseResponse(await postSpeke(t.app, { body, version: '2.0', token })));
    const again = withIvs(body);
    expect(ivAttributes(again)).not.toEqual(Object.values(stored));
    const res = await postSpeke(t.app, { body: again, version: '2.0', token });
    expect({ status: res.status, type: res.headers['content-type'] }).toEqual({ status: 409, type: 'text/plain; charset=utf-8' });
    expect(bodyText(res)).toMatch(/^ContentKey\[kid=[0-9a-f-]{36}\]@explicitIV differs from the IV this key was created with$/);
    expect(explicitIvs(parseResponse(await postSpeke(t.app, { body, version: '2.0', token })))).toEqual(stored);
  });

  it('adds a 16-byte IV when FairPlay is signaled and none was sent; the same on a re-request; never the key', async () => {
    const body = withContentId(readAwslabs(V2.fairplayCbcs), freshContentId('iv-fairplay'));
    expect(ivAttributes(body).every((iv) => iv === null)).toBe(true);
    const first = parseResponse(await postSpeke(t.app, { body, version: '2.0', token }));
    const second = parseResponse(await postSpeke(t.app, { body, version: '2.0', token }));
    const ivs = explicitIvs(first);
    const keys = plainKeys(first);
    expect(Object.keys(ivs)).toEqual(Object.keys(keys));
    for (const [kid, iv] of Object.entries(ivs)) {
      expect(Buffer.from(iv ?? '', 'base64')).toHaveLength(16);
      expect(iv).not.toBe(keys[kid]);
    }
    expect(explicitIvs(second)).toEqual(ivs);
  });

  it.each([
    ['Widevine', V2.widevineCenc],
    ['PlayReady', V2.playreadyCenc],
    ['Widevine+PlayReady', V2.widevinePlayreadyCenc],
  ])('adds no explicitIV to a cenc %s request that sent none', async (_name, file) => {
    const body = withContentId(readAwslabs(file), freshContentId('iv-cenc'));
    const res = await postSpeke(t.app, { body, version: '2.0', token });
    expect(res.status).toBe(200);
    const ivs = ivAttributes(bodyText(res));
    expect(ivs.length).toBeGreaterThan(0);
    expect(ivs.every((iv) => iv === null)).toBe(true);
  });
});

describeWithVectors('SPEKE keys are per site', () => {
  const logs = captureLogs();
  let t: TestApp;
  beforeAll(() => {
    t = createTestApp(logs.logger);
  });
  afterAll(() => t.close());

  it.each([
    { dialect: 'v2.0', xml: () => readAwslabs(V2.allThreeCbcs), version: '2.0' },
    { dialect: 'v1', xml: () => V1_DOCS('live_request_clear.xml') },
  ])('SPEKE $dialect: two sites sending the same request get different keys, and B never sees A’s', async ({ xml, version }) => {
    const a = await t.services.sites.createSite({ name: 'site A' });
    const b = await t.services.sites.createSite({ name: 'site B' });
    const body = xml();
    const post = (token: string) => postSpeke(t.app, { body, token, ...(version !== undefined && { version }) });
    const resA = await post(a.token.token);
    const resB = await post(b.token.token);
    expect([resA.status, resB.status]).toEqual([200, 200]);
    const keysA = plainKeys(parseResponse(resA));
    const keysB = plainKeys(parseResponse(resB));
    expect(Object.keys(keysB)).toEqual(Object.keys(keysA));
    for (const kid of Object.keys(keysA)) expect(keysB[kid]).not.toBe(keysA[kid]);
    const textB = bodyText(resB);
    for (const key of Object.values(keysA)) {
      for (const form of encodingsOf(Buffer.from(key, 'base64'))) expect(textB).not.toContain(form);
    }
    // A's keys are still A's after B asked for the same content and KIDs.
    expect(plainKeys(parseResponse(await post(a.token.token)))).toEqual(keysA);
  });
});

describeWithVectors('SPEKE v2 encrypted key delivery (DASH-IF CPIX 2.3 §6.1)', () => {
  const logs = captureLogs();
  let t: TestApp;
  let siteId: string;
  let token: string;
  beforeAll(async () => {
    t = createTestApp(logs.logger);
    const created = await t.services.sites.createSite({ name: 'delivery' });
    siteId = created.site.id;
    token = created.token.token;
  });
  afterAll(() => t.close());

  const dashIf = (file: string): string => readFileSync(vectorPath('dashif-cpix-test-vectors', 'pem', file), 'utf8');
  const CERT1 = { certificate: new X509Certificate(dashIf('Cert1.cert.pem')), privateKey: createPrivateKey(dashIf('Cert1.key.pem')) };

  /** A suite request with a DeliveryDataList (first child of CPIX, XSD order) naming `pem` as the recipient. */
  function withDeliveryData(xml: string, pem: string): string {
    const der = new X509Certificate(pem).raw.toString('base64');
    const list =
      '<cpix:DeliveryDataList><cpix:DeliveryData id="packager">' +
      `<cpix:DeliveryKey><ds:X509Data><ds:X509Certificate>${der}</ds:X509Certificate></ds:X509Data></cpix:DeliveryKey>` +
      '</cpix:DeliveryData></cpix:DeliveryDataList>';
    const root = /<cpix:CPIX\s[^>]*>/.exec(xml);
    if (!root) throw new Error('no CPIX root');
    const withDs = root[0].replace('<cpix:CPIX ', '<cpix:CPIX xmlns:ds="http://www.w3.org/2000/09/xmldsig#" ');
    return xml.replace(root[0], `${withDs}${list}`);
  }

  it('encrypts the keys to the request certificate; they decrypt with its private key to the plain answer’s keys', async () => {
    const plainRequest = withContentId(readAwslabs(V2.allThreeCbcs), freshContentId('delivery'));
    const encrypted = await postSpeke(t.app, { body: withDeliveryData(plainRequest, dashIf('Cert1.cert.pem')), version: '2.0', token });
    expect(encrypted.status).toBe(200);
    const text = bodyText(encrypted);
    expect(text).not.toContain('PlainValue');
    const decrypted = decryptDocumentKeys(parseCpixDocument(text), [CERT1]);
    const plain = await postSpeke(t.app, { body: plainRequest, version: '2.0', token });
    expect(plain.status).toBe(200);
    const expected = plainKeys(parseResponse(plain));
    expect(Object.keys(expected)).toHaveLength(kidsOf(plainRequest).length);
    expect(plainKeys(decrypted)).toEqual(expected);
  });

  // DASH-IF calls it weak (Axinom wants 3072 bits), but SPEKE requires RSA-2048 recipients (AWS SPEKE v1
  // and v2, Customizations and constraints: "SPEKE requires 2048 RSA-based certificates").
  it('accepts the 2048-bit DASH-IF "WeakCert_SmallKey" recipient, whose key then decrypts the answer', async () => {
    const recipient = { certificate: new X509Certificate(dashIf('WeakCert_SmallKey.cert.pem')), privateKey: createPrivateKey(dashIf('WeakCert_SmallKey.key.pem')) };
    const plainRequest = withContentId(readAwslabs(V2.widevineCenc), freshContentId('delivery-2048'));
    const res = await postSpeke(t.app, { body: withDeliveryData(plainRequest, dashIf('WeakCert_SmallKey.cert.pem')), version: '2.0', token });
    expect(res.status).toBe(200);
    const decrypted = plainKeys(decryptDocumentKeys(parseResponse(res), [recipient]));
    expect(decrypted).toEqual(plainKeys(parseResponse(await postSpeke(t.app, { body: plainRequest, version: '2.0', token }))));
  });

  describeWithXmllint('with xmllint', () => {
    it('answers an encrypted-delivery request with a CPIX 2.3 XSD-valid document', async () => {
      const body = withDeliveryData(withContentId(readAwslabs(V2.widevineCenc), freshContentId('delivery-xsd')), dashIf('Cert1.cert.pem'));
      const res = await postSpeke(t.app, { body, version: '2.0', token });
      expect(res.status).toBe(200);
      const result = validateAgainstCpixXsd(bodyText(res), '2.3');
      expect({ valid: result.valid, messages: result.valid ? '' : result.messages }).toEqual({ valid: true, messages: '' });
    });
  });

  it.each([
    ['an RSA-1024 certificate', () => testCertificate('rsa1024'), /^DeliveryData\[0\]: RSA key of 1024 bits is below the minimum of 2048$/],
    ['a SHA-1 signed certificate', () => testCertificate('rsa2048-sha1'), /^DeliveryData\[0\]: certificate is signed with SHA-1$/],
    ['the DASH-IF SHA-1 certificate (RSA-4096)', () => dashIf('WeakCert_Sha1.cert.pem'), /^DeliveryData\[0\]: certificate is signed with SHA-1$/],
    // What makes each RSA operation dear (a 16,384-bit modulus about 1 ms an encryption, a 3,071-bit
    // exponent 5.8 ms): the bounds, and one step beyond each.
    ['an RSA modulus of 8,200 bits', () => chosenKeyCertificate(8200, 65537n), /^DeliveryData\[0\]: RSA key of 8200 bits is above the maximum of 8192$/],
    ['an RSA exponent of 2^32 + 1', () => chosenKeyCertificate(2048, 2n ** 32n + 1n), /^DeliveryData\[0\]: RSA public exponents above 2\^32 are not supported$/],
  ])('refuses %s with 400 and the weak-certificate text, no keys', async (_name, pem, message) => {
    const contentId = freshContentId('weak');
    const body = withDeliveryData(withContentId(readAwslabs(V2.widevineCenc), contentId), pem());
    const res = await postSpeke(t.app, { body, version: '2.0', token });
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(bodyText(res)).toMatch(message);
    // Refused before any key is created: nothing stored, so nothing unaudited and nothing to leak.
    expect(await t.services.contentKeys.listMetadata(siteId, contentId)).toEqual([]);
  });

  it(`refuses more than ${MAX_RECIPIENTS_PER_REQUEST} recipient certificates with 413 before reading any, no keys`, async () => {
    const contentId = freshContentId('recipients');
    const one = withDeliveryData(withContentId(readAwslabs(V2.widevineCenc), contentId), dashIf('Cert1.cert.pem'));
    const item = /<cpix:DeliveryData id="packager">.*?<\/cpix:DeliveryData>/.exec(one)?.[0] ?? '';
    const many = (count: number) => one.replace(item, Array.from({ length: count }, (_, i) => item.replace('"packager"', `"r${i}"`)).join(''));
    // Certificates that do not parse: the count refuses first, whatever they hold.
    const res = await postSpeke(t.app, { body: many(MAX_RECIPIENTS_PER_REQUEST + 1).replaceAll(/<ds:X509Certificate>[^<]*</g, '<ds:X509Certificate>AAAA<'), version: '2.0', token });
    expect(res.status).toBe(413);
    expect(bodyText(res)).toContain(`DeliveryDataList: ${MAX_RECIPIENTS_PER_REQUEST + 1} recipient certificates, at most ${MAX_RECIPIENTS_PER_REQUEST} per request`);
    expect(await t.services.contentKeys.listMetadata(siteId, contentId)).toEqual([]);
    // At the cap it is answered; sixteen times the same certificate is one recipient (a 500 before:
    // sixteen DeliveryData echoing the first one's id).
    const atTheCap = await postSpeke(t.app, { body: many(MAX_RECIPIENTS_PER_REQUEST), version: '2.0', token });
    expect(atTheCap.status).toBe(200);
    expect(parseResponse(atTheCap).deliveryDataList?.items.map((item) => item.id)).toEqual(['r0']);
  });
});
