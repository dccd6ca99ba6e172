import { execFile, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sharedPath } from './shared-vectors';

/**
 * Real media tools for the end-to-end key round trip: ffmpeg's CENC muxer and demuxer (with the frame
 * comparison of `tools/e2e/03-cenc`) and the openssl/xmllint CPIX key decryptor
 * `tools/e2e/05-cpix-keys`, both read in place from ../shared. Outside CI a missing tool skips the
 * tests that need it with a note; under CI=true it is an error, so a runner without them cannot pass by
 * skipping.
 */
const run = promisify(execFile);

/** Tool → the Debian package that provides it (xxd and xmllint are used by decrypt-cpix-keys.sh). */
const MEDIA_TOOLS: Readonly<Record<string, string>> = {
  ffmpeg: 'ffmpeg',
  openssl: 'openssl',
  xmlsec1: 'xmlsec1',
  xmllint: 'libxml2-utils',
  xxd: 'xxd',
};

const missingTools = Object.keys(MEDIA_TOOLS).filter((tool) => spawnSync('sh', ['-c', 'command -v "$1"', 'sh', tool]).status !== 0);
const installHint = () => `apt-get install ${missingTools.map((tool) => MEDIA_TOOLS[tool]).join(' ')}`;
if (missingTools.length > 0 && process.env.CI === 'true') {
  throw new Error(`${missingTools.join(', ')} not found: CI needs them for the media round trip (${installHint()})`);
}

/** `describe` when every media tool runs, `describe.skip` (with a console note) when not. */
export const describeWithMediaTools: jest.Describe =
  missingTools.length === 0
    ? describe
    : (((name: string, fn: () => void) => {
        // eslint-disable-next-line no-console
        console.warn(`skipping "${name}": ${missingTools.join(', ')} not installed (${installHint()})`);
        describe.skip(name, fn);
      }) as jest.Describe);

const FFMPEG = ['-y', '-hide_banner', '-loglevel', 'error'];
/** Large enough for ffmpeg's decoder complaints on undecryptable input (the negative controls). */
const MAX_TOOL_OUTPUT_BYTES = 16 * 1024 * 1024;

export interface TestClip {
  readonly file: string;
  readonly frameCount: number;
}

/**
 * A short H.264 + AAC clip from ffmpeg's lavfi sources (small, for speed): colour bars with a moving
 * counter, a 440 Hz tone, one-second GOPs, non-fragmented MP4.
 */
export async function makeTestClip(dir: string, { seconds = 2, size = '320x180', rate = 25 } = {}): Promise<TestClip> {
  const file = join(dir, 'clear.mp4');
  await run('ffmpeg', [
    ...FFMPEG,
    ...['-f', 'lavfi', '-i', `testsrc=size=${size}:rate=${rate}:duration=${seconds}`],
    ...['-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${seconds}`],
    ...['-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'main', '-pix_fmt', 'yuv420p'],
    ...['-g', String(rate), '-keyint_min', String(rate), '-sc_threshold', '0', '-c:a', 'aac', '-b:a', '96k', '-shortest', file],
  ]);
  return { file, frameCount: seconds * rate };
}

/**
 * `ffmpeg -encryption_scheme cenc-aes-ctr`: every track of `input` encrypted with one key (ffmpeg 5.1
 * writes a correct `senc` only into non-fragmented MP4, and no PSSH).
 */
export async function encryptCenc(input: string, output: string, kidHex: string, keyHex: string): Promise<void> {
  await run('ffmpeg', [...FFMPEG, '-i', input, '-c', 'copy', '-encryption_scheme', 'cenc-aes-ctr', '-encryption_key', keyHex, '-encryption_kid', kidHex, output]);
}

/**
 * Writes the per-frame MD5s of the decoded video of `input` to `output` (`-f framemd5`), decrypting
 * with `key` (hex) when given. With `tolerateErrors` (the negative controls) a failing decoder is
 * expected: frames it could not decode still get hashed or are dropped, and only the hashes count.
 */
export async function videoFrameMd5(input: string, output: string, options: { key?: string; tolerateErrors?: boolean } = {}): Promise<void> {
  const decryption = options.key === undefined ? [] : ['-decryption_key', options.key];
  const decoding = run('ffmpeg', [...FFMPEG, ...decryption, '-i', input, '-map', '0:v', '-f', 'framemd5', output], {
    maxBuffer: MAX_TOOL_OUTPUT_BYTES,
  });
  await (options.tolerateErrors === true ? decoding.catch(() => undefined) : decoding);
}

/**
 * Writes the per-packet MD5s of the audio of `input` to `output` without decoding it (`-c copy -f
 * framemd5`): decrypted samples must be the clear clip's bytes exactly, and comparing packets keeps
 * the comparison independent of how a repackaged file's edit list trims the decoded AAC priming.
 */
export async function audioPacketMd5(input: string, output: string): Promise<void> {
  await run('ffmpeg', [...FFMPEG, '-i', input, '-map', '0:a', '-c', 'copy', '-f', 'framemd5', output], { maxBuffer: MAX_TOOL_OUTPUT_BYTES });
}

/** An all-zero content key, for the wrong-key control. */
export const WRONG_KEY_HEX = '00'.repeat(16);

export interface FrameComparison {
  readonly matching: number;
  readonly total: number;
}

/** `tools/e2e/03-cenc/md5cmp.sh REF TEST`: frames of `test` whose MD5 equals the reference frame's, in order. */
export async function compareFrameMd5(reference: string, test: string): Promise<FrameComparison> {
  const { stdout } = await run(sharedPath('tools', 'e2e', '03-cenc', 'md5cmp.sh'), [reference, test]);
  const counts = /^(\d+)\/(\d+)$/.exec(stdout.trim());
  if (!counts) throw new Error(`md5cmp.sh printed ${JSON.stringify(stdout)}`);
  return { matching: Number(counts[1]), total: Number(counts[2]) };
}

export interface DecryptedCpixKey {
  readonly kid: string;
  readonly keyBase64: string;
  readonly macOk: boolean;
}

export interface CpixKeyDecryption {
  /** 0: every MAC correct; 1: a MAC is wrong; 2: the document key could not be unwrapped. */
  readonly exitCode: number;
  readonly keys: readonly DecryptedCpixKey[];
  readonly output: string;
}

/**
 * `tools/e2e/05-cpix-keys/decrypt-cpix-keys.sh DOC KEY.pem` (openssl + xmllint only): unwraps the first
 * DeliveryData's document and MAC keys with the recipient's private key, decrypts every ContentKey and
 * recomputes its ValueMAC.
 */
export async function decryptCpixKeys(documentFile: string, privateKeyFile: string): Promise<CpixKeyDecryption> {
  const script = sharedPath('tools', 'e2e', '05-cpix-keys', 'decrypt-cpix-keys.sh');
  const result = await run(script, [documentFile, privateKeyFile]).then(
    ({ stdout, stderr }) => ({ exitCode: 0, stdout, stderr }),
    (error: { code?: unknown; stdout?: string; stderr?: string }) => {
      if (typeof error.code !== 'number') throw error;
      return { exitCode: error.code, stdout: error.stdout ?? '', stderr: error.stderr ?? '' };
    },
  );
  const keys = [...result.stdout.matchAll(/^(\S+) (\S+) mac=(OK|BAD)$/gm)].map(([, kid, keyBase64, mac]) => ({
    kid: kid as string,
    keyBase64: keyBase64 as string,
    macOk: mac === 'OK',
  }));
  return { exitCode: result.exitCode, keys, output: `${result.stdout}${result.stderr}` };
}

/** A self-signed RSA-2048 certificate and its private key (`openssl req -x509`), as PEM files in `dir`. */
export async function createRecipientIdentity(dir: string, name: string): Promise<{ certFile: string; keyFile: string }> {
  const certFile = join(dir, `${name}.cert.pem`);
  const keyFile = join(dir, `${name}.key.pem`);
  await run('openssl', [
    ...['req', '-x509', '-newkey', 'rsa:2048', '-sha256', '-nodes', '-days', '1'],
    ...['-subj', `/CN=${name}`, '-keyout', keyFile, '-out', certFile],
  ]);
  return { certFile, keyFile };
}
