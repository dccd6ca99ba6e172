import { readFileSync } from 'node:fs';

import { sharedPath, vectorPath } from '../../support/shared-vectors';

/**
 * Reads the DRM-signaling vectors of ../shared/docs/drm-signaling.md §6 in place (never copied into the
 * project). Inputs and expected values come from the markdown tables; where the table elides a long
 * value and says "full string in tools/check-signaling-vectors.mjs" the full literal is read from that
 * script's `check('<id> …', …, '<expected>')` call; real KMS captures are read from vectors/pallycon/.
 */

const cache = new Map<string, string>();
function read(path: string): string {
  let text = cache.get(path);
  if (text === undefined) {
    text = readFileSync(path, 'utf8');
    cache.set(path, text);
  }
  return text;
}

export const SIGNALING_DOC = ['docs', 'drm-signaling.md'] as const;
const CHECKER = ['tools', 'check-signaling-vectors.mjs'] as const;

/** One table row of docs/drm-signaling.md §6. */
export interface SignalingVectorRow {
  readonly id: string;
  /** Cells after the id, as written (markdown, backticks kept). */
  readonly cells: readonly string[];
  /** The whole row, for "the doc names this input" assertions. */
  readonly text: string;
  /** The last cell: the upstream source. */
  readonly source: string;
}

/** The row whose first cell is `id` (e.g. `V12`, `V16a–d`); throws if the doc has no such row. */
export function signalingVector(id: string): SignalingVectorRow {
  const doc = read(sharedPath(...SIGNALING_DOC));
  const line = doc.split('\n').find((l) => l.startsWith(`| ${id} |`));
  if (line === undefined) throw new Error(`docs/drm-signaling.md has no vector row ${id}`);
  const cells = line.split('|').slice(1, -1).map((cell) => cell.trim());
  return { id, cells: cells.slice(1), text: line, source: cells[cells.length - 1] ?? '' };
}

/** The contents of every `code span` in a markdown cell, in order. */
export function codeSpans(markdown: string): string[] {
  return [...markdown.matchAll(/`([^`]+)`/g)].map((match) => match[1] ?? '');
}

/** The n-th code span of a row (across all cells); throws when missing. */
export function codeSpan(row: SignalingVectorRow, index: number): string {
  const span = codeSpans(row.cells.join(' | '))[index];
  if (span === undefined) throw new Error(`${row.id} has no code span #${index}`);
  return span;
}

/** The expected literal of the checker's `check('<id> …', <expr>, '<expected>')` call. */
export function checkerExpected(id: string): string {
  const script = read(sharedPath(...CHECKER));
  const pattern = new RegExp(`check\\('${id} [^']*',[\\s\\S]*?,\\s*'([^']+)'\\);`);
  const match = pattern.exec(script);
  if (match?.[1] === undefined) throw new Error(`tools/check-signaling-vectors.mjs has no check for ${id}`);
  return match[1];
}

/** `<cpix:PSSH>` of the DRMSystem with `systemId` (any case) in a verbatim PallyCon response. */
export function pallyConResponsePssh(file: string, systemId: string): string {
  const xml = read(vectorPath('pallycon', file));
  for (const match of xml.matchAll(/<cpix:DRMSystem\b[^>]*\bsystemId="([^"]+)"[^>]*>([\s\S]*?)<\/cpix:DRMSystem>/g)) {
    if ((match[1] ?? '').toLowerCase() !== systemId.toLowerCase()) continue;
    const pssh = /<cpix:PSSH>([^<]+)<\/cpix:PSSH>/.exec(match[2] ?? '');
    if (pssh?.[1] !== undefined) return pssh[1].trim();
  }
  throw new Error(`${file} has no PSSH for ${systemId}`);
}

/** `<cpix:URIExtXKey>` values of a verbatim PallyCon response, decoded from base64. */
export function pallyConResponseUriExtXKeys(file: string): string[] {
  const xml = read(vectorPath('pallycon', file));
  return [...xml.matchAll(/<cpix:URIExtXKey>([^<]+)<\/cpix:URIExtXKey>/g)].map((m) => Buffer.from(m[1] ?? '', 'base64').toString('utf8'));
}

/** One key of a DoveRunner CPIX client JSON capture (vectors/pallycon/doverunner-*.json). */
export interface DoveRunnerKey {
  readonly key_id_hex: string;
  readonly key_hex: string;
  readonly widevine: { readonly pssh: string; readonly pssh_payload_only: string };
  readonly playready: { readonly pssh: string; readonly pssh_payload_only: string };
  readonly fairplay: { readonly key_uri: string };
}

export function doveRunnerCapture(file: string): { readonly content_id: string; readonly content_key_list: readonly DoveRunnerKey[] } {
  return JSON.parse(read(vectorPath('pallycon', file))) as { content_id: string; content_key_list: DoveRunnerKey[] };
}

/** 16 big-endian bytes of a UUID written with or without dashes. */
export const uuidBytes = (uuid: string): Buffer => Buffer.from(uuid.replace(/-/g, ''), 'hex');
export const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');
export const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
