import {
  buildIdentityKeyTag,
  buildFairPlayKeyTag,
  buildHlsKeyTag,
  buildPlayReadyKeyTag,
  buildWidevineKeyTag,
  expandSkdUriTemplate,
  HlsTag,
  hlsMethodForScheme,
  renameHlsKeyTag,
} from '../../../src/drm/hls';
import { describeWithVectors } from '../../support/shared-vectors';
import { codeSpan, pallyConResponseUriExtXKeys, signalingVector, uuidBytes } from './signaling-vectors';

const KID = uuidBytes('cbbc38b6-b50d-ab53-f826-3e06b7382aa3');

describeWithVectors('FairPlay skd:// URIs from the site template', () => {
  it.each([
    ['cbbc38b6-b50d-ab53-f826-3e06b7382aa3', 1],
    ['12ea753c-23e7-bc02-4474-b2b976c43beb', 2],
    ['9a78002d-078c-9e7b-e820-b4e95b0e41e2', 3],
  ])('V21 (cpix-api-client README, pallycon-docs-v3 HLS VOD, test.json): skd://{kid_base64} for %s', (kid, span) => {
    expect(expandSkdUriTemplate('skd://{kid_base64}', { keyId: uuidBytes(kid) })).toBe(codeSpan(signalingVector('V21'), span));
  });

  it('V21: equals the decoded URIExtXKey of the verbatim PallyCon HLS VOD response', () => {
    const uri = expandSkdUriTemplate('skd://{kid_base64}', { keyId: uuidBytes('12ea753c-23e7-bc02-4474-b2b976c43beb') });
    expect(pallyConResponseUriExtXKeys('pallycon-v2-hls-vod-fairplay-ncghls.response.xml')).toContain(uri);
  });
});

describe('skd:// template', () => {
  it('expands every placeholder', () => {
    expect(expandSkdUriTemplate('skd://{kid_hex}/{kid_uuid}/{kid_base64};{content_id}', { keyId: KID, contentId: 'movie-1' })).toBe(
      'skd://cbbc38b6b50dab53f8263e06b7382aa3/cbbc38b6-b50d-ab53-f826-3e06b7382aa3/y7w4trUNq1P4Jj4Gtzgqow==;movie-1',
    );
  });

  it('rejects unknown placeholders, a missing content ID, a non-skd template and a bad KID (RangeError)', () => {
    expect(() => expandSkdUriTemplate('skd://{kid}', { keyId: KID })).toThrow(RangeError);
    expect(() => expandSkdUriTemplate('skd://{content_id}', { keyId: KID })).toThrow(RangeError);
    expect(() => expandSkdUriTemplate('https://{kid_hex}', { keyId: KID })).toThrow(RangeError);
    expect(() => expandSkdUriTemplate('skd://{kid_hex}', { keyId: Buffer.alloc(8) })).toThrow(RangeError);
  });

  it('cannot smuggle a quote, a line break or URL syntax through {content_id}: it is percent-encoded (RFC 3986 §2.1)', () => {
    const uri = expandSkdUriTemplate('skd://{content_id}', { keyId: KID, contentId: 'x",METHOD=NONE\r\n/a?b#c' });
    expect(uri).toBe('skd://x%22%2CMETHOD%3DNONE%0D%0A%2Fa%3Fb%23c');
    expect(buildFairPlayKeyTag('EXT-X-KEY', uri)).toBe(
      '#EXT-X-KEY:METHOD=SAMPLE-AES,URI="skd://x%22%2CMETHOD%3DNONE%0D%0A%2Fa%3Fb%23c",KEYFORMAT="com.apple.streamingkeydelivery",KEYFORMATVERSIONS="1"',
    );
  });
});

describe('HLS key lines (RFC 8216 §4.3.2.4 EXT-X-KEY, §4.3.4.5 EXT-X-SESSION-KEY)', () => {
  it('FairPlay: SAMPLE-AES, skd URI, Apple KEYFORMAT, no IV', () => {
    expect(buildFairPlayKeyTag('EXT-X-KEY', 'skd://y7w4trUNq1P4Jj4Gtzgqow==')).toBe(
      '#EXT-X-KEY:METHOD=SAMPLE-AES,URI="skd://y7w4trUNq1P4Jj4Gtzgqow==",KEYFORMAT="com.apple.streamingkeydelivery",KEYFORMATVERSIONS="1"',
    );
  });

  it('media and master lines differ only in the tag name', () => {
    const media = buildFairPlayKeyTag('EXT-X-KEY', 'skd://a');
    const master = buildFairPlayKeyTag('EXT-X-SESSION-KEY', 'skd://a');
    expect(master).toBe(media.replace('#EXT-X-KEY:', '#EXT-X-SESSION-KEY:'));
  });

  it('renames a key line to the other tag name exactly as building it under that name would', () => {
    const psshBox = Buffer.from('pssh-box');
    const media = buildWidevineKeyTag('EXT-X-KEY', { psshBox, keyId: KID, scheme: 'cbcs' });
    const master = buildWidevineKeyTag('EXT-X-SESSION-KEY', { psshBox, keyId: KID, scheme: 'cbcs' });
    expect(renameHlsKeyTag(media, 'EXT-X-SESSION-KEY')).toBe(master);
    expect(renameHlsKeyTag(master, 'EXT-X-KEY')).toBe(media);
    expect(renameHlsKeyTag(media, 'EXT-X-KEY')).toBe(media);
    expect(() => renameHlsKeyTag('#EXT-X-KEY:METHOD=NONE', 'EXT-X-SESSION-KEY')).toThrow(RangeError);
    expect(() => renameHlsKeyTag('#EXT-X-MEDIA:TYPE=AUDIO', 'EXT-X-KEY')).toThrow(RangeError);
  });

  it('Widevine: data URI of the pssh box, KEYID=0x…, urn:uuid KEYFORMAT; SAMPLE-AES for cbcs, SAMPLE-AES-CTR for cenc', () => {
    const psshBox = Buffer.from('pssh-box');
    expect(buildWidevineKeyTag('EXT-X-KEY', { psshBox, keyId: KID, scheme: 'cbcs' })).toBe(
      '#EXT-X-KEY:METHOD=SAMPLE-AES,URI="data:text/plain;base64,cHNzaC1ib3g=",KEYID=0xCBBC38B6B50DAB53F8263E06B7382AA3,' +
        'KEYFORMAT="urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed",KEYFORMATVERSIONS="1"',
    );
    expect(buildWidevineKeyTag('EXT-X-KEY', { psshBox, keyId: KID, scheme: 'cenc' })).toMatch(/^#EXT-X-KEY:METHOD=SAMPLE-AES-CTR,/);
  });

  it('PlayReady: UTF-16 data URI of the PRO, com.microsoft.playready', () => {
    expect(buildPlayReadyKeyTag('EXT-X-SESSION-KEY', { playReadyObject: Buffer.from('pro'), scheme: 'cbcs' })).toBe(
      '#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI="data:text/plain;charset=UTF-16;base64,cHJv",KEYFORMAT="com.microsoft.playready",KEYFORMATVERSIONS="1"',
    );
  });

  it('key URL lines (AES-128, SAMPLE-AES): key URL and explicit IV, optional identity KEYFORMAT', () => {
    const iv = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');
    expect(buildIdentityKeyTag('EXT-X-KEY', { method: 'AES-128', uri: 'https://keys.example/k/1', iv })).toBe(
      '#EXT-X-KEY:METHOD=AES-128,URI="https://keys.example/k/1",IV=0x000102030405060708090A0B0C0D0E0F',
    );
    expect(buildIdentityKeyTag('EXT-X-KEY', { method: 'AES-128', uri: 'https://k', explicitIdentityKeyFormat: true })).toBe(
      '#EXT-X-KEY:METHOD=AES-128,URI="https://k",KEYFORMAT="identity",KEYFORMATVERSIONS="1"',
    );
    expect(buildIdentityKeyTag('EXT-X-SESSION-KEY', { method: 'SAMPLE-AES', uri: 'https://k', iv, explicitIdentityKeyFormat: true })).toBe(
      '#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI="https://k",IV=0x000102030405060708090A0B0C0D0E0F,KEYFORMAT="identity",KEYFORMATVERSIONS="1"',
    );
  });

  it('maps schemes to methods and refuses the ones HLS cannot signal', () => {
    expect(hlsMethodForScheme('cbcs')).toBe('SAMPLE-AES');
    expect(hlsMethodForScheme('cenc')).toBe('SAMPLE-AES-CTR');
    expect(() => hlsMethodForScheme('cens')).toThrow(RangeError);
    expect(() => hlsMethodForScheme('cbc1')).toThrow(RangeError);
  });
});

describe('HLS tag builder refuses what RFC 8216 §4.2 cannot carry', () => {
  it.each(['a"b', 'a\rb', 'a\nb', '"', 'x\r\n#EXT-X-KEY:METHOD=NONE'])('refuses the quoted-string %p (RangeError)', (value) => {
    expect(() => new HlsTag('EXT-X-KEY').quoted('URI', value)).toThrow(RangeError);
    expect(() => buildIdentityKeyTag('EXT-X-KEY', { method: 'AES-128', uri: value })).toThrow(RangeError);
    expect(() => buildHlsKeyTag('EXT-X-KEY', { method: 'SAMPLE-AES', uri: 'skd://a', keyFormat: value })).toThrow(RangeError);
  });

  it('validates enumerated values, names, duplicates and hex lengths', () => {
    expect(() => new HlsTag('EXT-X-KEY').enumerated('METHOD', 'SAMPLE-AES,URI=x', ['SAMPLE-AES'])).toThrow(RangeError);
    expect(() => new HlsTag('EXT-X-KEY').quoted('uri', 'x')).toThrow(RangeError);
    expect(() => new HlsTag('EXT-X-KEY').quoted('URI', 'x').quoted('URI', 'y')).toThrow(RangeError);
    expect(() => new HlsTag('EXT-X-KEY\n')).toThrow(RangeError);
    expect(() => buildHlsKeyTag('EXT-X-KEY', { method: 'AES-128', uri: 'k', iv: Buffer.alloc(8) })).toThrow(RangeError);
    expect(() => buildHlsKeyTag('EXT-X-KEY', { method: 'SAMPLE-AES', uri: 'k', keyId: Buffer.alloc(15) })).toThrow(RangeError);
    expect(() => buildHlsKeyTag('EXT-X-KEY', { method: 'SAMPLE-AES', uri: 'k', keyFormatVersions: '1,2' })).toThrow(RangeError);
    expect(buildHlsKeyTag('EXT-X-KEY', { method: 'SAMPLE-AES', uri: 'k', keyFormatVersions: '1/2/5' })).toContain('KEYFORMATVERSIONS="1/2/5"');
  });

  it('METHOD=NONE stands alone, never on a session key, and other methods need a URI', () => {
    expect(buildHlsKeyTag('EXT-X-KEY', { method: 'NONE' })).toBe('#EXT-X-KEY:METHOD=NONE');
    expect(() => buildHlsKeyTag('EXT-X-KEY', { method: 'NONE', uri: 'x' })).toThrow(RangeError);
    expect(() => buildHlsKeyTag('EXT-X-SESSION-KEY', { method: 'NONE' })).toThrow(RangeError);
    expect(() => buildHlsKeyTag('EXT-X-KEY', { method: 'SAMPLE-AES' })).toThrow(RangeError);
    expect(() => buildFairPlayKeyTag('EXT-X-KEY', 'https://not-skd')).toThrow(RangeError);
  });
});
