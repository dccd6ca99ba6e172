import { AEAD_KEY_LENGTH_BYTES, encodeContext, open, seal } from '../../../src/crypto/aead';
import { cryptoRandom, type RandomSource } from '../../../src/crypto/random';
import { KeyIntegrityError } from '../../../src/errors';

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');

/** Returns `bytes` for the one draw `seal` makes (the nonce), like shaka-packager's fake PRNG. */
function fixedNonce(bytes: Buffer): RandomSource {
  return (length) => {
    if (length !== bytes.length) throw new Error(`expected a draw of ${bytes.length} bytes, got ${length}`);
    return Buffer.from(bytes);
  };
}

/**
 * Published AES-256-GCM vectors with a 96-bit IV and a 128-bit tag, cross-checked with Python
 * `cryptography` (AESGCM.encrypt) when they were added.
 */
const VECTORS = [
  {
    // McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)", Appendix B, Test Case 16.
    name: 'GCM spec test case 16',
    key: hex('feffe9928665731c6d6a8f9467308308 feffe9928665731c6d6a8f9467308308'),
    iv: hex('cafebabefacedbaddecaf888'),
    plaintext: hex(`d9313225f88406e5a55909c5aff5269a 86a7a9531534f7da2e4c303d8a318a72
                    1c3c0c95956809532fcf0e2449a6b525 b16aedf5aa0de657ba637b39`),
    aad: hex('feedfacedeadbeeffeedfacedeadbeef abaddad2'),
    ciphertext: hex(`522dc1f099567d07f47f37a32a84427d 643a8cdcbfe5c0c97598a2bd2555d1aa
                     8cb08e48590dbb3da7b08b1056828838 c5f61e6393ba7a0abcc9f662`),
    tag: hex('76fc6ece0f4e1768cddf8853bb2d551b'),
  },
  {
    // NIST CAVP GCMVS gcmEncryptExtIV256.rsp: [Keylen=256][IVlen=96][PTlen=128][AADlen=160][Taglen=128], Count = 0.
    name: 'NIST GCMVS encrypt, 128-bit plaintext, 160-bit AAD',
    key: hex('83688deb4af8007f9b713b47cfa6c73e 35ea7a3aa4ecdb414dded03bf7a0fd3a'),
    iv: hex('0b459724904e010a46901cf3'),
    plaintext: hex('33d893a2114ce06fc15d55e454cf90c3'),
    aad: hex('794a14ccd178c8ebfd1379dc704c5e20 8f9d8424'),
    ciphertext: hex('cc66bee423e3fcd4c0865715e9586696'),
    tag: hex('0fb291bd3dba94a1dfd8b286cfb97ac5'),
  },
];

const KEY = Buffer.alloc(AEAD_KEY_LENGTH_BYTES, 0x5a);
const AAD = encodeContext('test/v1', ['SITE1', '1']);

describe('seal / open (AES-256-GCM)', () => {
  it('round-trips, with a fresh nonce each time', () => {
    const plaintext = Buffer.from('a 32-byte site key, say.........');
    const first = seal(KEY, plaintext, AAD, cryptoRandom);
    const second = seal(KEY, plaintext, AAD, cryptoRandom);
    expect(first).toHaveLength(1 + 12 + plaintext.length + 16);
    expect(first.equals(second)).toBe(false);
    expect(open(KEY, first, AAD).equals(plaintext)).toBe(true);
    expect(open(KEY, second, AAD).equals(plaintext)).toBe(true);
  });

  it('round-trips an empty plaintext', () => {
    const sealed = seal(KEY, Buffer.alloc(0), AAD, cryptoRandom);
    expect(sealed).toHaveLength(1 + 12 + 16);
    expect(open(KEY, sealed, AAD)).toHaveLength(0);
  });

  it.each(VECTORS)('matches the known answer: $name', ({ key, iv, plaintext, aad, ciphertext, tag }) => {
    const sealed = seal(key, plaintext, aad, fixedNonce(iv));
    expect(sealed.toString('hex')).toBe(Buffer.concat([Buffer.from([0x01]), iv, ciphertext, tag]).toString('hex'));
    expect(open(key, sealed, aad).equals(plaintext)).toBe(true);
  });

  describe('rejects with one opaque KeyIntegrityError', () => {
    const vector = VECTORS[0]!;
    const sealed = seal(vector.key, vector.plaintext, vector.aad, fixedNonce(vector.iv));
    const failures: unknown[] = [];

    function expectRejected(key: Buffer, blob: Buffer, aad: Buffer): void {
      let error: unknown;
      try {
        open(key, blob, aad);
      } catch (caught) {
        error = caught;
      }
      failures.push(error);
      expect(error).toBeInstanceOf(KeyIntegrityError);
    }

    const flipped = (at: number) => {
      const blob = Buffer.from(sealed);
      blob[at] = (blob[at] ?? 0) ^ 0x80;
      return blob;
    };

    // Layout: format(1) ‖ nonce(12) ‖ body(60) ‖ tag(16).
    it.each([
      ['format byte', 0],
      ['first nonce byte', 1],
      ['last nonce byte', 12],
      ['first body byte', 13],
      ['last body byte', 13 + 59],
      ['first tag byte', sealed.length - 16],
      ['last tag byte', sealed.length - 1],
    ])('when the %s is changed', (_, at) => {
      expectRejected(vector.key, flipped(at), vector.aad);
    });

    it('when the format byte names another format', () => {
      const blob = Buffer.from(sealed);
      blob[0] = 0x02;
      expectRejected(vector.key, blob, vector.aad);
    });

    it('when the blob is truncated, extended or too short to hold a tag', () => {
      expectRejected(vector.key, sealed.subarray(0, sealed.length - 1), vector.aad);
      expectRejected(vector.key, Buffer.concat([sealed, Buffer.from([0])]), vector.aad);
      expectRejected(vector.key, sealed.subarray(0, 1 + 12 + 15), vector.aad);
      expectRejected(vector.key, Buffer.alloc(0), vector.aad);
    });

    it('when the associated data differs', () => {
      expectRejected(vector.key, sealed, Buffer.alloc(0));
      expectRejected(vector.key, sealed, Buffer.concat([vector.aad, Buffer.from([0])]));
      expectRejected(vector.key, sealed, flippedCopy(vector.aad, 0));
    });

    it('when the key is another one, or not 32 bytes', () => {
      expectRejected(flippedCopy(vector.key, 31), sealed, vector.aad);
      expectRejected(vector.key.subarray(0, 16), sealed, vector.aad);
    });

    it('always with the same code and message and no cause', () => {
      expect(failures.length).toBeGreaterThanOrEqual(16);
      for (const error of failures) {
        expect(error).toMatchObject({
          code: 'ERR_KEY_UNWRAP_FAILED',
          message: 'stored key failed its integrity check',
        });
        expect((error as Error).cause).toBeUndefined();
      }
    });
  });

  it.each([0, 16, 31, 33, 64])('refuses to seal under a %i-byte key (a programmer error)', (length) => {
    expect(() => seal(Buffer.alloc(length), Buffer.from('x'), AAD, cryptoRandom)).toThrow(RangeError);
  });
});

describe('encodeContext', () => {
  it('writes each field as a 4-byte big-endian length and its UTF-8 bytes', () => {
    expect(encodeContext('p', ['ab', '', 'é']).toString('hex')).toBe(
      ['00000001', '70', '00000002', '6162', '00000000', '00000002', 'c3a9'].join(''),
    );
  });

  it('keeps fields apart whatever they contain', () => {
    const distinct = [
      encodeContext('p', ['a|b', 'c']),
      encodeContext('p', ['a', 'b|c']),
      encodeContext('p', ['a|b|c']),
      encodeContext('p', ['abc']),
      encodeContext('p', ['ab', 'c']),
      encodeContext('pa', ['bc']),
      encodeContext('p', ['abc', '']),
    ].map((bytes) => bytes.toString('hex'));
    expect(new Set(distinct).size).toBe(distinct.length);
  });
});

function flippedCopy(bytes: Buffer, at: number): Buffer {
  const copy = Buffer.from(bytes);
  copy[at] = (copy[at] ?? 0) ^ 0x01;
  return copy;
}
