/**
 * `DRMSystem` for the builder (DASH-IF CPIX 2.3 §5.2.7, DRMSystem Element): children strictly in schema order,
 * playlist names per version, SPEKE v1 elements only in '2.0' documents, pass-through extensions last.
 */

import type { XmlElement, XmlNode } from '../xml/tree';
import { NS } from './constants';
import { type BuildContext, base64, integer } from './build-context';
import { adoptExtension } from './build-extensions';
import type { DrmSystem, HlsSignalingData } from './model';
import { shownValue } from './shown';

/** Playlist values by meaning, whatever version they were received in (`master` up to 2.3.1, `multiVariant` in 2.4). */
const MASTER_PLAYLISTS: ReadonlySet<string> = new Set(['master', 'multiVariant']);
const MEDIA_PLAYLISTS: ReadonlySet<string> = new Set(['media', 'variant']);

/** One `DRMSystem`. */
export function buildDrmSystem(ctx: BuildContext, system: DrmSystem): XmlElement {
  const { profile } = ctx;
  const path = `DRMSystem[systemId=${system.systemId},kid=${system.kid}]`;
  if (system.hlsAllowedCpc !== undefined && !profile.cpix24) ctx.unsupported(`${path}@HLSAllowedCPC`);
  if (system.contentProtectionRobustness !== undefined && !profile.cpix24) ctx.unsupported(`${path}/ContentProtectionData@robustness`);
  if (system.uriExtXKey !== undefined && !profile.legacySignaling) ctx.unsupported(`${path}/URIExtXKey`);
  if (system.hdsSignalingData !== undefined && !profile.legacySignaling) ctx.unsupported(`${path}/HDSSignalingData`);

  const children: XmlNode[] = [];
  if (system.pssh !== undefined) children.push(ctx.textElement('cpix', 'PSSH', base64(system.pssh)));
  if (system.contentProtectionData !== undefined || system.contentProtectionRobustness !== undefined) {
    const value = system.contentProtectionData === undefined ? '' : base64(system.contentProtectionData);
    children.push(ctx.textElement('cpix', 'ContentProtectionData', value, [['robustness', system.contentProtectionRobustness]]));
  }
  if (system.uriExtXKey !== undefined) children.push(ctx.textElement('cpix', 'URIExtXKey', base64(system.uriExtXKey)));
  for (const hls of system.hlsSignalingData) {
    children.push(ctx.textElement('cpix', 'HLSSignalingData', base64(hls.value), [['playlist', playlistFor(ctx, hls, path)]]));
  }
  if (system.smoothStreamingProtectionHeaderData !== undefined) {
    // xs:string holding the PRO's base64 already (the XSD types it `xs:string`, not base64Binary): written as is, never encoded again.
    children.push(ctx.textElement('cpix', 'SmoothStreamingProtectionHeaderData', system.smoothStreamingProtectionHeaderData));
  }
  if (system.hdsSignalingData !== undefined) children.push(ctx.textElement('cpix', 'HDSSignalingData', base64(system.hdsSignalingData)));
  // SPEKE v1 elements are '2.0' vocabulary; a SPEKE v2 (2.3/2.4) response must not carry them or
  // declare their namespace, so they are left out of every other version rather than refused.
  if (profile.spekeV1 && system.speke !== undefined) {
    const { keyFormat, keyFormatVersions, protectionHeader } = system.speke;
    if (keyFormat !== undefined) children.push(ctx.textElement('speke', 'KeyFormat', base64(keyFormat)));
    if (keyFormatVersions !== undefined) children.push(ctx.textElement('speke', 'KeyFormatVersions', base64(keyFormatVersions)));
    if (protectionHeader !== undefined) children.push(ctx.textElement('speke', 'ProtectionHeader', base64(protectionHeader)));
  }
  for (const extension of system.extensions) {
    if (extension.namespace === NS.speke && !profile.spekeV1) continue;
    if (extension.namespace === NS.cpix || extension.namespace === '') ctx.unsupported(`${path}/${extension.name}`);
    children.push(adoptExtension(ctx, extension));
  }

  return ctx.element(
    'cpix',
    'DRMSystem',
    [
      ['id', system.id],
      ['updateVersion', integer(system.updateVersion)],
      ['systemId', system.systemId],
      ['kid', system.kid],
      ['name', system.name],
      ['HLSAllowedCPC', system.hlsAllowedCpc],
    ],
    children,
  );
}

function playlistFor(ctx: BuildContext, hls: HlsSignalingData, path: string): string | undefined {
  if (hls.playlist === undefined) return undefined;
  if (MASTER_PLAYLISTS.has(hls.playlist)) return ctx.profile.playlist.master;
  if (MEDIA_PLAYLISTS.has(hls.playlist)) return ctx.profile.playlist.media;
  return ctx.unsupported(`${path}/HLSSignalingData@playlist${shownValue(hls.playlist)}`);
}
