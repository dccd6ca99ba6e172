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

/**
 * A random identifier people pass on command lines (credential IDs, licence-token key IDs):
 * base64url of `bytes` random bytes that does not start with `-`, which every option parser would
 * take for an option (`cpix-kms tokens revoke ABCD -KnZ…`). Drawing again costs the first character
 * one value of 64: under 0.03 bits of a 96-bit ID.
 */
export function randomIdentifier(random: RandomSource, bytes: number): string {
  for (;;) {
    const id = randomSecret(random, bytes);
    if (!id.startsWith('-')) return id;
  }
}
