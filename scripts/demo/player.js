/*
 * The cpix-kms ClearKey player page (npm run demo, test/e2e/playback.test.ts): Shaka Player with the W3C
 * ClearKey key system, its licences from the service's POST /clearkey/v1/license with a licence token.
 *
 *   player.html?manifest=<MPD or HLS URL>&server=<licence URL>#token=<licence token>
 *
 * The token stands in the fragment, which browsers never send to a server, so it is in no access log.
 * `window.playback` holds what happened (state, time, licence KIDs, errors) for tests to read.
 */
(function () {
  'use strict';

  const playback = (window.playback = { state: 'idle', currentTime: 0, requests: [], licences: [], errors: [] });
  const $ = (id) => document.getElementById(id);
  const decoder = new TextDecoder();
  /** base64url KID → UUID text, as the service's admin API and audit trail write KIDs. */
  function kidToUuid(kid) {
    const binary = atob(kid.replace(/-/g, '+').replace(/_/g, '/'));
    const hex = Array.from(binary, (c) => c.charCodeAt(0).toString(16).padStart(2, '0')).join('');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
  const COMMON_SYSTEM_ID = '1077efecc0b24d02ace33c1e52e2fb4b';
  const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

  /**
   * 'cenc' init data (a run of pssh boxes, ISO/IEC 23001-7 §8.1) with the KIDs of every version-1 W3C
   * common box (SystemID 1077efec-…) merged into one such box. A CPIX key server answers one box per key
   * (one DRMSystem per KID), and Chromium's ClearKey CDM takes the KIDs of the first common box only,
   * so a two-key content would get a licence request for one key and stall. Other boxes are kept.
   */
  function mergeCommonPssh(initData) {
    const view = new DataView(initData.buffer, initData.byteOffset, initData.byteLength);
    const kids = new Map();
    const others = [];
    let commons = 0;
    for (let offset = 0; offset < initData.length; ) {
      const size = offset + 8 <= initData.length ? view.getUint32(offset) : 0;
      if (size < 32 || offset + size > initData.length) return initData;
      const box = initData.subarray(offset, offset + size);
      if (hex(box.subarray(4, 8)) === '70737368' && box[8] === 1 && hex(box.subarray(12, 28)) === COMMON_SYSTEM_ID) {
        commons += 1;
        const count = view.getUint32(offset + 28);
        for (let i = 0; i < count; i++) {
          const kid = box.subarray(32 + 16 * i, 48 + 16 * i);
          kids.set(hex(kid), kid);
        }
      } else {
        others.push(box);
      }
      offset += size;
    }
    if (commons < 2) return initData;
    const size = 36 + 16 * kids.size;
    const merged = new Uint8Array(size);
    const out = new DataView(merged.buffer);
    out.setUint32(0, size);
    merged.set([0x70, 0x73, 0x73, 0x68, 1, 0, 0, 0], 4);
    merged.set(COMMON_SYSTEM_ID.match(/../g).map((byte) => parseInt(byte, 16)), 12);
    out.setUint32(28, kids.size);
    Array.from(kids.values()).forEach((kid, i) => merged.set(kid, 32 + 16 * i));
    const result = new Uint8Array(size + others.reduce((sum, box) => sum + box.length, 0));
    result.set(merged, 0);
    others.reduce((offset, box) => (result.set(box, offset), offset + box.length), size);
    return result;
  }

  function show(id, text) {
    $(id).textContent = text;
  }
  function setState(state) {
    playback.state = state;
    show('status', state);
    $('status').dataset.state = state;
  }
  function fail(error) {
    // A Shaka error nests the cause (for a licence: the HTTP error with its status) in data[0].
    const cause = error && error.data && error.data[0];
    const status = cause && cause.code === 1001 ? cause.data[1] : undefined;
    const entry = { code: error && error.code, category: error && error.category, httpStatus: status, message: String((error && error.message) || error) };
    playback.errors.push(entry);
    show('error', `Shaka error ${entry.code}${status ? ` (licence server answered HTTP ${status})` : ''}`);
    setState('error');
  }

  async function start({ manifest, server, token }) {
    show('manifest', manifest);
    show('server', server);
    shaka.polyfill.installAll();
    if (!shaka.Player.isBrowserSupported()) return fail(new Error('this browser cannot run Shaka Player'));
    const video = $('video');
    const player = new shaka.Player();
    await player.attach(video);
    player.configure({
      drm: {
        servers: { 'org.w3.clearkey': server },
        initDataTransform: (initData, initDataType) => (initDataType === 'cenc' ? mergeCommonPssh(initData) : initData),
      },
    });

    // HLS (RFC 8216) has no way to name a ClearKey licence server: Shaka Player reads an `identity`
    // EXT-X-KEY as the key itself and makes it a data: licence, where Shaka Packager writes the KID.
    // Point every ClearKey DRM info of the manifest at the licence server instead, before DRM starts.
    // (DASH needs nothing: its common-PSSH ContentProtection has no licence URL, so drm.servers applies.)
    player.addEventListener('manifestparsed', () => {
      for (const variant of player.getManifest().variants) {
        for (const stream of [variant.video, variant.audio]) {
          for (const info of (stream && stream.drmInfos) || []) {
            if (info.keySystem === 'org.w3.clearkey') info.licenseServerUri = server;
          }
        }
      }
    });

    const LICENSE = shaka.net.NetworkingEngine.RequestType.LICENSE;
    player.getNetworkingEngine().registerRequestFilter((type, request) => {
      if (type !== LICENSE) return;
      request.headers['Authorization'] = `Bearer ${token}`;
      request.headers['Content-Type'] = 'application/json';
      const message = JSON.parse(decoder.decode(request.body));
      playback.requests.push({ kids: message.kids.map(kidToUuid), type: message.type });
      show('requests', playback.requests.map((r) => `${r.type}: ${r.kids.join(', ')}`).join('\n'));
    });
    player.getNetworkingEngine().registerResponseFilter((type, response) => {
      if (type !== LICENSE) return;
      const licence = JSON.parse(decoder.decode(response.data));
      // The key bytes stay in the CDM's hands: only which KIDs came back is shown.
      playback.licences.push({ kids: licence.keys.map((key) => kidToUuid(key.kid)), type: licence.type, keys: licence.keys.length });
      show('licences', playback.licences.map((l) => `${l.type}: ${l.kids.join(', ')} (${l.keys} key(s), 16 bytes each, not shown)`).join('\n'));
    });
    player.addEventListener('error', (event) => fail(event.detail));
    video.addEventListener('timeupdate', () => {
      playback.currentTime = video.currentTime;
      show('time', `${video.currentTime.toFixed(2)} s`);
      if (video.currentTime > 0 && playback.state === 'loading') setState('playing');
    });

    setState('loading');
    try {
      await player.load(manifest);
      video.loop = true;
      await video.play();
    } catch (error) {
      if (playback.state !== 'error') fail(error);
    }
  }

  window.startPlayback = start;
  const query = new URLSearchParams(location.search);
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (query.get('manifest')) start({ manifest: query.get('manifest'), server: query.get('server'), token: fragment.get('token') || '' });
})();
