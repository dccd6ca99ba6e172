/**
 * DRM signaling of the key exchange: fills one CPIX `DRMSystem` for one content key in the SPEKE v1,
 * SPEKE v2 or PallyCon CPIX API dialect. The byte formats live in `drm/`; the rules per dialect in
 * `signaling/fill.ts`.
 */

export type { SignalingDialect, SignalingKey, SignalingOptions } from './signaling/types';
export { fillDrmSystem } from './signaling/fill';
export { isSupportedSystem, supportedSystemKind, systemNeedsIv } from './signaling/systems';
