import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { asArray, asObject, CHART, describeWithHelm, helmResult, parseRendered, yamlToJson, type Json, type JsonObject } from './helm';

/**
 * Runs the chart's helm-unittest suites (helm/cpix-kms/unittests/*_test.yaml) against templates rendered
 * by the real `helm template`, because the helm-unittest plugin cannot be installed here (it downloads its
 * binary from GitHub). This is a small interpreter of the subset of the suite format those files use:
 * suite- and test-level `set`, `templates`, and the assertions isKind, isAPIVersion, equal, notExists,
 * isSubset, contains, matchRegex, lengthEqual, hasDocuments and failedTemplate, each applied to every
 * document of the suite's templates, as helm-unittest does without `documentIndex`. Release and namespace
 * are helm-unittest's defaults, RELEASE-NAME and NAMESPACE (rendered as `release-name`, which helm accepts,
 * then renamed). A suite that uses anything else fails here, so the interpreter cannot silently pass what
 * it does not understand.
 */

const SUITES_DIR = join(CHART, 'unittests');
const RELEASE = 'RELEASE-NAME';
const HELM_RELEASE = 'release-name';
const NAMESPACE = 'NAMESPACE';

const KNOWN_ASSERTIONS = new Set([
  'isKind',
  'isAPIVersion',
  'equal',
  'notExists',
  'isSubset',
  'contains',
  'matchRegex',
  'lengthEqual',
  'hasDocuments',
  'failedTemplate',
]);

/** `a.b[0].c["d/e"]` → ['a', 'b', 0, 'c', 'd/e']. */
function pathSegments(path: string): (string | number)[] {
  const segments: (string | number)[] = [];
  const pattern = /([^.[\]]+)|\[(\d+)\]|\["([^"]+)"\]|\['([^']+)'\]|(\.)/g;
  let match: RegExpExecArray | null;
  let consumed = 0;
  while ((match = pattern.exec(path)) !== null) {
    if (match.index !== consumed) throw new Error(`unsupported path syntax: ${path}`);
    consumed = pattern.lastIndex;
    if (match[1] !== undefined) segments.push(match[1]);
    else if (match[2] !== undefined) segments.push(Number(match[2]));
    else if (match[3] !== undefined) segments.push(match[3]);
    else if (match[4] !== undefined) segments.push(match[4]);
  }
  if (consumed !== path.length) throw new Error(`unsupported path syntax: ${path}`);
  return segments;
}

/** The value at `path`, or `undefined` when any segment is missing. */
function lookup(document: Json, path: string): Json | undefined {
  let value: Json | undefined = document;
  for (const segment of pathSegments(path)) {
    if (typeof segment === 'number') value = Array.isArray(value) ? value[segment] : undefined;
    else value = value !== null && typeof value === 'object' && !Array.isArray(value) ? value[segment] : undefined;
    if (value === undefined) return undefined;
  }
  return value;
}

/** Deep equality of JSON values (key order ignored). */
function same(a: Json | undefined, b: Json | undefined): boolean {
  return JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
}
function sortKeys(value: Json | undefined): Json | undefined {
  if (Array.isArray(value)) return value.map((item) => sortKeys(item) as Json);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((key) => [key, sortKeys(value[key]) as Json]));
  }
  return value;
}

/** helm-unittest `set` (dotted paths to YAML values) → `--set-json` arguments. */
function setArguments(set: JsonObject): string[] {
  return Object.entries(set).flatMap(([path, value]) => ['--set-json', `${path}=${JSON.stringify(value)}`]);
}

interface Outcome {
  readonly failed?: string;
  readonly documents: readonly JsonObject[];
}

function renderSuite(templates: readonly string[], set: JsonObject): Outcome {
  const result = helmResult(['template', HELM_RELEASE, CHART, '--namespace', NAMESPACE, ...setArguments(set)]);
  if (result.status !== 0) return { failed: result.stderr, documents: [] };
  const renamed = result.stdout.split(HELM_RELEASE).join(RELEASE);
  const wanted = new Set(templates.map((template) => `templates/${template}`));
  return { documents: parseRendered(renamed).filter((doc) => wanted.has(doc.template)).map((doc) => doc.manifest) };
}

/** Problems with one assertion against the rendered outcome; empty when it holds. */
function check(kind: string, spec: JsonObject, outcome: Outcome): string[] {
  if (kind === 'failedTemplate') {
    if (outcome.failed === undefined) return ['rendered, but a failure was expected'];
    const pattern = spec.errorPattern ?? spec.errorMessage;
    return typeof pattern === 'string' && !new RegExp(pattern).test(outcome.failed) ? [`error ${JSON.stringify(outcome.failed.trim())} does not match /${pattern}/`] : [];
  }
  if (outcome.failed !== undefined) return [`rendering failed: ${outcome.failed.trim()}`];
  if (kind === 'hasDocuments') {
    return outcome.documents.length === spec.count ? [] : [`${outcome.documents.length} documents, expected ${String(spec.count)}`];
  }
  if (outcome.documents.length === 0) return ['no document rendered'];
  return outcome.documents.flatMap((document, index) => {
    const at = (message: string) => `document ${index}: ${message}`;
    const path = typeof spec.path === 'string' ? spec.path : undefined;
    const actual = path === undefined ? undefined : lookup(document, path);
    switch (kind) {
      case 'isKind':
        return document.kind === spec.of ? [] : [at(`kind ${String(document.kind)}, expected ${String(spec.of)}`)];
      case 'isAPIVersion':
        return document.apiVersion === spec.of ? [] : [at(`apiVersion ${String(document.apiVersion)}, expected ${String(spec.of)}`)];
      case 'equal':
        return same(actual, spec.value) ? [] : [at(`${path}: ${JSON.stringify(actual)}, expected ${JSON.stringify(spec.value)}`)];
      case 'notExists':
        return actual === undefined ? [] : [at(`${path} exists: ${JSON.stringify(actual)}`)];
      case 'isSubset': {
        const object = asObject(actual);
        const missing = Object.entries(asObject(spec.content)).filter(([key, value]) => !same(object[key], value));
        return missing.length === 0 ? [] : [at(`${path} lacks ${JSON.stringify(Object.fromEntries(missing))}; it is ${JSON.stringify(actual)}`)];
      }
      case 'contains':
        return asArray(actual).some((item) => same(item, spec.content)) ? [] : [at(`${path} does not contain ${JSON.stringify(spec.content)}: ${JSON.stringify(actual)}`)];
      case 'matchRegex':
        return typeof actual === 'string' && new RegExp(String(spec.pattern)).test(actual) ? [] : [at(`${path}: ${JSON.stringify(actual)} does not match /${String(spec.pattern)}/`)];
      case 'lengthEqual':
        return asArray(actual).length === spec.count ? [] : [at(`${path} has ${asArray(actual).length} items, expected ${String(spec.count)}`)];
      default:
        return [at(`unsupported assertion ${kind}`)];
    }
  });
}

const SUITE_FILES = readdirSync(SUITES_DIR)
  .filter((file) => file.endsWith('_test.yaml'))
  .sort();

describeWithHelm('helm-unittest suites of the chart, rendered by helm', () => {
  const suites = yamlToJson(SUITE_FILES.map((file) => readFileSync(join(SUITES_DIR, file), 'utf8')));
  const cases = suites.flatMap((suite, i) =>
    asArray(suite.tests).map((test) => [`${SUITE_FILES[i]}: ${String(asObject(test).it)}`, suite, asObject(test)] as const),
  );

  it('has suites with tests', () => {
    expect(SUITE_FILES.length).toBeGreaterThanOrEqual(6);
    expect(cases.length).toBeGreaterThan(40);
  });

  it.each(cases)('%s', (_name, suite, test) => {
    const unknownKeys = Object.keys(test).filter((key) => !['it', 'set', 'asserts'].includes(key));
    expect(unknownKeys).toEqual([]); // documentIndex, template, release…: not interpreted here
    const outcome = renderSuite(
      asArray(suite.templates).map(String),
      { ...asObject(suite.set), ...asObject(test.set) },
    );
    const problems = asArray(test.asserts).flatMap((assertion) => {
      const [kind, spec] = Object.entries(asObject(assertion))[0] ?? ['(empty)', null];
      if (!KNOWN_ASSERTIONS.has(kind)) return [`unsupported assertion ${kind}`];
      return check(kind, asObject(spec), outcome).map((problem) => `${kind}: ${problem}`);
    });
    expect(problems).toEqual([]);
  });
});
