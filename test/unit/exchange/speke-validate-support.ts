import { parseCpixDocument } from '../../../src/cpix/parse';
import { checkReferences } from '../../../src/cpix/parse-references';
import { ServiceError } from '../../../src/errors';
import { validateSpekeV2, type SpekeV2Version } from '../../../src/exchange/speke/validate-v2';
import { mapError } from '../../../src/http/error-mapping';

/** What the SPEKE v2 pipeline (parse, then validate) makes of one request body. */
export type Outcome =
  | { readonly kind: 'accepted' }
  /** `SpekeRejected`: `body` is the exact SPEKE v2 error string the route sends. */
  | { readonly kind: 'rejected'; readonly body: string; readonly status: number }
  /** Any other `ServiceError` (the parser's `CpixInvalid` / `CpixUnsupported`). */
  | { readonly kind: 'parser'; readonly code: string; readonly status: number };

/**
 * Runs `xml` through the SPEKE v2 route's intake (src/http/routes/key-exchange.ts): parse without
 * reference checks, the SPEKE v2 request checks (`validateSpekeV2`), then the parser's reference
 * checks. Anything but a `ServiceError` is rethrown.
 */
export function outcomeOf(xml: string | Buffer, version: SpekeV2Version = '2.0'): Outcome {
  try {
    const document = parseCpixDocument(xml, undefined, { references: 'skip' });
    validateSpekeV2(document, version);
    checkReferences(document);
    return { kind: 'accepted' };
  } catch (error) {
    if (!(error instanceof ServiceError)) throw error;
    const { status } = mapError(error);
    if (error.code === 'ERR_SPEKE_REJECTED') return { kind: 'rejected', body: error.message, status };
    return { kind: 'parser', code: error.code, status };
  }
}

export const rejected = (body: string): Outcome => ({ kind: 'rejected', body, status: 422 });
export const parserInvalid: Outcome = { kind: 'parser', code: 'ERR_CPIX_INVALID', status: 400 };
export const accepted: Outcome = { kind: 'accepted' };

/**
 * Replaces every match of `pattern` (or only the first, with `scope: 'first'`) and fails the test if
 * nothing matched, so a mutation that stopped applying cannot turn a negative case into a vacuous pass.
 */
export function mutate(xml: string, pattern: RegExp, replacement: string, scope: 'every' | 'first' = 'every'): string {
  const flags = pattern.flags.replace('g', '');
  if (!new RegExp(pattern.source, flags).test(xml)) throw new Error(`mutation ${pattern} matched nothing`);
  return xml.replace(new RegExp(pattern.source, scope === 'every' ? `${flags}g` : flags), replacement);
}
