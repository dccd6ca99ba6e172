/**
 * What of a client's text a CPIX error message may show. Messages reach the client in 4xx bodies and
 * the logs, so request text appears in them only when it is short and harmless — an NCName-like
 * identifier or keyword — and otherwise not at all: it may be key material, markup for whatever
 * renders the body, or an attack payload (the fuzzer's "no markup, no echo in a 4xx body" rules).
 */

const SHOWABLE = /^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,63}$/;

/** Whether `value` may appear in an error message as it is. */
export function isShowable(value: string): boolean {
  return SHOWABLE.test(value);
}

/** `="value"` for a showable value, to follow an attribute's path; nothing otherwise. */
export function shownValue(value: string): string {
  return isShowable(value) ? `="${value}"` : '';
}

/** The builder's step for a list item: `Name[id]` when the id is showable, else `Name[position]` (1-based). */
export function shownItem(name: string, id: string | undefined, position: number): string {
  return `${name}[${id !== undefined && isShowable(id) ? id : position}]`;
}
