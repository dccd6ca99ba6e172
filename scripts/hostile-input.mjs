// Timing and memory check for the hardened XML intake (hostile input must be refused "in well
// under 50 ms without memory growth"). Not a jest test on purpose: timings are flaky under a test runner.
//
//   npm run build && node --expose-gc scripts/hostile-input.mjs
//
// Prints, per case: refused?, error code, median ms of 20 runs, heap growth (MB) after 20 runs + GC.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { parseXml } = require('../dist/xml/safe-parse.js');

const CPIX = 'urn:dashif:org:cpix';
const RUNS = 20;

const cases = [
  ['XXE file', () => `<?xml version="1.0"?><!DOCTYPE CPIX [<!ENTITY x SYSTEM "file:///etc/passwd">]><CPIX xmlns="${CPIX}">&x;</CPIX>`],
  ['XXE URL', () => `<!DOCTYPE CPIX [<!ENTITY x SYSTEM "http://attacker.example/xxe">]><CPIX xmlns="${CPIX}">&x;</CPIX>`],
  ['billion laughs', () => {
    const entities = ['<!ENTITY lol0 "lol">'];
    for (let i = 1; i <= 9; i += 1) entities.push(`<!ENTITY lol${i} "${`&lol${i - 1};`.repeat(10)}">`);
    return `<!DOCTYPE CPIX [${entities.join('')}]><CPIX xmlns="${CPIX}">&lol9;</CPIX>`;
  }],
  ['quadratic blow-up', () => `<!DOCTYPE CPIX [<!ENTITY a "${'A'.repeat(50_000)}">]><CPIX xmlns="${CPIX}">${'&a;'.repeat(10_000)}</CPIX>`],
  ['10,000-deep nesting', () => `${'<a>'.repeat(10_000)}${'</a>'.repeat(10_000)}`],
  ['10 MB body (Buffer)', () => Buffer.concat([Buffer.from(`<CPIX xmlns="${CPIX}">`), Buffer.alloc(10 * 1024 * 1024, 0x41), Buffer.from('</CPIX>')])],
  ['100k elements', () => `<CPIX xmlns="${CPIX}">${'<e/>'.repeat(100_000)}</CPIX>`],
  ['2 MB attribute value', () => `<CPIX xmlns="${CPIX}" id="${'B'.repeat(2 * 1024 * 1024)}"/>`],
  ['1000 attributes', () => `<CPIX xmlns="${CPIX}" ${Array.from({ length: 1000 }, (_, i) => `a${i}="v"`).join(' ')}/>`],
  ['invalid UTF-8', () => Buffer.concat([Buffer.from(`<CPIX xmlns="${CPIX}" id="`), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"/>')])],
  ['undeclared prefix', () => `<CPIX xmlns="${CPIX}"><ds:X509Data>x</ds:X509Data></CPIX>`],
];

const gc = globalThis.gc ?? (() => {});
const mb = (bytes) => (bytes / 1024 / 1024).toFixed(2);
const rows = [];
let worst = 0;
for (const [name, make] of cases) {
  const input = make(); // built once: we time the parser, not the payload generator
  const times = [];
  let outcome = 'ACCEPTED';
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  for (let i = 0; i < RUNS; i += 1) {
    const start = process.hrtime.bigint();
    try {
      parseXml(input);
    } catch (error) {
      outcome = error.code ?? error.name;
    }
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  gc();
  const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  worst = Math.max(worst, median);
  rows.push({ case: name, refused: outcome !== 'ACCEPTED', code: outcome, 'median ms': median.toFixed(2), 'heap growth MB': mb(heapGrowth) });
}
console.table(rows);
const failed = rows.filter((row) => !row.refused || Number(row['median ms']) >= 50);
console.log(`worst median ${worst.toFixed(2)} ms; ${failed.length === 0 ? 'all refused under 50 ms' : `FAILED: ${failed.map((r) => r.case).join(', ')}`}`);
process.exitCode = failed.length === 0 ? 0 : 1;
