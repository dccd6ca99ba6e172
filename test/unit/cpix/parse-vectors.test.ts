import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

import type { CpixDocument } from '../../../src/cpix/model';
import { parseCpixDocument } from '../../../src/cpix/parse';
import { CpixInvalid, CpixUnsupported } from '../../../src/errors';
import { describeWithVectors, vectorPath } from '../../support/shared-vectors';

interface ExpectedVector {
  readonly file: string;
  readonly recipients: readonly { readonly recipient: string }[];
  readonly contentKeys: readonly { readonly kid: string; readonly plain?: string; readonly cipherValueBytes?: number }[];
}

const DASHIF = 'dashif-cpix-test-vectors';

/**
 * Vectors the strict parser refuses on purpose. The two Arris KeyRotation files carry UUID strings as
 * `explicitIV`, where CPIX wants base64 of 16 bytes (DASH-IF CPIX 2.3 §5.2.5, ContentKey) — Node's
 * lenient base64 would turn them into 27 bytes.
 */
const REFUSED_DASHIF: Readonly<Record<string, string>> = {
  'KeyRotationMultiKeyMulitPeriod.xml': 'ContentKey[kid=7ce7f10d-a91b-41b9-b331-7999fd1abf4c]@explicitIV: is not valid base64',
  'KeyRotationMultiKeySinglePeriod.xml': 'ContentKey[kid=7ce7f10d-a91b-41b9-b331-7999fd1abf4c]@explicitIV: is not valid base64',
};

function parseFile(path: string): CpixDocument {
  return parseCpixDocument(readFileSync(path));
}

function refusal(path: string): { code: string; message: string } | undefined {
  try {
    parseFile(path);
    return undefined;
  } catch (error) {
    if (error instanceof CpixInvalid || error instanceof CpixUnsupported) return { code: error.code, message: error.message };
    throw error;
  }
}

function xmlFilesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return xmlFilesUnder(path);
    return name.endsWith('.xml') ? [path] : [];
  });
}

describeWithVectors('DASH-IF CPIX test vectors', () => {
  const files = readdirSync(vectorPath(DASHIF)).filter((name) => name.endsWith('.xml'));
  const expected = new Map(
    readFileSync(vectorPath(DASHIF, 'EXPECTED.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as ExpectedVector)
      .map((entry) => [entry.file, entry] as const),
  );

  it('has an EXPECTED.jsonl entry for every vector', () => {
    expect(files.length).toBeGreaterThanOrEqual(13);
    for (const file of files) expect(expected.has(file)).toBe(true);
  });

  describe.each(files.filter((file) => REFUSED_DASHIF[file] === undefined))('%s', (file) => {
    const doc = parseFile(vectorPath(DASHIF, file));
    const facts = expected.get(file);

    it('parses to the kids, clear keys and recipient count of EXPECTED.jsonl', () => {
      const keys = doc.contentKeyList?.items ?? [];
      expect(keys.map((key) => key.kid)).toEqual(facts?.contentKeys.map((key) => key.kid));
      facts?.contentKeys.forEach((key, index) => {
        const data = keys[index]?.data;
        if (key.plain !== undefined) expect(data?.kind === 'plain' && data.value.toString('base64')).toBe(key.plain);
        if (key.cipherValueBytes !== undefined) {
          expect(data?.kind === 'encrypted' && data.cipherValue.length).toBe(key.cipherValueBytes);
          expect(data?.kind === 'encrypted' && data.valueMac?.length).toBe(64);
        }
      });
      expect(doc.deliveryDataList?.items.length ?? 0).toBe(facts?.recipients.length);
    });

    it('gives every recipient one certificate, one wrapped 32-byte-key slot and a MAC key (shape A)', () => {
      for (const recipient of doc.deliveryDataList?.items ?? []) {
        expect(recipient.certificates).toHaveLength(1);
        expect(recipient.documentKeys).toHaveLength(1);
        expect(recipient.documentKeys[0]?.algorithm).toBe('http://www.w3.org/2001/04/xmlenc#aes256-cbc');
        expect(recipient.documentKeys[0]?.encryptedValue?.length).toBe(512); // RSA-4096
        expect(recipient.macMethod?.encryptedKey?.length).toBe(512);
      }
    });
  });

  it.each(Object.entries(REFUSED_DASHIF))('refuses %s with a path-naming CpixInvalid', (file, message) => {
    expect(refusal(vectorPath(DASHIF, file))).toEqual({ code: 'ERR_CPIX_INVALID', message });
  });

  it('parses the KeyRotation vectors once only their UUID explicitIVs are replaced', () => {
    const xml = readFileSync(vectorPath(DASHIF, 'KeyRotationMultiKeyMulitPeriod.xml'), 'utf8').replace(
      /explicitIV="[^"]*"/g,
      'explicitIV="AAECAwQFBgcICQoLDA0ODw=="',
    );
    const doc = parseCpixDocument(xml);
    expect(doc.id).toBe('test');
    expect(doc.contentKeyList?.items.map((key) => key.id)).toContain('video_1');
    expect(doc.contentKeyList?.items).toHaveLength(4);
    expect(doc.contentKeyPeriodList?.items.map((period) => [period.id, period.index])).toEqual([
      ['now', 1],
      ['next', 2],
    ]);
    const periodIds = doc.contentKeyUsageRuleList?.items.flatMap((rule) => rule.keyPeriodFilters.map((filter) => filter.periodId));
    expect(new Set(periodIds)).toEqual(new Set(['now', 'next']));
  });

  it('reads Complex.xml signaling and usage rules (CJK label, Audio/Bitrate/Video filters)', () => {
    const doc = parseFile(vectorPath(DASHIF, 'Complex.xml'));
    const systems = doc.drmSystemList?.items ?? [];
    expect(systems).toHaveLength(12);
    const fairplay = systems.find((system) => system.systemId.startsWith('94ce86fb'));
    expect(fairplay?.hlsSignalingData.map((hls) => hls.playlist).sort()).toEqual(['master', 'media']);
    const playready = systems.find((system) => system.systemId.startsWith('9a04f079'));
    expect(playready?.smoothStreamingProtectionHeaderData).toMatch(/^[A-Za-z0-9+/=]+$/);
    const rules = doc.contentKeyUsageRuleList?.items ?? [];
    expect(rules).toHaveLength(2);
    expect(rules[0]?.labelFilters.map((filter) => filter.label)).toContain('滆 柦柋牬 趉軨鄇 鶊鵱, 緳廞徲 鋑鋡髬 溮煡煟 綡蒚');
    expect(rules[0]?.audioFilters).toHaveLength(2);
    expect(rules[1]?.videoFilters).toHaveLength(2);
    expect(rules.every((rule) => rule.bitrateFilters.length === 2)).toBe(true);
  });

  it('reads EvenMoreComplex.xml (UTF-16LE, aa:…ff: prefixes, default namespace ⚽) like Complex.xml', () => {
    const doc = parseFile(vectorPath(DASHIF, 'EvenMoreComplex.xml'));
    expect(doc.rootNamespaces?.['']).toBe('⚽');
    expect(doc.rootNamespaces?.aa).toBe('urn:dashif:org:cpix');
    expect(doc.deliveryDataList?.id).toBe('id-for-recipients----');
    expect(doc.drmSystemList?.items).toHaveLength(12);
    expect(doc.contentKeyUsageRuleList?.items).toHaveLength(2);
  });

  it('reads UsageRulesBasedOnLabels.xml: OR-ed LabelFilters, one kid in two rules', () => {
    const rules = parseFile(vectorPath(DASHIF, 'UsageRulesBasedOnLabels.xml')).contentKeyUsageRuleList?.items ?? [];
    expect(rules.map((rule) => rule.labelFilters.length)).toEqual([4, 3, 1, 1, 4]);
    expect(new Set(rules.map((rule) => rule.kid)).size).toBe(4);
  });

  it('parses Invalid_WrongMac.xml (it only fails on decryption) and the invalid-signature vectors', () => {
    expect(parseFile(vectorPath(DASHIF, 'Invalid_WrongMac.xml')).contentKeyList?.items[0]?.kid).toBe(
      '5ad2b739-4f46-48df-9a44-aab8c35abf71',
    );
    expect(parseFile(vectorPath(DASHIF, 'Invalid_BadDocumentSignature.xml')).rootNamespaces).toHaveProperty('xxx');
  });

  it('parses RecipientsWithoutContentKeys.xml and EmptyDocument.xml', () => {
    const recipients = parseFile(vectorPath(DASHIF, 'RecipientsWithoutContentKeys.xml'));
    expect(recipients.contentKeyList).toBeUndefined();
    expect(recipients.deliveryDataList?.items).toHaveLength(2);
    const empty = parseFile(vectorPath(DASHIF, 'EmptyDocument.xml'));
    expect(empty.contentKeyList).toBeUndefined();
    expect(empty.rootNamespaces?.['']).toBe('urn:dashif:org:cpix');
  });
});

/**
 * SPEKE and PallyCon examples that are refused, and why (the third entry of each row). Everything else
 * under those folders must parse.
 */
const REFUSED_OTHERS: Readonly<Record<string, readonly [code: string, messageStart: string, reason: string]>> = {
  'speke/aws-speke-v1-docs/cke_request_deliverydatalist_fragment.xml': ['ERR_CPIX_INVALID', 'XML is not well-formed', 'doc fragment with placeholders (P24)'],
  'speke/aws-speke-v1-docs/cke_response_contentkeylist_encrypted_fragment.xml': ['ERR_CPIX_INVALID', 'XML is not well-formed: unbound namespace prefix', 'undeclared prefixes (P24)'],
  'speke/aws-speke-v1-docs/cke_response_contentkeylist_plain_fragment.xml': ['ERR_CPIX_INVALID', 'XML is not well-formed: unbound namespace prefix', 'undeclared prefixes (P24)'],
  'speke/aws-speke-v1-docs/cke_response_deliverydatalist_fragment.xml': ['ERR_CPIX_INVALID', 'XML is not well-formed', 'undeclared ds: prefix and placeholders (P24)'],
  'speke/aws-speke-v2-docs/kid_override_v2_response_ELIDED.xml': ['ERR_CPIX_INVALID', 'DRMSystem[systemId=edef8ba9-79d6-4ace-a3c8-27dcd51d21ed][kid=22222222-2222-2222-2222-222222222222]/HLSSignalingData: is not valid base64', 'values elided as [...]'],
  'speke/aws-speke-v2-docs/standard_payload_fragments_v2_ELIDED.xml': ['ERR_CPIX_INVALID', 'CPIX: root element must be CPIX', 'a <fragments> wrapper, not a document'],
  'speke/awslabs-speke-reference-server/spekev2_requests/general/4_spekev2_negative_preset_shared_video.xml': ['ERR_CPIX_INVALID', 'ContentKeyUsageRule[kid=5e6a0382-0f15-4cf7-a8d5-6af1e8a96534]/KeyPeriodFilter@periodId: references no ContentKeyPeriod', 'dangling IDREF (P14)'],
  'pallycon/pallycon-v2-dash-live-keyrotation-multikey.request.xml': ['ERR_CPIX_INVALID', 'DRMSystem[systemId=EDEF8BA9-79D6-4ACE-A3C8-27DCD51D21ED][kid=681e5b39-49f2-4dfa-b744-86573c22e6fb]@kid: references no ContentKey', 'doc sample: DRMSystem kid from another example'],
  'pallycon/pallycon-v2-hls-vod-fairplay-ncghls.request.xml': ['ERR_CPIX_INVALID', 'DRMSystem[systemId=81376844-f976-481e-a84e-cc25d39b0b33][kid=98ee5596-cd3e-a20d-163a-e382420c6eff]@kid: references no ContentKey', 'doc sample: DRMSystem kid from another example'],
  'pallycon/pallycon-v2-dash-live-keyrotation-multikey.response.xml': ['ERR_CPIX_INVALID', 'DRMSystem[systemId=9A04F079-9840-4286-AB92-E65BE0885F95][kid=6bac8ec3-0ee3-379f-3d21-290b3a2bc9c3]/ContentProtectionData: is not valid base64', '"..." elision in the vendor doc'],
  'pallycon/pallycon-v2-dash-vod.response.xml': ['ERR_CPIX_INVALID', 'DRMSystem[systemId=9A04F079-9840-4286-AB92-E65BE0885F95][kid=12ea753c-23e7-bc02-4474-b2b976c43beb]/ContentProtectionData: is not valid base64', '"..." elision in the vendor doc'],
  'pallycon/pallycon-v2-hls-live-fairplay.response.xml': ['ERR_CPIX_INVALID', 'DRMSystem[systemId=94CE86FB-07FF-4F43-ADB8-93D2FA968CA2][kid=6bac8ec3-0ee3-379f-3d21-290b3a2bc9c3]/HLSSignalingData: is not valid base64', '"..." elision in the vendor doc'],
  'pallycon/pallycon-v2-hls-vod-fairplay-ncghls.response.xml': ['ERR_CPIX_INVALID', 'DRMSystem[systemId=94CE86FB-07FF-4F43-ADB8-93D2FA968CA2][kid=12ea753c-23e7-bc02-4474-b2b976c43beb]/HLSSignalingData: is not valid base64', '"..." elision in the vendor doc'],
  'pallycon/thirdparty-ezdrm-fairplay.response.xml': ['ERR_CPIX_INVALID', 'XML is not well-formed: unbound namespace prefix: "cpix"', 'published sample declares no namespaces'],
};

describeWithVectors('SPEKE and PallyCon examples', () => {
  const files = [...xmlFilesUnder(vectorPath('speke')), ...xmlFilesUnder(vectorPath('pallycon'))]
    .map((path) => relative(vectorPath(), path))
    .sort();
  const accepted = files.filter((file) => REFUSED_OTHERS[file] === undefined);

  it('finds the example corpus and every documented refusal in it', () => {
    expect(files.length).toBeGreaterThan(150);
    for (const file of Object.keys(REFUSED_OTHERS)) expect(files).toContain(file);
  });

  it.each(accepted)('parses %s', (file) => {
    const doc = parseFile(vectorPath(file));
    const kids = new Set(doc.contentKeyList?.items.map((key) => key.kid.toLowerCase()));
    for (const system of doc.drmSystemList?.items ?? []) expect(kids.has(system.kid.toLowerCase())).toBe(true);
  });

  it.each(Object.entries(REFUSED_OTHERS))('refuses %s politely', (file, [code, messageStart]) => {
    const error = refusal(vectorPath(file));
    expect(error?.code).toBe(code);
    expect(error?.message.startsWith(messageStart)).toBe(true);
  });

  it('reads the SPEKE v1 live request: placeholders, speke: elements, period filter', () => {
    const doc = parseFile(vectorPath('speke/aws-speke-v1-docs/live_request_clear.xml'));
    expect(doc.id).toBe('abc123');
    const [hlsAes, fairplay, widevine, playready] = doc.drmSystemList?.items ?? [];
    expect(hlsAes?.uriExtXKey).toEqual(Buffer.alloc(0));
    expect(fairplay?.speke).toEqual({ keyFormat: Buffer.alloc(0), keyFormatVersions: Buffer.alloc(0) });
    expect(widevine?.pssh).toEqual(Buffer.alloc(0));
    expect(playready?.speke?.protectionHeader).toEqual(Buffer.alloc(0));
    expect(doc.contentKeyUsageRuleList?.items[0]?.keyPeriodFilters).toHaveLength(1);
  });

  it('reads the SPEKE v1 live response: plain key and decoded speke:KeyFormat', () => {
    const doc = parseFile(vectorPath('speke/aws-speke-v1-docs/live_response_clear.xml'));
    expect(doc.contentKeyList?.items[0]?.data?.kind).toBe('plain');
    const keyFormats = doc.drmSystemList?.items.map((system) => system.speke?.keyFormat?.toString()).filter(Boolean);
    expect(keyFormats).toEqual(expect.arrayContaining(['identity', 'com.apple.streamingkeydelivery']));
  });

  it('keeps PallyCon upper-case systemIds as received', () => {
    const doc = parseFile(vectorPath('pallycon/pallycon-v2-dash-vod.request.xml'));
    expect(doc.drmSystemList?.items.map((system) => system.systemId)).toEqual(
      expect.arrayContaining(['9A04F079-9840-4286-AB92-E65BE0885F95']),
    );
  });
});
