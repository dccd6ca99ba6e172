/**
 * Time-based key periods of a rotating content (docs/content-policies.md): period i of a content
 * whose policy rotates every I covers [i·I, (i+1)·I) since 1970-01-01T00:00:00Z, so every packager,
 * the key server and the license server agree on a period from its index alone.
 */
export function periodBounds(periodIndex: number, intervalMs: number): { readonly start: string; readonly end: string } {
  return {
    start: new Date(periodIndex * intervalMs).toISOString(),
    end: new Date((periodIndex + 1) * intervalMs).toISOString(),
  };
}
