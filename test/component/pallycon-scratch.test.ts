import { readFileSync } from 'node:fs';
import request from 'supertest';
import { createTestApp } from '../support/app';
import { captureLogs } from '../support/log-capture';
import { vectorPath } from '../support/shared-vectors';

it('scratch', async () => {
  const logs = captureLogs();
  const t = createTestApp(logs.logger);
  const { token } = await t.services.sites.createSite({ name: 'x' });
  for (const f of ['pallycon-v2-dash-vod', 'pallycon-v2-dash-live-keyrotation-multikey', 'pallycon-v2-hls-live-fairplay', 'pallycon-v2-hls-vod-fairplay-ncghls', 'thirdparty-buydrm-widevine']) {
    const name = f.startsWith('third') ? f : f;
    const body = readFileSync(vectorPath('pallycon', `${name}.request.xml`));
    const res = await request(t.app).post(`/v2/cpix/pallycon/getKey/${token.token}?key-rotation=true`).set('Content-Type', 'application/xml').send(body);
    console.log(f, res.status, res.headers['content-type'], res.text);
  }
  const res = await request(t.app).post(`/v2/cpix/pallycon/getKey/${token.token}`).set('Content-Type', 'application/xml').send('<x');
  console.log(res.status, res.text);
  await t.close();
});
