import pino, { type Logger } from 'pino';
import type { LogLevel } from './config/config';

export type { Logger };

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
          'req.headers.authorization',
          'req.headers["x-kms-token"]',
          'req.headers.cookie',
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
