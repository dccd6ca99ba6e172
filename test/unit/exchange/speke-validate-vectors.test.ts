/**
 * Every request file of the AWS SPEKE reference server and its v2 verification suite
 * (../shared/vectors/speke/awslabs-speke-reference-server, read in place) run
 * through parse + `validateSpekeV2`. The folder is walked, so a new file is never skipped: it is
 * expected to be accepted unless listed in NEGATIVES with its outcome.
 */

import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describeWithVectors, vectorPath } from '../../support/shared-vectors';
import { accepted, mutate, outcomeOf, rejected, type Outcome } from './speke-validate-support';

const ROOT = vectorPath('speke', 'awslabs-speke-reference-server');

function xmlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return xmlFiles(path);
      return entry.name.endsWith('.xml') ? [path] : [];
    })
    .sort();
}

const MALFORMED = rejected('Malformed encryption contract');
const WRONG_VERSION = rejected('Unsupported CPIX@version');

/** Files that must not be answered with 200, and how each is refused (the suite's negatives and one more). */
const NEGATIVES: Readonly<Record<string, Outcome>> = {
  // Suite fixed negatives (test_negative_cases.py): CPIX@version="4.0".
  'spekev2_requests/general/3_negative_wrong_version_spekev2_dash_widevine.xml': WRONG_VERSION,
  'spekev2_requests/vod/3_negative_wrong_version_spekev2_dash_widevine.xml': WRONG_VERSION,
  'history-5a395cc/spekev2_requests/general/4_negative_wrong_version_spekev2_dash_widevine.xml': WRONG_VERSION,
  // Two `ALL` rules carrying video filters plus audio rules. The `general/` copy also has audio rules
  // whose KeyPeriodFilter names no ContentKeyPeriod (dangling xs:IDREF): malformed on two counts.
  'spekev2_requests/general/4_spekev2_negative_preset_shared_video.xml': MALFORMED,
  'spekev2_requests/vod/4_spekev2_negative_preset_shared_video.xml': MALFORMED,
  // Video rules plus two `ALL` rules carrying audio filters.
  'spekev2_requests/general/5_spekev2_negative_preset_shared_audio.xml': MALFORMED,
  'spekev2_requests/vod/5_spekev2_negative_preset_shared_audio.xml': MALFORMED,
  // FairPlay with cenc (FairPlay needs cbcs): named by the first FairPlay DRMSystem, systemId as sent.
  'tests/server_api_body_spekev2.xml': rejected('ContentKey@commonEncryptionScheme non compatible with DRMSystem 94ce86fb-07ff-4f43-adb8-93d2fa968ca2'),
  // A SPEKE v1 request (root `id`, no `version`): sent with a v2 header it is refused, not answered as v1.
  'tests/server_api_body.xml': rejected('Missing CPIX@version'),
};

describeWithVectors('SPEKE v2 validation of the AWS reference-server and suite requests', () => {
  const files = xmlFiles(ROOT).map((path) => relative(ROOT, path).split('\\').join('/'));
  const cases = files.map((file) => ({ file, expected: NEGATIVES[file] ?? accepted }));
  const positives = cases.filter((entry) => entry.expected.kind === 'accepted').map((entry) => entry.file);

  it('finds every request file of the vector folder (84 generated, 43 history, 10 fixed, 2 tests)', () => {
    const count = (prefix: string): number => files.filter((file) => file.startsWith(prefix)).length;
    expect([count('generated/'), count('history-5a395cc/'), count('spekev2_requests/'), count('tests/')]).toEqual([84, 43, 10, 2]);
    expect(files).toHaveLength(139);
  });

  it('has no stale entries in the table of negatives', () => {
    expect(Object.keys(NEGATIVES).filter((file) => !files.includes(file))).toEqual([]);
  });

  it.each(cases)('$file', ({ file, expected }) => {
    expect(outcomeOf(readFileSync(join(ROOT, file)), '2.0')).toEqual(expected);
  });

  // The SPEKE version binds the CPIX version (v2.0 ↔ CPIX 2.3, v2.1 ↔ CPIX 2.4; AWS SPEKE API v2.1, Changes
  // from SPEKE v2.0): the same positives are refused under a 2.1 header and accepted again once the root says
  // 2.4 (2.1 only widens what is allowed).
  it.each(positives)('%s: under 2.1 only with CPIX@version 2.4', (file) => {
    const xml = readFileSync(join(ROOT, file), 'utf8');
    expect(outcomeOf(xml, '2.1')).toEqual(WRONG_VERSION);
    expect(outcomeOf(mutate(xml, /version="2\.3"/, 'version="2.4"'), '2.1')).toEqual(accepted);
  });
});
