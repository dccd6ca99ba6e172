import { CpixInvalid } from '../../../src/errors';
import { parseXml } from '../../../src/xml/safe-parse';
import { HOSTILE_CASES } from './hostile-cases';

function refusal(input: Buffer | string, limits?: Parameters<typeof parseXml>[1]): CpixInvalid {
  try {
    parseXml(input, limits);
  } catch (error) {
    if (error instanceof CpixInvalid) return error;
    throw error;
  }
  throw new Error('expected the input to be refused');
}

describe('hostile XML input', () => {
  it.each(HOSTILE_CASES.map((hostile) => [hostile.name, hostile] as const))('refuses %s with CpixInvalid', (_name, hostile) => {
    const error = refusal(hostile.input());
    expect(error.code).toBe('ERR_CPIX_INVALID');
    expect(error.message).not.toContain(hostile.marker);
    expect(error.message.length).toBeLessThan(200);
  });

  it.each([
    ['DOCTYPE', HOSTILE_CASES[0], 'DOCTYPE declarations are not allowed'],
    ['depth', HOSTILE_CASES.find((c) => c.name.startsWith('10,000')), 'nested deeper than the limit of 64'],
    ['byte cap', HOSTILE_CASES.find((c) => c.name === '10 MB body'), 'exceeds the limit of 1048576 bytes'],
    ['element count', HOSTILE_CASES.find((c) => c.name === '100k elements'), 'exceeds the limit of 10000 elements'],
    ['attribute count', HOSTILE_CASES.find((c) => c.name === 'too many attributes'), 'more than 64 attributes'],
    ['invalid UTF-8', HOSTILE_CASES.find((c) => c.name === 'invalid UTF-8'), 'not valid UTF-8'],
  ])('names the %s limit', (_what, hostile, message) => {
    expect(refusal(hostile?.input() ?? '').message).toContain(message);
  });

  it('refuses a long attribute value by its own limit when the byte cap allows the document', () => {
    const xml = `<CPIX id="${'B'.repeat(2 * 1024 * 1024)}"/>`;
    expect(refusal(xml, { maxBytes: 4 * 1024 * 1024 }).message).toContain('attribute value exceeds the limit of 16384');
  });

  it('refuses total character data over its limit', () => {
    expect(refusal(`<a>${'x'.repeat(2000)}</a>`, { maxTextChars: 1000 }).message).toContain('character data exceeds');
  });

  it('reports line and column of a well-formedness error', () => {
    expect(refusal('<a>\n  <b></a>').message).toMatch(/\(line 2, column \d+\)$/);
  });

  it('refuses a declared encoding that contradicts the bytes', () => {
    expect(refusal(Buffer.from('<?xml version="1.0" encoding="ISO-8859-1"?><a/>')).message).toContain('declared encoding');
  });
});
