import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/log';

/** A real pino logger whose JSON lines are kept in memory, so tests can search every line written. */
export function captureLogs(): { readonly logger: Logger; readonly lines: string[]; text(): string } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      callback();
    },
  });
  return { logger: createLogger('debug', stream), lines, text: () => lines.join('\n') };
}

/** Shorter forms would match unrelated text by chance (a 15-byte value is still 20 base64 characters). */
const MIN_FORM_LENGTH = 16;
const UUID_BYTES = 16;

/**
 * The bytes a string spells when it is canonical base64 or base64url of at least 16 bytes: our token
 * secrets, access keys and admin tokens are base64url, MASTER_KEY is base64, so their raw bytes in hex
 * would leak them as surely as the text itself.
 */
function bytesSpelledBy(text: string): Buffer | undefined {
  const unpadded = text.replace(/=+$/, '');
  let bytes: Buffer | undefined;
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(text)) bytes = Buffer.from(text, 'base64');
  else if (/^[A-Za-z0-9_-]+$/.test(text)) bytes = Buffer.from(text, 'base64url');
  if (bytes === undefined || bytes.length < UUID_BYTES) return undefined;
  const canonical = [bytes.toString('base64').replace(/=+$/, ''), bytes.toString('base64url')];
  return canonical.includes(unpadded) ? bytes : undefined;
}

function byteForms(bytes: Buffer): string[] {
  const hex = bytes.toString('hex');
  const base64 = bytes.toString('base64');
  const forms = [hex, hex.toUpperCase(), base64, base64.replace(/=+$/, ''), bytes.toString('base64url'), encodeURIComponent(base64)];
  if (bytes.length === UUID_BYTES) {
    // Content keys and IVs are 16 bytes: written as a UUID they would look like a KID.
    const uuid = hex.replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5');
    forms.push(uuid, uuid.toUpperCase());
  }
  return forms;
}

/**
 * Every form a secret could leak in. Bytes: hex (both cases), base64 with and without `=` padding,
 * base64url, URL-encoded base64, and the UUID spelling of 16-byte values. A string: itself,
 * URL-encoded, its UTF-8 bytes in all the byte forms, and — when it is canonical base64/base64url of
 * ≥ 16 bytes — the bytes it spells in all the byte forms too. Forms under 16 characters are left out.
 */
export function encodingsOf(secret: string | Buffer): string[] {
  const forms = new Set<string>();
  const add = (list: readonly string[]) => list.forEach((form) => forms.add(form));
  if (typeof secret === 'string') {
    add([secret, encodeURIComponent(secret), ...byteForms(Buffer.from(secret, 'utf8'))]);
    const spelled = bytesSpelledBy(secret);
    if (spelled !== undefined) add(byteForms(spelled));
  } else {
    add(byteForms(secret));
  }
  return [...forms].filter((form) => form.length >= MIN_FORM_LENGTH);
}

/** A secret with the name a failure report may show instead of it. */
export interface NamedSecret {
  readonly name: string;
  readonly value: string | Buffer;
}

/**
 * Which secrets appear, in any `encodingsOf` form, in which of `lines`: `"<name> in line <i>"` per hit,
 * so a failing assertion names the leak without printing the secret.
 */
export function findSecretLeaks(lines: readonly string[], secrets: readonly NamedSecret[]): string[] {
  const text = lines.join('\n');
  const leaks: string[] = [];
  for (const { name, value } of secrets) {
    const forms = encodingsOf(value).filter((form) => text.includes(form));
    if (forms.length === 0) continue;
    lines.forEach((line, index) => {
      if (forms.some((form) => line.includes(form))) leaks.push(`${name} in line ${index}`);
    });
  }
  return leaks;
}
