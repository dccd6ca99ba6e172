import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { requireBuiltService } from '../support/service-process';
import { describeWithVectors, SHARED } from '../support/shared-vectors';

/**
 * The HTTP fuzzer (scripts/fuzz.mjs; docs/testing.md) as CI runs it: a few thousand mutated requests
 * through every key route of the built service. The seed is fixed so a CI failure replays exactly
 * (`npm run fuzz -- --seed 20261206 --case N`); `npm run fuzz` on its own draws a new seed each run.
 */
const SEED = 20261206;
const COUNT = 2000;
const SCRIPT = resolve(__dirname, '../../scripts/fuzz.mjs');
const ROUTES = [
  'SPEKE v1', 'SPEKE v2.0', 'SPEKE v2.1', 'SPEKE v2.0 (path alias)', 'PallyCon SPEKE (enc-token)', 'PallyCon CPIX v1',
  'PallyCon CPIX v1 (legacy path)', 'PallyCon CPIX v2', 'DoveRunner CPIX v2 rotation', 'license export',
];

interface FuzzSummary {
  readonly cases: number;
  readonly '2xx': number;
  readonly '4xx': number;
  readonly crashes: number;
  readonly hangs: number;
  readonly 'unexpected 5xx': number;
  readonly 'malformed 2xx': number;
  readonly leaks: number;
  readonly 'distinct keys handed out': number;
  readonly byRoute: Readonly<Record<string, number>>;
  readonly violations: Readonly<Record<string, number>>;
  readonly samples: readonly unknown[];
  readonly passed: boolean;
}

describeWithVectors('HTTP fuzzing of every key route (scripts/fuzz.mjs)', () => {
  let dir: string;
  beforeAll(() => {
    requireBuiltService();
    dir = mkdtempSync(join(tmpdir(), 'cpix-kms-fuzz-test-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it(`answers ${COUNT} mutated requests with 2xx CPIX or a clean 4xx, and stays up`, async () => {
    const json = join(dir, 'summary.json');
    const run = await promisify(execFile)(process.execPath, [SCRIPT, '--count', String(COUNT), '--seed', String(SEED), '--shared', SHARED, '--json', json], {
      maxBuffer: 16 * 1024 * 1024,
    }).catch((error: { stdout?: string; code?: number }) => ({ stdout: error.stdout ?? '', code: error.code }));
    const summary = JSON.parse(readFileSync(json, 'utf8')) as FuzzSummary;
    // The violations and the first failing cases, so a CI log shows what broke without a rerun.
    expect({ violations: summary.violations, samples: summary.samples }).toEqual({ violations: {}, samples: [] });
    expect(summary).toMatchObject({ cases: COUNT, crashes: 0, hangs: 0, 'unexpected 5xx': 0, 'malformed 2xx': 0, leaks: 0, passed: true });
    expect(run.stdout).toContain('fuzz passed');
    // Not vacuous: keys were created and handed out, refusals happened, every route was exercised.
    expect(summary['2xx']).toBeGreaterThan(COUNT / 20);
    expect(summary['4xx']).toBeGreaterThan(COUNT / 2);
    expect(summary['distinct keys handed out']).toBeGreaterThan(50);
    for (const route of ROUTES) expect({ route, enough: (summary.byRoute[route] ?? 0) > COUNT / 40 }).toEqual({ route, enough: true });
  }, 120_000);
});
