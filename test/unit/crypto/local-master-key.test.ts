import { randomBytes } from 'node:crypto';
import { encodeContext, open } from '../../../src/crypto/aead';
import { createLocalMasterKey } from '../../../src/crypto/kms/local-master-key';
import { cryptoRandom, type RandomSource } from '../../../src/crypto/random';
import { describeMasterKeyContract } from '../../support/master-key-contract';

describeMasterKeyContract('local', async () => createLocalMasterKey(randomBytes(32), cryptoRandom));

describe('local master key', () => {
  it.each([0, 16, 31, 33])('rejects a %i-byte master key', (length) => {
    expect(() => createLocalMasterKey(Buffer.alloc(length), cryptoRandom)).toThrow(RangeError);
  });

  it('stores site keys as AES-256-GCM bound to (purpose, site, version)', async () => {
    // Pins the stored format: a change here makes every existing site key unreadable.
    const masterKey = Buffer.alloc(32, 0x42);
    const siteKey = Buffer.alloc(32, 0x07);
    const nonce = Buffer.alloc(12, 0x09);
    const draws = [siteKey, nonce];
    const random: RandomSource = (length) => {
      const next = draws.shift();
      if (next?.length !== length) throw new Error(`unexpected draw of ${length} bytes`);
      return Buffer.from(next);
    };
    const { plaintext, wrapped } = await createLocalMasterKey(masterKey, random).generateSiteKey({
      siteId: 'SITE1',
      version: 4,
    });
    expect(plaintext.equals(siteKey)).toBe(true);
    expect(wrapped.blob.subarray(0, 13).toString('hex')).toBe(`01${nonce.toString('hex')}`);
    const aad = encodeContext('cpix-kms/site-key/v1', ['SITE1', '4']);
    expect(open(masterKey, wrapped.blob, aad).equals(siteKey)).toBe(true);
  });

  it('names the master key by a fingerprint that does not reveal it', async () => {
    const masterKey = randomBytes(32);
    const context = { siteId: 'S', version: 1 };
    const { wrapped } = await createLocalMasterKey(masterKey, cryptoRandom).generateSiteKey(context);
    expect(wrapped.masterKeyId).toMatch(/^local:[0-9a-f]{16}$/);
    expect(masterKey.toString('hex')).not.toContain(wrapped.masterKeyId.slice('local:'.length));
    const again = await createLocalMasterKey(masterKey, cryptoRandom).generateSiteKey(context);
    expect(again.wrapped.masterKeyId).toBe(wrapped.masterKeyId);
  });
});
