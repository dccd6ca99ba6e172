/**
 * Strict decoders for CPIX attribute and element values. Each takes the path of the value for its
 * error message (`ContentKey[kid=…]@explicitIV: …`) and never echoes the offending value: it may be
 * key material or an attack payload.
 */

import { CpixInvalid } from '../errors';
import { isUuid } from '../uuid';
import { isShowable } from './shown';

/** A `CpixInvalid` naming the path of the bad value. */
export function invalid(path: string, problem: string): CpixInvalid {
  return new CpixInvalid(`${path}: ${problem}`);
}

/** XML Schema whitespace (space, tab, CR, LF): the only characters `xs:base64Binary` lets us drop. */
const XML_WHITESPACE = /[ \t\r\n]+/g;
/** The value of every empty `xs:base64Binary`: shared, since a zero-length Buffer cannot be written to. */
const EMPTY_BYTES = Buffer.alloc(0);
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Decodes `xs:base64Binary` strictly. Node's `Buffer.from(s, 'base64')` silently skips garbage: the
 * KeyRotation vectors' UUID-as-`explicitIV` decodes to 27 bytes that way (DASH-IF cpix-test-vectors, KeyRotation*.xml). Here the
 * alphabet and padding are checked, and the re-encoding must match, which refuses non-zero pad bits.
 */
export function decodeBase64(text: string, path: string): Buffer {
  // Placeholders (`<cpix:PSSH/>`, empty and schema-valid) are most of what key requests send here.
  if (text === '') return EMPTY_BYTES;
  const compact = text.replace(XML_WHITESPACE, '');
  if (!BASE64.test(compact)) throw invalid(path, 'is not valid base64');
  const bytes = Buffer.from(compact, 'base64');
  if (bytes.toString('base64') !== compact) throw invalid(path, 'is not canonical base64');
  return bytes;
}

/** `decodeBase64` plus an exact length check (`lengths` in bytes, e.g. [16, 32] for a content key). */
export function decodeBase64OfLength(text: string, path: string, lengths: readonly number[]): Buffer {
  const bytes = decodeBase64(text, path);
  if (!lengths.includes(bytes.length)) {
    throw invalid(path, `must be ${lengths.join(' or ')} bytes, got ${bytes.length}`);
  }
  return bytes;
}

/** `decodeBase64` that refuses an empty value (certificates, wrapped keys). */
export function decodeNonEmptyBase64(text: string, path: string): Buffer {
  const bytes = decodeBase64(text, path);
  if (bytes.length === 0) throw invalid(path, 'must not be empty');
  return bytes;
}

/** CENC §11.2 KID / DASH-IF systemId spelling; any letter case (PallyCon sends upper case). */
export { isUuid };

/** Checks a UUID-typed value (`UUIDType`, 2.3.1+) and returns it exactly as received (echo rule). */
export function parseUuid(value: string, path: string): string {
  if (!isUuid(value)) throw invalid(path, 'must be a UUID');
  return value;
}

/** `xs:integer` (whitespace-collapsed), as a safe JavaScript integer no smaller than `min`. */
export function parseInteger(value: string, path: string, min = Number.MIN_SAFE_INTEGER): number {
  const trimmed = value.trim();
  if (!/^[+-]?[0-9]{1,16}$/.test(trimmed)) throw invalid(path, 'must be an integer');
  const parsed = Number(trimmed);
  if (!Number.isSafeInteger(parsed)) throw invalid(path, 'is out of range');
  if (parsed < min) throw invalid(path, `must be at least ${min}`);
  return parsed;
}

/** `xs:boolean`: `true`/`false`/`1`/`0`. */
export function parseBoolean(value: string, path: string): boolean {
  switch (value.trim()) {
    case 'true':
    case '1':
      return true;
    case 'false':
    case '0':
      return false;
    default:
      throw invalid(path, 'must be a boolean');
  }
}

/** A value from a closed enumeration, returned as received. */
export function parseEnum<T extends string>(value: string, allowed: readonly T[], path: string): T {
  const found = allowed.find((candidate) => candidate === value);
  if (found === undefined) throw invalid(path, `must be one of ${allowed.join(', ')}`);
  return found;
}

/**
 * The path step for one list item: `Name[kid=…]` for a valid UUID key, `Name[id=…]` for a harmless id,
 * otherwise the 1-based position `Name[3]` so that nothing hostile is echoed.
 */
export function itemStep(name: string, position: number, keys: Readonly<Record<string, string | undefined>> = {}): string {
  let step = name;
  let named = false;
  for (const [key, value] of Object.entries(keys)) {
    if (value === undefined) continue;
    const showable = key === 'id' ? isShowable(value) : isUuid(value);
    if (!showable) continue;
    step += `[${key}=${value}]`;
    named = true;
  }
  return named ? step : `${name}[${position}]`;
}
