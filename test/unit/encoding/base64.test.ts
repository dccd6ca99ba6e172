import { EncodedBytes, base64Of, encodedText, utf8Base64 } from '../../../src/encoding/base64';

describe('utf8Base64', () => {
  it.each([
    ['empty', ''],
    ['ASCII key line', '#EXT-X-KEY:METHOD=SAMPLE-AES,URI="skd://0123",KEYFORMATVERSIONS="1"'],
    ['two-byte UTF-8', 'https://keys.example/café'],
    ['three-byte UTF-8', 'https://keys.example/鍵'],
    ['surrogate pair (four bytes)', 'https://keys.example/🔑'],
    ['one character over the scratch size', 'a'.repeat(16 * 1024 + 1)],
    ['scratch size of three-byte characters', '鍵'.repeat(16 * 1024)],
  ])('%s: the base64 of the UTF-8 bytes', (_name, text) => {
    expect(utf8Base64(text)).toBe(Buffer.from(text, 'utf8').toString('base64'));
  });

  it('a shorter text after a longer one leaves nothing of the longer behind', () => {
    utf8Base64('x'.repeat(1000));
    expect(utf8Base64('ab')).toBe('YWI=');
    expect(encodedText('ab')).toEqual({ base64: 'YWI=' });
  });
});

describe('base64Of', () => {
  it('reads a view in place: only its own bytes, not the rest of the underlying buffer', () => {
    const whole = Buffer.from('0123456789', 'latin1');
    expect(base64Of(whole.subarray(2, 5))).toBe(Buffer.from('234', 'latin1').toString('base64'));
    expect(base64Of(new Uint8Array(whole.buffer, whole.byteOffset + 7, 3))).toBe(Buffer.from('789', 'latin1').toString('base64'));
  });

  it('takes the base64 an EncodedBytes holds, made once from its bytes', () => {
    const bytes = Buffer.from([0, 1, 2, 250, 251, 252]);
    const encoded = new EncodedBytes(bytes);
    const first = base64Of(encoded);
    expect(first).toBe(bytes.toString('base64'));
    // Kept: changing the bytes afterwards does not change what was already encoded.
    bytes[0] = 9;
    expect(encoded.base64).toBe(first);
  });
});
