/**
 * DRM signaling of the key exchange: fills one CPIX `DRMSystem` for one content key by a protocol's
 * `SignalingRules`. The byte formats live in `drm/`; the placeholder rules in `signaling/fill.ts`.
 */

export type { SignalChild, SignalingKey, SignalingOptions, SignalingRules, SignalingStyle, SystemKind } from './signaling/types';
export { fillDrmSystem } from './signaling/fill';
export { protectionSchemeOf, supportedSystemKind, systemKindOf, systemNeedsIv } from './signaling/systems';
