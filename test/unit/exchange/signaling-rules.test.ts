import type { DrmSystem } from '../../../src/cpix/model';
import {
  CLEAR_AES_128_SYSTEM_ID,
  COMMON_PSSH_SYSTEM_ID,
  FAIRPLAY_PSSH_SYSTEM_ID,
  FAIRPLAY_SYSTEM_ID,
  HLS_AES_128_SYSTEM_ID,
  IRDETO_SYSTEM_ID,
  PALLYCON_NCG_SYSTEM_ID,
  PLAYREADY_SYSTEM_ID,
  WIDEVINE_SYSTEM_ID,
  WISEPLAY_SYSTEM_ID,
} from '../../../src/drm/system-ids';
import { CpixUnsupported } from '../../../src/errors';
import {
  fillDrmSystem,
  isSupportedSystem,
  type SignalingDialect,
  type SignalingKey,
  type SignalingOptions,
  systemNeedsIv,
} from '../../../src/exchange/signaling';
import { parseKeyId } from '../../../src/keys/key-id';
import { thrownBy } from '../../support/errors';
import { parsePlayReadyObject, parsePsshBox, parseWidevinePsshData } from '../../support/pssh-parser';

/** Placeholder rules of `fillDrmSystem` that hold in every dialect, plus the PallyCon "add" mode. */

const OPTIONS: SignalingOptions = {
  fairPlaySkdTemplate: 'skd://{kid_hex}',
  widevineProvider: 'cpix-kms',
  aes128KeyUriTemplate: 'https://keys.example/{content_id}/{kid_hex}',
};
const KID = parseKeyId('6bac8ec3-0ee3-379f-3d21-290b3a2bc9c3');
const KEY: SignalingKey = { kid: KID, key: Buffer.from('3a54452ba2d2cad16bd879cdd47ab05b', 'hex'), contentId: 'cid-1', iv: Buffer.alloc(16, 9) };
const DIALECTS: readonly SignalingDialect[] = ['speke-v1', 'speke-v2', 'cpix-api'];
const SUPPORTED = [WIDEVINE_SYSTEM_ID, PLAYREADY_SYSTEM_ID, FAIRPLAY_SYSTEM_ID, COMMON_PSSH_SYSTEM_ID, HLS_AES_128_SYSTEM_ID, CLEAR_AES_128_SYSTEM_ID];
const EMPTY = Buffer.alloc(0);

const bare = (systemId: string): DrmSystem => ({ systemId, kid: KID, hlsSignalingData: [], extensions: [] });
/** Every placeholder a DRMSystem can carry, plus an attribute and an extension that must survive. */
const allPlaceholders = (systemId: string): DrmSystem => ({
  id: 'drm-1',
  name: 'kept',
  systemId,
  kid: KID.toUpperCase(),
  pssh: Buffer.alloc(0),
  contentProtectionData: Buffer.alloc(0),
  uriExtXKey: Buffer.alloc(0),
  hlsSignalingData: [
    { playlist: 'media', value: Buffer.alloc(0) },
    { playlist: 'master', value: Buffer.alloc(0) },
  ],
  smoothStreamingProtectionHeaderData: '',
  speke: { keyFormat: Buffer.alloc(0), keyFormatVersions: Buffer.alloc(0), protectionHeader: Buffer.alloc(0) },
  extensions: [{ kind: 'element', namespace: 'urn:example', prefix: 'x', localName: 'ext', name: 'x:ext', attributes: [], namespaceDeclarations: [], children: [] }],
});

/** A deep copy (Buffers copied) for "the input was not modified" checks. */
function snapshot(system: DrmSystem): DrmSystem {
  return structuredClone({ ...system, extensions: [] }) as DrmSystem;
}

describe('system support', () => {
  it.each(SUPPORTED.flatMap((id) => [id, id.toUpperCase()]))('supports %s (any letter case)', (id) => {
    expect(isSupportedSystem(id)).toBe(true);
  });

  it.each([PALLYCON_NCG_SYSTEM_ID, WISEPLAY_SYSTEM_ID, IRDETO_SYSTEM_ID, FAIRPLAY_PSSH_SYSTEM_ID, '00000000-0000-0000-0000-000000000000', 'not-a-uuid'])(
    'rejects %s with CpixUnsupported naming the systemId, in every dialect, without key bytes',
    (id) => {
      expect(isSupportedSystem(id)).toBe(false);
      for (const dialect of DIALECTS) {
        const error = thrownBy(() => fillDrmSystem(bare(id), KEY, dialect, OPTIONS));
        expect(error).toBeInstanceOf(CpixUnsupported);
        expect((error as CpixUnsupported).code).toBe('ERR_CPIX_UNSUPPORTED');
        if (id !== 'not-a-uuid') expect((error as Error).message).toContain(id);
        expect((error as Error).message).not.toContain(KEY.key.toString('hex'));
        expect((error as Error).message).not.toContain(KEY.key.toString('base64'));
      }
    },
  );

  it.each([
    [FAIRPLAY_SYSTEM_ID, undefined, true],
    [FAIRPLAY_SYSTEM_ID.toUpperCase(), 'cbcs', true],
    [HLS_AES_128_SYSTEM_ID, undefined, true],
    [CLEAR_AES_128_SYSTEM_ID, 'cbc1', true],
    [WIDEVINE_SYSTEM_ID, 'cbcs', true],
    [PLAYREADY_SYSTEM_ID, 'cbcs', true],
    [WIDEVINE_SYSTEM_ID, 'cenc', false],
    [PLAYREADY_SYSTEM_ID, undefined, false],
    [COMMON_PSSH_SYSTEM_ID, 'cbcs', false],
    [PALLYCON_NCG_SYSTEM_ID, 'cbcs', false],
  ])('systemNeedsIv(%s, %s) = %s', (id, scheme, expected) => {
    expect(systemNeedsIv(id, scheme)).toBe(expected);
  });
});

describe('placeholder rules (every dialect)', () => {
  const cases = DIALECTS.flatMap((dialect) => SUPPORTED.map((systemId) => ({ dialect, systemId })));

  it.each(cases)('$dialect $systemId: keeps systemId, kid, attributes, extensions; does not modify the input', ({ dialect, systemId }) => {
    const input = allPlaceholders(systemId.toUpperCase());
    const before = snapshot(input);
    const filled = fillDrmSystem(input, { ...KEY, scheme: 'cbcs' }, dialect, OPTIONS);
    expect(snapshot(input)).toEqual(before);
    expect(filled).not.toBe(input);
    expect(filled.hlsSignalingData).not.toBe(input.hlsSignalingData);
    expect(filled.systemId).toBe(input.systemId);
    expect(filled.kid).toBe(input.kid);
    expect(filled.id).toBe('drm-1');
    expect(filled.name).toBe('kept');
    expect(filled.extensions).toBe(input.extensions);
    if (dialect === 'speke-v2') {
      expect(filled.speke).toBe(input.speke); // v1 elements are never produced for v2
      expect(filled.uriExtXKey).toBe(input.uriExtXKey);
    }
  });

  it.each(cases)('$dialect $systemId: values sent by the client are kept unchanged', ({ dialect, systemId }) => {
    const sent = Buffer.from('client value');
    const input: DrmSystem = {
      ...allPlaceholders(systemId),
      pssh: sent,
      contentProtectionData: sent,
      uriExtXKey: sent,
      hlsSignalingData: [
        { playlist: 'media', value: sent },
        { playlist: 'master', value: sent },
      ],
      smoothStreamingProtectionHeaderData: 'Y2xpZW50',
      speke: { keyFormat: sent, keyFormatVersions: sent, protectionHeader: sent },
    };
    const filled = fillDrmSystem(input, { ...KEY, scheme: 'cbcs' }, dialect, OPTIONS);
    expect(snapshot(filled)).toEqual(snapshot(input));
  });

  it.each(
    (['speke-v1', 'speke-v2'] as const).flatMap((dialect) => SUPPORTED.map((systemId) => ({ dialect, systemId }))),
  )('$dialect $systemId: a DRMSystem without placeholders gets no element', ({ dialect, systemId }) => {
    expect(fillDrmSystem(bare(systemId), KEY, dialect, OPTIONS)).toEqual(bare(systemId));
  });

  it('refuses a scheme that is not a lower-case CENC FourCC', () => {
    for (const scheme of ['CENC', 'aes', '']) {
      const error = thrownBy(() => fillDrmSystem(allPlaceholders(WIDEVINE_SYSTEM_ID), { ...KEY, scheme }, 'speke-v2', OPTIONS));
      expect(error).toBeInstanceOf(CpixUnsupported);
      expect((error as Error).message).toContain(KID);
    }
  });

  it('refuses PlayReady under cens/cbc1 and HLS placeholders under cens, without key bytes in the message', () => {
    for (const run of [
      () => fillDrmSystem(allPlaceholders(PLAYREADY_SYSTEM_ID), { ...KEY, scheme: 'cens' }, 'speke-v2', OPTIONS),
      () => fillDrmSystem(allPlaceholders(PLAYREADY_SYSTEM_ID), { ...KEY, scheme: 'cbc1' }, 'cpix-api', OPTIONS),
      () => fillDrmSystem(allPlaceholders(WIDEVINE_SYSTEM_ID), { ...KEY, scheme: 'cens' }, 'speke-v2', OPTIONS),
    ]) {
      const error = thrownBy(run);
      expect(error).toBeInstanceOf(CpixUnsupported);
      expect((error as Error).message).not.toContain(KEY.key.toString('base64'));
      expect((error as Error).message).not.toContain(KEY.key.toString('hex'));
    }
  });

  it('HLS: a playlist-less or media element gets EXT-X-KEY, master and multiVariant get EXT-X-SESSION-KEY', () => {
    const input: DrmSystem = {
      ...bare(FAIRPLAY_SYSTEM_ID),
      hlsSignalingData: [{ value: EMPTY }, { playlist: 'multiVariant', value: EMPTY }],
    };
    const [media, session] = fillDrmSystem(input, KEY, 'speke-v2', OPTIONS).hlsSignalingData;
    expect(media?.playlist).toBeUndefined();
    expect(media?.value.toString()).toMatch(/^#EXT-X-KEY:METHOD=SAMPLE-AES,URI="skd:\/\/6bac8ec30ee3379f3d21290b3a2bc9c3"/);
    expect(session?.playlist).toBe('multiVariant');
    expect(session?.value.toString()).toMatch(/^#EXT-X-SESSION-KEY:/);
  });
});

describe('site options', () => {
  it('expands every placeholder of the AES-128 key URI template; an unknown one is a RangeError naming that template', () => {
    const options = { ...OPTIONS, aes128KeyUriTemplate: 'https://k.example/{kid_uuid}/{kid_hex}/{kid_base64}?c={content_id}' };
    const filled = fillDrmSystem({ ...bare(CLEAR_AES_128_SYSTEM_ID), uriExtXKey: EMPTY }, KEY, 'speke-v1', options);
    expect(filled.uriExtXKey?.toString()).toBe(`https://k.example/${KID}/6bac8ec30ee3379f3d21290b3a2bc9c3/a6yOww7jN589ISkLOivJww==?c=cid-1`);
    const bad = { ...OPTIONS, aes128KeyUriTemplate: 'https://k.example/{kid}' };
    expect(() => fillDrmSystem({ ...bare(CLEAR_AES_128_SYSTEM_ID), uriExtXKey: EMPTY }, KEY, 'speke-v1', bad)).toThrow(
      /unknown placeholder \{kid\} in the AES-128 key URI template/,
    );
  });

  it('puts the site LA_URL into the PlayReady header, escaped', () => {
    const options = { ...OPTIONS, playReadyLaUrl: 'https://pr.example/la?a=1&b=2' };
    const filled = fillDrmSystem({ ...bare(PLAYREADY_SYSTEM_ID), pssh: EMPTY }, KEY, 'speke-v2', options);
    expect(parsePlayReadyObject(parsePsshBox(filled.pssh!).data)).toContain('<LA_URL>https://pr.example/la?a=1&amp;b=2</LA_URL>');
  });
});

describe('PallyCon CPIX API: an empty DRMSystem receives the elements PallyCon returns (docs/pallycon.md §1.3)', () => {
  const present = (system: DrmSystem): string[] =>
    [
      system.pssh && 'PSSH',
      system.contentProtectionData && 'ContentProtectionData',
      system.uriExtXKey && 'URIExtXKey',
      ...system.hlsSignalingData.map((item) => `HLSSignalingData@${item.playlist ?? ''}`),
      system.smoothStreamingProtectionHeaderData && 'SmoothStreamingProtectionHeaderData',
      system.speke?.protectionHeader && 'speke:ProtectionHeader',
    ].filter((name): name is string => typeof name === 'string');

  it.each([
    [WIDEVINE_SYSTEM_ID, ['PSSH', 'ContentProtectionData']],
    [PLAYREADY_SYSTEM_ID, ['PSSH', 'ContentProtectionData', 'speke:ProtectionHeader']],
    [FAIRPLAY_SYSTEM_ID, ['URIExtXKey', 'HLSSignalingData@media', 'HLSSignalingData@master']],
    [HLS_AES_128_SYSTEM_ID, ['URIExtXKey', 'HLSSignalingData@media', 'HLSSignalingData@master']],
    [CLEAR_AES_128_SYSTEM_ID, ['URIExtXKey', 'HLSSignalingData@media', 'HLSSignalingData@master']],
    [COMMON_PSSH_SYSTEM_ID, ['PSSH']],
  ])('%s → %j, every value non-empty', (systemId, expected) => {
    const filled = fillDrmSystem(bare(systemId.toUpperCase()), KEY, 'cpix-api', OPTIONS);
    expect(present(filled)).toEqual(expected);
    expect(filled.pssh?.length ?? 1).toBeGreaterThan(0);
    expect(filled.contentProtectionData?.length ?? 1).toBeGreaterThan(0);
    expect(filled.uriExtXKey?.length ?? 1).toBeGreaterThan(0);
    expect(filled.hlsSignalingData.every((item) => item.value.length > 0)).toBe(true);
  });

  it('AES-128 lines state the explicit IV the packager encrypts with (RFC 8216 §5.2)', () => {
    const [media] = fillDrmSystem(bare(HLS_AES_128_SYSTEM_ID), KEY, 'cpix-api', OPTIONS).hlsSignalingData;
    expect(media?.value.toString()).toBe(
      `#EXT-X-KEY:METHOD=AES-128,URI="https://keys.example/cid-1/6bac8ec30ee3379f3d21290b3a2bc9c3",IV=0x${'09'.repeat(16)},KEYFORMAT="identity",KEYFORMATVERSIONS="1"`,
    );
  });

  it('Widevine under cens/cbc1 gets no HLS elements (HLS has no METHOD for them)', () => {
    const filled = fillDrmSystem(bare(WIDEVINE_SYSTEM_ID), { ...KEY, scheme: 'cens' }, 'cpix-api', OPTIONS);
    expect(present(filled)).toEqual(['PSSH', 'ContentProtectionData']);
  });

  it('answers a FairPlay request with PallyCon\'s element set: fills URIExtXKey, adds HLS, drops what has no value', () => {
    // pallycon-v2-hls-live-fairplay: the request asks for CPD, PSSH and URIExtXKey; the response has
    // HLSSignalingData ×2 and URIExtXKey.
    const input: DrmSystem = { ...bare(FAIRPLAY_SYSTEM_ID), contentProtectionData: EMPTY, pssh: EMPTY, uriExtXKey: EMPTY };
    const filled = fillDrmSystem(input, KEY, 'cpix-api', OPTIONS);
    expect(present(filled)).toEqual(['PSSH', 'URIExtXKey', 'HLSSignalingData@media', 'HLSSignalingData@master']);
    expect(filled.uriExtXKey?.toString()).toBe('skd://6bac8ec30ee3379f3d21290b3a2bc9c3');
    expect(parsePsshBox(filled.pssh!)).toEqual({ version: 1, systemId: FAIRPLAY_SYSTEM_ID, keyIds: [KID], data: EMPTY });
    expect(filled.contentProtectionData).toBeUndefined();
  });
});

describe('key rotation (ContentKeyPeriod@index)', () => {
  const rotated: SignalingKey = { ...KEY, periodIndex: 128 };
  const widevine = (dialect: SignalingDialect): Map<number, (number | Buffer)[]> =>
    parseWidevinePsshData(parsePsshBox(fillDrmSystem({ ...bare(WIDEVINE_SYSTEM_ID), pssh: EMPTY }, rotated, dialect, OPTIONS).pssh!).data);
  const playReady = (dialect: SignalingDialect): string =>
    parsePlayReadyObject(parsePsshBox(fillDrmSystem({ ...bare(PLAYREADY_SYSTEM_ID), pssh: EMPTY }, rotated, dialect, OPTIONS).pssh!).data);

  it('PallyCon: Widevine content_id = CID + %016x period, crypto_period_index; PlayReady PERIOD_INDEX', () => {
    expect(widevine('cpix-api').get(4)).toEqual([Buffer.from('cid-10000000000000080')]);
    expect(widevine('cpix-api').get(7)).toEqual([128]);
    expect(playReady('cpix-api')).toContain('<CUSTOMATTRIBUTES><PERIOD_INDEX>128</PERIOD_INDEX></CUSTOMATTRIBUTES>');
  });

  it.each(['speke-v1', 'speke-v2'] as const)('%s: plain content_id with crypto_period_index; no PallyCon attribute', (dialect) => {
    expect(widevine(dialect).get(4)).toEqual([Buffer.from('cid-1')]);
    expect(widevine(dialect).get(7)).toEqual([128]);
    expect(playReady(dialect)).not.toContain('PERIOD_INDEX');
  });
});
