import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createTestApp, type TestApp } from '../support/app';
import { captureLogs } from '../support/log-capture';
import { describeWithVectors } from '../support/shared-vectors';
import { awslabsPath, bodyText, freshContentId, parseResponse, postSpeke, readAwslabs, rootDeclarations, SPEKE_NS, withContentId } from '../support/speke-http';
import { validateAgainstCpixXsd } from '../support/xsd';

/**
 * SPEKE v2.1 (CPIX 2.4; AWS SPEKE API v2.1, Changes from SPEKE v2.0): the AWS suite's generated
 * requests, restated as 2.4 documents, are answered under `X-Speke-Version: 2.1` with documents valid
 * against the official CPIX 2.4 XSD.
 */
describeWithVectors('SPEKE v2.1 over HTTP', () => {
  const logs = captureLogs();
  let t: TestApp;
  let token: string;
  const folder = 'generated/live/test_case_2_p_v_3_a_2';
  const files = (() => {
    try {
      return readdirSync(awslabsPath(folder)).filter((name) => name.endsWith('.xml')).sort();
    } catch {
      return [];
    }
  })();

  beforeAll(async () => {
    t = createTestApp(logs.logger);
    token = (await t.services.sites.createSite({ name: 'speke-2.1' })).token.token;
  });
  afterAll(() => t.close());

  it('covers the seven DRM combinations of the suite generator', () => {
    expect(files).toHaveLength(7);
  });

  it.each(files)('%s → 200, CPIX 2.4 valid, v2.1 headers, no speke namespace', async (file) => {
    const body = withContentId(readAwslabs(join(folder, file)), freshContentId('v21')).replace(/(<cpix:CPIX\b[^>]*\sversion=")2\.3"/, '$12.4"');
    const res = await postSpeke(t.app, { body, version: '2.1', token });
    expect(res.status).toBe(200);
    expect(res.headers['x-speke-version']).toBe('2.1');
    const xml = bodyText(res);
    const xsd = validateAgainstCpixXsd(xml, '2.4');
    expect({ valid: xsd.valid, messages: xsd.valid ? '' : xsd.messages }).toEqual({ valid: true, messages: '' });
    expect(Object.values(rootDeclarations(xml))).not.toContain(SPEKE_NS);
    const doc = parseResponse(res);
    expect(doc.version).toBe('2.4');
    for (const key of doc.contentKeyList?.items ?? []) expect(key.data?.kind).toBe('plain');
  });

  it('refuses a CPIX 2.3 document under X-Speke-Version 2.1 with the exact string', async () => {
    const res = await postSpeke(t.app, { body: readAwslabs(join(folder, files[0] ?? '')), version: '2.1', token });
    expect(res.status).toBe(422);
    expect(bodyText(res)).toBe('Unsupported CPIX@version');
  });
});
