import { execFile, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { describeWithMediaTools } from './media';

/**
 * Shaka Packager, the real packager, as an independent consumer of our keys and PSSH boxes. The
 * binary comes from the `shaka-packager` devDependency (installed by `npm ci`), which ships one
 * executable per platform. We run that executable directly: the package's `index.js` wrapper exits 0
 * even when the packager fails, so a failed packaging run would look like a success through it.
 *
 * Outside CI a packager that cannot run skips the tests that need it with a note; under CI=true it is
 * an error, so a runner without it cannot pass by skipping.
 */
const run = promisify(execFile);

/** `process.platform-process.arch` → executable in the package's `bin/` (as its index.js maps them). */
const EXECUTABLES: Readonly<Record<string, string>> = {
  'linux-x64': 'packager-linux-x64',
  'linux-arm64': 'packager-linux-arm64',
  'darwin-x64': 'packager-osx-x64',
  'darwin-arm64': 'packager-osx-arm64',
  'win32-x64': 'packager-win-x64.exe',
};

function locate(): { path: string } | { problem: string } {
  const platform = `${process.platform}-${process.arch}`;
  const executable = EXECUTABLES[platform];
  if (executable === undefined) return { problem: `the shaka-packager package ships no binary for ${platform}` };
  let packageJson: string;
  try {
    packageJson = require.resolve('shaka-packager/package.json');
  } catch {
    return { problem: 'the shaka-packager devDependency is not installed (npm ci)' };
  }
  const path = join(dirname(packageJson), 'bin', executable);
  const probe = spawnSync(path, ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined) return { problem: `cannot start ${path} (${(probe.error as NodeJS.ErrnoException).code ?? probe.error.message})` };
  if (probe.status !== 0 || !/packager version v/.test(probe.stdout)) {
    return { problem: `${path} --version exited with ${String(probe.status ?? probe.signal)}: ${(probe.stdout + probe.stderr).trim()}` };
  }
  return { path };
}

const located = locate();
if ('problem' in located && process.env.CI === 'true') {
  throw new Error(`Shaka Packager cannot run: ${located.problem}; CI needs it for the packager round trip`);
}

/** `describe` when Shaka Packager and the media tools run, `describe.skip` (with a console note) when not. */
export const describeWithShakaPackager: jest.Describe =
  'path' in located
    ? describeWithMediaTools
    : (((name: string, fn: () => void) => {
        // eslint-disable-next-line no-console
        console.warn(`skipping "${name}": Shaka Packager cannot run: ${located.problem}`);
        describe.skip(name, fn);
      }) as jest.Describe);

/** Shaka writes its progress log to stderr; a failing run's reason is in it. */
const MAX_PACKAGER_OUTPUT_BYTES = 16 * 1024 * 1024;

/** Runs the packager; a non-zero exit throws with the packager's own output. */
export async function runShakaPackager(args: readonly string[]): Promise<void> {
  if (!('path' in located)) throw new Error(`Shaka Packager cannot run: ${located.problem}`);
  try {
    await run(located.path, [...args], { maxBuffer: MAX_PACKAGER_OUTPUT_BYTES });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`packager ${args.join(' ')} failed:\n${stdout ?? ''}${stderr ?? ''}`);
  }
}

export interface RawKey {
  /** The stream's `drm_label`. */
  readonly label: string;
  readonly kidHex: string;
  readonly keyHex: string;
  /** Per-key IV (8 or 16 bytes, hex); the packager picks random IVs when absent. */
  readonly ivHex?: string;
}

/**
 * The value of `--keys` in raw-key mode: `label=<label>:key_id=<hex>:key=<hex>[:iv=<hex>]`, comma
 * separated (https://shaka-project.github.io/shaka-packager/html/tutorials/raw_key.html).
 */
export function rawKeysFlag(keys: readonly RawKey[]): string {
  return keys.map((key) => `label=${key.label}:key_id=${key.kidHex}:key=${key.keyHex}${key.ivHex === undefined ? '' : `:iv=${key.ivHex}`}`).join(',');
}
