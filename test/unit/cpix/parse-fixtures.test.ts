import { readFileSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';

import { parseCpixDocument } from '../../../src/cpix/parse';
import { CpixInvalid, CpixUnsupported, type ServiceError } from '../../../src/errors';

const FIXTURES = resolve(__dirname, '../../fixtures/cpix');
const read = (dir: 'valid' | 'invalid', name: string): string => readFileSync(resolve(FIXTURES, dir, name), 'utf8');

const K1 = '11111111-2222-4333-8444-555555555555';
const K2 = 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee';
const WV = 'edef8ba9-79d6-4ace-a3c8-27dcd51d21ed';
const FP = '94ce86fb-07ff-4f43-adb8-93d2fa968ca2';
const PR = '9a04f079-9840-4286-ab92-e65be0885f95';

function parseError(xml: string): ServiceError {
  try {
    parseCpixDocument(xml);
  } catch (error) {
    if (error instanceof CpixInvalid || error instanceof CpixUnsupported) return error;
    throw error;
  }
  throw new Error('expected the document to be refused');
}

describe('valid fixtures', () => {
  it('parses clear keys with signaling and usage rules', () => {
    const doc = parseCpixDocument(read('valid', 'clear-keys-with-signaling-and-rules.xml'));
    expect(doc).toMatchObject({ contentId: 'movie-1', version: '2.3' });
    expect(doc.contentKeyList?.items.map((key) => key.kid)).toEqual([K1, K2]);
    const [first] = doc.contentKeyList?.items ?? [];
    expect(first?.explicitIV).toHaveLength(16);
    expect(first?.commonEncryptionScheme).toBe('cbcs');
    expect(first?.data).toMatchObject({ kind: 'plain' });
    expect(first?.data?.kind === 'plain' && first.data.value.length).toBe(16);
    const [widevine, fairplay] = doc.drmSystemList?.items ?? [];
    expect(widevine?.systemId).toBe(WV);
    expect(widevine?.pssh).toHaveLength(60);
    expect(widevine?.contentProtectionData?.toString()).toBe('<pssh xmlns="urn:mpeg:cenc:2013">AAAA</pssh>');
    expect(fairplay?.hlsSignalingData.map((hls) => hls.playlist)).toEqual(['media', 'master']);
    expect(fairplay?.hlsSignalingData[1]?.value.toString()).toMatch(/^#EXT-X-SESSION-KEY:/);
    expect(doc.contentKeyPeriodList?.items).toEqual([{ id: 'period_1', index: 1 }]);
    const [video, audio] = doc.contentKeyUsageRuleList?.items ?? [];
    expect(video).toMatchObject({
      kid: K1,
      intendedTrackType: 'VIDEO',
      keyPeriodFilters: [{ periodId: 'period_1' }],
      videoFilters: [{ minPixels: 0, maxPixels: 2073600, hdr: false }],
    });
    expect(audio).toMatchObject({ audioFilters: [{ minChannels: 1, maxChannels: 2 }], bitrateFilters: [{ maxBitrate: 256000 }] });
    expect(doc.rootNamespaces).toEqual({ cpix: 'urn:dashif:org:cpix', pskc: 'urn:ietf:params:xml:ns:keyprov:pskc' });
  });

  it('parses an encrypted key with one recipient (MAC key shape A)', () => {
    const doc = parseCpixDocument(read('valid', 'encrypted-key-one-recipient.xml'));
    const [recipient] = doc.deliveryDataList?.items ?? [];
    expect(recipient?.id).toBe('recipient_1');
    expect(recipient?.certificates.map((der) => der.length)).toEqual([300]);
    expect(recipient?.documentKeys[0]?.algorithm).toBe('http://www.w3.org/2001/04/xmlenc#aes256-cbc');
    expect(recipient?.documentKeys[0]?.encryptedValue).toHaveLength(256);
    expect(recipient?.macMethod?.algorithm).toBe('http://www.w3.org/2001/04/xmldsig-more#hmac-sha512');
    expect(recipient?.macMethod?.encryptedKey).toHaveLength(256);
    expect(recipient?.description).toBe('packager');
    const data = doc.contentKeyList?.items[0]?.data;
    expect(data?.kind).toBe('encrypted');
    if (data?.kind !== 'encrypted') return;
    expect(data.cipherValue).toHaveLength(48);
    expect(data.valueMac).toHaveLength(64);
  });

  it('parses a SPEKE v1 request: empty signaling elements are placeholders, speke: elements kept', () => {
    const doc = parseCpixDocument(read('valid', 'speke-v1-request-placeholders.xml'));
    expect(doc.id).toBe('content_1');
    expect(doc.contentKeyList?.items[0]?.data).toBeUndefined();
    const [fairplay, playready] = doc.drmSystemList?.items ?? [];
    expect(fairplay?.uriExtXKey).toEqual(Buffer.alloc(0));
    expect(fairplay?.speke).toEqual({ keyFormat: Buffer.alloc(0), keyFormatVersions: Buffer.alloc(0) });
    expect(fairplay?.pssh).toBeUndefined();
    expect(playready?.systemId).toBe(PR);
    expect(playready?.speke).toEqual({ protectionHeader: Buffer.alloc(0) });
    expect(playready?.pssh).toEqual(Buffer.alloc(0));
    expect(doc.rootNamespaces?.speke).toBe('urn:aws:amazon:com:speke');
  });
});

/** Each invalid fixture is one valid fixture with one change; the header comment names both. */
const INVALID: readonly (readonly [file: string, code: 'ERR_CPIX_INVALID' | 'ERR_CPIX_UNSUPPORTED', path: string])[] = [
  ['plain-value-bad-base64', 'ERR_CPIX_INVALID', `ContentKey[kid=${K1}]/Data/Secret/PlainValue: is not valid base64`],
  ['plain-value-15-bytes', 'ERR_CPIX_INVALID', `ContentKey[kid=${K1}]/Data/Secret/PlainValue: must be 16 or 32 bytes`],
  ['explicit-iv-17-bytes', 'ERR_CPIX_INVALID', `ContentKey[kid=${K1}]@explicitIV: must be 16 bytes`],
  ['explicit-iv-uuid-not-base64', 'ERR_CPIX_INVALID', `ContentKey[kid=${K1}]@explicitIV: is not valid base64`],
  ['explicit-iv-nonzero-pad-bits', 'ERR_CPIX_INVALID', `ContentKey[kid=${K1}]@explicitIV: is not canonical base64`],
  ['kid-not-uuid', 'ERR_CPIX_INVALID', 'ContentKey[2]@kid: must be a UUID'],
  ['duplicate-kid-other-case', 'ERR_CPIX_INVALID', `ContentKey[kid=${K1}]@kid: duplicates another ContentKey`],
  ['drm-system-dangling-kid', 'ERR_CPIX_INVALID', `DRMSystem[systemId=${FP}][kid=99999999-2222-4333-8444-555555555555]@kid: references no ContentKey`],
  ['drm-system-duplicate-pair', 'ERR_CPIX_INVALID', `DRMSystem[systemId=${WV.toUpperCase()}][kid=${K1}]: duplicates another DRMSystem`],
  ['drm-system-bad-system-id', 'ERR_CPIX_INVALID', `DRMSystem[kid=${K1}]@systemId: must be a UUID`],
  ['drm-system-pssh-twice', 'ERR_CPIX_INVALID', `DRMSystem[systemId=${PR}][kid=${K1}]/PSSH: must not occur more than once`],
  ['pssh-bad-base64', 'ERR_CPIX_INVALID', `DRMSystem[systemId=${WV}][kid=${K1}]/PSSH: is not valid base64`],
  ['speke-key-format-bad-base64', 'ERR_CPIX_INVALID', `DRMSystem[systemId=${FP}][kid=${K1}]/KeyFormat: is not valid base64`],
  ['hls-playlist-unknown', 'ERR_CPIX_INVALID', `DRMSystem[systemId=${FP}][kid=${K1}]/HLSSignalingData@playlist: must be one of`],
  ['hls-playlist-duplicate', 'ERR_CPIX_INVALID', `DRMSystem[systemId=${FP}][kid=${K1}]/HLSSignalingData@playlist: must be unique`],
  ['usage-rule-unknown-filter', 'ERR_CPIX_UNSUPPORTED', `ContentKeyUsageRule[kid=${K2}]/LanguageFilter: unknown usage-rule filter`],
  ['usage-rule-proprietary-filter', 'ERR_CPIX_UNSUPPORTED', `ContentKeyUsageRule[kid=${K2}]/GeoFilter: unknown usage-rule filter`],
  ['video-filter-unknown-attribute', 'ERR_CPIX_UNSUPPORTED', `ContentKeyUsageRule[kid=${K1}]/VideoFilter@maxBitDepth: unknown usage-rule filter attribute`],
  ['video-filter-min-pixels-not-integer', 'ERR_CPIX_INVALID', `ContentKeyUsageRule[kid=${K1}]/VideoFilter@minPixels: must be an integer`],
  ['video-filter-hdr-not-boolean', 'ERR_CPIX_INVALID', `ContentKeyUsageRule[kid=${K1}]/VideoFilter@hdr: must be a boolean`],
  ['bitrate-filter-without-bounds', 'ERR_CPIX_INVALID', `ContentKeyUsageRule[kid=${K2}]/BitrateFilter: needs minBitrate or maxBitrate`],
  ['usage-rule-dangling-kid', 'ERR_CPIX_INVALID', 'ContentKeyUsageRule[kid=99999999-2222-4333-8444-555555555555]@kid: references no ContentKey'],
  ['key-period-filter-dangling-period', 'ERR_CPIX_INVALID', `ContentKeyUsageRule[kid=${K1}]/KeyPeriodFilter@periodId: references no ContentKeyPeriod`],
  // xs:ID is unique document-wide, across element types too (found by scripts/fuzz.mjs as a 500).
  ['key-period-duplicate-id', 'ERR_CPIX_INVALID', 'ContentKeyPeriod[id=period_1]@id: duplicates another id in the document (xs:ID)'],
  ['id-shared-by-two-elements', 'ERR_CPIX_INVALID', 'ContentKeyUsageRule[id=period_1]@id: duplicates another id in the document (xs:ID)'],
  ['period-index-negative', 'ERR_CPIX_INVALID', 'ContentKeyPeriod[id=period_1]@index: must be at least 0'],
  ['content-key-list-twice', 'ERR_CPIX_INVALID', 'ContentKeyList: must not occur more than once'],
  ['unknown-cpix-root-element', 'ERR_CPIX_UNSUPPORTED', 'CPIX/FutureList: unknown CPIX element'],
  ['root-not-cpix-namespace', 'ERR_CPIX_INVALID', 'CPIX: root element must be CPIX'],
  ['pskc-policy-on-key', 'ERR_CPIX_UNSUPPORTED', `ContentKey[kid=${K2}]/Policy: key-usage restrictions are not supported`],
  ['cipher-value-47-bytes', 'ERR_CPIX_INVALID', `ContentKey[kid=${K1}]/Data/Secret/EncryptedValue/CipherData/CipherValue: must be 48 or 64 bytes`],
  ['value-mac-32-bytes', 'ERR_CPIX_INVALID', `ContentKey[kid=${K1}]/Data/Secret/ValueMAC: must be 64 bytes`],
  ['plain-key-with-delivery-data', 'ERR_CPIX_INVALID', `ContentKey[kid=${K1}]/Data/Secret/PlainValue: clear key in a document with a DeliveryDataList`],
  ['certificate-bad-base64', 'ERR_CPIX_INVALID', 'DeliveryData[id=recipient_1]/DeliveryKey/X509Data/X509Certificate: is not valid base64'],
  ['delivery-data-without-delivery-key', 'ERR_CPIX_INVALID', 'DeliveryData[id=recipient_1]/DeliveryKey: is required'],
  ['mac-method-without-algorithm', 'ERR_CPIX_INVALID', 'DeliveryData[id=recipient_1]/MACMethod@Algorithm: is required'],
  ['encrypted-value-without-encryption-method', 'ERR_CPIX_INVALID', `ContentKey[kid=${K1}]/Data/Secret/EncryptedValue/EncryptionMethod: is required`],
];

describe('invalid fixtures', () => {
  it('covers every file in fixtures/cpix/invalid', () => {
    const files = readdirSync(resolve(FIXTURES, 'invalid')).map((file) => file.replace(/\.xml$/, '')).sort();
    expect(files).toEqual(INVALID.map(([file]) => file).sort());
  });

  it.each(INVALID)('refuses %s with %s', (file, code, path) => {
    const xml = read('invalid', `${file}.xml`);
    const base = /derived from valid\/([\w.-]+\.xml)/.exec(xml)?.[1];
    expect(base).toBeDefined();
    // One change only: apart from the provenance comment, exactly one line differs from the base.
    const changed = xml.split('\n').filter((line) => !line.startsWith('<!-- derived'));
    const original = read('valid', base ?? '').split('\n');
    const differing = changed.filter((line, index) => line !== original[index]);
    expect(differing.length).toBeLessThanOrEqual(1);
    expect(changed.length).toBeGreaterThanOrEqual(original.length - 1);

    const error = parseError(xml);
    expect(error.code).toBe(code);
    expect(error.message.startsWith(path)).toBe(true);
  });
});

describe('unusual but valid input', () => {
  const base = read('valid', 'clear-keys-with-signaling-and-rules.xml');
  const baseline = parseCpixDocument(base);
  const keysOf = (xml: string): unknown => parseCpixDocument(xml).contentKeyList;

  it('accepts the default namespace instead of a prefix', () => {
    const xml = base.replace(/cpix:/g, '').replace('xmlns:cpix=', 'xmlns=');
    expect(keysOf(xml)).toEqual(baseline.contentKeyList);
    expect(parseCpixDocument(xml).rootNamespaces?.['']).toBe('urn:dashif:org:cpix');
  });

  it('accepts odd prefixes (aa:, and pskc bound to pksc: as the SPEKE suite does)', () => {
    const xml = base
      .replace(/cpix:/g, 'aa:')
      .replace(/pskc:/g, 'pksc:')
      .replace('xmlns:cpix=', 'xmlns:aa=')
      .replace('xmlns:pskc=', 'xmlns:pksc=');
    expect(parseCpixDocument(xml).drmSystemList).toEqual(baseline.drmSystemList);
    expect(keysOf(xml)).toEqual(baseline.contentKeyList);
  });

  it('ignores comments and processing instructions anywhere', () => {
    const xml = base
      .replace('<cpix:ContentKeyList>', '<!-- keys --><?app hint?><cpix:ContentKeyList><!-- inside -->')
      .replace('<pskc:PlainValue>', '<pskc:PlainValue><!-- split -->');
    expect(keysOf(xml)).toEqual(baseline.contentKeyList);
  });

  it('accepts XML whitespace inside base64 values', () => {
    const xml = base.replace(/<pskc:PlainValue>(.{8})(.{8})/g, '<pskc:PlainValue>\n  $1\r\n\t$2 ');
    expect(keysOf(xml)).toEqual(baseline.contentKeyList);
  });

  it('accepts the root lists in any order (PallyCon sends DRMSystemList last)', () => {
    const drm = /  <cpix:DRMSystemList>[\s\S]*<\/cpix:DRMSystemList>\n/.exec(base)?.[0] ?? '';
    const xml = base.replace(drm, '').replace('</cpix:CPIX>', `${drm}</cpix:CPIX>`);
    expect(parseCpixDocument(xml)).toEqual(baseline);
  });

  it('accepts DRMSystem children out of XSD order', () => {
    const xml = base.replace(
      /(<cpix:PSSH>.*<\/cpix:PSSH>)\n(\s*)(<cpix:ContentProtectionData>.*<\/cpix:ContentProtectionData>)/,
      '$3\n$2$1',
    );
    expect(parseCpixDocument(xml).drmSystemList).toEqual(baseline.drmSystemList);
  });

  it('tolerates a UTF-8 BOM (Buffer and string input)', () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(base)]);
    expect(parseCpixDocument(bytes)).toEqual(baseline);
    expect(parseCpixDocument(`\uFEFF${base}`)).toEqual(baseline);
  });

  it('keeps upper-case kid and systemId exactly as received and matches them case-insensitively', () => {
    const xml = base
      .replace(`<cpix:ContentKey kid="${K1}"`, `<cpix:ContentKey kid="${K1.toUpperCase()}"`)
      .replace(`systemId="${WV}"`, `systemId="${WV.toUpperCase()}"`);
    const doc = parseCpixDocument(xml);
    expect(doc.contentKeyList?.items[0]?.kid).toBe(K1.toUpperCase());
    expect(doc.drmSystemList?.items[0]).toMatchObject({ systemId: WV.toUpperCase(), kid: K1 });
  });

  it('keeps unknown DRMSystem extension elements as opaque subtrees', () => {
    const xml = base.replace('</cpix:PSSH>', '</cpix:PSSH><x:Hint xmlns:x="urn:example:x" a="1"><x:B>t</x:B></x:Hint>');
    const [extension] = parseCpixDocument(xml).drmSystemList?.items[0]?.extensions ?? [];
    expect(extension).toMatchObject({ namespace: 'urn:example:x', localName: 'Hint', attributes: [{ name: 'a', value: '1' }] });
  });

  it('accepts MAC key shapes B and C (first enc:CipherValue below MACMethod)', () => {
    const encrypted = read('valid', 'encrypted-key-one-recipient.xml');
    const shapeA = /<cpix:Key><enc:EncryptionMethod[^>]*\/>(<enc:CipherData>.*<\/enc:CipherData>)<\/cpix:Key>/;
    const expected = parseCpixDocument(encrypted).deliveryDataList?.items[0]?.macMethod;
    for (const replacement of [
      '<cpix:Key><pskc:EncryptedValue><enc:EncryptionMethod Algorithm="x"/>$1</pskc:EncryptedValue></cpix:Key>',
      '<pskc:MACKey><enc:EncryptionMethod Algorithm="x"/>$1</pskc:MACKey>',
    ]) {
      const xml = encrypted.replace(shapeA, replacement);
      expect(xml).not.toBe(encrypted);
      expect(parseCpixDocument(xml).deliveryDataList?.items[0]?.macMethod).toEqual(expected);
    }
  });

  it('skips ds:Signature elements at the root', () => {
    const xml = base.replace(
      '</cpix:CPIX>',
      '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo/></ds:Signature></cpix:CPIX>',
    );
    expect(parseCpixDocument(xml)).toEqual(baseline);
  });
});
