import { buildPlayReadyObject, buildPlayReadyPsshBox, buildWrmHeader } from '../../../src/drm/playready';
import { buildSmoothStreamingProtectionHeader } from '../../../src/drm/smooth-streaming';
import { describeWithVectors } from '../../support/shared-vectors';
import { doveRunnerCapture } from './signaling-vectors';

describeWithVectors('Smooth Streaming protection header (base64 of the PlayReady Object)', () => {
  it('is base64 of the PRO once: V15b (doverunner/cpix-api-client README) PRO-only payload', () => {
    const key = doveRunnerCapture('doverunner-cpix-client-v1.5-readme-sample.json').content_key_list[0]!;
    const pro = buildPlayReadyObject(
      buildWrmHeader({
        version: '4.3.0.0',
        keys: [{ keyId: Buffer.from(key.key_id_hex, 'hex'), contentKey: Buffer.from(key.key_hex, 'hex') }],
        laUrl: 'https://license.pallycon.com/ri/licenseManager.do',
      }),
    );
    expect(buildSmoothStreamingProtectionHeader(pro)).toBe(key.playready.pssh_payload_only);
  });
});

describe('Smooth Streaming protection header', () => {
  const pro = buildPlayReadyObject(buildWrmHeader({ version: '4.3.0.0', keys: [{ keyId: Buffer.alloc(16, 3), contentKey: Buffer.alloc(16, 4) }] }));

  it('refuses a pssh box or an already base64-encoded PRO (no double encoding; RangeError)', () => {
    expect(() => buildSmoothStreamingProtectionHeader(buildPlayReadyPsshBox(pro))).toThrow(RangeError);
    expect(() => buildSmoothStreamingProtectionHeader(Buffer.from(pro.toString('base64')))).toThrow(RangeError);
    expect(() => buildSmoothStreamingProtectionHeader(Buffer.alloc(4))).toThrow(RangeError);
  });
});
