/** `DRMSystemList/DRMSystem` (DASH-IF CPIX 2.3 §5.2.6–5.2.8): per-DRM signaling, SPEKE v1 elements, extensions. */

import type { XmlElement } from '../xml/tree';
import { NS } from './constants';
import type { DrmSystem, HlsSignalingData, OpaqueElement, SignalBytes, SpekeV1Signaling } from './model';
import { attribute, elementsOf, requiredAttribute, safeName, textContent } from './parse-element';
import { parseIdentified } from './parse-list';
import { decodeBase64, invalid, itemStep, parseEnum, parseUuid } from './parse-values';
import { isTableKey } from './table-key';

/**
 * `HLSSignalingData@playlist`: `variant` (2.1), `master` (2.2–2.3.1), `multiVariant` (2.4), `media`.
 * Accept every spelling and keep it as received (`master` up to 2.3.1, `multiVariant` in 2.4).
 */
export const HLS_PLAYLIST_TYPES = ['master', 'media', 'multiVariant', 'variant'] as const;

/** base64Binary signaling children of `DRMSystem`; empty = a placeholder to fill (an empty base64Binary is valid). */
const BASE64_SIGNALING = {
  PSSH: 'pssh',
  ContentProtectionData: 'contentProtectionData',
  URIExtXKey: 'uriExtXKey',
  HDSSignalingData: 'hdsSignalingData',
} as const;

type Base64SignalingName = keyof typeof BASE64_SIGNALING;

const SPEKE_SIGNALING = {
  KeyFormat: 'keyFormat',
  KeyFormatVersions: 'keyFormatVersions',
  ProtectionHeader: 'protectionHeader',
} as const;


/**
 * Parses one `DRMSystem`. Children are accepted in any order (the AWS SPEKE doc sample and PallyCon
 * send them out of XSD order) but each single-valued child at most once. Elements of other
 * namespaces (`##other`) are kept as `extensions`, except the SPEKE v1 ones which go to `speke`.
 *
 * @throws CpixInvalid for a bad systemId/kid, bad base64, a bad or repeated `@playlist`, or an
 *   unknown element in the CPIX namespace.
 */
export function parseDrmSystem(element: XmlElement, position: number): DrmSystem {
  const path = itemStep('DRMSystem', position, { systemId: attribute(element, 'systemId'), kid: attribute(element, 'kid') });
  const systemId = parseUuid(requiredAttribute(element, 'systemId', path), `${path}@systemId`);
  const kid = parseUuid(requiredAttribute(element, 'kid', path), `${path}@kid`);

  const signaling: Partial<Record<(typeof BASE64_SIGNALING)[Base64SignalingName], SignalBytes>> = {};
  const speke: { -readonly [K in keyof SpekeV1Signaling]: SpekeV1Signaling[K] } = {};
  const hlsSignalingData: HlsSignalingData[] = [];
  const extensions: OpaqueElement[] = [];
  let contentProtectionRobustness: string | undefined;
  let smoothStreaming: string | undefined;

  for (const child of elementsOf(element)) {
    const name = child.localName;
    const childPath = `${path}/${safeName(child)}`;
    if (child.namespace === NS.cpix) {
      if (isTableKey(BASE64_SIGNALING, name)) {
        const key = BASE64_SIGNALING[name];
        if (signaling[key] !== undefined) throw invalid(childPath, 'must not occur more than once');
        signaling[key] = decodeBase64(textContent(child), childPath);
        if (name === 'ContentProtectionData') contentProtectionRobustness = attribute(child, 'robustness');
      } else if (name === 'HLSSignalingData') {
        hlsSignalingData.push(parseHlsSignalingData(child, childPath));
      } else if (name === 'SmoothStreamingProtectionHeaderData') {
        // xs:string holding the already-base64 PlayReady Object: kept verbatim, never decoded (the XSD types it `xs:string`).
        if (smoothStreaming !== undefined) throw invalid(childPath, 'must not occur more than once');
        smoothStreaming = textContent(child);
      } else {
        throw invalid(childPath, 'unexpected element');
      }
    } else if (child.namespace === NS.speke && isTableKey(SPEKE_SIGNALING, name)) {
      const key = SPEKE_SIGNALING[name];
      if (speke[key] !== undefined) throw invalid(childPath, 'must not occur more than once');
      speke[key] = decodeBase64(textContent(child), childPath);
    } else {
      extensions.push(child);
    }
  }
  checkPlaylistsUnique(hlsSignalingData, path);

  const name = attribute(element, 'name');
  const hlsAllowedCpc = attribute(element, 'HLSAllowedCPC');
  return {
    ...parseIdentified(element, path),
    systemId,
    kid,
    ...(name === undefined ? {} : { name }),
    ...(hlsAllowedCpc === undefined ? {} : { hlsAllowedCpc }),
    ...signaling,
    ...(contentProtectionRobustness === undefined ? {} : { contentProtectionRobustness }),
    hlsSignalingData,
    ...(smoothStreaming === undefined ? {} : { smoothStreamingProtectionHeaderData: smoothStreaming }),
    ...(Object.keys(speke).length === 0 ? {} : { speke }),
    extensions,
  };
}

function parseHlsSignalingData(element: XmlElement, path: string): HlsSignalingData {
  const given = attribute(element, 'playlist');
  const playlist = given === undefined ? undefined : parseEnum(given, HLS_PLAYLIST_TYPES, `${path}@playlist`);
  const value = decodeBase64(textContent(element), path);
  // Two literals rather than a conditional spread: this runs for every HLSSignalingData of a request.
  return playlist === undefined ? { value } : { playlist, value };
}

/** XSD `xs:unique` on `@playlist` (2.2+), at most two elements; an absent `@playlist` counts as one value. */
function checkPlaylistsUnique(items: readonly HlsSignalingData[], path: string): void {
  if (items.length > 2) throw invalid(`${path}/HLSSignalingData`, 'must not occur more than twice');
  const seen = new Set<string | undefined>();
  for (const item of items) {
    if (seen.has(item.playlist)) throw invalid(`${path}/HLSSignalingData@playlist`, 'must be unique within a DRMSystem');
    seen.add(item.playlist);
  }
}
