// Builds dist/ with tsc unless the last successful build is newer than every input: `npm ci`
// (prepare) leaves a built service, and `npm start` (prestart) starts at once when nothing changed
// since the last build. `--always` builds anyway (`npm run build`).
// Without src/ (the Dockerfile's dependency layer, before the sources are copied) there is nothing
// to build; without TypeScript (a production install) an existing dist/ is what there is.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Standalone (no imports of the project's own): the Dockerfile runs it from the dependency layer.
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Written after a build that succeeded: a failed one (tsc still emits) is built again next time. */
const STAMP = join(ROOT, 'dist', '.built');
const INPUTS = ['src', 'tsconfig.json', 'tsconfig.build.json', 'package.json'];

/** The newest modification time (ms) of a file, or of any file under a folder. */
function newest(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(path).reduce((latest, entry) => Math.max(latest, newest(join(path, entry))), stat.mtimeMs);
}

if (!existsSync(join(ROOT, 'src'))) process.exit(0);
const built = existsSync(STAMP) ? statSync(STAMP).mtimeMs : 0;
const inputs = Math.max(...INPUTS.filter((input) => existsSync(join(ROOT, input))).map((input) => newest(join(ROOT, input))));
if (built > inputs && !process.argv.includes('--always')) process.exit(0);

let tsc;
try {
  tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
} catch {
  if (built > 0) process.exit(0);
  console.error('cpix-kms: dist/ is missing and TypeScript is not installed: run npm ci (with dev dependencies) first');
  process.exit(1);
}
const { status } = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit' });
if (status === 0) {
  // The package's bins (`npx cpix-kms`) must be executable: tsc writes plain files, and npm sets the
  // bit only on bins that exist when it links them, which in a fresh clone is before this build.
  const { bin = {} } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  for (const file of Object.values(bin)) chmodSync(join(ROOT, file), 0o755);
  writeFileSync(STAMP, `${new Date().toISOString()}\n`);
}
process.exit(status ?? 1);
