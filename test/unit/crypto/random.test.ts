import { pooledRandom, type RandomSource } from '../../../src/crypto/random';

/** A source that counts its calls and hands out 0, 1, 2, … (mod 256), so every byte's origin is known. */
function countingSource(): { source: RandomSource; calls: number[] } {
  const calls: number[] = [];
  let next = 0;
  return {
    calls,
    source: (length) => {
      calls.push(length);
      return Buffer.from(Array.from({ length }, () => next++ % 256));
    },
  };
}

describe('pooledRandom', () => {
  it('hands out consecutive pool bytes, each once, and draws a new block only when the pool runs out', () => {
    const { source, calls } = countingSource();
    const random = pooledRandom(source);
    const pieces = Array.from({ length: 256 }, () => random(16)); // exactly one 4096-byte block
    expect(calls).toEqual([4096]);
    expect(Buffer.concat(pieces)).toEqual(Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 256)));
    random(12);
    expect(calls).toEqual([4096, 4096]);
  });

  it('returns independent buffers: not views of the pool, and the pool forgets what it handed out', () => {
    const blocks: Buffer[] = [];
    const random = pooledRandom((length) => {
      const block = Buffer.alloc(length, 0xab);
      blocks.push(block);
      return block;
    });
    const key = random(16);
    expect(key.byteOffset).toBe(0);
    expect(key.buffer.byteLength).toBe(16);
    expect(blocks[0]?.subarray(0, 16)).toEqual(Buffer.alloc(16)); // wiped in the pool
    expect(blocks[0]?.subarray(16, 32)).toEqual(Buffer.alloc(16, 0xab)); // not yet handed out
    key.fill(1);
    expect(random(16)).toEqual(Buffer.alloc(16, 0xab));
  });

  it('passes large requests straight to the source', () => {
    const { source, calls } = countingSource();
    const random = pooledRandom(source);
    expect(random(65)).toHaveLength(65);
    expect(random(2048)).toHaveLength(2048);
    expect(calls).toEqual([65, 2048]);
  });

  it('serves a request that does not fit the rest of the pool from a fresh block', () => {
    const { source, calls } = countingSource();
    const random = pooledRandom(source);
    for (let i = 0; i < 4090 / 10; i += 1) random(10); // 4090 bytes used, 6 left
    const piece = random(16);
    expect(calls).toEqual([4096, 4096]);
    expect([...piece]).toEqual(Array.from({ length: 16 }, (_, i) => (4096 + i) % 256));
  });
});
