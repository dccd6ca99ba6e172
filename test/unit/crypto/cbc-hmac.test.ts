import { expectOpaqueDecryptionFailure } from '../../support/errors';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encryptContentKey } from '../../../src/crypto/cbc-hmac';
import { cryptoRandom, type RandomSource } from '../../../src/crypto/random';
import { CpixDecryptionFailed, decryptContentKey } from '../../support/cpix-decrypt';

const hex = (text: string) => Buffer.from(text, 'hex');
const DOCUMENT_KEY = hex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
const MAC_KEY = Buffer.alloc(64, 0xa5);
const IV = hex('f0e0d0c0b0a090807060504030201000');
const KEY16 = hex('3ab5a81d86ac42e6cee876c91ab1ad2f');
const KEY32 = Buffer.concat([KEY16, KEY16]);
const fixedIv: RandomSource = (length) => {
  if (length !== 16) throw new Error(`unexpected draw of ${length} bytes`);
  return Buffer.from(IV);
};

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version']);
    return true;
  } catch {
    return false;
  }
}

/** Independent implementation: the openssl CLI, as in tools/e2e/05-cpix-keys/decrypt-cpix-keys.sh. */
function opensslEncrypt(key: Buffer): { cipherValue: Buffer; valueMac: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'cbc-hmac-'));
  try {
    writeFileSync(join(dir, 'key'), key);
    const ciphertext = execFileSync('openssl', [
      'enc', '-aes-256-cbc', '-K', DOCUMENT_KEY.toString('hex'), '-iv', IV.toString('hex'), '-in', join(dir, 'key'),
    ]);
    const cipherValue = Buffer.concat([IV, ciphertext]);
    writeFileSync(join(dir, 'cv'), cipherValue);
    const valueMac = execFileSync('openssl', [
      'dgst', '-sha512', '-mac', 'HMAC', '-macopt', `hexkey:${MAC_KEY.toString('hex')}`, '-binary', join(dir, 'cv'),
    ]);
    return { cipherValue, valueMac };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const describeWithOpenssl = hasOpenssl() || process.env.CI === 'true' ? describe : describe.skip;

describeWithOpenssl('encryptContentKey known answers (openssl CLI)', () => {
  it.each([
    ['16-byte key', KEY16, 48],
    ['32-byte key', KEY32, 64],
  ])('produces the same CipherValue and ValueMAC as openssl for a %s', (_name, key, length) => {
    const ours = encryptContentKey(DOCUMENT_KEY, MAC_KEY, key, fixedIv);
    const theirs = opensslEncrypt(key);
    expect(ours.cipherValue).toHaveLength(length);
    expect(ours.cipherValue.subarray(0, 16)).toEqual(IV);
    expect(ours.cipherValue).toEqual(theirs.cipherValue);
    expect(ours.valueMac).toEqual(theirs.valueMac);
  });
});

describe('decryptContentKey', () => {
  const encrypted = encryptContentKey(DOCUMENT_KEY, MAC_KEY, KEY16, cryptoRandom);

  it('round-trips 16- and 32-byte keys', () => {
    expect(decryptContentKey(DOCUMENT_KEY, MAC_KEY, encrypted)).toEqual(KEY16);
    const long = encryptContentKey(DOCUMENT_KEY, MAC_KEY, KEY32, cryptoRandom);
    expect(decryptContentKey(DOCUMENT_KEY, MAC_KEY, long)).toEqual(KEY32);
  });

  it('draws a fresh IV per key', () => {
    const again = encryptContentKey(DOCUMENT_KEY, MAC_KEY, KEY16, cryptoRandom);
    expect(again.cipherValue.subarray(0, 16)).not.toEqual(encrypted.cipherValue.subarray(0, 16));
  });

  const flip = (buffer: Buffer, index: number): Buffer => {
    const copy = Buffer.from(buffer);
    copy[index] = (copy[index] ?? 0) ^ 0x01;
    return copy;
  };
  const cases: [string, () => Buffer][] = [
    ['a tampered IV byte', () => decryptContentKey(DOCUMENT_KEY, MAC_KEY, { ...encrypted, cipherValue: flip(encrypted.cipherValue, 0) })],
    ['a tampered ciphertext byte', () => decryptContentKey(DOCUMENT_KEY, MAC_KEY, { ...encrypted, cipherValue: flip(encrypted.cipherValue, 47) })],
    ['a tampered ValueMAC byte', () => decryptContentKey(DOCUMENT_KEY, MAC_KEY, { ...encrypted, valueMac: flip(encrypted.valueMac, 63) })],
    ['a missing ValueMAC', () => decryptContentKey(DOCUMENT_KEY, MAC_KEY, { cipherValue: encrypted.cipherValue })],
    ['a truncated ValueMAC', () => decryptContentKey(DOCUMENT_KEY, MAC_KEY, { ...encrypted, valueMac: encrypted.valueMac.subarray(0, 32) })],
    ['a 47-byte CipherValue', () => decryptContentKey(DOCUMENT_KEY, MAC_KEY, { ...encrypted, cipherValue: encrypted.cipherValue.subarray(1) })],
    ['the wrong document key', () => decryptContentKey(flip(DOCUMENT_KEY, 3), MAC_KEY, encrypted)],
    ['the wrong MAC key', () => decryptContentKey(DOCUMENT_KEY, flip(MAC_KEY, 3), encrypted)],
    ['a 16-byte document key', () => decryptContentKey(DOCUMENT_KEY.subarray(0, 16), MAC_KEY, encrypted)],
  ];
  it.each(cases)('rejects %s with the one opaque error', (_name, run) => {
    expectOpaqueDecryptionFailure(run);
  });

  it('rejects a valid MAC over bad padding (wrong document key, right MAC) without saying so', () => {
    // The MAC passes, so only the padding check can fail: it must look exactly like a MAC failure.
    const other = Buffer.alloc(32, 7);
    expect(() => decryptContentKey(other, MAC_KEY, encrypted)).toThrow(new CpixDecryptionFailed());
  });

  it('refuses wrong key sizes when encrypting (programmer error)', () => {
    expect(() => encryptContentKey(DOCUMENT_KEY, MAC_KEY, Buffer.alloc(24), cryptoRandom)).toThrow(RangeError);
    expect(() => encryptContentKey(DOCUMENT_KEY.subarray(1), MAC_KEY, KEY16, cryptoRandom)).toThrow(RangeError);
  });
});
