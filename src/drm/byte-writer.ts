/**
 * Fixed-size binary writer for the DRM builders: the caller computes the total size from the parts
 * first, writes every field, and {@link ByteWriter.finish} asserts that exactly that many bytes were
 * written (shaka-packager `CreateBox` + `DCHECK_EQ`). A mismatch is a bug in the builder, so it throws a
 * plain `Error`, never a `ServiceError`.
 */

export const UINT16_MAX = 0xffff;
export const UINT32_MAX = 0xffff_ffff;

export class ByteWriter {
  private readonly buffer: Buffer;
  private offset = 0;

  constructor(private readonly what: string, readonly size: number) {
    if (!Number.isInteger(size) || size < 0 || size > UINT32_MAX) {
      throw new RangeError(`${what} size ${size} does not fit in a uint32`);
    }
    this.buffer = Buffer.alloc(size);
  }

  u8(value: number): this {
    this.offset = this.buffer.writeUInt8(value, this.offset);
    return this;
  }

  u16le(value: number): this {
    this.offset = this.buffer.writeUInt16LE(value, this.offset);
    return this;
  }

  u24be(value: number): this {
    this.offset = this.buffer.writeUIntBE(value, this.offset, 3);
    return this;
  }

  u32be(value: number): this {
    this.offset = this.buffer.writeUInt32BE(value, this.offset);
    return this;
  }

  u32le(value: number): this {
    this.offset = this.buffer.writeUInt32LE(value, this.offset);
    return this;
  }

  bytes(value: Uint8Array): this {
    if (this.offset + value.length > this.size) throw new Error(`${this.what}: write past the computed size`);
    this.buffer.set(value, this.offset);
    this.offset += value.length;
    return this;
  }

  /** The written bytes; throws if fewer or more bytes were written than the computed size. */
  finish(): Buffer {
    if (this.offset !== this.size) {
      throw new Error(`${this.what}: wrote ${this.offset} bytes, computed size is ${this.size}`);
    }
    return this.buffer;
  }
}
