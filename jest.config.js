const { existsSync, readFileSync, readdirSync } = require('node:fs');
const { dirname, join, resolve } = require('node:path');

// Third-party vectors are read in place from ../shared (never copied). Outside CI, when that folder
// is absent, every test file that depends on it (directly or through a test helper) is left out with
// one clear message: jest runs the bodies of skipped describe blocks while collecting, so a per-test
// skip is not enough for files that load vectors at collection time. Under CI=true nothing is left
// out, and test/support/shared-vectors.ts fails loudly instead.
const SHARED = resolve(process.env.CPIX_SHARED ?? resolve(__dirname, '../shared'));
const SHARED_VECTORS = resolve(process.env.CPIX_SHARED_VECTORS ?? join(SHARED, 'vectors'));

const SHARED_VECTORS_MODULE = join(__dirname, 'test', 'support', 'shared-vectors.ts');

function testFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? testFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Whether a test file imports test/support/shared-vectors, following relative imports. */
function needsSharedVectors(file, seen = new Set()) {
  if (file === SHARED_VECTORS_MODULE) return true; // reached through another helper (speke-http, …)
  if (seen.has(file) || !existsSync(file)) return false;
  seen.add(file);
  const source = readFileSync(file, 'utf8');
  if (/support\/shared-vectors['"]/.test(source)) return true;
  const imports = [...source.matchAll(/from '(\.[^']+)'/g)].map((m) => resolve(dirname(file), `${m[1]}.ts`));
  return imports.some((path) => path.includes(`${join(__dirname, 'test')}`) && needsSharedVectors(path, seen));
}

let leftOut = [];
if (!existsSync(SHARED_VECTORS) && process.env.CI !== 'true') {
  leftOut = testFiles(join(__dirname, 'test')).filter((file) => file.endsWith('.test.ts') && needsSharedVectors(file));
  console.warn(
    `cpix-kms: shared vectors not found at ${SHARED_VECTORS}; leaving out ${leftOut.length} test files that need them ` +
      '(check out ../shared or set CPIX_SHARED_VECTORS)',
  );
}

/** Test files run by jest.serial.config.js, not by this configuration. */
const SERIAL_TESTS = '\\.serial\\.test\\.ts$';

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // `*.serial.test.ts` fault Redis under load and bound answers by the command timeout: they run alone
  // afterwards (jest.serial.config.js), not beside suites that load both cores with services of their own.
  testPathIgnorePatterns: ['/node_modules/', SERIAL_TESTS, ...leftOut.map((file) => file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: false }] },
  // Store tests share one real Redis; files run in parallel but each uses its own key prefix.
  maxWorkers: 2,
  testTimeout: 20000,
};
// Not enumerable: jest validates the configuration's own keys.
Object.defineProperty(module.exports, 'SERIAL_TESTS', { value: SERIAL_TESTS, enumerable: false });
