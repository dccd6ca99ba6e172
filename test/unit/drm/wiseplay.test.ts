import { encodeWisePlayPsshData, buildWisePlayPsshBox } from '../../../src/drm/wiseplay';
import type { ProtectionScheme } from '../../../src/drm/widevine';
import { parsePsshBox } from '../../support/pssh-parser';
import { describeWithVectors } from '../../support/shared-vectors';
import { codeSpan, signalingVector } from './signaling-vectors';

/**
 * WisePlay `pssh` boxes against two boxes castLabs' DRMtoday serves through Unified Streaming (rows W1,
 * W2 of the vector table ../shared/docs/drm-signaling.md, read in place; from emarsden/pssh-box-rs
 * `tests/parsing.rs`): the inputs are read out of each box's JSON, and our box must be the same bytes.
 */
describeWithVectors('WisePlay pssh (W1, W2)', () => {
  it.each(['W1', 'W2'])('%s: rebuilt byte for byte from its KID, content ID and scheme', (id) => {
    const row = signalingVector(id);
    const box = Buffer.from(codeSpan(row, 0), 'base64');
    const json = JSON.parse(codeSpan(row, 1)) as { kids: string[]; contentID: string; enschema: ProtectionScheme };
    const data = encodeWisePlayPsshData({
      keyIds: json.kids.map((kid) => Buffer.from(kid, 'base64')),
      contentId: Buffer.from(json.contentID, 'base64').toString('utf8'),
      scheme: json.enschema,
    });
    expect(buildWisePlayPsshBox(data).toString('base64')).toBe(box.toString('base64'));
    expect(parsePsshBox(box)).toEqual({ version: 0, systemId: '3d5e6d35-9b9a-41e8-b843-dd3c6e72c42c', keyIds: [], data });
  });

  it('refuses a KID that is not 16 bytes', () => {
    expect(() => encodeWisePlayPsshData({ keyIds: [Buffer.alloc(15)], contentId: 'c', scheme: 'cenc' })).toThrow(RangeError);
  });
});
