import { createTestApp } from '../support/app';
import { captureLogs } from '../support/log-capture';
import { bodyText, postSpeke, readAwslabs } from '../support/speke-http';
import { validateAgainstCpixXsd } from '../support/xsd';
import { readFileSync } from 'node:fs';
import { vectorPath } from '../support/shared-vectors';

it('probe', async () => {
  const logs = captureLogs();
  const t = createTestApp(logs.logger);
  const { token } = (await t.services.sites.createSite({ name: 'p' })).token;
  const res = await postSpeke(t.app, { body: readAwslabs('generated/live/test_case_2_p_v_3_a_2/7_widevine_playready_fairplay.xml'), version: '2.0', token });
  console.log(res.status, res.headers, bodyText(res));
  console.log(validateAgainstCpixXsd(bodyText(res), '2.3'));
  const v1 = await postSpeke(t.app, { body: readFileSync(vectorPath('speke/aws-speke-v1-docs/live_request_clear.xml')), token });
  console.log(v1.status, v1.headers, bodyText(v1));
  const bad = await postSpeke(t.app, { body: readAwslabs('tests/server_api_body_spekev2.xml'), version: '2.0', token });
  console.log(bad.status, bad.headers, bodyText(bad));
  await t.close();
});
