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

/** Every encoding a secret could leak in: raw, hex, base64 (both alphabets), URL-encoded. */
export function encodingsOf(secret: string | Buffer): string[] {
  const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret;
  const forms = [bytes.toString('hex'), bytes.toString('base64'), bytes.toString('base64url')];
  if (typeof secret === 'string') forms.push(secret, encodeURIComponent(secret));
  return forms.filter((form) => form.length >= 16);
}
