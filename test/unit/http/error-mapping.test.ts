import { createGunzip } from 'node:zlib';
import { mapError } from '../../../src/http/error-mapping';

/** What body-parser's http-errors `createError(status, error, props)` leaves on an error. */
function createError(status: number, cause: string | Error, props: Record<string, string> = {}): Error {
  const error = typeof cause === 'string' ? new Error(cause) : cause;
  return Object.assign(error, { status, statusCode: status, expose: status < 500, ...props });
}

/** zlib's error for bytes that are not gzip, as body-parser passes it on (createError(400, error)). */
function notGzipError(): Promise<Error> {
  return new Promise((resolve) => {
    const gunzip = createGunzip();
    gunzip.on('error', (error) => resolve(createError(400, error)));
    gunzip.end(Buffer.from('<CPIX/>'));
  });
}

describe('mapError: body-reading failures are the client\'s (400/413), never internal', () => {
  it.each([
    ['body-parser limit', () => Promise.resolve(createError(413, 'request entity too large', { type: 'entity.too.large' })), 413, 'ERR_PAYLOAD_TOO_LARGE', 'request body is too large'],
    ['unknown Content-Encoding', () => Promise.resolve(createError(415, 'unsupported content encoding "x"', { type: 'encoding.unsupported' })), 400, 'ERR_REQUEST_INVALID', 'request body could not be read'],
    ['Content-Encoding gzip over bytes that are not gzip', notGzipError, 400, 'ERR_REQUEST_INVALID', 'request body could not be read'],
    ['a plain Error', () => Promise.resolve(new Error('boom')), 500, 'ERR_INTERNAL', 'internal error'],
    ['a server-side http-error (not exposed)', () => Promise.resolve(createError(502, 'upstream')), 500, 'ERR_INTERNAL', 'internal error'],
  ] as const)('%s', async (_name, make, status, code, message) => {
    const mapped = mapError(await make());
    expect({ status: mapped.status, code: mapped.body.error.code, message: mapped.body.error.message }).toEqual({ status, code, message });
  });
});
