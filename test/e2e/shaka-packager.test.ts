import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { buildDoveRunnerRequest } from '../support/doverunner-clients';
import { attr, child, children, readCpix, SYSTEM, psshOf, type CpixView } from '../support/pallycon-cpix';
import { createTestApp, type TestApp } from '../support/app';
import { domToTree, parseDom } from '../support/dom-to-tree';
import { captureLogs } from '../support/log-capture';
import {
  audioPacketMd5,
  compareFrameMd5,
  createRecipientIdentity,
  decryptCpixKeys,
  makeTestClip,
  videoFrameMd5,
  WRONG_KEY_HEX,
  type FrameComparison,
  type TestClip,
} from '../support/media';
import { findBoxes, parseTenc, readBoxes, type TrackEncryption } from '../support/mp4-boxes';
import { parsePsshBox } from '../support/pssh-parser';
import { describeWithShakaPackager, rawKeysFlag, runShakaPackager, type RawKey } from '../support/shaka-packager';
import { buildSpekeV2Request } from '../support/speke-request';
import { textOf, type XmlElement } from '../../src/xml/tree';

/**
 * Shaka Packager (the real binary of the `shaka-packager` devDependency) as the independent consumer
 * of our keys and PSSH boxes, in its raw-key mode
 * (https://shaka-project.github.io/shaka-packager/html/tutorials/raw_key.html): keys come over HTTP
 * from the real app — a PallyCon CPIX API v2 response and a SPEKE v2.0 response — and the packager
 * encrypts a clip with them, `cenc` to DASH and `cbcs` to HLS fMP4, with the responses' PSSH boxes
 * passed in `--pssh`. We then read what it wrote (pssh and tenc boxes, ISO/IEC 23001-7 §8.1–8.2; the
 * MPD and the HLS key lines), fetch the keys again from the license export, have the packager decrypt
 * its own output with them, and compare the frames with the clear clip.
 */

const MPD_NS = 'urn:mpeg:dash:schema:mpd:2011';
const CENC_NS = 'urn:mpeg:cenc:2013';
const MSPR_NS = 'urn:microsoft:playready';
const WIDEVINE = SYSTEM.widevine.toLowerCase();
const PLAYREADY = SYSTEM.playready.toLowerCase();
/** One-second segments: the 2-second clip (one-second GOPs) becomes two fragments per track. */
const SEGMENT_SECONDS = '1';

type Stream = 'video' | 'audio';
const STREAMS: readonly Stream[] = ['video', 'audio'];

interface Run {
  readonly source: 'PallyCon v2' | 'SPEKE v2.0';
  readonly scheme: 'cenc' | 'cbcs';
  readonly format: 'DASH' | 'HLS';
  /** The `intendedTrackType` the request gives each stream (PallyCon: SD/AUDIO; SPEKE: VIDEO/AUDIO). */
  readonly trackTypes: Readonly<Record<Stream, string>>;
}

const PALLYCON_TRACKS = { video: 'SD', audio: 'AUDIO' } as const;
const SPEKE_TRACKS = { video: 'VIDEO', audio: 'AUDIO' } as const;
const RUNS: readonly Run[] = [
  { source: 'PallyCon v2', scheme: 'cenc', format: 'DASH', trackTypes: PALLYCON_TRACKS },
  { source: 'PallyCon v2', scheme: 'cbcs', format: 'HLS', trackTypes: PALLYCON_TRACKS },
  { source: 'SPEKE v2.0', scheme: 'cenc', format: 'DASH', trackTypes: SPEKE_TRACKS },
  { source: 'SPEKE v2.0', scheme: 'cbcs', format: 'HLS', trackTypes: SPEKE_TRACKS },
];

/** What the packager is given for one stream: its key, KID, and (cbcs) the response's explicitIV. */
interface TrackKey {
  readonly label: string;
  readonly kid: string;
  readonly key: Buffer;
  readonly iv?: Buffer;
}

interface Issued {
  readonly tracks: Readonly<Record<Stream, TrackKey>>;
  /** Every `cpix:PSSH` of the response, in document order, with its DRMSystem's system ID. */
  readonly pssh: readonly { readonly systemId: string; readonly box: Buffer }[];
}

const hexOfUuid = (uuid: string) => uuid.replace(/-/g, '').toLowerCase();
const hexList = (boxes: readonly Buffer[]) => boxes.map((box) => box.toString('hex'));
/** pssh boxes compared without their order: each is looked up by its SystemID, the order means nothing. */
const sortedHex = (boxes: readonly Buffer[]) => hexList(boxes).sort();

/** The keys and PSSH boxes of a plain-key response, per stream (by the usage rules' track types). */
function issuedFrom(view: CpixView, trackTypes: Readonly<Record<Stream, string>>): Issued {
  const track = (stream: Stream): TrackKey => {
    const rule = view.usageRules.find((candidate) => candidate.intendedTrackType === trackTypes[stream]);
    const key = view.contentKeys.find((candidate) => candidate.kid.toLowerCase() === rule?.kid.toLowerCase());
    if (rule === undefined || key?.key === undefined) throw new Error(`no plain key for ${trackTypes[stream]}`);
    return { label: trackTypes[stream], kid: key.kid.toLowerCase(), key: key.key, ...(key.explicitIV !== undefined && { iv: key.explicitIV }) };
  };
  return {
    tracks: { video: track('video'), audio: track('audio') },
    pssh: view.drmSystems.map((system) => ({ systemId: system.systemId.toLowerCase(), box: psshOf(system) })),
  };
}

const boxesOf = (issued: Issued, systemId: string) => issued.pssh.filter((p) => p.systemId === systemId).map((p) => p.box);

/** ISO/IEC 23001-7 §8.2: what the packager must write into the sample entry of a stream. */
function expectedTenc(run: Run, stream: Stream, track: TrackKey): TrackEncryption {
  if (run.scheme === 'cenc') return { version: 0, isProtected: 1, perSampleIvSize: 8, kid: track.kid };
  // cbcs: a constant IV (ours) and no per-sample IV. Video gets the packager's default pattern, 1:9
  // (`--crypt_byte_block`/`--skip_byte_block` apply to video only); audio has no pattern (0:0).
  const pattern = stream === 'video' ? { cryptByteBlock: 1, skipByteBlock: 9 } : { cryptByteBlock: 0, skipByteBlock: 0 };
  return { version: 1, isProtected: 1, perSampleIvSize: 0, kid: track.kid, ...pattern, ...(track.iv !== undefined && { constantIv: track.iv }) };
}

/** `ATTR=value` pairs of every `#EXT-X-KEY` line of a playlist (quotes removed). */
function hlsKeyLines(playlist: string): Record<string, string>[] {
  return playlist
    .split('\n')
    .filter((line) => line.startsWith('#EXT-X-KEY:'))
    .map((line) => Object.fromEntries([...line.slice('#EXT-X-KEY:'.length).matchAll(/([A-Z0-9-]+)=("[^"]*"|[^,]*)/g)].map(([, name, value]) => [name, (value ?? '').replace(/^"|"$/g, '')])));
}

/** The media segments a playlist lists, in order, relative to its folder. */
function hlsSegments(playlist: string): string[] {
  return playlist.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('#'));
}

/** One MPD ContentProtection as a player reads it; `pssh` are the boxes inside `cenc:pssh`, split. */
interface ContentProtection {
  readonly schemeIdUri?: string;
  readonly value?: string;
  readonly defaultKid?: string;
  readonly pssh: readonly string[];
  readonly pro?: string;
}

function contentProtections(adaptationSet: XmlElement): ContentProtection[] {
  return children(adaptationSet, MPD_NS, 'ContentProtection').map((element) => {
    const pssh = child(element, CENC_NS, 'pssh');
    const pro = child(element, MSPR_NS, 'pro');
    const defaultKid = element.attributes.find((a) => a.namespace === CENC_NS && a.localName === 'default_KID')?.value;
    return {
      ...(attr(element, 'schemeIdUri') !== undefined && { schemeIdUri: attr(element, 'schemeIdUri') }),
      ...(attr(element, 'value') !== undefined && { value: attr(element, 'value') }),
      ...(defaultKid !== undefined && { defaultKid }),
      pssh: pssh === undefined ? [] : hexList(readBoxes(Buffer.from(textOf(pssh), 'base64')).map((box) => box.bytes)),
      ...(pro !== undefined && { pro: textOf(pro) }),
    };
  });
}

describeWithShakaPackager('Shaka Packager (raw-key mode) with keys and PSSH boxes from the service', () => {
  const logs = captureLogs();
  let t: TestApp;
  let dir: string;
  let clip: TestClip;
  let siteId: string;
  let kmsToken: string;
  let licenseServer: { credential: string; keyFile: string };
  /** Audio packets of the clear clip (the reference count of the audio comparisons). */
  let clearAudioPackets: number;

  beforeAll(async () => {
    t = createTestApp(logs.logger);
    dir = mkdtempSync(join(tmpdir(), 'cpix-kms-shaka-'));
    const [madeClip, identity, site] = await Promise.all([
      makeTestClip(dir),
      createRecipientIdentity(dir, 'license-server'),
      t.services.sites.createSite({ name: 'shaka packager' }),
    ]);
    clip = madeClip;
    siteId = site.site.id;
    kmsToken = site.token.token;
    await Promise.all([videoFrameMd5(clip.file, join(dir, 'clear-v.md5')), audioPacketMd5(clip.file, join(dir, 'clear-a.md5'))]);
    clearAudioPackets = readFileSync(join(dir, 'clear-a.md5'), 'utf8').split('\n').filter((line) => line !== '' && !line.startsWith('#')).length;
    expect(clearAudioPackets).toBeGreaterThan(0);

    const registered = await request(t.app)
      .post(`/admin/v1/sites/${siteId}/license-servers`)
      .set('Authorization', `Bearer ${t.adminToken}`)
      .send({ name: 'shaka license server', certificate: readFileSync(identity.certFile, 'utf8') });
    expect(registered.status).toBe(201);
    licenseServer = { credential: (registered.body as { credential: string }).credential, keyFile: identity.keyFile };
  }, 20_000);

  afterAll(async () => {
    await t?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  describe.each(RUNS)('$source keys → Shaka $format $scheme', (run) => {
    const contentId = `shaka-${run.source === 'PallyCon v2' ? 'pallycon' : 'speke'}-${run.scheme}-${Date.now().toString(36)}`;
    let out: string;
    let issued: Issued;
    /** Per stream: the encrypted track as one file (DASH: the output; HLS: init + segments joined). */
    const encrypted: Record<Stream, string> = { video: '', audio: '' };

    beforeAll(() => {
      out = join(dir, contentId);
      mkdirSync(out);
    });

    it('the service answers with a key per track and a Widevine and a PlayReady PSSH per key', async () => {
      const systems = [SYSTEM.widevine, SYSTEM.playready];
      let requestedKids: readonly string[];
      let res: request.Response;
      if (run.source === 'PallyCon v2') {
        // The official DoveRunner clients' shape, upper-case system IDs; the server assigns the KIDs.
        const built = buildDoveRunnerRequest(contentId, [run.trackTypes.video, run.trackTypes.audio], { scheme: run.scheme === 'cenc' ? 'CENC' : 'CBCS', systemIds: systems });
        requestedKids = built.kids;
        res = await request(t.app).post(`/v2/cpix/pallycon/getKey/${kmsToken}`).set('Content-Type', 'application/xml').send(built.xml);
      } else {
        const xml = buildSpekeV2Request(contentId, run.scheme, [WIDEVINE, PLAYREADY], { placeholders: '<cpix:PSSH/>' });
        requestedKids = readCpix(xml).contentKeys.map((key) => key.kid);
        res = await request(t.app)
          .post('/speke/copyProtection')
          .set('X-Speke-Version', '2.0')
          .set('X-KMS-Token', kmsToken)
          .set('Content-Type', 'application/xml')
          .send(xml);
      }
      expect({ status: res.status, body: res.status === 200 ? '' : res.text }).toEqual({ status: 200, body: '' });
      const view = readCpix(res.text);
      issued = issuedFrom(view, run.trackTypes);

      const { video, audio } = issued.tracks;
      expect(video.kid).not.toBe(audio.kid);
      const kids = [video.kid, audio.kid];
      if (run.source === 'PallyCon v2') expect(kids.filter((kid) => requestedKids.includes(kid))).toEqual([]);
      else expect(kids).toEqual(requestedKids);
      for (const track of [video, audio]) expect(track.key).toHaveLength(16);
      expect(view.contentKeys.map((key) => key.commonEncryptionScheme)).toEqual([run.scheme, run.scheme]);
      // explicitIV: PallyCon always sends one; SPEKE only where a DRM system needs it, never for cenc.
      const ivLengths = [video.iv?.length, audio.iv?.length];
      expect(ivLengths).toEqual(run.source === 'PallyCon v2' || run.scheme === 'cbcs' ? [16, 16] : [undefined, undefined]);

      // One version-0 box per (key, system), each naming its own system (ISO/IEC 23001-7 §8.1.2).
      expect(issued.pssh.map((p) => ({ systemId: p.systemId, boxSystem: parsePsshBox(p.box).systemId, version: parsePsshBox(p.box).version }))).toEqual(
        [WIDEVINE, PLAYREADY, WIDEVINE, PLAYREADY].map((systemId) => ({ systemId, boxSystem: systemId, version: 0 })),
      );
      expect(view.drmSystems.map((system) => system.kid.toLowerCase())).toEqual([video.kid, video.kid, audio.kid, audio.kid]);
    });

    it('Shaka packages the clip with our keys; every init segment carries exactly our PSSH boxes and the track KID', async () => {
      const keys: RawKey[] = STREAMS.map((stream) => {
        const track = issued.tracks[stream];
        // cbcs: the response's explicitIV becomes the constant IV, so tenc can be checked against it.
        return { label: track.label, kidHex: hexOfUuid(track.kid), keyHex: track.key.toString('hex'), ...(run.scheme === 'cbcs' && { ivHex: track.iv?.toString('hex') ?? '' }) };
      });
      const descriptors = STREAMS.map((stream) => {
        const common = `in=${clip.file},stream=${stream},drm_label=${issued.tracks[stream].label}`;
        return run.format === 'DASH'
          ? `${common},output=${join(out, `${stream}.mp4`)}`
          : `${common},init_segment=${join(out, stream, 'init.mp4')},segment_template=${join(out, stream, '$Number$.m4s')},playlist_name=${stream}.m3u8${stream === 'audio' ? ',hls_group_id=audio' : ''}`;
      });
      await runShakaPackager([
        ...descriptors,
        '--enable_raw_key_encryption',
        ...['--keys', rawKeysFlag(keys)],
        ...['--pssh', Buffer.concat(issued.pssh.map((p) => p.box)).toString('hex')],
        ...['--protection_scheme', run.scheme],
        ...['--clear_lead', '0'],
        ...['--segment_duration', SEGMENT_SECONDS],
        ...(run.format === 'DASH' ? ['--mpd_output', join(out, 'manifest.mpd')] : ['--hls_master_playlist_output', join(out, 'master.m3u8')]),
      ]);

      const ours = sortedHex(issued.pssh.map((p) => p.box));
      for (const stream of STREAMS) {
        const track = issued.tracks[stream];
        let init: Buffer;
        if (run.format === 'DASH') {
          // On-demand DASH: one file per track, init (ftyp + moov) then the fragments; no pssh may be
          // anywhere but in moov, and none but ours.
          encrypted[stream] = join(out, `${stream}.mp4`);
          const file = readBoxes(readFileSync(encrypted[stream]));
          expect(file.filter((box) => box.type === 'moof')).toHaveLength(2);
          init = Buffer.concat(file.slice(0, file.findIndex((box) => box.type === 'moov') + 1).map((box) => box.bytes));
          expect(sortedHex(findBoxes(file, 'pssh').map((box) => box.bytes))).toEqual(ours);
        } else {
          const playlist = readFileSync(join(out, `${stream}.m3u8`), 'utf8');
          const segments = hlsSegments(playlist).map((uri) => readFileSync(join(out, uri)));
          expect(segments).toHaveLength(2);
          for (const segment of segments) expect(findBoxes(readBoxes(segment), 'pssh')).toEqual([]);
          init = readFileSync(join(out, stream, 'init.mp4'));
          encrypted[stream] = join(out, `${stream}-joined.mp4`);
          writeFileSync(encrypted[stream], Buffer.concat([init, ...segments]));
        }
        const boxes = readBoxes(init);
        expect(boxes.map((box) => box.type)).toEqual(['ftyp', 'moov']);
        const moov = boxes[1]?.children ?? [];
        expect({ stream, pssh: sortedHex(moov.filter((box) => box.type === 'pssh').map((box) => box.bytes)) }).toEqual({ stream, pssh: ours });
        expect(findBoxes(boxes, 'pssh')).toHaveLength(issued.pssh.length);
        expect(findBoxes(boxes, 'schm').map((box) => box.payload.toString('latin1', 4, 8))).toEqual([run.scheme]);
        expect({ stream, tenc: findBoxes(boxes, 'tenc').map(parseTenc) }).toEqual({ stream, tenc: [expectedTenc(run, stream, track)] });
      }
    });

    it(`the ${run.format} manifest signals our KIDs and carries our PSSH boxes`, () => {
      const widevine = boxesOf(issued, WIDEVINE);
      const playready = boxesOf(issued, PLAYREADY);
      // Shaka has one --pssh for all tracks: every track gets every box, and where a manifest slot
      // holds one PlayReady header it takes the first box's PRO (the video key's, in response order).
      const firstPro = parsePsshBox(playready[0] ?? Buffer.alloc(0)).data.toString('base64');
      if (run.format === 'DASH') {
        const mpd = domToTree(parseDom(readFileSync(join(out, 'manifest.mpd'), 'utf8')));
        const sets = children(child(mpd, MPD_NS, 'Period') ?? mpd, MPD_NS, 'AdaptationSet');
        expect(sets.map((set) => attr(set, 'contentType'))).toEqual(['video', 'audio']);
        sets.forEach((set, index) => {
          const track = issued.tracks[STREAMS[index] as Stream];
          expect(contentProtections(set)).toEqual([
            { schemeIdUri: 'urn:mpeg:dash:mp4protection:2011', value: 'cenc', defaultKid: track.kid, pssh: [] },
            { schemeIdUri: `urn:uuid:${WIDEVINE}`, pssh: hexList(widevine) },
            { schemeIdUri: `urn:uuid:${PLAYREADY}`, value: 'MSPR 2.0', pssh: hexList(playready), pro: firstPro },
          ]);
        });
      } else {
        for (const stream of STREAMS) {
          const track = issued.tracks[stream];
          const iv = `0x${track.iv?.toString('hex') ?? ''}`;
          expect({ stream, keys: hlsKeyLines(readFileSync(join(out, `${stream}.m3u8`), 'utf8')) }).toEqual({
            stream,
            keys: [
              {
                METHOD: 'SAMPLE-AES',
                URI: `data:text/plain;base64,${Buffer.concat(widevine).toString('base64')}`,
                KEYID: `0x${hexOfUuid(track.kid)}`,
                IV: iv,
                KEYFORMATVERSIONS: '1',
                KEYFORMAT: `urn:uuid:${WIDEVINE}`,
              },
              { METHOD: 'SAMPLE-AES', URI: `data:text/plain;charset=UTF-16;base64,${firstPro}`, IV: iv, KEYFORMATVERSIONS: '1', KEYFORMAT: 'com.microsoft.playready' },
            ],
          });
        }
      }
    });

    it('Shaka decrypts its output with the keys of the license export: frames identical to the clear clip; a wrong key and no key match none', async () => {
      const res = await request(t.app)
        .get(`/license/v1/sites/${siteId}/contents/${encodeURIComponent(contentId)}`)
        .set('Authorization', `Bearer ${licenseServer.credential}`);
      expect(res.status).toBe(200);
      const exportFile = join(out, 'export.xml');
      writeFileSync(exportFile, res.text);
      const decrypted = await decryptCpixKeys(exportFile, licenseServer.keyFile);
      expect(decrypted).toMatchObject({ exitCode: 0 });
      const exported = new Map(decrypted.keys.map((key) => [hexOfUuid(key.kid), Buffer.from(key.keyBase64, 'base64').toString('hex')]));
      expect(exported).toEqual(new Map(STREAMS.map((stream) => [hexOfUuid(issued.tracks[stream].kid), issued.tracks[stream].key.toString('hex')])));

      const compareWithClear = async (name: string, files: Record<Stream, string>): Promise<Record<Stream, FrameComparison>> => {
        await Promise.all([videoFrameMd5(files.video, join(out, `${name}-v.md5`), { tolerateErrors: true }), audioPacketMd5(files.audio, join(out, `${name}-a.md5`))]);
        return {
          video: await compareFrameMd5(join(dir, 'clear-v.md5'), join(out, `${name}-v.md5`)),
          audio: await compareFrameMd5(join(dir, 'clear-a.md5'), join(out, `${name}-a.md5`)),
        };
      };

      const decryptWith = async (name: string, keyOf: (kidHex: string) => string): Promise<Record<Stream, FrameComparison>> => {
        const keys = STREAMS.map((stream) => {
          const kidHex = hexOfUuid(issued.tracks[stream].kid);
          return { label: issued.tracks[stream].label, kidHex, keyHex: keyOf(kidHex) };
        });
        const files = { video: join(out, `${name}-video.mp4`), audio: join(out, `${name}-audio.mp4`) };
        await runShakaPackager([
          ...STREAMS.map((stream) => `in=${encrypted[stream]},stream=${stream},output=${files[stream]}`),
          '--enable_raw_key_decryption',
          ...['--keys', rawKeysFlag(keys)],
        ]);
        return compareWithClear(name, files);
      };
      const all = { video: { matching: clip.frameCount, total: clip.frameCount }, audio: { matching: clearAudioPackets, total: clearAudioPackets } };
      const none = { video: { matching: 0, total: clip.frameCount }, audio: { matching: 0, total: clearAudioPackets } };
      expect(await decryptWith('exported', (kidHex) => exported.get(kidHex) ?? '')).toEqual(all);
      // Negative controls: the all-zero key decrypts to garbage, and the encrypted tracks as they are
      // (nothing decrypted) match no frame and no audio packet either.
      expect(await decryptWith('wrong', () => WRONG_KEY_HEX)).toEqual(none);
      expect(await compareWithClear('encrypted', encrypted)).toEqual(none);
    }, 30_000);
  });
});
