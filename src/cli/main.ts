#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { SERVICE_VERSION } from '../version';
import { AdminApiError, AdminConnectionError, createAdminClient, type AdminClient } from './admin-client';
import {
  DEFAULT_URL,
  GLOBAL_OPTIONS,
  isLoopback,
  parseCommandLine,
  resolveAdminToken,
  resolveBaseUrl,
  UsageError,
  type ReadTextFile,
} from './args';
import { COMMANDS, commandUsage, findCommand, SITE_OPTION_NAMES, type Command } from './commands';
import { createOutput, printable } from './format';

/**
 * `cpix-kms`: the admin tasks over the admin API (src/http/routes/admin.ts). Exit codes: 0 done,
 * 1 the service refused or could not be reached, 2 the command line is wrong (nothing was sent).
 */

export interface CliIo {
  readonly argv: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly readTextFile: ReadTextFile;
  readonly fetch?: typeof fetch;
}

function commandHelp(command: Command): string {
  return `  ${commandUsage(command)}\n      ${command.summary}`;
}

export function usage(): string {
  return [
    'cpix-kms: command-line client of the cpix-kms admin API',
    '',
    'Usage: cpix-kms <command> [arguments] [options]',
    '',
    'Commands:',
    ...COMMANDS.map(commandHelp),
    '  cpix-kms help',
    '      Print this help.',
    '',
    'Options for every command:',
    `  --url <url>                The service's base URL (else CPIX_KMS_URL, else ${DEFAULT_URL}).`,
    '  --admin-token-file <path>  Read the admin token from this file (else CPIX_KMS_ADMIN_TOKEN).',
    '                             There is no --admin-token option on purpose: command lines are',
    '                             visible to other users (ps, /proc) and end up in shell history.',
    '  --json                     Print the API\'s JSON on stdout instead of lines for people.',
    '  -h, --help                 Print usage.',
    '  --version                  Print the version.',
    '',
    `Site options (--option <key>=<value>, repeatable): ${SITE_OPTION_NAMES.join(', ')}.`,
    'Booleans take true or false.',
    '',
    'Secrets the service returns once (KMS tokens, access keys, license-server credentials) are',
    'printed on stdout only, labelled "shown once". Errors go to stderr as',
    '"cpix-kms: <status> <code>: <message>" with exit code 1; usage errors exit with code 2.',
    'Put "--" before an argument that starts with "-" (a content ID, say).',
    '',
  ].join('\n');
}

export async function runCli(io: CliIo): Promise<number> {
  const out = createOutput(io.stdout, io.stderr);
  try {
    const parsed = parseCommandLine(io.argv);
    const { positionals, values } = parsed;
    if (values.version === true) {
      out.line(SERVICE_VERSION);
      return 0;
    }
    if (positionals[0] === 'help' || (values.help === true && positionals.length === 0)) {
      io.stdout.write(usage());
      return 0;
    }
    const command = findCommand(positionals);
    if (command === undefined) {
      const what = positionals.length === 0 ? 'no command given' : `unknown command "${printable(positionals.slice(0, 2).join(' '))}"`;
      io.stderr.write(`cpix-kms: ${what}\n\n${usage()}`);
      return 2;
    }
    if (values.help === true) {
      io.stdout.write(`${commandHelp(command)}\n`);
      return 0;
    }
    const unexpected = parsed.given.filter((name) => !GLOBAL_OPTIONS.includes(name) && !command.options.includes(name));
    if (unexpected.length > 0) {
      throw new UsageError(`${command.words.join(' ')} does not take --${unexpected.join(', --')}; usage: ${commandUsage(command)}`);
    }
    const args = positionals.slice(command.words.length);
    if (args.length !== command.args.length) throw new UsageError(`usage: ${commandUsage(command)}`);

    let client: AdminClient | undefined;
    const makeClient = (): AdminClient => {
      const baseUrl = resolveBaseUrl(values.url, io.env);
      const adminToken = resolveAdminToken(values['admin-token-file'], io.env, io.readTextFile);
      if (baseUrl.protocol === 'http:' && !isLoopback(baseUrl)) {
        out.warn(`warning: the admin token travels unencrypted to ${baseUrl.host}; use https:// beyond localhost`);
      }
      return createAdminClient({
        baseUrl,
        adminToken,
        userAgent: `cpix-kms-cli/${SERVICE_VERSION}`,
        ...(io.fetch !== undefined && { fetch: io.fetch }),
      });
    };
    await command.run({
      args,
      values,
      json: values.json === true,
      out,
      client: () => (client ??= makeClient()),
      readTextFile: io.readTextFile,
    });
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`cpix-kms: ${error.message}\nRun "cpix-kms help" for usage.\n`);
      return 2;
    }
    if (error instanceof AdminApiError) {
      const request = error.requestId === undefined ? '' : ` (request ${printable(error.requestId)})`;
      io.stderr.write(`cpix-kms: ${error.status} ${printable(error.code)}: ${printable(error.message)}${request}\n`);
      return 1;
    }
    if (error instanceof AdminConnectionError) {
      io.stderr.write(`cpix-kms: ${printable(error.message)}\n`);
      return 1;
    }
    // A bug here; its message is ours, never a response body or a secret.
    io.stderr.write(`cpix-kms: internal error: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

if (require.main === module) {
  void runCli({
    argv: process.argv.slice(2),
    env: process.env,
    stdout: process.stdout,
    stderr: process.stderr,
    readTextFile: (path) => readFileSync(path, 'utf8'),
  }).then((code) => {
    // exitCode rather than exit(): stdout to a pipe may still be draining.
    process.exitCode = code;
  });
}
