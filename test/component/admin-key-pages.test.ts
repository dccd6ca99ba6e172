/**
 * The admin listing of a content's keys comes a page at a time (docs/decisions.md, "Audit bounds"):
 * a live content gains keys with every key period, without end, and one call must not read them all.
 */

import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { parseKeyId } from '../../src/keys/key-id';
import { MAX_KEY_LIST_PAGE_SIZE } from '../../src/keys/content-key-service';
import { createTestApp, type TestApp } from '../support/app';
import { captureLogs } from '../support/log-capture';

interface KeyPage {
  readonly keys: readonly { readonly kid: string }[];
  readonly next?: string;
}

describe('admin key listing pages', () => {
  const logs = captureLogs();
  let t: TestApp;
  let siteId: string;
  let kids: string[];
  beforeAll(async () => {
    t = createTestApp(logs.logger);
    const { site } = await t.services.sites.createSite({ name: 'key pages' });
    siteId = site.id;
    kids = [];
    // 1,500 keys: more than one page at the default, as a live content has after enough key periods.
    for (const count of [1000, 500]) {
      const created = await t.services.contentKeys.getOrCreateAll(
        siteId,
        1,
        Array.from({ length: count }, (_, i) => ({ contentId: 'live', kid: parseKeyId(randomUUID()), periodIndex: i })),
      );
      kids.push(...created.map((key) => key.kid));
    }
  });
  afterAll(() => t.close());

  const get = (query: Record<string, string> = {}) =>
    request(t.app).get(`/admin/v1/sites/${siteId}/contents/live/keys`).query(query).set('Authorization', `Bearer ${t.adminToken}`);

  it(`answers at most ${MAX_KEY_LIST_PAGE_SIZE} keys by default, oldest first, and the rest after its cursor`, async () => {
    const first = await get().expect(200);
    const page = first.body as KeyPage;
    expect(page.keys.map((key) => key.kid)).toEqual(kids.slice(0, MAX_KEY_LIST_PAGE_SIZE));
    expect(page.next).toEqual(expect.any(String));
    const rest = (await get({ after: page.next as string }).expect(200)).body as KeyPage;
    expect(rest.keys.map((key) => key.kid)).toEqual(kids.slice(MAX_KEY_LIST_PAGE_SIZE));
    expect(rest.next).toBeUndefined();
  });

  it('takes a smaller limit; a page after the last key is empty, not a 404', async () => {
    const walked: string[] = [];
    let after: string | undefined;
    let pages = 0;
    do {
      const page = (await get({ limit: '500', ...(after !== undefined && { after }) }).expect(200)).body as KeyPage;
      expect(page.keys.length).toBeLessThanOrEqual(500);
      walked.push(...page.keys.map((key) => key.kid));
      after = page.next;
      pages += 1;
    } while (after !== undefined);
    expect(walked).toEqual(kids);
    expect(pages).toBe(4);
  });

  it('refuses a limit out of range and a cursor it did not issue with 400; an unknown content is still 404', async () => {
    const queries: Record<string, string>[] = [{ limit: '0' }, { limit: String(MAX_KEY_LIST_PAGE_SIZE + 1) }, { after: 'Zm9v' }, { after: 'a/b' }, { page: '2' }];
    for (const query of queries) {
      const res = await get(query);
      expect({ query, status: res.status, code: res.body.error?.code }).toEqual({ query, status: 400, code: 'ERR_REQUEST_INVALID' });
    }
    const unknown = await request(t.app).get(`/admin/v1/sites/${siteId}/contents/nothing/keys`).set('Authorization', `Bearer ${t.adminToken}`);
    expect(unknown.status).toBe(404);
  });
});
