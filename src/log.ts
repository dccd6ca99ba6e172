import pino, { type Logger } from 'pino';
import type { LogLevel } from './config/config';

export type { Logger };

/**
 * What a log line may say about an error: its type and message (and a ServiceError's internal
 * detail). Never the whole object: driver errors carry command arguments and SDK errors raw
 * responses, which can hold key material.
 */
export function errorSummary(error: unknown): { type: string; message: string; detail?: string } | undefined {
  if (!(error instanceof Error)) return undefined;
  const detail = (error as { detail?: unknown }).detail;
  return { type: error.name, message: error.message, ...(typeof detail === 'string' && { detail }) };
}

/**
 * JSON logs (pino). Redaction is a second line of defence: request logging never passes headers,
 * bodies or raw URLs (see http/redact.ts), and no code path logs key material.
 */
export function createLogger(level: LogLevel, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'cpix-kms' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: [
          'headers.authorization',
          'headers["x-kms-token"]',
          'headers.cookie',
          '*.headers.authorization',
          '*.headers["x-kms-token"]',
          '*.headers.cookie',
          '*.authorization',
          '*["x-kms-token"]',
          '*["enc-token"]',
          '*.token',
          '*.accessKey',
          '*.key',
          '*.password',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
