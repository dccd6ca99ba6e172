import { randomBytes } from 'node:crypto';

/**
 * Source of randomness, injected so tests can make key generation reproducible
 * (shaka-packager's fake PRNG). Production always uses `cryptoRandom`.
 */
export type RandomSource = (length: number) => Buffer;

export const cryptoRandom: RandomSource = (length) => randomBytes(length);

/** Injected clock: every timestamp the service stores comes from here. */
export type Clock = () => Date;

export const systemClock: Clock = () => new Date();
