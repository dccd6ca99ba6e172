import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';

/**
 * Debian's chromium (`apt-get install chromium`), driven by puppeteer-core: never a downloaded
 * browser. Outside CI a missing chromium skips the tests that need it with a note; under CI=true it is
 * an error (.ci/run installs it), so a runner without it cannot pass by skipping.
 */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * The launch flags, exactly; puppeteer's own defaults are switched off (it adds only the
 * `--remote-debugging-pipe` it talks over). A fresh profile per launch.
 */
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
] as const;

function probe(): { version: string } | { problem: string } {
  const result = spawnSync(CHROMIUM_PATH, ['--version'], { encoding: 'utf8', timeout: 20_000 });
  if (result.error !== undefined) return { problem: `cannot start ${CHROMIUM_PATH} (${(result.error as NodeJS.ErrnoException).code ?? result.error.message})` };
  const version = /Chromium \d+[.\d]*/.exec(result.stdout)?.[0];
  if (result.status !== 0 || version === undefined) return { problem: `${CHROMIUM_PATH} --version: ${(result.stdout + result.stderr).trim()}` };
  return { version };
}

const probed = probe();
if ('problem' in probed && process.env.CI === 'true') {
  throw new Error(`chromium cannot run: ${probed.problem}; CI needs it for the playback test (apt-get install chromium)`);
}

export const chromiumVersion = 'version' in probed ? probed.version : undefined;

/** `describe` when chromium runs, `describe.skip` with a note saying why when not. */
export function describeWithChromium(name: string, fn: () => void, outer: jest.Describe = describe): void {
  if ('problem' in probed) {
    // eslint-disable-next-line no-console
    console.warn(`skipping "${name}": chromium cannot run: ${probed.problem} (apt-get install chromium, or set CHROMIUM_PATH)`);
    describe.skip(name, fn);
    return;
  }
  outer(name, fn);
}

/** Launches chromium with exactly `CHROMIUM_FLAGS` and a fresh `--user-data-dir`; `close` removes the profile. */
export async function launchChromium(): Promise<{ readonly browser: Browser; close(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'cpix-kms-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM_PATH,
    ignoreDefaultArgs: true,
    args: [...CHROMIUM_FLAGS, `--user-data-dir=${profile}`],
    pipe: true,
  });
  return {
    browser,
    async close() {
      await browser.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
