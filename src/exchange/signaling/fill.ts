/**
 * Fills the signaling placeholders of one CPIX `DRMSystem` (a present-but-empty element asks the key
 * server for a value) by a protocol's `SignalingRules`: which children its
 * values go into per system, which it adds, and what happens to a placeholder it has no value for.
 * Everything else, including values the client sent, is returned unchanged.
 */

import type { DrmSystem, HlsSignalingData, SignalBytes, SpekeV1Signaling } from '../../cpix/model';
import type { HlsKeyTagName } from '../../drm/hls';
import { buildSmoothStreamingProtectionHeader } from '../../drm/smooth-streaming';
import { encodedText } from '../../encoding/base64';
import { CpixUnsupported } from '../../errors';
import { type SystemSignals, signalsFor } from './signals';
import { supportedSystemKind } from './systems';
import type { SignalChild, SignalingKey, SignalingOptions, SignalingRules } from './types';

/** CPIX playlists whose line is the session key of the multivariant playlist; any other (or none) is media (DASH-IF CPIX 2.3 §5.2.8). */
const MULTIVARIANT_PLAYLISTS: ReadonlySet<string> = new Set(['master', 'multiVariant']);
/** The two playlists an added `HLSSignalingData` answers with; the builder maps them to the target version's names. */
const ADDED_PLAYLISTS = ['media', 'master'] as const;

const EMPTY: SignalBytes = Buffer.alloc(0);
const NONE: readonly SignalChild[] = [];
const isPlaceholder = (value: SignalBytes | undefined): value is Buffer => Buffer.isBuffer(value) && value.length === 0;

type MutableDrmSystem = { -readonly [K in keyof DrmSystem]: DrmSystem[K] };
type MutableSpeke = { -readonly [K in keyof SpekeV1Signaling]: SpekeV1Signaling[K] };

/**
 * Returns a copy of `system` answered for `key` by `rules`: the children `rules.adds` names for the
 * system are added where missing, the placeholders `rules.fills` names are filled, and what is still
 * empty is dropped or refused (`rules.unfilled`). `systemId`, `kid`, attributes, extensions and every
 * non-empty value are kept as received; the input is not modified. The signaling describes `key` (its
 * KID), whatever `system.kid` says: callers that replace KIDs (PallyCon API) pair the DRMSystem with
 * the key they return.
 *
 * @throws CpixUnsupported for a system the rules do not signal, a scheme that is not a CENC FourCC, a
 *   requested value the scheme cannot have (PlayReady or HLS under `cens`/`cbc1`), or, when the rules
 *   refuse unfilled placeholders, a placeholder with no value.
 * @throws RangeError for a malformed site option (URI template, LA_URL with a forbidden character).
 */
export function fillDrmSystem(system: DrmSystem, key: SignalingKey, rules: SignalingRules, options: SignalingOptions): DrmSystem {
  const kind = supportedSystemKind(system.systemId, rules);
  const signals = signalsFor(kind, system.systemId, key, rules.style, options);
  const added = (rules.adds?.[kind] ?? NONE).filter((child) => child !== 'hlsSignalingData' || signals.hlsSignalable);
  const filled = fillPlaceholders(added.length === 0 ? system : withPlaceholders(system, added), signals, rules.fills[kind] ?? NONE);
  if (rules.unfilled === 'drop') return withoutPlaceholders(filled);
  refuseUnfilled(filled);
  return filled;
}

/** `system` with an empty element for each child in `children` that it does not have yet. */
function withPlaceholders(system: DrmSystem, children: readonly SignalChild[]): DrmSystem {
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

/**
 * Refuses a `cpix:` placeholder nothing filled. `speke:` elements are SPEKE v1 vocabulary, which the
 * protocols that refuse (SPEKE v2) never answer: the builder leaves them out of CPIX 2.3/2.4.
 */
function refuseUnfilled(system: DrmSystem): void {
  const empty = [
    isPlaceholder(system.pssh) && 'PSSH',
    isPlaceholder(system.contentProtectionData) && 'ContentProtectionData',
    isPlaceholder(system.uriExtXKey) && 'URIExtXKey',
    system.hlsSignalingData.some((item) => isPlaceholder(item.value)) && 'HLSSignalingData',
    system.smoothStreamingProtectionHeaderData?.trim() === '' && 'SmoothStreamingProtectionHeaderData',
    isPlaceholder(system.hdsSignalingData) && 'HDSSignalingData',
  ].find((name): name is string => name !== false);
  if (empty !== undefined) {
    throw new CpixUnsupported(`DRMSystem[systemId=${system.systemId}]/${empty}: no value for this DRM system`);
  }
}

function fillPlaceholders(system: DrmSystem, signals: SystemSignals, fills: readonly SignalChild[]): DrmSystem {
  // A handful of children per kind: looked up in the rules' own list, no set made per DRMSystem.
  const out: MutableDrmSystem = { ...system };

  if (fills.includes('pssh') && isPlaceholder(system.pssh) && signals.pssh) out.pssh = signals.pssh();
  if (fills.includes('contentProtectionData') && isPlaceholder(system.contentProtectionData) && signals.contentProtectionData) {
    out.contentProtectionData = signals.contentProtectionData();
  }
  if (fills.includes('uriExtXKey') && isPlaceholder(system.uriExtXKey) && signals.uriExtXKey) out.uriExtXKey = signals.uriExtXKey();
  out.hlsSignalingData = system.hlsSignalingData.map((item) => fillHls(item, fills.includes('hlsSignalingData') ? signals : undefined));
  if (
    fills.includes('smoothStreaming') &&
    system.smoothStreamingProtectionHeaderData !== undefined &&
    system.smoothStreamingProtectionHeaderData.trim() === '' &&
    signals.playReadyObject
  ) {
    // xs:string that already is the base64 of the PRO (the XSD types it `xs:string`): encoded here, once.
    out.smoothStreamingProtectionHeaderData = buildSmoothStreamingProtectionHeader(signals.playReadyObject());
  }
  if (system.speke !== undefined) out.speke = fillSpeke(system.speke, signals, fills);
  return out;
}

/** An empty `HLSSignalingData` gets the line for its playlist: `EXT-X-SESSION-KEY` for the multivariant one. */
function fillHls(item: HlsSignalingData, signals: SystemSignals | undefined): HlsSignalingData {
  if (!isPlaceholder(item.value) || signals?.hlsTag === undefined) return item;
  const tagName: HlsKeyTagName = item.playlist !== undefined && MULTIVARIANT_PLAYLISTS.has(item.playlist) ? 'EXT-X-SESSION-KEY' : 'EXT-X-KEY';
  // The builder base64-encodes the UTF-8 line on one line, no trailing newline (single-line base64 is what every client reads).
  return { ...item, value: encodedText(signals.hlsTag(tagName)) };
}

/** SPEKE v1 elements (base64 of the text, AWS SPEKE API v1). */
function fillSpeke(speke: SpekeV1Signaling, signals: SystemSignals, fills: readonly SignalChild[]): SpekeV1Signaling {
  const out: MutableSpeke = { ...speke };
  let filled = false;
  const format = fills.includes('spekeKeyFormat') ? signals.hlsKeyFormat : undefined;
  if (format !== undefined && isPlaceholder(speke.keyFormat)) {
    out.keyFormat = encodedText(format.keyFormat);
    filled = true;
  }
  if (format !== undefined && isPlaceholder(speke.keyFormatVersions)) {
    out.keyFormatVersions = encodedText(format.keyFormatVersions);
    filled = true;
  }
  if (fills.includes('spekeProtectionHeader') && isPlaceholder(speke.protectionHeader) && signals.playReadyObject) {
    out.protectionHeader = signals.playReadyObject();
    filled = true;
  }
  // Untouched (same object) when nothing was filled, as SPEKE v2 requires of the v1 elements.
  return filled ? out : speke;
}
