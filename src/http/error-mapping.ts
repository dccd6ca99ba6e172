import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { ServiceError, TooManyRequests, type ErrorCode } from '../errors';
import type { Logger } from '../log';

/** HTTP status per error code: the only place statuses are decided. */
const STATUS_BY_CODE: Record<ErrorCode, number> = {
  ERR_CONFIG_INVALID: 500,
  ERR_REQUEST_INVALID: 400,
  ERR_PAYLOAD_TOO_LARGE: 413,
  ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  ERR_CPIX_INVALID: 400,
  ERR_CPIX_UNSUPPORTED: 400,
  ERR_CPIX_SIGNATURE_INVALID: 400,
  ERR_REQUEST_SIGNATURE_REQUIRED: 401,
  // SPEKE v2: "The 422 error code can be used for all errors related to SPEKE/CPIX" (AWS SPEKE API v2).
  ERR_SPEKE_REJECTED: 422,
  ERR_WEAK_CERTIFICATE: 400,
  ERR_AUTH_REQUIRED: 401,
  ERR_FORBIDDEN: 403,
  ERR_RATE_LIMITED: 429,
  ERR_NOT_FOUND: 404,
  ERR_ALREADY_EXISTS: 409,
  ERR_IN_USE: 409,
  ERR_CONCURRENT_CHANGE: 409,
  ERR_KEY_CONFLICT: 409,
  ERR_CONTENT_REVOKED: 410,
  ERR_KEY_UNWRAP_FAILED: 500,
  // The pod cannot serve keys from this store until an operator fixes the key or the store: unavailable,
  // and unready, so a load balancer sends requests to pods that can.
  ERR_MASTER_KEY_MISMATCH: 503,
  ERR_STORE_UNAVAILABLE: 503,
  ERR_KMS_UNAVAILABLE: 503,
  ERR_DURABILITY_NOT_CONFIRMED: 503,
};

/** Seconds a client should wait before retrying after a 503. */
export const RETRY_AFTER_SECONDS = 1;

export interface ErrorBody {
  readonly error: { readonly code: ErrorCode | 'ERR_INTERNAL'; readonly message: string; readonly requestId?: string };
}

export interface MappedError {
  readonly status: number;
  readonly body: ErrorBody;
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * body-parser signals its failures with `status` and `type` on a plain error. A body that does not
 * inflate (`Content-Encoding: gzip` over bytes that are not gzip) arrives as zlib's own error, which
 * body-parser only marks with http-errors' client-error fields (`status` 400, `expose`): still the
 * client's fault, so still 400, never 500 (found by scripts/fuzz.mjs).
 */
function bodyParserCode(error: unknown): ErrorCode | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { type, status, expose } = error as { type?: unknown; status?: unknown; expose?: unknown };
  if (type === undefined) {
    return expose === true && typeof status === 'number' && status >= 400 && status < 500 ? 'ERR_REQUEST_INVALID' : undefined;
  }
  switch (type) {
    case 'entity.too.large':
      return 'ERR_PAYLOAD_TOO_LARGE';
    case 'entity.parse.failed':
    case 'encoding.unsupported':
    case 'charset.unsupported':
    case 'request.aborted':
    case 'request.size.invalid':
      return 'ERR_REQUEST_INVALID';
    default:
      return undefined;
  }
}

/**
 * Where a JSON body stops parsing, from the parser's message: only the offset (V8's messages also
 * quote the text around it, which must not be echoed).
 */
function jsonSyntaxMessage(error: unknown): string | undefined {
  if (!(error instanceof SyntaxError) || (error as { type?: unknown }).type !== 'entity.parse.failed') return undefined;
  const position = /\bat position (\d+)/.exec(error.message)?.[1];
  return position === undefined ? 'request body is not valid JSON (it ends too early)' : `request body is not valid JSON (at byte offset ${position})`;
}

const BODY_PARSER_MESSAGES: Partial<Record<ErrorCode, string>> = {
  ERR_PAYLOAD_TOO_LARGE: 'request body is too large',
  ERR_REQUEST_INVALID: 'request body could not be read',
};

/**
 * Maps any thrown value to a response. Only messages of `ServiceError`s with status < 500, and the
 * fixed messages of dependency failures, reach the client (oidc-provider's expose rule); anything
 * else becomes a fixed "internal error".
 */
export function mapError(error: unknown, requestId?: string): MappedError {
  let code: ErrorCode | 'ERR_INTERNAL' = 'ERR_INTERNAL';
  let status = 500;
  let message = 'internal error';
  if (error instanceof ServiceError) {
    code = error.code;
    status = STATUS_BY_CODE[code];
    if (status < 500 || status === 503) message = error.message;
  } else {
    const parserCode = bodyParserCode(error);
    if (parserCode) {
      code = parserCode;
      status = STATUS_BY_CODE[parserCode];
      message = jsonSyntaxMessage(error) ?? BODY_PARSER_MESSAGES[parserCode] ?? message;
    }
  }
  return {
    status,
    body: { error: { code, message, ...(requestId !== undefined && { requestId }) } },
    headers: retryAfterHeader(error, status),
  };
}

/** `Retry-After` for 503 (a dependency is back within seconds) and 429 (when the failure window closes). */
function retryAfterHeader(error: unknown, status: number): Record<string, string> {
  if (error instanceof TooManyRequests) return { 'Retry-After': String(error.retryAfterSeconds) };
  return status === 503 ? { 'Retry-After': String(RETRY_AFTER_SECONDS) } : {};
}

/** Writes a mapped error in a route family's own format (status and headers are already set). */
export type ErrorBodyWriter = (res: Response, mapped: MappedError) => void;

export const writeJson: ErrorBodyWriter = (res, mapped) => {
  res.json(mapped.body);
};

/**
 * SPEKE encryptors read an error as text: "4XX client error message" (AWS SPEKE API v1 and v2), and for SPEKE v2
 * the body *is* one of the error messages AWS lists (`SpekeRejected.message`; docs/key-exchange.md).
 */
export const writePlainText: ErrorBodyWriter = (res, mapped) => {
  res.type('text/plain; charset=utf-8').send(mapped.body.error.message);
};

/** Express error handler: logs the internal story, sends the safe one (JSON unless `write` says otherwise). */
export function errorHandler(logger: Logger, write: ErrorBodyWriter = writeJson): ErrorRequestHandler {
  return (error: unknown, req, res, _next) => {
    const requestId = res.locals.requestId as string | undefined;
    const mapped = mapError(error, requestId);
    const log = { requestId, code: mapped.body.error.code, status: mapped.status };
    if (error instanceof ServiceError) {
      // The cause's message (a driver's or SDK's text) helps the operator; no code path puts secrets in one.
      const cause = mapped.status >= 500 && error.cause instanceof Error ? error.cause.message : undefined;
      const entry = { ...log, err: { type: error.name, message: error.message, detail: error.detail, cause } };
      if (mapped.status >= 500) logger.error(entry, `request failed: ${error.detail ?? error.message}`);
      else logger.info(entry, `request refused: ${error.detail ?? error.message}`);
    } else if (mapped.status >= 500) {
      // Unknown errors are bugs: log type and stack, which by construction carry no request data.
      const err = error instanceof Error ? { type: error.name, message: error.message, stack: error.stack } : undefined;
      logger.error({ ...log, err }, 'unexpected error');
    }
    if (res.headersSent) {
      req.socket.destroy();
      return;
    }
    write(res.status(mapped.status).set(mapped.headers), mapped);
  };
}

/** Unknown routes answer in the same JSON error shape. */
export const notFoundHandler: RequestHandler = (_req, res) => {
  const requestId = res.locals.requestId as string | undefined;
  res.status(404).json({ error: { code: 'ERR_NOT_FOUND', message: 'no such route', ...(requestId && { requestId }) } });
};
