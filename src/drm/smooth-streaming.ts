/**
 * Smooth Streaming (MSS) protection header for PlayReady: CPIX
 * `SmoothStreamingProtectionHeaderData` and SPEKE v1 `speke:ProtectionHeader` are `xs:string` holding
 * base64 of the PlayReady Object (Microsoft PlayReady Header Specification; DASH-IF CPIX 2.3 §5.2.7). Because the element is
 * a string, not `xs:base64Binary` of some XML, the base64 is written once: never base64 of base64, and
 * never the `pssh` box.
 */

import { type EncodedBytes, base64Of, bufferView } from '../encoding/base64';

const PRO_HEADER_BYTES = 10;

/**
 * Base64 of a PlayReady Object. Throws `RangeError` if the bytes are not a PRO whose little-endian length
 * field matches its size (a `pssh` box or an already-encoded string would be a bug upstream).
 */
export function buildSmoothStreamingProtectionHeader(playReadyObject: Uint8Array | EncodedBytes): string {
  const pro = playReadyObject instanceof Uint8Array ? bufferView(playReadyObject) : playReadyObject.bytes;
  if (pro.length < PRO_HEADER_BYTES || pro.readUInt32LE(0) !== pro.length) {
    throw new RangeError('Smooth Streaming protection header data must be a PlayReady Object');
  }
  return base64Of(playReadyObject);
}
