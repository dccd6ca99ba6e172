import type { MasterKeyCheckValue, MasterKeyProvider, WrappedSiteKey } from '../../src/crypto/kms/master-key';
import { KeyIntegrityError } from '../../src/errors';

const OPAQUE_FAILURE = { code: 'ERR_KEY_UNWRAP_FAILED', message: 'stored key failed its integrity check' };

/**
 * The site-key contract every `MasterKeyProvider` passes; run once per provider. `makeProvider` must
 * return a provider for a master key of its own on every call (the second one stands for "another
 * master key"). Any set-up it needs (a fake KMS) runs in the calling file's `beforeAll`.
 */
export function describeMasterKeyContract(name: string, makeProvider: () => Promise<MasterKeyProvider>): void {
  describe(`master key contract: ${name}`, () => {
    let provider: MasterKeyProvider;
    let other: MasterKeyProvider;
    const context = { siteId: 'SITE1', version: 1 };

    beforeAll(async () => {
      provider = await makeProvider();
      other = await makeProvider();
    });

    /** Unwraps and returns the rejection; fails the test if the unwrap succeeds. */
    async function unwrapFailure(
      wrapped: WrappedSiteKey,
      siteKeyContext = context,
      by: MasterKeyProvider = provider,
    ): Promise<unknown> {
      return by.unwrapSiteKey(wrapped, siteKeyContext).then(
        () => {
          throw new Error('unwrap succeeded but should have failed');
        },
        (error: unknown) => error,
      );
    }

    const withBlob = (wrapped: WrappedSiteKey, blob: Buffer): WrappedSiteKey => ({ ...wrapped, blob });

    it(`wraps under its own name and unwraps the same 32 bytes`, async () => {
      const { plaintext, wrapped } = await provider.generateSiteKey(context);
      expect(plaintext).toHaveLength(32);
      expect(wrapped.provider).toBe(provider.name);
      expect(wrapped.masterKeyId).not.toBe('');
      const unwrapped = await provider.unwrapSiteKey(wrapped, context);
      expect(unwrapped.equals(plaintext)).toBe(true);
    });

    it('generates a different key and blob every time', async () => {
      const first = await provider.generateSiteKey(context);
      const second = await provider.generateSiteKey(context);
      expect(first.plaintext.equals(second.plaintext)).toBe(false);
      expect(first.wrapped.blob.equals(second.wrapped.blob)).toBe(false);
    });

    it('never puts the plaintext key in the wrapped blob', async () => {
      const { plaintext, wrapped } = await provider.generateSiteKey(context);
      expect(wrapped.blob.includes(plaintext)).toBe(false);
      expect(wrapped.blob.toString('latin1')).not.toContain(plaintext.toString('hex'));
      expect(wrapped.blob.toString('latin1')).not.toContain(plaintext.toString('base64'));
      expect(wrapped.masterKeyId).not.toContain(plaintext.toString('hex'));
    });

    describe('rejects with one opaque KeyIntegrityError', () => {
      let plaintext: Buffer;
      let wrapped: WrappedSiteKey;
      const failures: unknown[] = [];

      beforeAll(async () => {
        ({ plaintext, wrapped } = await provider.generateSiteKey(context));
      });

      async function expectIntegrityFailure(failure: Promise<unknown>): Promise<void> {
        const error = await failure;
        failures.push(error);
        expect(error).toBeInstanceOf(KeyIntegrityError);
      }

      it('when unwrapped under another site ID', async () => {
        await expectIntegrityFailure(unwrapFailure(wrapped, { siteId: 'SITE2', version: 1 }));
        await expectIntegrityFailure(unwrapFailure(wrapped, { siteId: 'SITE', version: 1 }));
      });

      it('when unwrapped under another version', async () => {
        await expectIntegrityFailure(unwrapFailure(wrapped, { siteId: 'SITE1', version: 2 }));
      });

      it.each([
        ['first', 0],
        ['middle', 0.5],
        ['last', 1],
      ])('when the %s byte of the blob is changed', async (_, where) => {
        const tampered = Buffer.from(wrapped.blob);
        const at = Math.min(tampered.length - 1, Math.floor(where * tampered.length));
        tampered[at] = (tampered[at] ?? 0) ^ 0x01;
        await expectIntegrityFailure(unwrapFailure(withBlob(wrapped, tampered)));
      });

      it('when the blob is truncated or empty', async () => {
        const truncated = wrapped.blob.subarray(0, wrapped.blob.length - 1);
        await expectIntegrityFailure(unwrapFailure(withBlob(wrapped, truncated)));
        await expectIntegrityFailure(unwrapFailure(withBlob(wrapped, Buffer.alloc(0))));
      });

      it('when the blob was made by another master key, under either key ID', async () => {
        const foreign = (await other.generateSiteKey(context)).wrapped;
        await expectIntegrityFailure(unwrapFailure(foreign));
        await expectIntegrityFailure(unwrapFailure({ ...foreign, masterKeyId: wrapped.masterKeyId }));
        await expectIntegrityFailure(unwrapFailure(wrapped, context, other));
      });

      it('when the record names another provider', async () => {
        const otherName = provider.name === 'local' ? 'aws-kms' : 'local';
        await expectIntegrityFailure(unwrapFailure({ ...wrapped, provider: otherName }));
      });

      it('with the same code and message every time, no cause and no key bytes', () => {
        expect(failures.length).toBeGreaterThanOrEqual(10);
        for (const error of failures) {
          expect(error).toMatchObject(OPAQUE_FAILURE);
          expect((error as Error).cause).toBeUndefined();
          const text = `${(error as Error).message} ${(error as KeyIntegrityError).detail ?? ''}`;
          const secrets = [plaintext.toString('hex'), plaintext.toString('base64'), wrapped.blob.toString('base64')];
          for (const secret of secrets) expect(text).not.toContain(secret);
        }
      });
    });

    describe('key-check value', () => {
      /** Verifies and returns the rejection; fails the test if the check value is accepted. */
      async function verifyFailure(check: MasterKeyCheckValue, by: MasterKeyProvider = provider): Promise<unknown> {
        return by.verifyCheckValue(check).then(
          () => {
            throw new Error('check value accepted but should have been refused');
          },
          (error: unknown) => error,
        );
      }

      it('accepts its own check value, under its own name, every time', async () => {
        const check = await provider.createCheckValue();
        expect(check.provider).toBe(provider.name);
        expect(check.masterKeyId).not.toBe('');
        await expect(provider.verifyCheckValue(check)).resolves.toBeUndefined();
        await expect(provider.verifyCheckValue({ ...check, blob: Buffer.from(check.blob) })).resolves.toBeUndefined();
      });

      it("refuses another master key's check value, under either key ID, with a KeyIntegrityError", async () => {
        const ours = await provider.createCheckValue();
        const theirs = await other.createCheckValue();
        expect(await verifyFailure(theirs)).toBeInstanceOf(KeyIntegrityError);
        expect(await verifyFailure({ ...theirs, masterKeyId: ours.masterKeyId })).toBeInstanceOf(KeyIntegrityError);
        expect(await verifyFailure(ours, other)).toBeInstanceOf(KeyIntegrityError);
      });

      it('refuses a changed, truncated or empty blob, and one naming another provider', async () => {
        const check = await provider.createCheckValue();
        const flipped = Buffer.from(check.blob);
        flipped[flipped.length - 1] = (flipped[flipped.length - 1] ?? 0) ^ 0x01;
        const otherName = provider.name === 'local' ? 'aws-kms' : 'local';
        for (const bad of [
          { ...check, blob: flipped },
          { ...check, blob: check.blob.subarray(0, check.blob.length - 1) },
          { ...check, blob: Buffer.alloc(0) },
          { ...check, provider: otherName } as const,
        ]) {
          expect(await verifyFailure(bad)).toBeInstanceOf(KeyIntegrityError);
        }
      });

      it('is not a site key: a wrapped site key does not pass as a check value', async () => {
        const { wrapped } = await provider.generateSiteKey(context);
        expect(await verifyFailure(wrapped)).toBeInstanceOf(KeyIntegrityError);
      });
    });

    it('reports ready', async () => {
      await expect(provider.checkReady()).resolves.toBeUndefined();
    });
  });
}
