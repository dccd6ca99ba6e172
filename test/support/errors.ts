import { CpixDecryptionFailed } from './cpix-decrypt';

/** What `run` throws (undefined when it returns): for asserting the class, code and message of an error. */
export function thrownBy(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

/** Every key-decryption failure must look the same: one class, one fixed message, no cause. */
export function expectOpaqueDecryptionFailure(run: () => unknown): void {
  const thrown = thrownBy(run);
  expect(thrown).toBeInstanceOf(CpixDecryptionFailed);
  expect((thrown as Error).message).toBe('encrypted CPIX keys could not be decrypted');
  expect((thrown as Error).cause).toBeUndefined();
}
