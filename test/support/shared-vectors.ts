import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * Third-party vectors are read in place from ../shared/vectors (never copied into the project).
 * Outside CI a missing folder skips the tests that need it, with this message; under CI=true it is
 * an error, so a broken checkout cannot pass by skipping.
 */
export const SHARED = resolve(process.env.CPIX_SHARED ?? resolve(__dirname, '../../../shared'));
export const SHARED_VECTORS = resolve(process.env.CPIX_SHARED_VECTORS ?? resolve(SHARED, 'vectors'));

const missing = !existsSync(SHARED_VECTORS);
if (missing && process.env.CI === 'true') {
  throw new Error(`shared vectors not found at ${SHARED_VECTORS}: CI needs ../shared beside the project`);
}

/** `describe` when the vectors are present; `describe.skip` (with a console note) when not. */
function vectorsDescribe(): jest.Describe {
  if (!missing) return describe;
  // eslint-disable-next-line no-console
  console.warn(`skipping vector tests: shared vectors not found at ${SHARED_VECTORS} (set CPIX_SHARED_VECTORS or check out ../shared)`);
  return describe.skip;
}

export const describeWithVectors: jest.Describe = vectorsDescribe();

export const vectorPath = (...parts: string[]): string => resolve(SHARED_VECTORS, ...parts);
export const sharedPath = (...parts: string[]): string => resolve(SHARED, ...parts);
