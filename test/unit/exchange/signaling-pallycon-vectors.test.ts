import { readFileSync } from 'node:fs';

import type { DrmSystem } from '../../../src/cpix/model';
import { FAIRPLAY_SYSTEM_ID, HLS_AES_128_SYSTEM_ID, PLAYREADY_SYSTEM_ID, WIDEVINE_SYSTEM_ID } from '../../../src/drm/system-ids';
import { PALLYCON_V2 } from '../../../src/exchange/dialects/pallycon';
import { type SignalingKey, type SignalingOptions } from '../../../src/exchange/signaling';
import { parseKeyId } from '../../../src/keys/key-id';
import { parsePlayReadyObject, parsePsshBox } from '../../support/pssh-parser';
import { describeWithVectors, vectorPath } from '../../support/shared-vectors';
import { doveRunnerCapture, pallyConResponsePssh, pallyConResponseUriExtXKeys } from '../drm/signaling-vectors';
import { fillToBytes } from '../../support/filled-signals';

/**
 * Byte-exact reproduction of published PallyCon/DoveRunner KMS output (../shared/vectors/pallycon,
 * read in place; rows V1–V5, V12–V15, V21 of the vector table ../shared/docs/drm-signaling.md) by
 * `fillDrmSystem` in the `cpix-api` dialect, from an empty `DRMSystem` as PallyCon's clients send it
 * (docs/pallycon-api.md).
 */

const emptySystem = (systemId: string, kid: string): DrmSystem => ({ systemId, kid, hlsSignalingData: [], extensions: [] });
const b64 = (bytes: Buffer | undefined): string => (bytes ?? Buffer.alloc(0)).toString('base64');

const PALLYCON_OPTIONS: SignalingOptions = {
  widevineProvider: 'inkaentworks',
  // PallyCon's current FairPlay URI, skd:// + base64(KID) (vector row V21).
  fairPlaySkdTemplate: 'skd://{kid_base64}',
  aes128KeyUriTemplate: 'https://testtokyo.pallycon.com/ri/hlskeyPackager.do?sid=DEMO&filename={content_id}&cid={content_id}',
};

/** Values of a verbatim 2020 PallyCon response (its `...` elisions make it unparseable as CPIX). */
function responseInputs(file: string): { kid: string; key: Buffer; contentId: string; periodIndex?: number } {
  const xml = readFileSync(vectorPath('pallycon', file), 'utf8');
  const kid = /<cpix:ContentKey\b[^>]*\bkid="([^"]+)"/.exec(xml)?.[1];
  const key = /<pskc:PlainValue>([^<]+)</.exec(xml)?.[1];
  const contentId = /<cpix:CPIX\b[^>]*\bid="([^"]+)"/.exec(xml)?.[1];
  const period = /<cpix:ContentKeyPeriod\b[^>]*\bindex="(\d+)"/.exec(xml)?.[1];
  if (kid === undefined || key === undefined || contentId === undefined) throw new Error(`${file}: inputs not found`);
  return { kid, key: Buffer.from(key, 'base64'), contentId, ...(period === undefined ? {} : { periodIndex: Number(period) }) };
}

describeWithVectors('PallyCon CPIX API signaling reproduces published KMS responses byte for byte', () => {
  // The 2020 API-guide responses (vector rows V1–V3, V12–V14): WRMHEADER 4.0.0.0 (PallyCon's
  // older header, selected by option; today's default is 4.3, below), track_type "HD" (the label
  // PallyCon's clients give a single key, docs/pallycon-api.md), LA_URL as in each header.
  describe.each([
    ['pallycon-v2-dash-live-keyrotation-multikey.response.xml', 'https://testtokyo.pallycon.com/ri/playready/licenseManager.do', 'V1 + V12'],
    ['pallycon-v2-dash-vod.response.xml', 'https://testtokyo.pallycon.com/ri/playready/licenseManager.do', 'V2 + V13'],
    ['pallycon-anevia-dash.response.xml', 'https://license.pallycon.com/ri/playready/licenseManager.do', 'V3 + V14'],
  ])('%s (%s)', (file, laUrl) => {
    const inputs = responseInputs(file);
    const key: SignalingKey = { ...inputs, kid: parseKeyId(inputs.kid), trackType: 'HD' };
    const options: SignalingOptions = { ...PALLYCON_OPTIONS, playReadyLaUrl: laUrl, playReadyHeaderVersion: '4.0.0.0' };
    const upper = (id: string): string => id.toUpperCase();

    it('Widevine PSSH (content_id with %016x period and crypto_period_index under rotation)', () => {
      const filled = fillToBytes(emptySystem(upper(WIDEVINE_SYSTEM_ID), inputs.kid), key, PALLYCON_V2.signaling, options);
      expect(b64(filled.pssh)).toBe(pallyConResponsePssh(file, WIDEVINE_SYSTEM_ID));
      expect(filled.systemId).toBe(upper(WIDEVINE_SYSTEM_ID));
    });

    it('PlayReady PSSH (CHECKSUM, GUID KID, LA_URL, PERIOD_INDEX under rotation); CPD, speke:ProtectionHeader and SSPHD are its PRO', () => {
      const filled = fillToBytes(emptySystem(upper(PLAYREADY_SYSTEM_ID), inputs.kid), key, PALLYCON_V2.signaling, options);
      expect(b64(filled.pssh)).toBe(pallyConResponsePssh(file, PLAYREADY_SYSTEM_ID));
      const pro = parsePsshBox(filled.pssh!).data;
      expect(filled.contentProtectionData).toEqual(pro);
      expect(filled.speke?.protectionHeader).toEqual(pro);
      // Not in PallyCon's published answers, but read by its Java and C++ clients without a null check.
      expect(filled.smoothStreamingProtectionHeaderData).toBe(pro.toString('base64'));
      expect(parsePlayReadyObject(pro).includes('<PERIOD_INDEX>')).toBe(inputs.periodIndex !== undefined);
    });
  });

  describe('DoveRunner client v1.5 README capture (V4/V4b, V15/V15b, V21): today\'s single-key response', () => {
    const capture = doveRunnerCapture('doverunner-cpix-client-v1.5-readme-sample.json');
    const [entry] = capture.content_key_list;
    const kid = parseKeyId(entry!.key_id_hex.replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5'));
    const key: SignalingKey = { kid, key: Buffer.from(entry!.key_hex, 'hex'), contentId: capture.content_id };
    const options: SignalingOptions = { ...PALLYCON_OPTIONS, playReadyLaUrl: 'https://license.pallycon.com/ri/licenseManager.do' };

    it('Widevine: PSSH = the box, ContentProtectionData = the payload only', () => {
      const filled = fillToBytes(emptySystem(WIDEVINE_SYSTEM_ID, kid), key, PALLYCON_V2.signaling, options);
      expect(b64(filled.pssh)).toBe(entry!.widevine.pssh);
      expect(b64(filled.contentProtectionData)).toBe(entry!.widevine.pssh_payload_only);
    });

    it('PlayReady: default WRMHEADER 4.3.0.0, PSSH = the box, ContentProtectionData = the PRO', () => {
      const filled = fillToBytes(emptySystem(PLAYREADY_SYSTEM_ID, kid), key, PALLYCON_V2.signaling, options);
      expect(b64(filled.pssh)).toBe(entry!.playready.pssh);
      expect(b64(filled.contentProtectionData)).toBe(entry!.playready.pssh_payload_only);
    });

    it('FairPlay: URIExtXKey = skd:// + base64(KID)', () => {
      const filled = fillToBytes(emptySystem(FAIRPLAY_SYSTEM_ID, kid), key, PALLYCON_V2.signaling, options);
      expect(filled.uriExtXKey?.toString('utf8')).toBe(entry!.fairplay.key_uri);
    });
  });

  it('DoveRunner client v1.6 test.json (V5, V21): Widevine PSSH and payload, FairPlay URI', () => {
    // Its PlayReady header has an empty <KIDS></KIDS> (a staging bug, vectors/pallycon/README.md): not reproduced.
    const capture = doveRunnerCapture('doverunner-cpix-client-v1.6-python-test.json');
    const [entry] = capture.content_key_list;
    const kid = parseKeyId(entry!.key_id_hex.replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5'));
    const key: SignalingKey = { kid, key: Buffer.from(entry!.key_hex, 'hex'), contentId: capture.content_id };
    const widevine = fillToBytes(emptySystem(WIDEVINE_SYSTEM_ID, kid), key, PALLYCON_V2.signaling, PALLYCON_OPTIONS);
    expect(b64(widevine.pssh)).toBe(entry!.widevine.pssh);
    expect(b64(widevine.contentProtectionData)).toBe(entry!.widevine.pssh_payload_only);
    const fairPlay = fillToBytes(emptySystem(FAIRPLAY_SYSTEM_ID, kid), key, PALLYCON_V2.signaling, PALLYCON_OPTIONS);
    expect(fairPlay.uriExtXKey?.toString('utf8')).toBe(entry!.fairplay.key_uri);
  });

  describe('pallycon-v2-hls-vod-fairplay-ncghls.response.xml (V21; NCG-HLS key URL)', () => {
    const file = 'pallycon-v2-hls-vod-fairplay-ncghls.response.xml';
    const inputs = responseInputs(file);
    const key: SignalingKey = { ...inputs, kid: parseKeyId(inputs.kid) };
    const [fairPlayUri, ncgHlsUri] = pallyConResponseUriExtXKeys(file);

    it('FairPlay: URIExtXKey, and HLSSignalingData media + master whose published (elided) text starts like ours', () => {
      const filled = fillToBytes(emptySystem('94CE86FB-07FF-4F43-ADB8-93D2FA968CA2', inputs.kid), key, PALLYCON_V2.signaling, PALLYCON_OPTIONS);
      expect(filled.uriExtXKey?.toString('utf8')).toBe(fairPlayUri);
      const xml = readFileSync(vectorPath('pallycon', file), 'utf8');
      const published = [...xml.matchAll(/<cpix:HLSSignalingData[^>]*>([^<.]+)\.\.\./g)].map((m) => m[1] ?? '');
      expect(published).toHaveLength(2);
      expect(filled.hlsSignalingData.map((item) => item.playlist)).toEqual(['media', 'master']);
      filled.hlsSignalingData.forEach((item, i) => expect(b64(item.value).startsWith(published[i]!)).toBe(true));
    });

    it('NCG-HLS AES-128 (81376844-…): URIExtXKey from the AES-128 key URI template', () => {
      const filled = fillToBytes(emptySystem(HLS_AES_128_SYSTEM_ID, inputs.kid), key, PALLYCON_V2.signaling, PALLYCON_OPTIONS);
      expect(filled.uriExtXKey?.toString('utf8')).toBe(ncgHlsUri);
    });
  });
});
