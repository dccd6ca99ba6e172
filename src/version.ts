import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** The package version, read once from package.json (one source of truth for releases). */
export const SERVICE_VERSION: string = (JSON.parse(readFileSync(resolve(__dirname, '../package.json'), 'utf8')) as { version: string }).version;

/** What the service calls itself in `X-Speke-User-Agent` / `Speke-User-Agent` (the response headers of AWS SPEKE API v1 and v2). */
export const SERVICE_USER_AGENT = `cpix-kms/${SERVICE_VERSION}`;
