/**
 * SPEKE dialect selection by the `X-Speke-Version` request header (AWS SPEKE API v2 and v2.1; docs/key-exchange.md, route table).
 * Absent ⇒ SPEKE v1 or a plain CPIX client; `2.0` / `2.1` ⇒ SPEKE v2 strict mode, each bound to one
 * CPIX version.
 */

import { SpekeRejected } from '../../errors';

/** The SPEKE v2 versions this server implements. */
export type SpekeV2Version = '2.0' | '2.1';

/** The exact body AWS SPEKE API v2 gives for an unknown `X-Speke-Version`. */
export const UNSUPPORTED_SPEKE_VERSION = 'Unsupported SPEKE version';

/**
 * The `CPIX@version` each SPEKE version requires (AWS SPEKE API v2 and v2.1: v2.0 is built on CPIX 2.3,
 * v2.1 on CPIX 2.4). A request whose root carries any other value is `Unsupported CPIX@version`.
 */
export const CPIX_VERSION_FOR_SPEKE: Readonly<Record<SpekeV2Version, '2.3' | '2.4'>> = Object.freeze({
  '2.0': '2.3',
  '2.1': '2.4',
});

/**
 * Reads the `X-Speke-Version` header value (the caller looks the header up case-insensitively: API Gateway may change its case).
 *
 * @returns `undefined` when the header is absent (SPEKE v1 / generic CPIX), else the v2 version.
 * @throws SpekeRejected `Unsupported SPEKE version` for any other value, the empty string included:
 *   an encryptor that sends the header speaks v2, and silently answering it in the v1 dialect would
 *   return a document it cannot use (AWS SPEKE API v2: the encryptor must not retry as v1).
 */
export function parseSpekeVersionHeader(value: string | undefined): SpekeV2Version | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (trimmed === '2.0' || trimmed === '2.1') return trimmed;
  throw new SpekeRejected(UNSUPPORTED_SPEKE_VERSION, { detail: 'X-Speke-Version is neither 2.0 nor 2.1' });
}
