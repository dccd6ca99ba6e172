import type { DrmSystem } from '../../../src/cpix/model';
import {
  CLEAR_AES_128_SYSTEM_ID,
  COMMON_PSSH_SYSTEM_ID,
  FAIRPLAY_SYSTEM_ID,
  HLS_AES_128_SYSTEM_ID,
  IRDETO_SYSTEM_ID,
  PALLYCON_NCG_HLS_SAMPLE_AES_SYSTEM_ID,
  PALLYCON_NCG_SYSTEM_ID,
  PALLYCON_SAMPLE_AES_SYSTEM_ID,
  PLAYREADY_SYSTEM_ID,
  WIDEVINE_SYSTEM_ID,
  WISEPLAY_SYSTEM_ID,
} from '../../../src/drm/system-ids';
import { FAIRPLAY_PSSH_SYSTEM_ID } from '../../support/system-ids';
import { CpixUnsupported } from '../../../src/errors';
import { PALLYCON_V2 } from '../../../src/exchange/dialects/pallycon';
import { SPEKE_V1, SPEKE_V2_0 } from '../../../src/exchange/dialects/speke';
import {
  type SignalingKey,
  type SignalingOptions,
  type SignalingRules,
  type SystemKind,
  systemKindOf,
  systemNeedsIv,
} from '../../../src/exchange/signaling';
import { parseKeyId } from '../../../src/keys/key-id';
import { thrownBy } from '../../support/errors';
import { parsePlayReadyObject, parsePsshBox, parseWidevinePsshData } from '../../support/pssh-parser';
import { fillToBytes } from '../../support/filled-signals';

/**
 * Placeholder rules of `fillDrmSystem` that hold for every protocol's rules, what each protocol does
 * with a placeholder it has no value for, and the PallyCon "add" mode.
 */

const OPTIONS: SignalingOptions = {
  fairPlaySkdTemplate: 'skd://{kid_hex}',
  widevineProvider: 'cpix-kms',
  aes128KeyUriTemplate: 'https://keys.example/{content_id}/{kid_hex}',
};
const KID = parseKeyId('6bac8ec3-0ee3-379f-3d21-290b3a2bc9c3');
const KEY: SignalingKey = { kid: KID, key: Buffer.from('3a54452ba2d2cad16bd879cdd47ab05b', 'hex'), contentId: 'cid-1', iv: Buffer.alloc(16, 9) };
/** The signaling rules of each protocol family, by the name the tests use. */
const RULES = { 'speke-v1': SPEKE_V1.signaling, 'speke-v2': SPEKE_V2_0.signaling, 'cpix-api': PALLYCON_V2.signaling } as const;
type RulesName = keyof typeof RULES;
const DIALECTS = Object.keys(RULES) as RulesName[];
/** Systems every protocol signals. */
const SUPPORTED = [WIDEVINE_SYSTEM_ID, PLAYREADY_SYSTEM_ID, FAIRPLAY_SYSTEM_ID, COMMON_PSSH_SYSTEM_ID, HLS_AES_128_SYSTEM_ID, CLEAR_AES_128_SYSTEM_ID];
/** Systems only the PallyCon CPIX API signals (its clients ask for them; SPEKE encryptors do not). */
const PALLYCON_ONLY = [WISEPLAY_SYSTEM_ID, PALLYCON_NCG_SYSTEM_ID, PALLYCON_SAMPLE_AES_SYSTEM_ID, PALLYCON_NCG_HLS_SAMPLE_AES_SYSTEM_ID];
const fill = (system: DrmSystem, key: SignalingKey, name: RulesName, options: SignalingOptions = OPTIONS) =>
  fillToBytes(system, key, RULES[name], options);
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
  it.each(SUPPORTED.flatMap((id) => [id, id.toUpperCase()]))('every protocol signals %s (any letter case)', (id) => {
    for (const name of DIALECTS) expect(() => fill(bare(id), KEY, name)).not.toThrow();
  });

  it.each(PALLYCON_ONLY)('only the PallyCon CPIX API signals %s; SPEKE refuses it', (id) => {
    expect(() => fill(bare(id), KEY, 'cpix-api')).not.toThrow();
    for (const name of ['speke-v1', 'speke-v2'] as const) expect(thrownBy(() => fill(bare(id), KEY, name))).toBeInstanceOf(CpixUnsupported);
  });

  it.each([IRDETO_SYSTEM_ID, FAIRPLAY_PSSH_SYSTEM_ID, '00000000-0000-0000-0000-000000000000', 'not-a-uuid'])(
    'rejects %s with CpixUnsupported naming the systemId, in every protocol, without key bytes',
    (id) => {
      expect(systemKindOf(id)).toBeUndefined();
      for (const name of DIALECTS) {
        const error = thrownBy(() => fill(bare(id), KEY, name));
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
    [PALLYCON_SAMPLE_AES_SYSTEM_ID, 'cbcs', true],
    [PALLYCON_NCG_SYSTEM_ID, undefined, true],
    [WIDEVINE_SYSTEM_ID, 'cbcs', true],
    [PLAYREADY_SYSTEM_ID, 'cbcs', true],
    [WIDEVINE_SYSTEM_ID, 'cenc', false],
    [PLAYREADY_SYSTEM_ID, undefined, false],
    [COMMON_PSSH_SYSTEM_ID, 'cbcs', false],
    [WISEPLAY_SYSTEM_ID, 'cbcs', false],
  ])('systemNeedsIv(%s, %s) = %s', (id, scheme, expected) => {
    expect(systemNeedsIv(systemKindOf(id) as SystemKind, scheme)).toBe(expected);
  });
});

describe('placeholder rules (every protocol)', () => {
  const cases = DIALECTS.flatMap((name) => SUPPORTED.map((systemId) => ({ name, systemId })));
  /** The placeholders a protocol fills for a system, plus an attribute and an extension that must survive. */
  const fillable = (name: RulesName, systemId: string): DrmSystem => {
    const all = allPlaceholders(systemId);
    const fills = new Set(RULES[name].fills[systemKindOf(systemId) as SystemKind]);
    return {
      ...bare(systemId),
      id: all.id,
      name: all.name,
      kid: all.kid,
      extensions: all.extensions,
      ...(fills.has('pssh') && { pssh: EMPTY }),
      ...(fills.has('contentProtectionData') && { contentProtectionData: EMPTY }),
      ...(fills.has('uriExtXKey') && { uriExtXKey: EMPTY }),
      ...(fills.has('hlsSignalingData') && { hlsSignalingData: all.hlsSignalingData }),
      ...(fills.has('smoothStreaming') && { smoothStreamingProtectionHeaderData: '' }),
    };
  };

  it.each(cases)('$name $systemId: keeps systemId, kid, attributes, extensions; does not modify the input', ({ name, systemId }) => {
    const input = fillable(name, systemId.toUpperCase());
    const before = snapshot(input);
    const filled = fill(input, { ...KEY, scheme: 'cbcs' }, name);
    expect(snapshot(input)).toEqual(before);
    expect(filled).not.toBe(input);
    expect(filled.hlsSignalingData).not.toBe(input.hlsSignalingData);
    expect(filled.systemId).toBe(input.systemId);
    expect(filled.kid).toBe(input.kid);
    expect(filled.id).toBe('drm-1');
    expect(filled.name).toBe('kept');
    expect(filled.extensions).toBe(input.extensions);
  });

  it.each(cases)('$name $systemId: every placeholder it fills gets a value', ({ name, systemId }) => {
    const filled = fill(fillable(name, systemId), { ...KEY, scheme: 'cbcs' }, name);
    for (const value of [filled.pssh, filled.contentProtectionData, filled.uriExtXKey, ...filled.hlsSignalingData.map((item) => item.value)]) {
      expect(value?.length ?? 1).toBeGreaterThan(0);
    }
    expect(filled.smoothStreamingProtectionHeaderData ?? 'absent').not.toBe('');
  });

  it.each(cases)('$name $systemId: values sent by the client are kept unchanged', ({ name, systemId }) => {
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
    const filled = fill(input, { ...KEY, scheme: 'cbcs' }, name);
    expect(snapshot(filled)).toEqual(snapshot(input));
  });

  it.each((['speke-v1', 'speke-v2'] as const).flatMap((name) => SUPPORTED.map((systemId) => ({ name, systemId }))))(
    '$name $systemId: a DRMSystem without placeholders gets no element',
    ({ name, systemId }) => {
      expect(fill(bare(systemId), KEY, name)).toEqual(bare(systemId));
    },
  );

  it('refuses a scheme that is not a lower-case CENC FourCC', () => {
    for (const scheme of ['CENC', 'aes', '']) {
      const error = thrownBy(() => fill({ ...bare(WIDEVINE_SYSTEM_ID), pssh: EMPTY }, { ...KEY, scheme }, 'speke-v2'));
      expect(error).toBeInstanceOf(CpixUnsupported);
      expect((error as Error).message).toContain(KID);
    }
  });

  it('refuses PlayReady under cens/cbc1 and HLS placeholders under cens, without key bytes in the message', () => {
    for (const run of [
      () => fill({ ...bare(PLAYREADY_SYSTEM_ID), pssh: EMPTY }, { ...KEY, scheme: 'cens' }, 'speke-v2'),
      () => fill(bare(PLAYREADY_SYSTEM_ID), { ...KEY, scheme: 'cbc1' }, 'cpix-api'),
      () => fill(fillable('speke-v2', WIDEVINE_SYSTEM_ID), { ...KEY, scheme: 'cens' }, 'speke-v2'),
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
    const [media, session] = fill(input, KEY, 'speke-v2').hlsSignalingData;
    expect(media?.playlist).toBeUndefined();
    expect(media?.value.toString()).toMatch(/^#EXT-X-KEY:METHOD=SAMPLE-AES,URI="skd:\/\/6bac8ec30ee3379f3d21290b3a2bc9c3"/);
    expect(session?.playlist).toBe('multiVariant');
    expect(session?.value.toString()).toMatch(/^#EXT-X-SESSION-KEY:/);
  });
});

describe('a placeholder the protocol has no value for', () => {
  // Widevine has no URIExtXKey in any protocol; FairPlay no SmoothStreamingProtectionHeaderData.
  const unanswerable: readonly [string, DrmSystem, string][] = [
    ['Widevine URIExtXKey', { ...bare(WIDEVINE_SYSTEM_ID), pssh: EMPTY, uriExtXKey: EMPTY }, 'URIExtXKey'],
    ['FairPlay SmoothStreamingProtectionHeaderData', { ...bare(FAIRPLAY_SYSTEM_ID), smoothStreamingProtectionHeaderData: '' }, 'SmoothStreamingProtectionHeaderData'],
    ['W3C Common HLSSignalingData', { ...bare(COMMON_PSSH_SYSTEM_ID), hlsSignalingData: [{ playlist: 'media', value: EMPTY }] }, 'HLSSignalingData'],
  ];

  it.each(unanswerable)('SPEKE v2 refuses it (%s): "all elements shall carry a valid value"', (_what, system, element) => {
    const error = thrownBy(() => fill(system, KEY, 'speke-v2'));
    expect(error).toBeInstanceOf(CpixUnsupported);
    expect((error as Error).message).toContain(`/${element}: no value for this DRM system`);
  });

  it.each(unanswerable)('SPEKE v1 and the PallyCon API leave it out (%s), never empty', (_what, system) => {
    for (const name of ['speke-v1', 'cpix-api'] as const) {
      const filled = fill(system, KEY, name);
      expect(filled.uriExtXKey?.length ?? 1).toBeGreaterThan(0);
      expect(filled.smoothStreamingProtectionHeaderData).not.toBe('');
      expect(filled.hlsSignalingData.every((item) => item.value.length > 0)).toBe(true);
    }
  });

  it('SPEKE v1 fills ContentProtectionData with its CPIX meaning (the DASH fragment holding the PSSH)', () => {
    const filled = fill({ ...bare(WIDEVINE_SYSTEM_ID), pssh: EMPTY, contentProtectionData: EMPTY }, KEY, 'speke-v1');
    expect(filled.contentProtectionData?.toString()).toBe(`<cenc:pssh xmlns:cenc="urn:mpeg:cenc:2013">${filled.pssh?.toString('base64')}</cenc:pssh>`);
  });
});

describe('site options', () => {
  it('expands every placeholder of the key-delivery URI template; an unknown one is a RangeError naming that template', () => {
    const options = { ...OPTIONS, aes128KeyUriTemplate: 'https://k.example/{kid_uuid}/{kid_hex}/{kid_base64}?c={content_id}' };
    const filled = fill({ ...bare(CLEAR_AES_128_SYSTEM_ID), uriExtXKey: EMPTY }, KEY, 'speke-v1', options);
    expect(filled.uriExtXKey?.toString()).toBe(`https://k.example/${KID}/6bac8ec30ee3379f3d21290b3a2bc9c3/a6yOww7jN589ISkLOivJww==?c=cid-1`);
    const bad = { ...OPTIONS, aes128KeyUriTemplate: 'https://k.example/{kid}' };
    expect(() => fill({ ...bare(CLEAR_AES_128_SYSTEM_ID), uriExtXKey: EMPTY }, KEY, 'speke-v1', bad)).toThrow(
      /unknown placeholder \{kid\} in the key-delivery URI template/,
    );
  });

  it('percent-encodes the content ID, so it cannot change the URL or the tag line', () => {
    const options = { ...OPTIONS, aes128KeyUriTemplate: 'https://k.example/{content_id}/key' };
    const key = { ...KEY, contentId: 'a/b?c=d#e "x"\r\n' };
    const filled = fill(bare(CLEAR_AES_128_SYSTEM_ID), key, 'cpix-api', options);
    expect(filled.uriExtXKey?.toString()).toBe('https://k.example/a%2Fb%3Fc%3Dd%23e%20%22x%22%0D%0A/key');
    expect(filled.hlsSignalingData[0]?.value.toString()).toContain('URI="https://k.example/a%2Fb%3Fc%3Dd%23e%20%22x%22%0D%0A/key"');
  });

  it('puts the site LA_URL into the PlayReady header, escaped', () => {
    const options = { ...OPTIONS, playReadyLaUrl: 'https://pr.example/la?a=1&b=2' };
    const filled = fill({ ...bare(PLAYREADY_SYSTEM_ID), pssh: EMPTY }, KEY, 'speke-v2', options);
    expect(parsePlayReadyObject(parsePsshBox(filled.pssh!).data)).toContain('<LA_URL>https://pr.example/la?a=1&amp;b=2</LA_URL>');
  });
});

describe('PallyCon CPIX API: an empty DRMSystem receives the elements its official clients read (docs/pallycon-api.md)', () => {
  const present = (system: DrmSystem): string[] =>
    [
      system.pssh && 'PSSH',
      system.contentProtectionData && 'ContentProtectionData',
      system.uriExtXKey && 'URIExtXKey',
      ...system.hlsSignalingData.map((item) => `HLSSignalingData@${item.playlist ?? ''}`),
      system.smoothStreamingProtectionHeaderData && 'SmoothStreamingProtectionHeaderData',
      system.speke?.protectionHeader && 'speke:ProtectionHeader',
    ].filter((name): name is string => typeof name === 'string');
  const HLS_KEY_URL = ['URIExtXKey', 'HLSSignalingData@media', 'HLSSignalingData@master'];

  it.each([
    [WIDEVINE_SYSTEM_ID, ['PSSH', 'ContentProtectionData']],
    [PLAYREADY_SYSTEM_ID, ['PSSH', 'ContentProtectionData', 'SmoothStreamingProtectionHeaderData', 'speke:ProtectionHeader']],
    [FAIRPLAY_SYSTEM_ID, HLS_KEY_URL],
    [WISEPLAY_SYSTEM_ID, ['PSSH', 'ContentProtectionData']],
    [HLS_AES_128_SYSTEM_ID, HLS_KEY_URL],
    [CLEAR_AES_128_SYSTEM_ID, HLS_KEY_URL],
    [PALLYCON_SAMPLE_AES_SYSTEM_ID, HLS_KEY_URL],
    [PALLYCON_NCG_HLS_SAMPLE_AES_SYSTEM_ID, HLS_KEY_URL],
    [PALLYCON_NCG_SYSTEM_ID, ['URIExtXKey']],
    [COMMON_PSSH_SYSTEM_ID, ['PSSH']],
  ])('%s → %j, every value non-empty', (systemId, expected) => {
    const filled = fill(bare(systemId.toUpperCase()), { ...KEY, scheme: 'cbcs' }, 'cpix-api');
    expect(present(filled)).toEqual(expected);
    expect(filled.pssh?.length ?? 1).toBeGreaterThan(0);
    expect(filled.contentProtectionData?.length ?? 1).toBeGreaterThan(0);
    expect(filled.uriExtXKey?.length ?? 1).toBeGreaterThan(0);
    expect(filled.hlsSignalingData.every((item) => item.value.length > 0)).toBe(true);
  });

  it.each([
    ['AES-128', HLS_AES_128_SYSTEM_ID],
    ['AES-128', CLEAR_AES_128_SYSTEM_ID],
    ['SAMPLE-AES', PALLYCON_SAMPLE_AES_SYSTEM_ID],
    ['SAMPLE-AES', PALLYCON_NCG_HLS_SAMPLE_AES_SYSTEM_ID],
  ])('%s key-URL lines (%s) state the explicit IV the packager encrypts with (RFC 8216 §5.2)', (method, systemId) => {
    const [media, master] = fill(bare(systemId), KEY, 'cpix-api').hlsSignalingData;
    const attributes = `METHOD=${method},URI="https://keys.example/cid-1/6bac8ec30ee3379f3d21290b3a2bc9c3",IV=0x${'09'.repeat(16)},KEYFORMAT="identity",KEYFORMATVERSIONS="1"`;
    expect(media?.value.toString()).toBe(`#EXT-X-KEY:${attributes}`);
    expect(master?.value.toString()).toBe(`#EXT-X-SESSION-KEY:${attributes}`);
  });

  it('NCG: URIExtXKey is the 32-byte NCG CEK, the content key followed by its IV', () => {
    const filled = fill(bare(PALLYCON_NCG_SYSTEM_ID), KEY, 'cpix-api');
    expect(filled.uriExtXKey).toEqual(Buffer.concat([KEY.key, KEY.iv as Buffer]));
  });

  it('Widevine under cens/cbc1 gets no HLS elements (HLS has no METHOD for them)', () => {
    const filled = fill(bare(WIDEVINE_SYSTEM_ID), { ...KEY, scheme: 'cens' }, 'cpix-api');
    expect(present(filled)).toEqual(['PSSH', 'ContentProtectionData']);
  });

  it("answers a FairPlay request with PallyCon's element set: fills URIExtXKey, adds HLS, drops what has no value", () => {
    // pallycon-v2-hls-live-fairplay: the request asks for CPD, PSSH and URIExtXKey; the response has
    // HLSSignalingData ×2 and URIExtXKey.
    const input: DrmSystem = { ...bare(FAIRPLAY_SYSTEM_ID), contentProtectionData: EMPTY, pssh: EMPTY, uriExtXKey: EMPTY };
    const filled = fill(input, KEY, 'cpix-api');
    expect(present(filled)).toEqual(['PSSH', 'URIExtXKey', 'HLSSignalingData@media', 'HLSSignalingData@master']);
    expect(filled.uriExtXKey?.toString()).toBe('skd://6bac8ec30ee3379f3d21290b3a2bc9c3');
    expect(parsePsshBox(filled.pssh!)).toEqual({ version: 1, systemId: FAIRPLAY_SYSTEM_ID, keyIds: [KID], data: EMPTY });
    expect(filled.contentProtectionData).toBeUndefined();
  });
});

describe('key rotation (ContentKeyPeriod@index)', () => {
  const rotated: SignalingKey = { ...KEY, periodIndex: 128 };
  const widevine = (name: RulesName): Map<number, (number | Buffer)[]> =>
    parseWidevinePsshData(parsePsshBox(fill({ ...bare(WIDEVINE_SYSTEM_ID), pssh: EMPTY }, rotated, name).pssh!).data);
  const playReady = (name: RulesName): string =>
    parsePlayReadyObject(parsePsshBox(fill({ ...bare(PLAYREADY_SYSTEM_ID), pssh: EMPTY }, rotated, name).pssh!).data);
  const wisePlayContentId = (name: RulesName): string => {
    const json = parsePsshBox(fill({ ...bare(WISEPLAY_SYSTEM_ID), pssh: EMPTY }, rotated, name).pssh!).data.toString('utf8');
    return Buffer.from((JSON.parse(json) as { contentID: string }).contentID, 'base64').toString('utf8');
  };

  it('PallyCon: Widevine and WisePlay content ID = CID + %016x period, crypto_period_index; PlayReady PERIOD_INDEX', () => {
    expect(widevine('cpix-api').get(4)).toEqual([Buffer.from('cid-10000000000000080')]);
    expect(widevine('cpix-api').get(7)).toEqual([128]);
    expect(wisePlayContentId('cpix-api')).toBe('cid-10000000000000080');
    expect(playReady('cpix-api')).toContain('<CUSTOMATTRIBUTES><PERIOD_INDEX>128</PERIOD_INDEX></CUSTOMATTRIBUTES>');
  });

  it.each(['speke-v1', 'speke-v2'] as const)('%s: plain content_id with crypto_period_index; no PallyCon attribute', (name) => {
    expect(widevine(name).get(4)).toEqual([Buffer.from('cid-1')]);
    expect(widevine(name).get(7)).toEqual([128]);
    expect(playReady(name)).not.toContain('PERIOD_INDEX');
  });
});

describe('protocol rules objects', () => {
  it.each(DIALECTS)('%s: every system it adds children for, it also fills', (name) => {
    const rules: SignalingRules = RULES[name];
    for (const [kind, added] of Object.entries(rules.adds ?? {})) {
      const fills = new Set(rules.fills[kind as SystemKind]);
      expect({ kind, missing: added.filter((child) => !fills.has(child)) }).toEqual({ kind, missing: [] });
    }
  });
});
