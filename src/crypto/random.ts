import { randomBytes } from 'node:crypto';

/**
 * Source of randomness, injected so tests can make key generation reproducible
 * (shaka-packager's fake PRNG). Production always uses `cryptoRandom`.
 */
export type RandomSource = (length: number) => Buffer;

/** Bytes drawn from the CSPRNG at a time: a few hundred keys, IVs and nonces. */
const POOL_BYTES = 4096;
/** Larger requests bypass the pool (they are rare, and would drain it at once). */
const POOLED_MAX_BYTES = 64;

/**
 * `source`, drawn in blocks of POOL_BYTES and handed out in pieces. A key exchange takes about fifteen
 * small values (keys, IVs, GCM nonces); one CSPRNG call per value cost more than the AES-GCM work
 * around them. Each piece is copied into a buffer of its own (never a view of the pool, nor Node's
 * shared allocation pool) and wiped from the pool as it leaves, so the pool holds only bytes nobody
 * has received yet. The pool is per process and per thread (module state), so cluster workers and
 * worker threads never share one.
 */
export function pooledRandom(source: RandomSource): RandomSource {
  let pool: Buffer = Buffer.alloc(0);
  let offset = 0;
  return (length) => {
    if (length > POOLED_MAX_BYTES) return source(length);
    if (offset + length > pool.length) {
      pool = source(POOL_BYTES);
      offset = 0;
    }
    const piece = Buffer.allocUnsafeSlow(length);
    pool.copy(piece, 0, offset, offset + length);
    pool.fill(0, offset, offset + length);
    offset += length;
    return piece;
  };
}

export const cryptoRandom: RandomSource = pooledRandom((length) => randomBytes(length));

/** Injected clock: every timestamp the service stores comes from here. */
export type Clock = () => Date;

export const systemClock: Clock = () => new Date();
