/**
 * DASH signaling as CPIX carries it: `ContentProtectionData` is base64 of a UTF-8 (no BOM) XML fragment
 * of children for the MPD `ContentProtection` element (DASH-IF CPIX 2.3 §5.2.7). Every
 * fragment declares its own namespaces: USP and the SPEKE v2 suite parse it standalone, and an undeclared
 * `cenc:` prefix is rejected (speke-reference-server issue #102).
 */

import { type EncodedBytes, base64Of } from '../encoding/base64';
import { XmlFragmentWriter } from './xml-writer';

/** `cenc:` namespace of ISO/IEC 23001-7 (`pssh`, `default_KID`). */
export const CENC_NAMESPACE = 'urn:mpeg:cenc:2013';
/** `mspr:` namespace of the PlayReady DASH content protection (`<mspr:pro>`). */
export const MSPR_NAMESPACE = 'urn:microsoft:playready';

/**
 * `<cenc:pssh xmlns:cenc="urn:mpeg:cenc:2013">{base64 box}</cenc:pssh>`: the Widevine (and W3C Common)
 * `ContentProtectionData` fragment. Its text must equal `cpix:PSSH` (AWS SPEKE API v2: both must be identical), so pass the
 * same box.
 */
export function buildPsshContentProtectionFragment(psshBox: Uint8Array | EncodedBytes): string {
  return new XmlFragmentWriter()
    .element('cenc:pssh', base64Of(psshBox), {}, [{ prefix: 'cenc', uri: CENC_NAMESPACE }])
    .toString();
}

/**
 * The PlayReady fragment: the full `pssh` box and the PRO, as two sibling elements, each declaring its
 * namespace (AWS MediaPackage: "must contain BOTH").
 */
export function buildPlayReadyContentProtectionFragment(psshBox: Uint8Array | EncodedBytes, playReadyObject: Uint8Array | EncodedBytes): string {
  return (
    buildPsshContentProtectionFragment(psshBox) +
    new XmlFragmentWriter()
      .element('mspr:pro', base64Of(playReadyObject), {}, [{ prefix: 'mspr', uri: MSPR_NAMESPACE }])
      .toString()
  );
}
