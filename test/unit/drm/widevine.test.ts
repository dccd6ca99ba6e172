import { keyIdToBytes, parseKeyId } from '../../../src/keys/key-id';
import { buildPsshBox } from '../../../src/drm/pssh';
import { WIDEVINE_SYSTEM_ID } from '../../../src/drm/system-ids';
import {
  buildWidevinePsshBox,
  encodeWidevinePsshData,
  pallyConRotationContentId,
  protectionSchemeFourCc,
  type WidevinePsshData,
} from '../../../src/drm/widevine';
import { describeWithVectors } from '../../support/shared-vectors';
import {
  b64,
  checkerExpected,
  codeSpan,
  doveRunnerCapture,
  hex,
  pallyConResponsePssh,
  signalingVector,
  uuidBytes,
} from './signaling-vectors';

const kid = (uuid: string): Buffer => keyIdToBytes(parseKeyId(uuid));

/**
 * Rows V1–V6 list `KID`, provider, content_id[, track_type] as code spans, then the expected PSSH; the
 * numbers (`crypto_period_index 128`, `alg 1`) are in the row text.
 */
function widevineRow(id: string): { data: WidevinePsshData; expected: string } {
  const row = signalingVector(id);
  const spans = [codeSpan(row, 0), codeSpan(row, 1), codeSpan(row, 2)];
  const [kidText, provider, contentId] = spans as [string, string, string];
  const hasTrackType = /`(HD|SD)`/.exec(row.cells[0] ?? '');
  const period = /crypto_period_index (\d+)/.exec(row.text);
  return {
    data: {
      ...(/alg(?:orithm)? 1\b/.test(row.text) ? { algorithm: 'AESCTR' as const } : {}),
      keyIds: [uuidBytes(kidText)],
      provider,
      contentId,
      ...(hasTrackType?.[1] === undefined ? {} : { trackType: hasTrackType[1] }),
      ...(period?.[1] === undefined ? {} : { cryptoPeriodIndex: Number(period[1]) }),
    },
    expected: codeSpan(row, hasTrackType === null ? 3 : 4),
  };
}

describeWithVectors('Widevine pssh (WidevinePsshData protobuf in a version 0 box)', () => {
  it.each(['V1', 'V2', 'V3', 'V4', 'V5', 'V6'])('%s: reproduces the cpix:PSSH of the row byte for byte', (id) => {
    const { data, expected } = widevineRow(id);
    expect(b64(buildWidevinePsshBox(encodeWidevinePsshData(data)))).toBe(expected);
  });

  it('V1 (pallycon-docs-v3 cpix-api.en.md, DASH live): the CID carries the 16-hex-digit period suffix under rotation', () => {
    const row = signalingVector('V1');
    const box = buildWidevinePsshBox(encodeWidevinePsshData({
      algorithm: 'AESCTR',
      keyIds: [kid('6bac8ec3-0ee3-379f-3d21-290b3a2bc9c3')],
      provider: 'inkaentworks',
      contentId: pallyConRotationContentId('cpix-test-cid', 128),
      trackType: 'HD',
      cryptoPeriodIndex: 128,
    }));
    expect(b64(box)).toBe(codeSpan(row, 4));
    // And the same bytes are in the verbatim PallyCon response.
    expect(b64(box)).toBe(pallyConResponsePssh('pallycon-v2-dash-live-keyrotation-multikey.response.xml', WIDEVINE_SYSTEM_ID));
    expect(box.subarray(-3).toString('hex')).toBe('388001'); // field 7 = 128
  });

  it.each([
    ['V2', 'pallycon-v2-dash-vod.response.xml'],
    ['V3', 'pallycon-anevia-dash.response.xml'],
  ])('%s: equals the PSSH in the verbatim PallyCon response %s', (id, file) => {
    expect(b64(buildWidevinePsshBox(encodeWidevinePsshData(widevineRow(id).data)))).toBe(pallyConResponsePssh(file, WIDEVINE_SYSTEM_ID.toUpperCase()));
  });

  it.each([
    ['V4', 'doverunner-cpix-client-v1.5-readme-sample.json'],
    ['V5', 'doverunner-cpix-client-v1.6-python-test.json'],
  ])('%s: equals the pssh and pssh_payload_only of the DoveRunner capture %s', (id, file) => {
    const capture = doveRunnerCapture(file);
    const key = capture.content_key_list[0]!;
    const data: WidevinePsshData = {
      algorithm: 'AESCTR',
      keyIds: [Buffer.from(key.key_id_hex, 'hex')],
      provider: 'inkaentworks',
      contentId: capture.content_id,
    };
    expect(b64(buildWidevinePsshBox(encodeWidevinePsshData(data)))).toBe(key.widevine.pssh);
    expect(b64(encodeWidevinePsshData(data))).toBe(key.widevine.pssh_payload_only);
    expect(signalingVector(id).text).toContain(key.widevine.pssh);
  });

  it('V4b (doverunner/cpix-api-client README): payload-only ContentProtectionData is the bare protobuf', () => {
    const row = signalingVector('V4');
    expect(b64(encodeWidevinePsshData(widevineRow('V4').data))).toBe(codeSpan(row, 4));
  });

  it('V7 (Hulu, annotated CDM-proxy dump): KID without dashes, track_type HD', () => {
    const row = signalingVector('V7');
    expect(row.text).toContain('`2689984b4c705437a9819021fcb10ae0`');
    const box = buildWidevinePsshBox(
      encodeWidevinePsshData({
        algorithm: 'AESCTR',
        keyIds: [Buffer.from(codeSpan(row, 0), 'hex')],
        provider: codeSpan(row, 1),
        contentId: codeSpan(row, 2),
        trackType: codeSpan(row, 3),
      }),
    );
    expect(hex(box)).toBe(codeSpan(row, 4));
  });

  const shakaKids = [Buffer.from('keyid1~~~~~~~~~~'), Buffer.from('keyid2~~~~~~~~~~')];

  it('V8 (shaka pssh_generator_unittest.cc kExpectedWidevinePssh): two key_ids, nothing else', () => {
    const row = signalingVector('V8');
    expect([codeSpan(row, 0), codeSpan(row, 1)]).toEqual(['keyid1~~~~~~~~~~', 'keyid2~~~~~~~~~~']);
    expect(hex(buildWidevinePsshBox(encodeWidevinePsshData({ keyIds: shakaKids })))).toBe(codeSpan(row, 2));
  });

  it('V9 (shaka kExpectedWidevinePsshCbcs): protection_scheme cbcs as the FourCC integer', () => {
    const expected = checkerExpected('V9');
    expect(expected).toMatch(/^0000004a/); // "size 0x4a" in the doc row
    expect(signalingVector('V9').text).toContain('48f3c6899b06');
    const box = buildWidevinePsshBox(encodeWidevinePsshData({ keyIds: shakaKids, protectionScheme: 'cbcs' }));
    expect(hex(box)).toBe(expected);
    expect(hex(box)).toMatch(/48f3c6899b06$/);
  });

  it('V17 (Bento4 mp4utils.ComputeWidevineHeader): provider, binary content_id, scheme cenc, no algorithm', () => {
    const row = signalingVector('V17');
    const box = buildWidevinePsshBox(encodeWidevinePsshData({
      keyIds: [Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex')],
      provider: codeSpan(row, 1),
      contentId: Buffer.from([0x2a]), // "content_id 0x2a" in the row
      protectionScheme: 'cenc',
    }));
    expect(row.text).toContain('`000102030405060708090a0b0c0d0e0f`');
    expect(b64(box)).toBe(codeSpan(row, 2));
  });
});

describe('WidevinePsshData encoding', () => {
  it('writes the protection_scheme FourCCs as their big-endian integer values', () => {
    expect(protectionSchemeFourCc('cenc')).toBe(1667591779);
    expect(protectionSchemeFourCc('cbcs')).toBe(1667392371);
    expect(protectionSchemeFourCc('cbc1')).toBe(1667392305);
    expect(protectionSchemeFourCc('cens')).toBe(1667591795);
  });

  it('emits fields in ascending field number whatever the object key order', () => {
    const data = encodeWidevinePsshData({ cryptoPeriodSeconds: 10, policy: 'p', algorithm: 'AESCTR', cryptoPeriodIndex: 1 });
    expect(hex(data)).toBe('0801' + '320170' + '3801' + '500a');
  });

  it('pads the PallyCon period suffix to 16 lower-case hex digits', () => {
    expect(pallyConRotationContentId('cid', 0)).toBe('cid0000000000000000');
    expect(pallyConRotationContentId('cid', 0xabcdef)).toBe('cid0000000000abcdef');
    expect(() => pallyConRotationContentId('cid', -1)).toThrow(RangeError);
  });

  it('is a v0 pssh box around the protobuf, sized from its parts', () => {
    const data = encodeWidevinePsshData({ keyIds: [Buffer.alloc(16, 1)] });
    const box = buildWidevinePsshBox(encodeWidevinePsshData({ keyIds: [Buffer.alloc(16, 1)] }));
    expect(box).toEqual(buildPsshBox(WIDEVINE_SYSTEM_ID, data));
    expect(box.readUInt32BE(0)).toBe(box.length);
    expect(box.length).toBe(32 + data.length);
  });

  it('rejects a key ID that is not 16 bytes (RangeError)', () => {
    expect(() => encodeWidevinePsshData({ keyIds: [Buffer.alloc(15)] })).toThrow(RangeError);
    expect(() => encodeWidevinePsshData({ keyIds: [Buffer.alloc(17)] })).toThrow(RangeError);
  });

  it('rejects integers that are not uint32 (RangeError)', () => {
    expect(() => encodeWidevinePsshData({ cryptoPeriodIndex: -1 })).toThrow(RangeError);
    expect(() => encodeWidevinePsshData({ cryptoPeriodIndex: 2 ** 32 })).toThrow(RangeError);
    expect(() => encodeWidevinePsshData({ cryptoPeriodIndex: 1.5 })).toThrow(RangeError);
    expect(hex(encodeWidevinePsshData({ cryptoPeriodIndex: 2 ** 32 - 1 }))).toBe('38ffffffff0f');
  });
});
