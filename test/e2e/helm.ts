import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';

/**
 * The real `helm` binary for the chart tests (helm-chart.test.ts, helm-unittest.test.ts): from HELM_BIN or
 * PATH (`.ci/run` provides one). Without it those tests are skipped outside CI and fail under CI=true.
 */

export const CHART = resolve(__dirname, '../../helm/cpix-kms');

function findHelm(): string | undefined {
  if (process.env.HELM_BIN) return process.env.HELM_BIN;
  return (process.env.PATH ?? '')
    .split(delimiter)
    .map((dir) => join(dir, 'helm'))
    .find((path) => path !== 'helm' && existsSync(path));
}

export const HELM = findHelm();

/** `describe`, or `describe.skip` with a note when there is no helm (an error under CI=true instead). */
export function describeWithHelm(name: string, body: () => void): void {
  if (HELM === undefined && process.env.CI === 'true') {
    throw new Error('helm is missing under CI=true: .ci/run installs it and sets HELM_BIN');
  }
  if (HELM === undefined) {
    console.warn(`${name}: no helm (HELM_BIN or PATH); skipped (bash .ci/run installs one)`);
    // Not `describe.skip(name, body)`: jest still runs a skipped body to collect its tests, and a body
    // that renders the chart while collecting (helm-unittest.test.ts) would call the missing helm.
    describe.skip(name, () => {
      it('needs helm', () => undefined);
    });
  } else {
    describe(name, body);
  }
}

/** Runs helm; throws (with helm's stderr) when it exits non-zero. */
export function helm(args: readonly string[]): string {
  return execFileSync(HELM as string, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
}

/** Runs helm without throwing: its exit status, stdout and stderr. */
export function helmResult(args: readonly string[]): { readonly status: number | null; readonly stdout: string; readonly stderr: string } {
  const result = spawnSync(HELM as string, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export const asObject = (value: Json | undefined): JsonObject =>
  value !== null && typeof value === 'object' && !Array.isArray(value) ? value : {};
export const asArray = (value: Json | undefined): Json[] => (Array.isArray(value) ? value : []);

/**
 * YAML documents (each a mapping) to JSON, parsed by helm's own YAML parser: each document is indented
 * under one key of a values file, and a one-line chart prints those values with `toJson`. So the tests
 * need no YAML library of their own and read manifests as helm and Kubernetes do. (Helm drops keys whose
 * value is null while it merges values; no document read here relies on one.)
 */
export function yamlToJson(documents: readonly string[]): JsonObject[] {
  if (documents.length === 0) return [];
  const dir = mkdtempSync(join(tmpdir(), 'cpix-kms-yaml2json-'));
  try {
    mkdirSync(join(dir, 'chart/templates'), { recursive: true });
    writeFileSync(join(dir, 'chart/Chart.yaml'), 'apiVersion: v2\nname: yaml2json\nversion: 0.0.0\n');
    writeFileSync(join(dir, 'chart/templates/json.yaml'), '{{ toJson .Values.docs }}\n');
    const indented = documents.map(
      (doc, i) => `  d${i}:\n${doc.split('\n').map((line) => (line.trim() === '' ? '' : `    ${line}`)).join('\n')}`,
    );
    writeFileSync(join(dir, 'values.yaml'), `docs:\n${indented.join('\n')}\n`);
    const out = helm(['template', 'yaml2json', join(dir, 'chart'), '-f', join(dir, 'values.yaml')]);
    const parsed = JSON.parse(out.slice(out.indexOf('{'))) as Record<string, JsonObject>;
    return documents.map((_, i) => parsed[`d${i}`] ?? {});
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface RenderedDocument {
  /** Template path, e.g. `templates/deployment.yaml`. */
  readonly template: string;
  readonly manifest: JsonObject;
}

/**
 * Splits `helm template` output into its documents, each with the template it came from (helm's
 * `# Source:` line), as JSON.
 */
export function parseRendered(output: string): RenderedDocument[] {
  const documents = output
    .split(/^---\s*$/m)
    .map((text) => ({ text, source: /^# Source: [^/\n]+\/(.+)$/m.exec(text)?.[1] }))
    .filter((doc): doc is { text: string; source: string } => doc.source !== undefined && /^[A-Za-z]+:/m.test(doc.text));
  const manifests = yamlToJson(documents.map((doc) => doc.text));
  return documents.map((doc, i) => ({ template: doc.source, manifest: manifests[i] as JsonObject }));
}
