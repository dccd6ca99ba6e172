/**
 * SPEKE v2.0 over HTTP on the real app (SQLite store, every route), driven by every request of the
 * AWS reference server and its v2 verification suite (../shared/vectors/speke/awslabs-speke-reference-server,
 * read in place). The folder is walked; which files are refused and with which SPEKE v2 error string is decided
 * by the validation pipeline `outcomeOf` (test/unit/exchange/speke-validate-support.ts), whose verdict
 * on each file is pinned file by file in test/unit/exchange/speke-validate-vectors.test.ts. Here we
 * check that the HTTP answer is that verdict, and that every accepted request gets a response that
 * keeps the SPEKE v2 echo rules (`expectV2Echo`) and validates against the CPIX 2.3 XSD.
 *
 * Also: the suite's removal negatives (its `test_negative_cases.py`) and the v2 error headers.
 */

import type request from 'supertest';
import { parseCpixDocument } from '../../src/cpix/parse';
import { UNSUPPORTED_SPEKE_VERSION } from '../../src/exchange/speke/version';
import { createTestApp, type TestApp } from '../support/app';
import { captureLogs } from '../support/log-capture';
import { describeWithVectors } from '../support/shared-vectors';
import {
  CPIX_NS,
  PSKC_NS,
  SPEKE_NS,
  awslabsRequestFiles,
  bodyText,
  childElements,
  childKey,
  cpixElements,
  elementNames,
  parseDom,
  postSpeke,
  readAwslabs,
  rootAttributes,
  rootDeclarations,
} from '../support/speke-http';
import { describeWithXmllint, validateAgainstCpixXsd } from '../support/xsd';
import { mutate, outcomeOf, type Outcome } from '../unit/exchange/speke-validate-support';

const CENC_NS = 'urn:mpeg:cenc:2013';
const XML_CONTENT_TYPE = /^application\/xml(; charset=utf-8)?$/i;
const TEXT_CONTENT_TYPE = /^text\/plain(;|$)/;

/** A v1 request (root `id`, `speke:` elements): under a v2 header it is refused; without one it is SPEKE v1. */
const V1_SHAPED_REQUEST = 'tests/server_api_body.xml';

/**
 * Accepted requests whose response is not XSD-valid for a reason that lies in the request itself.
 * Empty: every accepted suite request carries ids that are valid xs:ID (`keyPeriod_…`), so every
 * response must validate. A MediaPackage-style bare-UUID period id would belong here (see the test of one below).
 */
const XSD_INVALID_BY_REQUEST: Readonly<Record<string, string>> = {};

function expectV2Headers(res: request.Response, version = '2.0'): void {
  expect(res.headers['x-speke-version']).toBe(version);
  expect(res.headers['x-speke-user-agent']).toEqual(expect.stringMatching(/\S/));
}

/** The text of a signaling element, whitespace-trimmed (base64 may be pretty-printed in requests). */
const textOf = (element: ReturnType<typeof parseDom>): string => (element.textContent ?? '').trim();

/** `<pssh>` elements of a ContentProtectionData fragment, parsed standalone as the suite does (`<cpd>` wrapper). */
function psshInContentProtectionData(base64: string): string[] {
  const fragment = parseDom(`<cpd>${Buffer.from(base64, 'base64').toString('utf8')}</cpd>`);
  return childElements(fragment)
    .filter((element) => element.namespaceURI === CENC_NS && element.localName === 'pssh')
    .map(textOf);
}

/**
 * The SPEKE v2 response rules (AWS SPEKE v2, Customizations and constraints; Standard payload components): the
 * key provider fills in values and changes nothing the encryptor sent. Checked on one request/response
 * pair, read with an independent parser (xmldom).
 */
function expectV2Echo(requestXml: string, responseXml: string): void {
  // Root attributes unchanged (contentId and version must not change), nothing added (no @id).
  expect(rootAttributes(responseXml)).toEqual(rootAttributes(requestXml));
  // cpix and pskc declared on the root by their literal prefixes (both are mandatory root declarations);
  // nothing of SPEKE v1 (MediaPackage v2 refuses `speke:` elements).
  const declarations = rootDeclarations(responseXml);
  expect(declarations).toMatchObject({ cpix: CPIX_NS, pskc: PSKC_NS });
  expect(Object.values(declarations)).not.toContain(SPEKE_NS);
  const names = elementNames(responseXml);
  expect(names.filter((name) => name.startsWith(`{${SPEKE_NS}}`) || name === `{${CPIX_NS}}URIExtXKey`)).toEqual([]);

  const request = parseDom(requestXml);
  const response = parseDom(responseXml);
  // Exactly one of each mandatory list.
  const lists = childElements(response).map((element) => element.localName);
  for (const list of ['ContentKeyList', 'DRMSystemList', 'ContentKeyUsageRuleList']) {
    expect(lists.filter((name) => name === list)).toEqual([list]);
  }

  // ContentKeys: kids byte for byte and in order, scheme and a sent explicitIV echoed, one 16-byte PlainValue each.
  const attributesOf = (element: ReturnType<typeof parseDom>, names: readonly string[]) =>
    Object.fromEntries(names.map((name) => [name, element.getAttribute(name)]));
  const requestKeys = cpixElements(request, 'ContentKey');
  const responseKeys = cpixElements(response, 'ContentKey');
  expect(responseKeys.map((key) => attributesOf(key, ['kid', 'commonEncryptionScheme']))).toEqual(
    requestKeys.map((key) => attributesOf(key, ['kid', 'commonEncryptionScheme'])),
  );
  requestKeys.forEach((key, index) => {
    const iv = key.getAttribute('explicitIV');
    if (iv) expect(responseKeys[index]?.getAttribute('explicitIV')).toBe(iv);
  });
  for (const key of responseKeys) {
    const data = childElements(key).filter((element) => element.localName === 'Data');
    expect(data).toHaveLength(1);
    const secrets = data.flatMap(childElements);
    expect(secrets.map((element) => `{${element.namespaceURI}}${element.localName}`)).toEqual([`{${PSKC_NS}}Secret`]);
    const values = secrets.flatMap(childElements);
    expect(values.map((element) => `{${element.namespaceURI}}${element.localName}`)).toEqual([`{${PSKC_NS}}PlainValue`]);
    expect(Buffer.from(textOf(values[0] as ReturnType<typeof parseDom>), 'base64')).toHaveLength(16);
  }

  // DRMSystems with kid and systemId exactly as sent; every element sent comes back with a value (an
  // encryptor stops on an empty one).
  const requestSystems = cpixElements(request, 'DRMSystem');
  const responseSystems = cpixElements(response, 'DRMSystem');
  expect(responseSystems.map((system) => attributesOf(system, ['kid', 'systemId']))).toEqual(
    requestSystems.map((system) => attributesOf(system, ['kid', 'systemId'])),
  );
  requestSystems.forEach((requestSystem, index) => {
    const responseSystem = responseSystems[index] as ReturnType<typeof parseDom>;
    const sent = childElements(requestSystem);
    const answered = childElements(responseSystem);
    expect(answered.map(childKey)).toEqual(sent.map(childKey));
    answered.forEach((element, i) => {
      expect({ element: childKey(element), empty: textOf(element) === '' }).toEqual({ element: childKey(element), empty: false });
      const sentValue = textOf(sent[i] as ReturnType<typeof parseDom>);
      if (sentValue !== '') expect(textOf(element)).toBe(sentValue);
    });

    // PSSH == the <pssh> inside ContentProtectionData (SPEKE v2 requires the two to be identical).
    const byName = (name: string) => answered.filter((element) => element.localName === name);
    const [pssh] = byName('PSSH');
    const [cpd] = byName('ContentProtectionData');
    if (pssh !== undefined && cpd !== undefined) {
      const inCpd = psshInContentProtectionData(textOf(cpd));
      if (inCpd.length > 0) expect(inCpd).toEqual([textOf(pssh)]);
    }
    // HLS: media and master lines identical but for the tag name.
    const hls = byName('HLSSignalingData');
    if (hls.length > 0) {
      const line = (playlist: string) =>
        Buffer.from(textOf(hls.find((element) => element.getAttribute('playlist') === playlist) as ReturnType<typeof parseDom>), 'base64').toString('utf8');
      const media = line('media');
      const master = line('master');
      expect(media).toMatch(/^#EXT-X-KEY:/);
      expect(master).toMatch(/^#EXT-X-SESSION-KEY:/);
      expect(media.slice('#EXT-X-KEY:'.length)).toBe(master.slice('#EXT-X-SESSION-KEY:'.length));
    }
  });

  // Contract and periods unchanged: a key provider never modifies the encryption contract (compared as
  // parsed models).
  const requestModel = parseCpixDocument(requestXml, undefined, { references: 'skip' });
  const responseModel = parseCpixDocument(responseXml);
  expect(responseModel.contentKeyUsageRuleList).toEqual(requestModel.contentKeyUsageRuleList);
  expect(responseModel.contentKeyPeriodList).toEqual(requestModel.contentKeyPeriodList);
}

describeWithVectors('SPEKE v2.0 over HTTP: every AWS reference-server and suite request', () => {
  const logs = captureLogs();
  let t: TestApp;
  let token: string;
  const files = awslabsRequestFiles();
  const cases = files.map((file) => ({ file, expected: outcomeOf(readAwslabs(file), '2.0') }));
  const positives = cases.filter((entry) => entry.expected.kind === 'accepted').map((entry) => entry.file);
  const negatives = cases.filter(
    (entry): entry is { file: string; expected: Exclude<Outcome, { kind: 'accepted' }> } => entry.expected.kind !== 'accepted',
  );

  /** One POST per file for the whole file, shared by the echo-rule and the XSD checks. */
  const responses = new Map<string, Promise<request.Response>>();
  const responseFor = (file: string): Promise<request.Response> => {
    let pending = responses.get(file);
    if (pending === undefined) {
      pending = Promise.resolve(postSpeke(t.app, { body: readAwslabs(file), version: '2.0', token }));
      responses.set(file, pending);
    }
    return pending;
  };

  beforeAll(async () => {
    t = createTestApp(logs.logger);
    token = (await t.services.sites.createSite({ name: 'suite' })).token.token;
  });
  afterAll(() => t.close());

  it("walks vectors/speke/awslabs-speke-reference-server and finds the suite's negatives among its 139 files", () => {
    expect(files).toHaveLength(139);
    // The file-by-file verdicts are pinned in speke-validate-vectors.test.ts; here only that there are some.
    expect(negatives.map((entry) => entry.file)).toContain(V1_SHAPED_REQUEST);
    expect(negatives).toHaveLength(9);
  });

  it.each(positives)('%s: 200 with a response that meets the SPEKE v2 response rules', async (file) => {
    const res = await responseFor(file);
    expect({ status: res.status, body: res.status === 200 ? '' : bodyText(res) }).toEqual({ status: 200, body: '' });
    expectV2Headers(res);
    expect(res.headers['content-type']).toMatch(XML_CONTENT_TYPE);
    expectV2Echo(readAwslabs(file), bodyText(res));
  });

  describeWithXmllint('responses against the CPIX 2.3 XSD (xmllint)', () => {
    it.each(positives)('%s', async (file) => {
      const res = await responseFor(file);
      expect(res.status).toBe(200);
      const result = validateAgainstCpixXsd(bodyText(res), '2.3');
      const expected = file in XSD_INVALID_BY_REQUEST ? false : true;
      expect({ valid: result.valid, messages: result.valid === expected ? '' : result.messages }).toEqual({ valid: expected, messages: '' });
    });

    // MediaPackage sends bare-UUID ContentKeyPeriod ids (seen in captured MediaPackage v2 requests), which
    // are not xs:ID (an NCName cannot start with a digit). We answer and echo them unchanged (periods are
    // never modified), so that response cannot be
    // XSD-valid: the one expected failure is that id, and nothing else.
    it('a MediaPackage-style bare-UUID period id: 200, echoed, XSD-invalid only for that id', async () => {
      const file = 'generated/live/test_case_1_p_v_1_a_1/1_widevine.xml';
      const periodId = '20ad2678-47bf-3f9c-9de5-15588d96a74c';
      const xml = mutate(readAwslabs(file), /keyPeriod_[0-9a-f-]+/, periodId).replace(/contentId="[^"]*"/, 'contentId="mediapackage-style"');
      const res = await postSpeke(t.app, { body: xml, version: '2.0', token });
      expect(res.status).toBe(200);
      expectV2Echo(xml, bodyText(res));
      const result = validateAgainstCpixXsd(bodyText(res), '2.3');
      expect(result.valid).toBe(false);
      const errors = result.messages.split('\n').filter((line) => /error/i.test(line));
      expect(errors.length).toBeGreaterThan(0);
      for (const line of errors) expect(line).toContain(periodId);
      // The same response with a valid id validates, so the id is the only reason.
      expect(validateAgainstCpixXsd(bodyText(res).split(periodId).join(`p${periodId}`), '2.3')).toMatchObject({ valid: true });
    });
  });

  // PallyCon sends upper-case systemIds and compares the answer with strcmp (docs/pallycon-api.md): kid
  // and systemId come back exactly as sent, and the keys are those of the lower-case spelling.
  it('echoes upper-case kid and systemId strings byte for byte, with the same keys as their lower-case form', async () => {
    const file = 'generated/live/test_case_2_p_v_3_a_2/7_widevine_playready_fairplay.xml';
    const lower = readAwslabs(file);
    const upper = lower.replace(/(kid|systemId)="([0-9a-f-]+)"/g, (_match, name: string, value: string) => `${name}="${value.toUpperCase()}"`);
    expect(upper).not.toBe(lower);
    const res = await postSpeke(t.app, { body: upper, version: '2.0', token });
    expect(res.status).toBe(200);
    expectV2Echo(upper, bodyText(res));
    const keysOf = (xml: string) =>
      Object.fromEntries(parseCpixDocument(xml).contentKeyList?.items.map((key) => [key.kid.toLowerCase(), key.data]) ?? []);
    expect(keysOf(bodyText(res))).toEqual(keysOf(bodyText(await responseFor(file))));
  });

  it.each(negatives)('$file: refused with the validator status and exact text', async ({ file, expected }) => {
    const res = await responseFor(file);
    expectV2Headers(res);
    expect(res.headers['content-type']).toMatch(TEXT_CONTENT_TYPE);
    if (expected.kind === 'rejected') expect({ status: res.status, body: bodyText(res) }).toEqual({ status: expected.status, body: expected.body });
    else expect(res.status).toBe(expected.status);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
  });

  it(`${V1_SHAPED_REQUEST} without X-Speke-Version is answered as SPEKE v1`, async () => {
    const xml = readAwslabs(V1_SHAPED_REQUEST);
    const res = await postSpeke(t.app, { body: xml, token });
    expect(res.status).toBe(200);
    expect(res.headers['x-speke-version']).toBeUndefined();
    expect(res.headers['speke-user-agent']).toEqual(expect.stringMatching(/\S/));
    const root = parseDom(bodyText(res));
    expect(root.getAttribute('id')).toBe('5E99137A-BD6C-4ECC-A24D-A3EE04B4E011');
    // HLS AES-128 (as in AWS SPEKE v1's live example): URIExtXKey and the speke: key format elements filled;
    // the placeholders it has no value for (ContentProtectionData, PSSH, ProtectionHeader) left out, never sent
    // empty.
    const [system] = cpixElements(root, 'DRMSystem');
    const filled = childElements(system as ReturnType<typeof parseDom>).map((element) => [
      element.localName,
      Buffer.from(textOf(element), 'base64').toString('utf8'),
    ]);
    expect(Object.fromEntries(filled)).toEqual({
      URIExtXKey: expect.stringMatching(/^https:\/\/\S+$/),
      KeyFormat: 'identity',
      KeyFormatVersions: '1',
    });
  });
});

describeWithVectors('SPEKE v2.0 over HTTP: the AWS verification suite\'s removal negatives', () => {
  const logs = captureLogs();
  let t: TestApp;
  let token: string;
  beforeAll(async () => {
    t = createTestApp(logs.logger);
    token = (await t.services.sites.createSite({ name: 'negatives' })).token.token;
  });
  afterAll(() => t.close());

  const REQUESTS = {
    live: 'generated/live/test_case_2_p_v_3_a_2/7_widevine_playready_fairplay.xml',
    vod: 'generated/vod/test_case_4_p_v_8_a_2/4_widevine_playready.xml',
  };
  /** Whole elements as the suite files spell them (the suite's "remove all"); `(\s…)?>` keeps DRMSystem off DRMSystemList. */
  const element = (name: string): RegExp => new RegExp(`<cpix:${name}(\\s[^>]*)?>[\\s\\S]*?</cpix:${name}>`);
  const attribute = (owner: string, name: string): RegExp => new RegExp(`(<cpix:${owner}(?:\\s[^>]*?)?)\\s${name}="[^"]*"`);
  const REMOVALS: readonly { readonly name: string; readonly pattern: RegExp; readonly replacement: string }[] = [
    { name: 'ContentKeyList', pattern: element('ContentKeyList'), replacement: '' },
    { name: 'DRMSystemList', pattern: element('DRMSystemList'), replacement: '' },
    { name: 'ContentKeyUsageRuleList', pattern: element('ContentKeyUsageRuleList'), replacement: '' },
    { name: 'every ContentKey', pattern: /<cpix:ContentKey\s[^>]*\/>/, replacement: '' },
    { name: 'every DRMSystem', pattern: element('DRMSystem'), replacement: '' },
    { name: 'every ContentKeyUsageRule', pattern: element('ContentKeyUsageRule'), replacement: '' },
    { name: 'ContentKey@kid', pattern: attribute('ContentKey', 'kid'), replacement: '$1' },
    { name: 'ContentKey@commonEncryptionScheme', pattern: attribute('ContentKey', 'commonEncryptionScheme'), replacement: '$1' },
    { name: 'DRMSystem@kid', pattern: attribute('DRMSystem', 'kid'), replacement: '$1' },
    { name: 'DRMSystem@systemId', pattern: attribute('DRMSystem', 'systemId'), replacement: '$1' },
    { name: 'ContentKeyUsageRule@kid', pattern: attribute('ContentKeyUsageRule', 'kid'), replacement: '$1' },
    { name: 'ContentKeyUsageRule@intendedTrackType', pattern: attribute('ContentKeyUsageRule', 'intendedTrackType'), replacement: '$1' },
  ];
  const cases = Object.entries(REQUESTS).flatMap(([mode, file]) => REMOVALS.map((removal) => ({ mode, file, ...removal })));

  it('refuses an empty body with a 4xx text answer that carries the v2 headers', async () => {
    const res = await postSpeke(t.app, { body: '', version: '2.0', token });
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(TEXT_CONTENT_TYPE);
    expectV2Headers(res);
  });

  it.each(Object.values(REQUESTS))('starts from a request answered with 200 (%s)', async (file) => {
    expect((await postSpeke(t.app, { body: readAwslabs(file), version: '2.0', token })).status).toBe(200);
  });

  it.each(cases)('$mode: refuses the request without $name', async ({ file, pattern, replacement }) => {
    const xml = mutate(readAwslabs(file), pattern, replacement);
    const expected = outcomeOf(xml, '2.0');
    const res = await postSpeke(t.app, { body: xml, version: '2.0', token });
    expect(expected.kind).not.toBe('accepted');
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(res.headers['content-type']).toMatch(TEXT_CONTENT_TYPE);
    expectV2Headers(res);
    // Where the refusal is one of the SPEKE v2 error strings, the body is exactly that string (SpekeRejected); otherwise the parser's 400.
    if (expected.kind === 'rejected') expect({ status: res.status, body: bodyText(res) }).toEqual({ status: 422, body: expected.body });
    else expect(res.status).toBe(400);
  });
});

describeWithVectors('SPEKE v2 version header and error headers', () => {
  const logs = captureLogs();
  let t: TestApp;
  let token: string;
  const FILE = 'generated/vod/test_case_1_p_v_1_a_1/1_widevine.xml';
  beforeAll(async () => {
    t = createTestApp(logs.logger);
    token = (await t.services.sites.createSite({ name: 'headers' })).token.token;
  });
  afterAll(() => t.close());

  it.each(['3.0', '1.0', '2', ''])('refuses X-Speke-Version "%s" with 422 "Unsupported SPEKE version", echoing it', async (version) => {
    const res = await postSpeke(t.app, { body: readAwslabs(FILE), version, token });
    expect({ status: res.status, body: bodyText(res) }).toEqual({ status: 422, body: UNSUPPORTED_SPEKE_VERSION });
    expect(res.headers['x-speke-version']).toBe(version);
    expect(res.headers['x-speke-user-agent']).toEqual(expect.stringMatching(/\S/));
  });

  it.each([
    ['x-speke-version', '2.0'],
    ['X-SPEKE-VERSION', '2.0'],
  ])('reads the header name %s case-insensitively', async (header, version) => {
    const res = await postSpeke(t.app, { body: readAwslabs(FILE), version, versionHeader: header, token });
    expect(res.status).toBe(200);
    expectV2Headers(res);
    expect(parseDom(bodyText(res)).getAttribute('version')).toBe('2.3');
  });

  it.each([
    ['no token', undefined, 401],
    ['a wrong token', 'kms1.AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB', 401],
  ])('answers %s with %i as text, still with the v2 headers', async (_name, credential, status) => {
    const res = await postSpeke(t.app, { body: readAwslabs(FILE), version: '2.0', ...(credential !== undefined && { token: credential }) });
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(TEXT_CONTENT_TYPE);
    expectV2Headers(res);
  });
});
