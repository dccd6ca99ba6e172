import { createHash, timingSafeEqual } from 'node:crypto';
import type { RandomSource } from './random';

/**
 * Hash of a high-entropy secret (KMS token secret, access key, admin token) for storage and
 * comparison. SHA-256 suffices: the inputs carry ≥ 256 bits of entropy, so a slow password hash
 * would only add latency to every authenticated request.
 */
export function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

/** Constant-time comparison of a presented secret with a stored hash. */
export function secretMatchesHash(secret: string, storedHash: Buffer): boolean {
  const presented = hashSecret(secret);
  return storedHash.length === presented.length && timingSafeEqual(presented, storedHash);
}

/** A URL-safe random secret of `bytes` random bytes (base64url, no padding). */
export function randomSecret(random: RandomSource, bytes: number): string {
  return random(bytes).toString('base64url');
}
