/**
 * Fills the signaling placeholders of one CPIX `DRMSystem` (docs/cpix.md P22: a present-but-empty
 * element asks the key server for a value). Per dialect, a table says which children a system's
 * values go into; everything else, including values the client sent, is returned unchanged.
 */

import type { DrmSystem, HlsSignalingData, SignalBytes, SpekeV1Signaling } from '../../cpix/model';
import type { HlsKeyTagName } from '../../drm/hls';
import { buildSmoothStreamingProtectionHeader } from '../../drm/smooth-streaming';
import { type SystemSignals, signalsFor } from './signals';
import { type SystemKind, supportedSystemKind } from './systems';
import type { SignalingDialect, SignalingKey, SignalingOptions } from './types';

/** The `DRMSystem` children a value can go into. */
type Child = 'pssh' | 'contentProtectionData' | 'uriExtXKey' | 'hlsSignalingData' | 'smoothStreaming' | 'spekeKeyFormat' | 'spekeProtectionHeader';

/**
 * Which placeholders each dialect fills, per system. A placeholder not listed stays empty (docs/speke.md
 * V1-R9: the spec is silent and MediaPackage has accepted empty ones for years).
 *
 * - SPEKE v1 (docs/speke.md V1-R4…R8): exactly the reference server's values. Widevine and PlayReady
 *   `ContentProtectionData` are left empty as it leaves them; the W3C Common one is its `pssh` fragment.
 * - SPEKE v2 (V2-R7…R9): every element the encryptor sent must carry a value, so the HLS-only systems
 *   also fill `PSSH`/`ContentProtectionData`. Never `URIExtXKey` or `speke:` elements (V2-R3).
 * - PallyCon CPIX API (docs/pallycon.md §1.3): its children plus the `speke:` ones it returns.
 */
const FILLED: Readonly<Record<SignalingDialect, Readonly<Record<SystemKind, readonly Child[]>>>> = {
  'speke-v1': {
    widevine: ['pssh', 'hlsSignalingData'],
    playready: ['pssh', 'spekeProtectionHeader', 'smoothStreaming', 'hlsSignalingData'],
    fairplay: ['uriExtXKey', 'spekeKeyFormat', 'hlsSignalingData'],
    aes128: ['uriExtXKey', 'spekeKeyFormat', 'hlsSignalingData'],
    common: ['pssh', 'contentProtectionData'],
  },
  'speke-v2': {
    widevine: ['pssh', 'contentProtectionData', 'hlsSignalingData'],
    playready: ['pssh', 'contentProtectionData', 'hlsSignalingData', 'smoothStreaming'],
    fairplay: ['pssh', 'contentProtectionData', 'hlsSignalingData'],
    aes128: ['pssh', 'contentProtectionData', 'hlsSignalingData'],
    common: ['pssh', 'contentProtectionData'],
  },
  'cpix-api': {
    widevine: ['pssh', 'contentProtectionData', 'hlsSignalingData'],
    playready: ['pssh', 'contentProtectionData', 'hlsSignalingData', 'smoothStreaming', 'spekeProtectionHeader'],
    fairplay: ['pssh', 'uriExtXKey', 'hlsSignalingData', 'spekeKeyFormat'],
    aes128: ['pssh', 'uriExtXKey', 'hlsSignalingData', 'spekeKeyFormat'],
    common: ['pssh'],
  },
};

/**
 * The children the PallyCon CPIX API answers with per system, whatever placeholders the request had
 * (docs/pallycon.md §1.3 table and the published responses in vectors/pallycon: PlayReady =
 * ContentProtectionData + `speke:ProtectionHeader` + PSSH; FairPlay = HLSSignalingData ×2 +
 * URIExtXKey even when the request asked for ContentProtectionData/PSSH/URIExtXKey). Widevine also
 * gets ContentProtectionData, as the current DoveRunner responses carry it.
 */
const CPIX_API_ELEMENTS: Readonly<Record<SystemKind, readonly Child[]>> = {
  widevine: ['pssh', 'contentProtectionData'],
  playready: ['pssh', 'contentProtectionData', 'spekeProtectionHeader'],
  fairplay: ['uriExtXKey', 'hlsSignalingData'],
  aes128: ['uriExtXKey', 'hlsSignalingData'],
  common: ['pssh'],
};

/** CPIX playlists whose line is the session key of the multivariant playlist; any other (or none) is media (docs/cpix.md §3.4). */
const MULTIVARIANT_PLAYLISTS: ReadonlySet<string> = new Set(['master', 'multiVariant']);
/** The two playlists the PallyCon API answers with; the builder maps them to the target version's names. */
const ADDED_PLAYLISTS = ['media', 'master'] as const;

const EMPTY: SignalBytes = Buffer.alloc(0);
const isPlaceholder = (value: SignalBytes | undefined): value is SignalBytes => value !== undefined && value.length === 0;

type MutableDrmSystem = { -readonly [K in keyof DrmSystem]: DrmSystem[K] };
type MutableSpeke = { -readonly [K in keyof SpekeV1Signaling]: SpekeV1Signaling[K] };

/**
 * Returns a copy of `system` with its placeholders filled for `key` in `dialect`. `systemId`, `kid`,
 * attributes, extensions and every non-empty value are kept as received; the input is not modified.
 * The signaling describes `key` (its KID), whatever `system.kid` says: callers that replace KIDs
 * (PallyCon API) pair the DRMSystem with the key they return.
 *
 * With `cpix-api`, the DRMSystem answers with the children PallyCon returns for that system
 * (`CPIX_API_ELEMENTS`), added where missing, and requested placeholders without a value are dropped;
 * the SPEKE dialects never add or drop an element.
 *
 * @throws CpixUnsupported for a system ID `supportedSystemKind` refuses, a scheme that is not a CENC
 *   FourCC, or a requested value the scheme cannot have (PlayReady or HLS under `cens`/`cbc1`).
 * @throws RangeError for a malformed site option (URI template, LA_URL with a forbidden character).
 */
export function fillDrmSystem(system: DrmSystem, key: SignalingKey, dialect: SignalingDialect, options: SignalingOptions): DrmSystem {
  const kind = supportedSystemKind(system.systemId);
  const signals = signalsFor(kind, system.systemId, key, dialect, options);
  if (dialect === 'cpix-api') {
    // PallyCon answers with its own element set per system: add what is missing, fill, and drop the
    // requested placeholders that set has no value for (its published FairPlay response drops them).
    const elements = CPIX_API_ELEMENTS[kind].filter((child) => child !== 'hlsSignalingData' || signals.hlsSignalable);
    return withoutPlaceholders(fillPlaceholders(withPlaceholders(system, elements), signals, [...FILLED[dialect][kind], ...elements]));
  }
  return fillPlaceholders(system, signals, FILLED[dialect][kind]);
}

/** `system` with an empty element for each child in `children` that it does not have yet. */
function withPlaceholders(system: DrmSystem, children: readonly Child[]): DrmSystem {
  const out: MutableDrmSystem = { ...system };
  for (const child of children) {
    if (child === 'pssh') out.pssh ??= EMPTY;
    else if (child === 'contentProtectionData') out.contentProtectionData ??= EMPTY;
    else if (child === 'uriExtXKey') out.uriExtXKey ??= EMPTY;
    else if (child === 'smoothStreaming') out.smoothStreamingProtectionHeaderData ??= '';
    else if (child === 'spekeProtectionHeader') out.speke = { ...system.speke, protectionHeader: system.speke?.protectionHeader ?? EMPTY };
    else if (child === 'hlsSignalingData' && system.hlsSignalingData.length === 0) {
      out.hlsSignalingData = ADDED_PLAYLISTS.map((playlist) => ({ playlist, value: EMPTY }));
    }
  }
  return out;
}

/** `system` without the placeholders that are still empty. */
function withoutPlaceholders(system: DrmSystem): DrmSystem {
  const out: MutableDrmSystem = { ...system, hlsSignalingData: system.hlsSignalingData.filter((item) => !isPlaceholder(item.value)) };
  if (isPlaceholder(out.pssh)) delete out.pssh;
  if (isPlaceholder(out.contentProtectionData)) delete out.contentProtectionData;
  if (isPlaceholder(out.uriExtXKey)) delete out.uriExtXKey;
  if (isPlaceholder(out.hdsSignalingData)) delete out.hdsSignalingData;
  if (out.smoothStreamingProtectionHeaderData?.trim() === '') delete out.smoothStreamingProtectionHeaderData;
  if (out.speke !== undefined) {
    const speke: MutableSpeke = { ...out.speke };
    if (isPlaceholder(speke.keyFormat)) delete speke.keyFormat;
    if (isPlaceholder(speke.keyFormatVersions)) delete speke.keyFormatVersions;
    if (isPlaceholder(speke.protectionHeader)) delete speke.protectionHeader;
    if (Object.keys(speke).length === 0) delete out.speke;
    else out.speke = speke;
  }
  return out;
}

function fillPlaceholders(system: DrmSystem, signals: SystemSignals, children: readonly Child[]): DrmSystem {
  const fills = new Set(children);
  const out: MutableDrmSystem = { ...system };

  if (fills.has('pssh') && isPlaceholder(system.pssh) && signals.pssh) out.pssh = signals.pssh();
  if (fills.has('contentProtectionData') && isPlaceholder(system.contentProtectionData) && signals.contentProtectionData) {
    out.contentProtectionData = signals.contentProtectionData();
  }
  if (fills.has('uriExtXKey') && isPlaceholder(system.uriExtXKey) && signals.keyUri) {
    out.uriExtXKey = Buffer.from(signals.keyUri(), 'utf8');
  }
  out.hlsSignalingData = system.hlsSignalingData.map((item) => fillHls(item, fills.has('hlsSignalingData') ? signals : undefined));
  if (
    fills.has('smoothStreaming') &&
    system.smoothStreamingProtectionHeaderData !== undefined &&
    system.smoothStreamingProtectionHeaderData.trim() === '' &&
    signals.playReadyObject
  ) {
    // xs:string that already is the base64 of the PRO (docs/cpix.md P13): encoded here, once.
    out.smoothStreamingProtectionHeaderData = buildSmoothStreamingProtectionHeader(signals.playReadyObject());
  }
  if (system.speke !== undefined) out.speke = fillSpeke(system.speke, signals, fills);
  return out;
}

/** An empty `HLSSignalingData` gets the line for its playlist: `EXT-X-SESSION-KEY` for the multivariant one. */
function fillHls(item: HlsSignalingData, signals: SystemSignals | undefined): HlsSignalingData {
  if (!isPlaceholder(item.value) || signals?.hlsTag === undefined) return item;
  const tagName: HlsKeyTagName = item.playlist !== undefined && MULTIVARIANT_PLAYLISTS.has(item.playlist) ? 'EXT-X-SESSION-KEY' : 'EXT-X-KEY';
  // The builder base64-encodes the UTF-8 line on one line, no trailing newline (docs/speke.md §5.2).
  return { ...item, value: Buffer.from(signals.hlsTag(tagName), 'utf8') };
}

/** SPEKE v1 elements (base64 of the text, docs/speke.md V1-R4, V1-R5, V1-R7). */
function fillSpeke(speke: SpekeV1Signaling, signals: SystemSignals, fills: ReadonlySet<Child>): SpekeV1Signaling {
  const out: MutableSpeke = { ...speke };
  let filled = false;
  const format = fills.has('spekeKeyFormat') ? signals.hlsKeyFormat : undefined;
  if (format !== undefined && isPlaceholder(speke.keyFormat)) {
    out.keyFormat = Buffer.from(format.keyFormat, 'utf8');
    filled = true;
  }
  if (format !== undefined && isPlaceholder(speke.keyFormatVersions)) {
    out.keyFormatVersions = Buffer.from(format.keyFormatVersions, 'utf8');
    filled = true;
  }
  if (fills.has('spekeProtectionHeader') && isPlaceholder(speke.protectionHeader) && signals.playReadyObject) {
    out.protectionHeader = signals.playReadyObject();
    filled = true;
  }
  // Untouched (same object) when nothing was filled, as SPEKE v2 requires of the v1 elements.
  return filled ? out : speke;
}
