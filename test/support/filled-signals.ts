import type { DrmSystem, SignalBytes } from '../../src/cpix/model';
import { fillDrmSystem } from '../../src/exchange/signaling';

/** A signaling value as bytes: received values as they are, values the key server made decoded from their base64. */
export function signalBytes(value: SignalBytes): Buffer;
export function signalBytes(value: SignalBytes | undefined): Buffer | undefined;
export function signalBytes(value: SignalBytes | undefined): Buffer | undefined {
  if (value === undefined || Buffer.isBuffer(value)) return value;
  return Buffer.from(value.base64, 'base64');
}

/** A `DRMSystem` whose signaling values are all bytes. */
export interface FilledDrmSystem extends Omit<DrmSystem, 'pssh' | 'contentProtectionData' | 'uriExtXKey' | 'hdsSignalingData' | 'hlsSignalingData' | 'speke'> {
  readonly pssh?: Buffer;
  readonly contentProtectionData?: Buffer;
  readonly uriExtXKey?: Buffer;
  readonly hdsSignalingData?: Buffer;
  readonly hlsSignalingData: readonly { readonly playlist?: string; readonly value: Buffer }[];
  readonly speke?: { readonly keyFormat?: Buffer; readonly keyFormatVersions?: Buffer; readonly protectionHeader?: Buffer };
}

/** `system` with every signaling value as bytes (received Buffers are kept as the same objects). */
export function withSignalBytes(system: DrmSystem): FilledDrmSystem {
  const { pssh, contentProtectionData, uriExtXKey, hdsSignalingData, hlsSignalingData, speke, ...rest } = system;
  const present = <T>(name: string, value: T | undefined) => (value === undefined ? {} : { [name]: value });
  return {
    ...rest,
    ...present('pssh', signalBytes(pssh)),
    ...present('contentProtectionData', signalBytes(contentProtectionData)),
    ...present('uriExtXKey', signalBytes(uriExtXKey)),
    ...present('hdsSignalingData', signalBytes(hdsSignalingData)),
    hlsSignalingData: hlsSignalingData.map((item) => ({ ...item, value: signalBytes(item.value) })),
    ...(speke !== undefined && {
      speke: {
        ...present('keyFormat', signalBytes(speke.keyFormat)),
        ...present('keyFormatVersions', signalBytes(speke.keyFormatVersions)),
        ...present('protectionHeader', signalBytes(speke.protectionHeader)),
      },
    }),
  };
}

/** `fillDrmSystem` with the answer's values as bytes, for tests that read them. */
export function fillToBytes(...args: Parameters<typeof fillDrmSystem>): FilledDrmSystem {
  return withSignalBytes(fillDrmSystem(...args));
}
