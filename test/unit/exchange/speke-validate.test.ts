/**
 * SPEKE v2 request validation (the error strings AWS lists for SPEKE v2 key providers and the AWS SPEKE
 * v2 encryption contract; docs/key-exchange.md, SPEKE), in `validateSpekeV2`'s order. Each case changes
 * one thing (or, in the order table, exactly two) in a small valid request built here; the
 * suite-request corpus is in speke-validate-vectors.test.ts, the suite's "remove each mandatory
 * element" negatives in speke-validate-removals.test.ts.
 */

import { parseCpixDocument } from '../../../src/cpix/parse';
import { SpekeRejected } from '../../../src/errors';
import {
  CPIX_VERSION_FOR_SPEKE,
  parseSpekeVersionHeader,
  validateSpekeV2,
  type SpekeV2Version,
} from '../../../src/exchange/speke/validate-v2';
import { accepted, outcomeOf, parserInvalid, rejected, type Outcome } from './speke-validate-support';

const VIDEO_KID = '11111111-2222-4333-8444-555555555555';
const AUDIO_KID = 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee';
const UHD_KID = '99999999-8888-4777-8666-555555555555';
const WV = 'edef8ba9-79d6-4ace-a3c8-27dcd51d21ed';
const PR = '9a04f079-9840-4286-ab92-e65be0885f95';
/** Upper case, as PallyCon sends it: error strings must carry the systemId as sent. */
const FP_AS_SENT = '94CE86FB-07FF-4F43-ADB8-93D2FA968CA2';
const CLEAR_AES_128 = '3ea8778f-7742-4bf9-b18b-e834b2acbd47';
const IRDETO = '80a6be7e-1448-4c37-9e70-d5aebe04c8d2';
const WISEPLAY = '3d5e6d35-9b9a-41e8-b843-dd3c6e72c42c';

const MISSING_VERSION = rejected('Missing CPIX@version');
const WRONG_VERSION = rejected('Unsupported CPIX@version');
const MISSING_CONTENT_ID = rejected('Missing CPIX@contentId');
const missingScheme = (kid: string): Outcome => rejected(`Missing ContentKey@commonEncryptionScheme for KID ${kid}`);
const MIXED = rejected('Non compliant ContentKey@commonEncryptionScheme combination');
const incompatible = (systemId: string): Outcome =>
  rejected(`ContentKey@commonEncryptionScheme non compatible with DRMSystem ${systemId}`);
const MISSING_CONTRACT = rejected('Missing CPIX encryption contract');
const MALFORMED = rejected('Malformed encryption contract');
const NOT_SUPPORTED = rejected('Requested CPIX encryption contract not supported');

const key = (kid: string, scheme: string | null = 'cbcs'): string =>
  `<cpix:ContentKey kid="${kid}"${scheme === null ? '' : ` commonEncryptionScheme="${scheme}"`}/>`;
const drm = (kid: string, systemId: string): string =>
  `<cpix:DRMSystem kid="${kid}" systemId="${systemId}"><cpix:PSSH/></cpix:DRMSystem>`;
const rule = (kid: string, trackType: string | null, ...filters: string[]): string =>
  `<cpix:ContentKeyUsageRule kid="${kid}"${trackType === null ? '' : ` intendedTrackType="${trackType}"`}>` +
  `<cpix:KeyPeriodFilter periodId="period_0"/>${filters.join('')}</cpix:ContentKeyUsageRule>`;
const VIDEO = '<cpix:VideoFilter/>';
const AUDIO = '<cpix:AudioFilter/>';
const SD = '<cpix:VideoFilter maxPixels="589824"/>';
const HD = '<cpix:VideoFilter minPixels="589825"/>';
const UHD = '<cpix:VideoFilter minPixels="2073601"/>';
const CPIX_2_4 = 'contentId="movie-1" version="2.4"';

/** The parts of a request; a list given as `null` is left out entirely. */
interface Parts {
  readonly root?: string;
  readonly keys?: string | null;
  readonly systems?: string | null;
  readonly rules?: string | null;
}

/** A valid SPEKE v2.0 request: cbcs, Widevine + FairPlay, VIDEO + AUDIO keys, one key period. */
function request(parts: Parts = {}): string {
  const list = (name: string, items: string | null | undefined, fallback: string): string =>
    items === null ? '' : `<cpix:${name}>${items ?? fallback}</cpix:${name}>`;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<cpix:CPIX ${parts.root ?? 'contentId="movie-1" version="2.3"'} xmlns:cpix="urn:dashif:org:cpix" xmlns:pskc="urn:ietf:params:xml:ns:keyprov:pskc">`,
    list('ContentKeyList', parts.keys, key(VIDEO_KID) + key(AUDIO_KID)),
    list('DRMSystemList', parts.systems, drm(VIDEO_KID, WV) + drm(AUDIO_KID, WV) + drm(VIDEO_KID, FP_AS_SENT) + drm(AUDIO_KID, FP_AS_SENT)),
    '<cpix:ContentKeyPeriodList><cpix:ContentKeyPeriod id="period_0" index="0"/></cpix:ContentKeyPeriodList>',
    list('ContentKeyUsageRuleList', parts.rules, rule(VIDEO_KID, 'VIDEO', VIDEO) + rule(AUDIO_KID, 'AUDIO', AUDIO)),
    '</cpix:CPIX>',
  ].join('\n');
}

interface Case {
  readonly name: string;
  readonly parts: Parts;
  readonly version?: SpekeV2Version;
  readonly expected: Outcome;
}

/** Both keys with one scheme, each served by one DRM system. */
const withSystem = (scheme: string, systemId: string): Parts => ({
  keys: key(VIDEO_KID, scheme) + key(AUDIO_KID, scheme),
  systems: drm(VIDEO_KID, systemId) + drm(AUDIO_KID, systemId),
});
/** The same, as a SPEKE 2.1 request (CPIX 2.4). */
const withSystem21 = (scheme: string, systemId: string): Parts => ({ ...withSystem(scheme, systemId), root: CPIX_2_4 });
/** A single Widevine key with the given rule(s). */
const singleKey = (rules: string): Parts => ({ keys: key(VIDEO_KID), systems: drm(VIDEO_KID, WV), rules });

describe('parseSpekeVersionHeader', () => {
  it.each([
    { header: undefined, expected: undefined },
    { header: '2.0', expected: '2.0' },
    { header: ' 2.0 ', expected: '2.0' },
    { header: '2.1', expected: '2.1' },
    { header: '\t2.1', expected: '2.1' },
  ])('reads $header as $expected', ({ header, expected }) => {
    expect(parseSpekeVersionHeader(header)).toBe(expected);
  });

  // An empty header is a v2 encryptor saying nothing usable, not a v1 client (version.ts).
  it.each(['3.0', '', '   ', 'v2.0', '2', '2.00', '1.0', '2.0,2.1'])('rejects %j with "Unsupported SPEKE version"', (header) => {
    expect(() => parseSpekeVersionHeader(header)).toThrow(new SpekeRejected('Unsupported SPEKE version'));
  });

  it('binds SPEKE 2.0 to CPIX 2.3 and SPEKE 2.1 to CPIX 2.4', () => {
    expect(CPIX_VERSION_FOR_SPEKE).toEqual({ '2.0': '2.3', '2.1': '2.4' });
  });
});

describe('validateSpekeV2: one failure per SPEKE v2 error message', () => {
  const cases: readonly Case[] = [
    { name: 'accepts the base request', parts: {}, expected: accepted },
    { name: 'accepts the base request as v2.1 with CPIX 2.4', parts: { root: CPIX_2_4 }, version: '2.1', expected: accepted },

    { name: 'CPIX@version absent', parts: { root: 'contentId="movie-1"' }, expected: MISSING_VERSION },
    { name: 'CPIX@version empty', parts: { root: 'contentId="movie-1" version=""' }, expected: MISSING_VERSION },
    { name: 'CPIX@version 4.0 (suite negative)', parts: { root: 'contentId="movie-1" version="4.0"' }, expected: WRONG_VERSION },
    { name: 'CPIX 2.4 under SPEKE 2.0', parts: { root: CPIX_2_4 }, expected: WRONG_VERSION },
    { name: 'CPIX 2.3 under SPEKE 2.1', parts: {}, version: '2.1', expected: WRONG_VERSION },
    { name: 'CPIX@version 2.3.1 (not the literal SPEKE value)', parts: { root: 'contentId="movie-1" version="2.3.1"' }, expected: WRONG_VERSION },
    { name: 'CPIX@version with whitespace', parts: { root: 'contentId="movie-1" version=" 2.3"' }, expected: WRONG_VERSION },

    { name: 'CPIX@contentId absent', parts: { root: 'version="2.3"' }, expected: MISSING_CONTENT_ID },
    { name: 'CPIX@contentId empty', parts: { root: 'contentId="" version="2.3"' }, expected: MISSING_CONTENT_ID },
    { name: 'CPIX@id instead of contentId (v1 root)', parts: { root: 'id="movie-1" version="2.3"' }, expected: MISSING_CONTENT_ID },

    { name: 'second key without scheme', parts: { keys: key(VIDEO_KID) + key(AUDIO_KID, null) }, expected: missingScheme(AUDIO_KID) },
    { name: 'key with empty scheme', parts: { keys: key(VIDEO_KID, '') + key(AUDIO_KID) }, expected: missingScheme(VIDEO_KID) },
    {
      name: 'the first of two keys without scheme, kid as sent (upper case)',
      parts: {
        keys: key(VIDEO_KID.toUpperCase(), null) + key(AUDIO_KID, null),
        systems: drm(VIDEO_KID, WV),
      },
      expected: missingScheme(VIDEO_KID.toUpperCase()),
    },

    { name: 'cbcs and cenc mixed', parts: { keys: key(VIDEO_KID, 'cbcs') + key(AUDIO_KID, 'cenc'), systems: drm(VIDEO_KID, WV) }, expected: MIXED },
    { name: 'cbcs and CBCS (FourCCs are case-sensitive)', parts: { keys: key(VIDEO_KID, 'cbcs') + key(AUDIO_KID, 'CBCS') }, expected: MIXED },
    { name: 'unknown scheme value', parts: withSystem('aes1', WV), expected: MIXED },
    { name: 'an HLS method under SPEKE 2.0', parts: withSystem('SAMPLE-AES', FP_AS_SENT), expected: MIXED },
    { name: 'METHOD=NONE under SPEKE 2.1', parts: withSystem21('NONE', WV), version: '2.1', expected: MIXED },

    {
      name: 'FairPlay with cenc (suite negative), systemId as sent',
      parts: { keys: key(VIDEO_KID, 'cenc') + key(AUDIO_KID, 'cenc') },
      expected: incompatible(FP_AS_SENT),
    },
    { name: 'FairPlay with cens', parts: withSystem('cens', FP_AS_SENT), expected: incompatible(FP_AS_SENT) },
    { name: 'Widevine with cbc1', parts: withSystem('cbc1', WV), expected: incompatible(WV) },
    { name: 'PlayReady with cens', parts: withSystem('cens', PR), expected: incompatible(PR) },
    { name: 'ClearKey AES-128 with cbcs', parts: withSystem('cbcs', CLEAR_AES_128), expected: incompatible(CLEAR_AES_128) },
    { name: 'Irdeto with cbcs', parts: withSystem('cbcs', IRDETO), expected: incompatible(IRDETO) },
    {
      name: 'names the DRMSystem that references the key, not the first in the list',
      parts: {
        keys: key(VIDEO_KID, 'cenc') + key(AUDIO_KID, 'cenc'),
        systems: drm(VIDEO_KID, WV) + drm(AUDIO_KID, PR) + drm(AUDIO_KID, FP_AS_SENT),
      },
      expected: incompatible(FP_AS_SENT),
    },
    { name: 'accepts Widevine + FairPlay with cbcs', parts: withSystem('cbcs', WV), expected: accepted },
    { name: 'accepts PlayReady with cenc', parts: withSystem('cenc', PR), expected: accepted },
    { name: 'accepts ClearKey AES-128 with cbc1', parts: withSystem('cbc1', CLEAR_AES_128), expected: accepted },
    { name: 'accepts Irdeto with cenc', parts: withSystem('cenc', IRDETO), expected: accepted },
    { name: 'accepts an unlisted system (WisePlay) with cens', parts: withSystem('cens', WISEPLAY), expected: accepted },
    { name: 'accepts FairPlay with SAMPLE-AES under 2.1', parts: withSystem21('SAMPLE-AES', FP_AS_SENT), version: '2.1', expected: accepted },
    { name: 'accepts ClearKey with AES-128 under 2.1', parts: withSystem21('AES-128', CLEAR_AES_128), version: '2.1', expected: accepted },
    { name: 'accepts Widevine with SAMPLE-AES-CTR under 2.1', parts: withSystem21('SAMPLE-AES-CTR', WV), version: '2.1', expected: accepted },
    { name: 'FairPlay with AES-128 under 2.1', parts: withSystem21('AES-128', FP_AS_SENT), version: '2.1', expected: incompatible(FP_AS_SENT) },
    { name: 'ClearKey with cbc1 is still fine under 2.1', parts: withSystem21('cbc1', CLEAR_AES_128), version: '2.1', expected: accepted },

    { name: 'no ContentKeyUsageRuleList', parts: { rules: null }, expected: MISSING_CONTRACT },
    { name: 'empty ContentKeyUsageRuleList', parts: { rules: '' }, expected: MISSING_CONTRACT },
    { name: 'rules with only KeyPeriodFilters', parts: { rules: rule(VIDEO_KID, 'VIDEO') + rule(AUDIO_KID, 'AUDIO') }, expected: MISSING_CONTRACT },

    // The route parses with `references: 'skip'` (see outcomeOf), so broken references reach us.
    { name: 'no ContentKeyList', parts: { keys: null }, expected: MALFORMED },
    { name: 'empty ContentKeyList', parts: { keys: '' }, expected: MALFORMED },
    { name: 'a DRMSystem for a kid with no ContentKey', parts: { systems: drm(VIDEO_KID, WV) + drm(UHD_KID, WV) }, expected: MALFORMED },
    {
      name: 'a usage rule for a kid with no ContentKey',
      parts: { rules: rule(VIDEO_KID, 'SD', SD) + rule(UHD_KID, 'UHD', UHD) + rule(AUDIO_KID, 'AUDIO', AUDIO) },
      expected: MALFORMED,
    },
    {
      name: 'a KeyPeriodFilter naming no ContentKeyPeriod',
      parts: { rules: rule(VIDEO_KID, 'VIDEO', VIDEO) + rule(AUDIO_KID, 'AUDIO', AUDIO).replace('period_0', 'period_9') },
      expected: MALFORMED,
    },
    {
      name: 'a KeyPeriodFilter naming a ContentKeyPeriod in another letter case (xs:IDREF)',
      parts: { rules: rule(VIDEO_KID, 'VIDEO', VIDEO) + rule(AUDIO_KID, 'AUDIO', AUDIO).replace('period_0', 'PERIOD_0') },
      expected: MALFORMED,
    },
    { name: 'no DRMSystemList', parts: { systems: null }, expected: MALFORMED },
    { name: 'empty DRMSystemList', parts: { systems: '' }, expected: MALFORMED },
    { name: 'a key without usage rule', parts: { rules: rule(VIDEO_KID, 'VIDEO', VIDEO) }, expected: MALFORMED },
    {
      name: 'a key with two usage rules',
      parts: { rules: rule(VIDEO_KID, 'SD', SD) + rule(VIDEO_KID, 'HD', HD) + rule(AUDIO_KID, 'AUDIO', AUDIO) },
      expected: MALFORMED,
    },
    { name: 'intendedTrackType absent', parts: { rules: rule(VIDEO_KID, null, VIDEO) + rule(AUDIO_KID, 'AUDIO', AUDIO) }, expected: MALFORMED },
    { name: 'intendedTrackType empty', parts: { rules: rule(VIDEO_KID, '', VIDEO) + rule(AUDIO_KID, 'AUDIO', AUDIO) }, expected: MALFORMED },
    { name: 'intendedTrackType duplicated', parts: { rules: rule(VIDEO_KID, 'VIDEO', VIDEO) + rule(AUDIO_KID, 'VIDEO', AUDIO) }, expected: MALFORMED },
    { name: 'a rule with no Video/AudioFilter beside a valid one', parts: { rules: rule(VIDEO_KID, 'VIDEO', VIDEO) + rule(AUDIO_KID, 'AUDIO') }, expected: MALFORMED },
    {
      name: 'LabelFilter',
      parts: { rules: rule(VIDEO_KID, 'VIDEO', VIDEO, '<cpix:LabelFilter label="main"/>') + rule(AUDIO_KID, 'AUDIO', AUDIO) },
      expected: MALFORMED,
    },
    {
      name: 'BitrateFilter',
      parts: { rules: rule(VIDEO_KID, 'VIDEO', VIDEO) + rule(AUDIO_KID, 'AUDIO', AUDIO, '<cpix:BitrateFilter maxBitrate="256000"/>') },
      expected: MALFORMED,
    },
    { name: 'ALL mixed with an AUDIO rule', parts: { rules: rule(VIDEO_KID, 'ALL', VIDEO, AUDIO) + rule(AUDIO_KID, 'AUDIO', AUDIO) }, expected: MALFORMED },
    { name: 'ALL with only a VideoFilter', parts: singleKey(rule(VIDEO_KID, 'ALL', VIDEO)), expected: MALFORMED },
    { name: 'ALL with a bounded VideoFilter', parts: singleKey(rule(VIDEO_KID, 'ALL', SD, AUDIO)), expected: MALFORMED },
    { name: 'ALL with two VideoFilters', parts: singleKey(rule(VIDEO_KID, 'ALL', VIDEO, VIDEO, AUDIO)), expected: MALFORMED },
    { name: 'accepts ALL alone (SHARED preset, v1-style request)', parts: singleKey(rule(VIDEO_KID, 'ALL', VIDEO, AUDIO)), expected: accepted },

    { name: 'one non-ALL key for audio and video', parts: singleKey(rule(VIDEO_KID, 'VIDEO', VIDEO, AUDIO)), expected: NOT_SUPPORTED },
    { name: 'UHD video sharing the audio key', parts: { rules: rule(VIDEO_KID, 'SD', SD) + rule(AUDIO_KID, 'UHD+AUDIO', UHD, AUDIO) }, expected: NOT_SUPPORTED },

    // The AWS suite's PRESET_VIDEO_7/8 send SD+HD1 with one VideoFilter and expect 200, so the number of filters
    // need not match the number of `+` parts of intendedTrackType.
    {
      name: 'accepts SD+HD1 with a single VideoFilter',
      parts: {
        keys: key(VIDEO_KID) + key(UHD_KID) + key(AUDIO_KID),
        systems: drm(VIDEO_KID, WV) + drm(UHD_KID, WV) + drm(AUDIO_KID, WV),
        rules:
          rule(VIDEO_KID, 'SD+HD1', '<cpix:VideoFilter maxPixels="921600"/>') +
          rule(UHD_KID, 'HD2+UHD', '<cpix:VideoFilter minPixels="921601"/>') +
          rule(AUDIO_KID, 'AUDIO', AUDIO),
      },
      expected: accepted,
    },
    {
      name: 'accepts SD+HD with two VideoFilters',
      parts: { rules: rule(VIDEO_KID, 'SD+HD', SD, HD) + rule(AUDIO_KID, 'AUDIO', AUDIO) },
      expected: accepted,
    },
    {
      name: 'accepts a video-only contract (PRESET_VIDEO_1 + UNENCRYPTED audio)',
      parts: singleKey(rule(VIDEO_KID, 'VIDEO', VIDEO)),
      expected: accepted,
    },
    // Not a contract problem: left to checkReferences, which the route runs after the SPEKE v2 checks.
    {
      name: 'a duplicated ContentKey kid',
      parts: { keys: key(VIDEO_KID) + key(AUDIO_KID) + key(VIDEO_KID.toUpperCase()) },
      expected: parserInvalid,
    },
  ];

  it.each(cases)('$name', ({ parts, version, expected }) => {
    expect(outcomeOf(request(parts), version ?? '2.0')).toEqual(expected);
  });
});

describe('validateSpekeV2: the first failure in check order wins (version, contentId, schemes, contract)', () => {
  const mixedWithFairPlay: Parts = { keys: key(VIDEO_KID, 'cbcs') + key(AUDIO_KID, 'cenc') };
  const cases: readonly Case[] = [
    { name: 'missing version before missing contentId', parts: { root: '' }, expected: MISSING_VERSION },
    { name: 'unsupported version before missing contentId', parts: { root: 'version="4.0"' }, expected: WRONG_VERSION },
    { name: 'missing contentId before mixed schemes', parts: { ...mixedWithFairPlay, root: 'version="2.3"' }, expected: MISSING_CONTENT_ID },
    {
      name: 'a missing scheme on any key before mixed schemes on earlier keys',
      parts: { keys: key(VIDEO_KID, 'cbcs') + key(UHD_KID, 'cenc') + key(AUDIO_KID, null), systems: drm(VIDEO_KID, WV), rules: null },
      expected: missingScheme(AUDIO_KID),
    },
    { name: 'mixed schemes before FairPlay incompatibility', parts: mixedWithFairPlay, expected: MIXED },
    { name: 'unknown scheme before DRM compatibility', parts: withSystem('aes1', FP_AS_SENT), expected: MIXED },
    {
      name: 'DRM incompatibility before a missing contract',
      parts: { keys: key(VIDEO_KID, 'cenc') + key(AUDIO_KID, 'cenc'), rules: null },
      expected: incompatible(FP_AS_SENT),
    },
    { name: 'missing contract before malformed lists', parts: { systems: null, rules: null }, expected: MISSING_CONTRACT },
    {
      name: 'malformed before not supported',
      parts: { rules: rule(VIDEO_KID, 'VIDEO', VIDEO, AUDIO) + rule(AUDIO_KID, 'VIDEO', AUDIO) },
      expected: MALFORMED,
    },
  ];

  it.each(cases)('$name', ({ parts, version, expected }) => {
    expect(outcomeOf(request(parts), version ?? '2.0')).toEqual(expected);
  });
});

describe('validateSpekeV2 as a function', () => {
  const base = parseCpixDocument(request());

  it('throws SpekeRejected whose message is the body and whose detail explains it', () => {
    const error = ((): unknown => {
      try {
        validateSpekeV2({ ...base, drmSystemList: undefined }, '2.0');
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(SpekeRejected);
    expect(error).toMatchObject({
      code: 'ERR_SPEKE_REJECTED',
      message: 'Malformed encryption contract',
      detail: 'DRMSystemList is missing or empty',
    });
  });

  it('leaves the document unchanged', () => {
    const document = parseCpixDocument(request());
    const before = JSON.stringify(document);
    validateSpekeV2(document, '2.0');
    expect(JSON.stringify(document)).toBe(before);
  });
});
