import * as build from '../../src/cpix/build';
import { FAIRPLAY_SYSTEM_ID, PLAYREADY_SYSTEM_ID, WIDEVINE_SYSTEM_ID } from '../../src/drm/system-ids';
import { createTestApp, type TestApp } from '../support/app';
import { beforeGetOrCreate } from '../support/speke-slow-store';
import { captureLogs } from '../support/log-capture';
import { bodyText, postSpeke } from '../support/speke-http';
import { buildSpekeV2Request } from '../support/speke-request';

/**
 * A request the service has answered once is answered again with one build of the CPIX document,
 * with the stored keys, instead of a check build with stand-in keys and then the real one (decision
 * 93). What may skip the check is exactly what decides it: the same bytes, dialect and site revision.
 * Anything else is checked again, so a refusal still comes before any key is created.
 */

const SYSTEMS = [WIDEVINE_SYSTEM_ID, PLAYREADY_SYSTEM_ID, FAIRPLAY_SYSTEM_ID];

/** What a request did, in order: documents built, and the store's get-or-create step. */
type Step = 'build' | 'store';

describe('repeated key requests', () => {
  let t: TestApp;
  let steps: Step[];
  let builds: jest.SpiedFunction<typeof build.buildCpix>;

  beforeEach(() => {
    steps = [];
    t = createTestApp(captureLogs().logger, undefined, {
      wrapStore: beforeGetOrCreate(() => {
        steps.push('store');
      }),
    });
    const real = build.buildCpix;
    builds = jest.spyOn(build, 'buildCpix').mockImplementation((...args) => {
      steps.push('build');
      return real(...args);
    });
  });
  afterEach(async () => {
    builds.mockRestore();
    await t.close();
  });

  /** Posts a SPEKE v2.0 request; the answer's text and the steps it took. */
  async function ask(token: string, body: string): Promise<{ status: number; text: string; steps: Step[] }> {
    steps = [];
    const res = await postSpeke(t.app, { body, version: '2.0', token });
    return { status: res.status, text: bodyText(res), steps };
  }

  const newSite = async (name: string) => {
    const created = await t.services.sites.createSite({ name });
    return { id: created.site.id, token: created.token.token };
  };

  it('checks a new request before the store, and builds a repeat once, after it: the first answer byte for byte', async () => {
    const site = await newSite('repeats');
    const body = buildSpekeV2Request('repeat-1', 'cbcs', SYSTEMS);
    const first = await ask(site.token, body);
    expect([first.status, first.steps]).toEqual([200, ['build', 'store']]);
    const again = await ask(site.token, body);
    expect([again.status, again.steps]).toEqual([200, ['store', 'build']]);
    expect(again.text).toBe(first.text);
  });

  it.each([
    ['other bytes for the same keys (one more space)', (body: string) => body.replace('<cpix:ContentKeyList>', '<cpix:ContentKeyList> ')],
    ['the same bytes after the site\'s options changed', (body: string) => body],
  ])('checks again before the store: %s', async (name, vary) => {
    const site = await newSite('varied');
    const body = buildSpekeV2Request('repeat-2', 'cbcs', SYSTEMS);
    await ask(site.token, body);
    if (name.includes('options')) await t.services.sites.updateSite(site.id, { options: { fairPlaySkdTemplate: 'skd://keys/{kid_hex}' } });
    const again = await ask(site.token, vary(body));
    // The check, the store step, then the answer with the stored keys.
    expect([again.status, again.steps]).toEqual([200, ['build', 'store', 'build']]);
  });

  it('remembers nothing for another site sending the same bytes (at the same site revision)', async () => {
    const body = buildSpekeV2Request('repeat-3', 'cbcs', SYSTEMS);
    const one = await newSite('one');
    const other = await newSite('other');
    const answers = [await ask(one.token, body), await ask(other.token, body)];
    expect(answers.map((answer) => answer.steps)).toEqual([
      ['build', 'store'],
      ['build', 'store'],
    ]);
    expect(answers[0]?.text).not.toBe(answers[1]?.text);
  });

  it('never remembers a refusal: the same refused request is checked, and refused, every time', async () => {
    const site = await newSite('refused');
    // W3C Common has no HLS form: refused while the check answer is made, before any key exists.
    const body = buildSpekeV2Request('repeat-4', 'cenc', ['1077efec-c0b2-4d02-ace3-3c1e52e2fb4b']);
    for (let i = 0; i < 2; i += 1) {
      const answer = await ask(site.token, body);
      expect([answer.status, answer.text, answer.steps]).toEqual([
        400,
        'DRMSystem[systemId=1077efec-c0b2-4d02-ace3-3c1e52e2fb4b]/HLSSignalingData: no value for this DRM system',
        [],
      ]);
    }
    expect(await t.services.contentKeys.listMetadata(site.id, 'repeat-4')).toEqual([]);
  });
});
