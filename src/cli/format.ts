/**
 * Human-readable output. Values shown here come from the service, and some were chosen by whoever
 * holds a KMS token (content IDs in the audit trail and in key lists): control characters are shown
 * escaped so a crafted value cannot drive the operator's terminal (ANSI escape injection).
 */

// C0, DEL and C1 controls: C1 includes U+009B, which some terminals read as CSI.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

export function printable(value: string): string {
  return value.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** A cell: absent values print as `-`. */
export function cell(value: string | number | boolean | undefined): string {
  return value === undefined ? '-' : printable(String(value));
}

/** Left-aligned columns, two spaces apart; the last column is not padded. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((text, i) => (i === cells.length - 1 ? text : text.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)];
}

/** `label: value` lines with the values aligned. */
export function fields(pairs: readonly (readonly [string, string])[]): string[] {
  const width = Math.max(...pairs.map(([label]) => label.length)) + 1;
  return pairs.map(([label, value]) => `${`${label}:`.padEnd(width)} ${value}`);
}

export interface Output {
  /** One line of human output on stdout. */
  line(text: string): void;
  /** A JSON document on stdout (`--json`). */
  json(value: unknown): void;
  /**
   * A secret the API returns once (KMS token, access key, license-server credential): on stdout
   * only, never stderr, which is where logs and CI output usually end up.
   */
  secret(label: string, value: string): void;
  /** A warning or note on stderr; never carries a secret. */
  warn(text: string): void;
}

export function createOutput(stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream): Output {
  return {
    line: (text) => stdout.write(`${text}\n`),
    json: (value) => stdout.write(`${JSON.stringify(value, null, 2)}\n`),
    secret: (label, value) => stdout.write(`${label} (shown once, store it now): ${value}\n`),
    warn: (text) => stderr.write(`cpix-kms: ${text}\n`),
  };
}
