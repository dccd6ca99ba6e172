import { buildCommonPsshBox, buildPsshBox } from '../../../src/drm/pssh';
import { COMMON_PSSH_SYSTEM_ID } from '../../../src/drm/system-ids';
import { describeWithVectors } from '../../support/shared-vectors';
import { FAIRPLAY_PSSH_SYSTEM_ID } from '../../support/system-ids';
import { checkerExpected, codeSpan, hex, signalingVector } from './signaling-vectors';

const shakaKids = [Buffer.from('keyid1~~~~~~~~~~'), Buffer.from('keyid2~~~~~~~~~~')];

describeWithVectors('pssh box (ISO/IEC 23001-7 §8.1)', () => {
  it('V10 (shaka pssh_generator_unittest.cc kExpectedCommonPssh): W3C Common PSSH is v1, KID list, empty data', () => {
    const row = signalingVector('V10');
    const expected = checkerExpected('V10'); // the row elides the middle ("7e…7e")
    const elided = new RegExp(`^${codeSpan(row, 0).split('…').join('[0-9a-f]*')}$`);
    expect(expected).toMatch(elided);
    expect(hex(buildCommonPsshBox(shakaKids))).toBe(expected);
  });

  it('V19 (doverunner/shaka-packager-integration-sample): FairPlay pssh, v0, empty data', () => {
    const row = signalingVector('V19');
    expect(hex(buildPsshBox(FAIRPLAY_PSSH_SYSTEM_ID, Buffer.alloc(0))).toUpperCase()).toBe(codeSpan(row, 0));
  });

  it('V20 (shaka raw_key_source_unittest.cc kPsshBox1Hex): v1 box, one KID, arbitrary system and data', () => {
    const row = signalingVector('V20');
    const [systemHex, kidHex, expected] = [codeSpan(row, 0), codeSpan(row, 1), codeSpan(row, 2)];
    expect(row.text).toContain('data "eDash packager"');
    const box = buildPsshBox(Buffer.from(systemHex, 'hex'), Buffer.from('eDash packager'), [Buffer.from(kidHex, 'hex')]);
    expect(hex(box)).toBe(expected);
  });
});

describe('pssh box layout', () => {
  it('writes size, type, version, flags, system ID, data size and data (v0)', () => {
    const box = buildPsshBox('EDEF8BA9-79D6-4ACE-A3C8-27DCD51D21ED', Buffer.from([0xaa, 0xbb]));
    expect(box.length).toBe(4 + 4 + 4 + 16 + 4 + 2);
    expect(box.readUInt32BE(0)).toBe(box.length);
    expect(box.subarray(4, 8).toString('latin1')).toBe('pssh');
    expect(box.readUInt32BE(8)).toBe(0); // version 0, flags 0
    expect(hex(box.subarray(12, 28))).toBe('edef8ba979d64acea3c827dcd51d21ed');
    expect(box.readUInt32BE(28)).toBe(2);
    expect(hex(box.subarray(32))).toBe('aabb');
  });

  it('writes the KID count and KIDs for v1, even an empty list', () => {
    const box = buildPsshBox(COMMON_PSSH_SYSTEM_ID, Buffer.alloc(0), []);
    expect(box.length).toBe(4 + 4 + 4 + 16 + 4 + 4);
    expect(box.readUInt8(8)).toBe(1);
    expect(box.readUInt32BE(28)).toBe(0);
    const two = buildPsshBox(FAIRPLAY_PSSH_SYSTEM_ID, Buffer.alloc(0), shakaKids);
    expect(two.length).toBe(4 + 4 + 4 + 16 + 4 + 2 * 16 + 4);
    expect(two.readUInt32BE(28)).toBe(2);
    expect(hex(two.subarray(12, 28))).toBe(FAIRPLAY_PSSH_SYSTEM_ID.replace(/-/g, ''));
  });

  it.each([0, 15, 17, 32])('rejects a %i-byte key ID (RangeError)', (length) => {
    expect(() => buildPsshBox(COMMON_PSSH_SYSTEM_ID, Buffer.alloc(0), [Buffer.alloc(length)])).toThrow(RangeError);
  });

  it.each(['', 'edef8ba979d64acea3c827dcd51d21ed', '{edef8ba9-79d6-4ace-a3c8-27dcd51d21ed}', 'urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed'])(
    'rejects the system ID %p (RangeError)',
    (systemId) => {
      expect(() => buildPsshBox(systemId, Buffer.alloc(0))).toThrow(RangeError);
    },
  );

  it('rejects a system ID of the wrong byte length and a common pssh without KIDs', () => {
    expect(() => buildPsshBox(Buffer.alloc(15), Buffer.alloc(0))).toThrow(RangeError);
    expect(() => buildCommonPsshBox([])).toThrow(RangeError);
  });
});
