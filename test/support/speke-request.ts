import { randomUUID } from 'node:crypto';

/**
 * SPEKE v2 requests built in tests (CPIX 2.3 or 2.4 with `contentId` and `version`, one
 * `commonEncryptionScheme` for all keys, VIDEO/AUDIO usage rules, as SPEKE v2 encryptors send them),
 * independent of ../shared so suites that only need a valid request do not depend on the vectors.
 */

const NS = 'xmlns:cpix="urn:dashif:org:cpix" xmlns:pskc="urn:ietf:params:xml:ns:keyprov:pskc"';

/** Every empty signaling placeholder a SPEKE v2 encryptor may send per DRMSystem. */
export const SPEKE_V2_PLACEHOLDERS =
  '<cpix:PSSH/><cpix:ContentProtectionData/><cpix:HLSSignalingData playlist="media"/><cpix:HLSSignalingData playlist="master"/>';

export interface SpekeV2RequestOptions {
  /** `CPIX@version`: 2.3 for SPEKE v2.0 (default), 2.4 for v2.1. */
  readonly cpixVersion?: string;
  /** The placeholders inside every DRMSystem (default all of `SPEKE_V2_PLACEHOLDERS`). */
  readonly placeholders?: string;
}

/**
 * A SPEKE v2 request: one key per track (VIDEO with a VideoFilter, AUDIO with an AudioFilter, random
 * KIDs), every DRM system per key, the same `commonEncryptionScheme` on both keys.
 */
export function buildSpekeV2Request(contentId: string, scheme: 'cenc' | 'cbcs', systems: readonly string[], options: SpekeV2RequestOptions = {}): string {
  const placeholders = options.placeholders ?? SPEKE_V2_PLACEHOLDERS;
  const tracks = [
    { kid: randomUUID(), type: 'VIDEO', filter: '<cpix:VideoFilter/>' },
    { kid: randomUUID(), type: 'AUDIO', filter: '<cpix:AudioFilter/>' },
  ];
  return [
    `<?xml version="1.0" encoding="UTF-8"?><cpix:CPIX ${NS} contentId="${contentId}" version="${options.cpixVersion ?? '2.3'}">`,
    `<cpix:ContentKeyList>${tracks.map((t) => `<cpix:ContentKey kid="${t.kid}" commonEncryptionScheme="${scheme}"/>`).join('')}</cpix:ContentKeyList>`,
    '<cpix:DRMSystemList>',
    ...tracks.flatMap((t) => systems.map((system) => `<cpix:DRMSystem kid="${t.kid}" systemId="${system}">${placeholders}</cpix:DRMSystem>`)),
    '</cpix:DRMSystemList><cpix:ContentKeyUsageRuleList>',
    ...tracks.map((t) => `<cpix:ContentKeyUsageRule kid="${t.kid}" intendedTrackType="${t.type}">${t.filter}</cpix:ContentKeyUsageRule>`),
    '</cpix:ContentKeyUsageRuleList></cpix:CPIX>',
  ].join('');
}
