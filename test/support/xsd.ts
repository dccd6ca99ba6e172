import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vectorPath } from './shared-vectors';

/**
 * libxml2's xmllint as an independent XSD validator and C14N implementation, one official schema set
 * per CPIX version. Outside CI a missing xmllint skips the tests that need it with a note; under CI=true it
 * is an error, so a runner without libxml2 cannot pass by skipping.
 */

export const XMLLINT_AVAILABLE = spawnSync('xmllint', ['--version']).status === 0;
if (!XMLLINT_AVAILABLE && process.env.CI === 'true') {
  throw new Error('xmllint not found: CI needs libxml2-utils for XSD validation of CPIX responses');
}

/** `describe` when xmllint runs, `describe.skip` (with a console note) when not. */
export const describeWithXmllint: jest.Describe = XMLLINT_AVAILABLE
  ? describe
  : (((name: string, fn: () => void) => {
      // eslint-disable-next-line no-console
      console.warn(`skipping "${name}": xmllint not found (apt-get install libxml2-utils)`);
      describe.skip(name, fn);
    }) as jest.Describe);

/** Versions with an official schema under ../shared/vectors/cpix-schemas. */
export type SchemaVersion = '2.1' | '2.2' | '2.3' | '2.3.1' | '2.4';

export interface XsdResult {
  readonly valid: boolean;
  /** xmllint's stderr: the validation errors, with the temp file name. */
  readonly messages: string;
}

/** Validates `xml` against the official CPIX XSD of `version` (read in place, `--nonet`). */
export function validateAgainstCpixXsd(xml: string, version: SchemaVersion): XsdResult {
  return withTempFile(xml, (file) => {
    const run = spawnSync('xmllint', ['--nonet', '--noout', '--schema', vectorPath('cpix-schemas', version, 'cpix.xsd'), file], {
      encoding: 'utf8',
    });
    if (run.status !== 0 && run.status !== 3) throw new Error(`xmllint failed (${String(run.status)}): ${run.stderr}`);
    return { valid: run.status === 0, messages: run.stderr };
  });
}

/** libxml2's inclusive C14N 1.0 of a document (`xmllint --c14n`; it keeps comments, so feed none). */
export function xmllintC14n(xml: string): string {
  return withTempFile(xml, (file) => execFileSync('xmllint', ['--nonet', '--c14n', file], { encoding: 'utf8' }));
}

function withTempFile<T>(content: string, use: (file: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'cpix-xmllint-'));
  try {
    const file = join(dir, 'document.xml');
    writeFileSync(file, content, 'utf8');
    return use(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
