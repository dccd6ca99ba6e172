import { readFileSync } from 'node:fs';

/**
 * Reads a DASH-IF vector as text for code that takes decoded XML (the signature verifier), decoding a
 * UTF-16LE or UTF-8 BOM (EvenMoreComplex.xml is UTF-16LE; the other Axinom-made vectors start with a
 * UTF-8 BOM). The test-only CPIX extractor that lived here was replaced
 * by the real `parseCpixDocument` once src/cpix/parse.ts landed.
 */
export function readXmlText(path: string): string {
  const bytes = readFileSync(path);
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return bytes.subarray(2).toString('utf16le');
  const text = bytes.toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}
