import { keyIdToBytes, parseKeyId } from '../../../src/keys/key-id';
import {
  buildPlayReadyObject,
  buildPlayReadyPsshBox,
  buildWrmHeader,
  computePlayReadyChecksum,
  toPlayReadyGuidBytes,
  type WrmHeaderOptions,
} from '../../../src/drm/playready';
import { PLAYREADY_SYSTEM_ID } from '../../../src/drm/system-ids';
import { describeWithVectors } from '../../support/shared-vectors';
import {
  b64,
  checkerExpected,
  codeSpan,
  codeSpans,
  doveRunnerCapture,
  pallyConResponsePssh,
  signalingVector,
} from './signaling-vectors';

const kid = (uuid: string): Buffer => keyIdToBytes(parseKeyId(uuid));
const LA_TESTTOKYO = 'https://testtokyo.pallycon.com/ri/playready/licenseManager.do';
const pssh = (options: WrmHeaderOptions): string => b64(buildPlayReadyPsshBox(buildPlayReadyObject(buildWrmHeader(options))));
/** The WRMHEADER text inside a PRO. */
const headerOf = (pro: Buffer): string => pro.subarray(10).toString('utf16le');

describeWithVectors('PlayReady (Microsoft PlayReady Header Specification)', () => {
  it('converts a KID to GUID byte order (first three groups reversed; V15 VALUE)', () => {
    expect(b64(toPlayReadyGuidBytes(kid('12ea753c-23e7-bc02-4474-b2b976c43beb')))).toBe('PHXqEucjArxEdLK5dsQ76w==');
    expect(b64(toPlayReadyGuidBytes(kid('cbbc38b6-b50d-ab53-f826-3e06b7382aa3')))).toBe('tji8yw21U6v4Jj4Gtzgqow==');
    const k = kid('cbbc38b6-b50d-ab53-f826-3e06b7382aa3');
    expect(toPlayReadyGuidBytes(toPlayReadyGuidBytes(k))).toEqual(k); // the swap is its own inverse
  });

  // Real PallyCon KMS responses (pallycon-docs-v3 cpix-api.en.md), read from vectors/pallycon/.
  it.each([
    ['V12', 'pallycon-v2-dash-live-keyrotation-multikey.response.xml', LA_TESTTOKYO, true],
    ['V13', 'pallycon-v2-dash-vod.response.xml', LA_TESTTOKYO, false],
    ['V14', 'pallycon-anevia-dash.response.xml', 'https://license.pallycon.com/ri/playready/licenseManager.do', false],
  ] as const)('%s: WRMHEADER 4.0 with CHECKSUM reproduces the PallyCon PSSH (%s)', (id, file, laUrl, rotation) => {
    const row = signalingVector(id);
    const [kidText, keyB64] = [codeSpan(row, 0), codeSpan(row, 1)];
    const checksum = codeSpans(row.cells.join(' | ')).find((span) => /^[A-Za-z0-9+/]{11}=$/.test(span));
    const options: WrmHeaderOptions = {
      version: '4.0.0.0',
      keys: [{ keyId: kid(kidText), contentKey: Buffer.from(keyB64, 'base64') }],
      laUrl,
      ...(rotation ? { customAttributes: [{ name: 'PERIOD_INDEX', value: '128' }] } : {}),
    };
    const actual = pssh(options);
    expect(checksum).toBeDefined();
    expect(b64(computePlayReadyChecksum(kid(kidText), Buffer.from(keyB64, 'base64')))).toBe(checksum);
    expect(actual).toBe(pallyConResponsePssh(file, PLAYREADY_SYSTEM_ID));
    expect(actual).toBe(checkerExpected(id));
    // The row gives the first characters and the box size.
    const prefix = codeSpans(row.cells.join(' | ')).find((span) => span.startsWith('AAA'))!.replace(/…$/, '');
    expect(actual.startsWith(prefix)).toBe(true);
    expect(Buffer.from(actual, 'base64').length).toBe(Number(/\((\d+) bytes\)/.exec(row.text)?.[1]));
  });

  it('V15/V15b (doverunner/cpix-api-client README): WRMHEADER 4.3 <KIDS>, pssh and PRO-only payload', () => {
    const row = signalingVector('V15');
    const key = doveRunnerCapture('doverunner-cpix-client-v1.5-readme-sample.json').content_key_list[0]!;
    expect(row.text).toContain(key.key_hex);
    const pro = buildPlayReadyObject(
      buildWrmHeader({
        version: '4.3.0.0',
        keys: [{ keyId: Buffer.from(key.key_id_hex, 'hex'), contentKey: Buffer.from(key.key_hex, 'hex') }],
        laUrl: 'https://license.pallycon.com/ri/licenseManager.do',
      }),
    );
    expect(headerOf(pro)).toContain(`CHECKSUM="${codeSpan(row, 4)}"`);
    expect(b64(buildPlayReadyPsshBox(pro))).toBe(key.playready.pssh);
    expect(b64(pro)).toBe(key.playready.pssh_payload_only);
    expect(b64(buildPlayReadyPsshBox(pro))).toBe(checkerExpected('V15'));
    expect(b64(pro)).toBe(checkerExpected('V15b'));
    expect(buildPlayReadyPsshBox(pro).length).toBe(658);
  });

  const shakaKid = Buffer.from('keyid1~~~~~~~~~~');
  const shakaKey = Buffer.from('contentkey1~~~~~');

  it('V11a (shaka kExpectedPlayReadyPsshWithCtrKey): 4.0 AESCTR, no LA_URL', () => {
    const row = signalingVector('V11a');
    expect([codeSpan(row, 0), codeSpan(row, 1)]).toEqual(['keyid1~~~~~~~~~~', 'contentkey1~~~~~']);
    const box = buildPlayReadyPsshBox(buildPlayReadyObject(buildWrmHeader({ version: '4.0.0.0', keys: [{ keyId: shakaKid, contentKey: shakaKey }] })));
    expect(box.length).toBe(0x226);
    expect(box.subarray(32).subarray(10).toString('utf16le')).toContain(`<KID>${codeSpan(row, 2)}</KID><CHECKSUM>${codeSpan(row, 3)}</CHECKSUM>`);
    expect(b64(box)).toBe(checkerExpected('V11a'));
  });

  it('V11b (shaka kExpectedPlayReadyPsshWithCbcKey): 4.3 AESCBC without CHECKSUM', () => {
    const box = buildPlayReadyPsshBox(
      buildPlayReadyObject(buildWrmHeader({ version: '4.3.0.0', algorithm: 'AESCBC', keys: [{ keyId: shakaKid, contentKey: shakaKey }] })),
    );
    expect(signalingVector('V11b').text).toContain('size 0x1de');
    expect(box.length).toBe(0x1de);
    expect(b64(box)).toBe(checkerExpected('V11b'));
  });

  describe('V16a–d (Bento4 ComputePlayReadyHeader, inputs of Test/Pytest/test_mp4dash.py 011–014)', () => {
    const row = signalingVector('V16a–d');
    const bentoKey = { keyId: Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex'), contentKey: Buffer.from('00112233445566778899aabbccddeeff', 'hex') };
    const sizes = /PRO sizes (\d+)\/(\d+)\/(\d+)\/(\d+)/.exec(row.text)!.slice(1).map(Number);
    it.each([
      ['V16a', '4.0.0.0', 'AESCTR', 0],
      ['V16b', '4.1.0.0', 'AESCTR', 1],
      ['V16c', '4.2.0.0', 'AESCTR', 2],
      ['V16d', '4.3.0.0', 'AESCBC', 3],
    ] as const)('%s: WRMHEADER %s %s PRO', (id, version, algorithm, index) => {
      // Bento4 keeps the CHECKSUM for AESCBC (V16d), so ask for it explicitly.
      const pro = buildPlayReadyObject(buildWrmHeader({ version, algorithm, checksum: true, keys: [bentoKey], laUrl: codeSpan(row, 2) }));
      expect(pro.length).toBe(sizes[index]);
      expect(headerOf(pro)).toContain(codeSpan(row, 3)); // KID in GUID order
      expect(headerOf(pro)).toContain(codeSpan(row, 4)); // CHECKSUM
      expect(b64(pro)).toBe(checkerExpected(id));
    });
  });

  it('V18 (learn.microsoft.com key-and-key-ids-kids): CHECKSUM of the keys the key seed spec derives', () => {
    const row = signalingVector('V18');
    const cases = [
      [codeSpan(row, 1), codeSpan(row, 3), codeSpan(row, 5)],
      [codeSpan(row, 2), codeSpan(row, 4), codeSpan(row, 6)],
    ] as const;
    for (const [kidGuidB64, keyHex, checksum] of cases) {
      // The vector gives the KID in GUID order; the swap back to big-endian is the same swap.
      const keyId = toPlayReadyGuidBytes(Buffer.from(kidGuidB64, 'base64'));
      expect(b64(computePlayReadyChecksum(keyId, Buffer.from(keyHex, 'hex')))).toBe(checksum);
    }
  });
});

describe('WRMHEADER building', () => {
  const key = { keyId: Buffer.alloc(16, 7), contentKey: Buffer.alloc(16, 9) };

  it('escapes <, & and " in LA_URL, LUI_URL, DS_ID and custom attributes (built by a writer, not interpolated)', () => {
    const xml = buildWrmHeader({
      version: '4.3.0.0',
      keys: [key],
      laUrl: 'https://lic.example/x?a=1&b=<2>&c="3"',
      luiUrl: 'https://ui.example/</LUI_URL><LA_URL>evil',
      dsId: '&',
      customAttributes: [{ name: 'PERIOD_INDEX', value: '</PERIOD_INDEX><X>' }],
    });
    expect(xml).toContain('<LA_URL>https://lic.example/x?a=1&amp;b=&lt;2&gt;&amp;c="3"</LA_URL>');
    expect(xml).toContain('<LUI_URL>https://ui.example/&lt;/LUI_URL&gt;&lt;LA_URL&gt;evil</LUI_URL>');
    expect(xml).toContain('<DS_ID>&amp;</DS_ID>');
    expect(xml).toContain('<CUSTOMATTRIBUTES><PERIOD_INDEX>&lt;/PERIOD_INDEX&gt;&lt;X&gt;</PERIOD_INDEX></CUSTOMATTRIBUTES>');
    expect(xml.match(/<LA_URL>/g)).toHaveLength(1);
  });

  it('writes no whitespace, xmlns first, KID attributes alphabetical, elements in PallyCon/Bento4 order', () => {
    const xml = buildWrmHeader({ version: '4.2.0.0', keys: [key, { ...key, keyId: Buffer.alloc(16, 8) }], laUrl: 'u', dsId: 'd', luiUrl: 'l' });
    expect(xml).not.toMatch(/>\s+</);
    expect(xml).toMatch(/^<WRMHEADER xmlns="http:\/\/schemas\.microsoft\.com\/DRM\/2007\/03\/PlayReadyHeader" version="4\.2\.0\.0"><DATA><PROTECTINFO><KIDS><KID ALGID="AESCTR" CHECKSUM="[^"]+" VALUE="[^"]+"><\/KID><KID /);
    expect(xml).toMatch(/<\/PROTECTINFO><LA_URL>u<\/LA_URL><LUI_URL>l<\/LUI_URL><DS_ID>d<\/DS_ID><\/DATA><\/WRMHEADER>$/);
  });

  it('rejects what a version cannot express (RangeError)', () => {
    expect(() => buildWrmHeader({ version: '4.0.0.0', keys: [key, key] })).toThrow(RangeError);
    expect(() => buildWrmHeader({ version: '4.1.0.0', keys: [key, key] })).toThrow(RangeError);
    expect(() => buildWrmHeader({ version: '4.2.0.0', keys: [] })).toThrow(RangeError);
    for (const version of ['4.0.0.0', '4.1.0.0', '4.2.0.0'] as const) {
      expect(() => buildWrmHeader({ version, keys: [key], algorithm: 'AESCBC' })).toThrow(RangeError);
    }
  });

  it('needs the content key for a CHECKSUM, and omits it for AESCBC by default', () => {
    expect(() => buildWrmHeader({ version: '4.3.0.0', keys: [{ keyId: key.keyId }] })).toThrow(RangeError);
    expect(buildWrmHeader({ version: '4.3.0.0', keys: [{ keyId: key.keyId }], checksum: false })).not.toContain('CHECKSUM');
    expect(buildWrmHeader({ version: '4.3.0.0', keys: [{ keyId: key.keyId }], algorithm: 'AESCBC' })).not.toContain('CHECKSUM');
  });

  it('rejects wrong KID and key lengths and bad custom attribute names (RangeError)', () => {
    expect(() => toPlayReadyGuidBytes(Buffer.alloc(15))).toThrow(RangeError);
    expect(() => computePlayReadyChecksum(Buffer.alloc(16), Buffer.alloc(32))).toThrow(RangeError);
    expect(() => buildWrmHeader({ version: '4.3.0.0', keys: [{ ...key, keyId: Buffer.alloc(17) }] })).toThrow(RangeError);
    expect(() => buildWrmHeader({ version: '4.3.0.0', keys: [key], customAttributes: [{ name: 'A B', value: '' }] })).toThrow(RangeError);
    expect(() => buildWrmHeader({ version: '4.3.0.0', keys: [key], laUrl: 'bad\u0000char' })).toThrow(RangeError);
  });

  it('wraps the header in a PRO: little-endian length = 10 + record length, one type-1 record, UTF-16LE', () => {
    const xml = buildWrmHeader({ version: '4.3.0.0', keys: [key] });
    const pro = buildPlayReadyObject(xml);
    expect(pro.readUInt32LE(0)).toBe(pro.length);
    expect(pro.readUInt16LE(4)).toBe(1);
    expect(pro.readUInt16LE(6)).toBe(1);
    expect(pro.readUInt16LE(8)).toBe(xml.length * 2);
    expect(pro.length).toBe(10 + xml.length * 2);
    expect(headerOf(pro)).toBe(xml);
    expect(() => buildPlayReadyObject('x'.repeat(0x8000))).toThrow(RangeError);
  });
});
