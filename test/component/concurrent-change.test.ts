/**
 * 409 `ERR_CONCURRENT_CHANGE`: what a request acts on changed under it, nothing was changed, retry.
 * A key request whose site keeps changing: each store step finds the site's revision moved since
 * authentication, creates nothing, and the route authenticates again from the store; after the third
 * such step it answers 409 (decision 82). A site-key rotation that another rotation overtook (decision 3).
 * The changes come from store wrappers that make them just before the step, as an administrator's
 * edits racing the request would.
 */

import request from 'supertest';
import type { Store } from '../../src/store/store';
import { testMasterKey } from '../support/services';
import { createTestApp, type TestApp } from '../support/app';
import { buildDoveRunnerRequest } from '../support/doverunner-clients';
import { captureLogs } from '../support/log-capture';
import { freshContentId } from '../support/speke-http';

describe('a key request under a site that keeps changing', () => {
  const logs = captureLogs();
  let t: TestApp;
  let siteId: string;
  let token: string;
  let racing = false;
  let keySteps = 0;

  /** Renames the site before each key step while `racing`: its revision moves under every attempt. */
  const raceEveryKeyStep = (store: Store): Store => ({
    ...store,
    contentKeys: {
      ...store.contentKeys,
      getOrCreateAll: async (records, options) => {
        keySteps += 1;
        if (racing) await store.sites.updateSite(siteId, { name: `renamed ${keySteps}`, updatedAt: new Date().toISOString() });
        return store.contentKeys.getOrCreateAll(records, options);
      },
    },
  });

  beforeAll(async () => {
    t = createTestApp(logs.logger, undefined, { wrapStore: raceEveryKeyStep });
    const created = await t.services.sites.createSite({ name: 'racing' });
    siteId = created.site.id;
    token = created.token.token;
  });
  afterAll(() => t.close());

  const keyRequest = (contentId: string) =>
    request(t.app).post(`/v2/cpix/pallycon/getKey/${token}`).set('Content-Type', 'application/xml').send(buildDoveRunnerRequest(contentId, ['HD']).xml);

  it('answers 409 ERR_CONCURRENT_CHANGE after three stale key steps, creating nothing; the next calm request is answered', async () => {
    const contentId = freshContentId('racing');
    racing = true;
    keySteps = 0;
    const refused = await keyRequest(contentId);
    expect([refused.status, refused.body.error?.code]).toEqual([409, 'ERR_CONCURRENT_CHANGE']);
    expect(keySteps).toBe(3);
    expect((await t.services.contentKeys.listMetadataPage(siteId, contentId)).keys).toEqual([]);

    racing = false;
    expect((await keyRequest(contentId)).status).toBe(200);
    expect((await t.services.contentKeys.listMetadataPage(siteId, contentId)).keys).toHaveLength(1);
  });
});

describe('a site-key rotation that another rotation overtakes', () => {
  const logs = captureLogs();
  const masterKey = testMasterKey();
  let t: TestApp;

  /** Adds the next site-key version itself just before the rotation's own compare-and-set. */
  const overtakeEveryRotation = (store: Store): Store => ({
    ...store,
    sites: {
      ...store.sites,
      addSiteKey: async (siteId, expectedCurrentVersion, siteKey) => {
        const { wrapped } = await masterKey.generateSiteKey({ siteId, version: siteKey.version });
        await store.sites.addSiteKey(siteId, expectedCurrentVersion, { ...siteKey, wrapped });
        return store.sites.addSiteKey(siteId, expectedCurrentVersion, siteKey);
      },
    },
  });

  beforeAll(() => {
    t = createTestApp(logs.logger, masterKey, { wrapStore: overtakeEveryRotation });
  });
  afterAll(() => t.close());

  it('answers 409 ERR_CONCURRENT_CHANGE; the version the other rotation added stays current', async () => {
    const { site } = await t.services.sites.createSite({ name: 'rotating' });
    const refused = await request(t.app).post(`/admin/v1/sites/${site.id}/site-key/rotate`).set('Authorization', `Bearer ${t.adminToken}`);
    expect([refused.status, refused.body.error?.code]).toEqual([409, 'ERR_CONCURRENT_CHANGE']);
    expect((await t.services.sites.getSite(site.id)).siteKeyVersion).toBe(2);
  });
});
