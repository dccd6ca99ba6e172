import type { AuditRecord } from '../audit/ports';
import { SECURITY_LEVELS, type ContentPolicy, type PolicyRule, type SecurityLevel } from '../content-policy/ports';
import type { KeyImportItem } from '../lifecycle/key-import';
import type { Revocation } from '../revocation/ports';
import type { KmsTokenView } from '../sites/site-service';
import type { SiteOptions, SiteView } from '../sites/site';
import type { NewLicenceTokenKey } from '../licence/licence-token-keys';
import type { AdminClient, ContentKeyMetadata, LicenseServerJson, RevokedMark } from './admin-client';
import { UsageError, type OptionName, type ParsedArgs, type ReadTextFile } from './args';
import { cell, fields, printable, table, type Output } from './format';

/** What a command runs with. The client is made on first use, so `help` needs no URL or token. */
export interface CommandContext {
  /** Positional arguments after the command words, as many as `Command.args` names. */
  readonly args: readonly string[];
  readonly values: ParsedArgs['values'];
  readonly json: boolean;
  readonly out: Output;
  readonly client: () => AdminClient;
  readonly readTextFile: ReadTextFile;
}

export interface Command {
  /** The words that select it, e.g. `['sites', 'create']`. */
  readonly words: readonly string[];
  /** Positional arguments, for usage and arity. */
  readonly args: readonly string[];
  /** Options beyond the global ones. */
  readonly options: readonly OptionName[];
  /** How the options are written in usage, e.g. `--name <name> [--id <ID>]`. */
  readonly optionsUsage?: string;
  readonly summary: string;
  readonly run: (ctx: CommandContext) => Promise<void>;
}

type BooleanSiteOption = { [K in keyof SiteOptions]-?: SiteOptions[K] extends boolean ? K : never }[keyof SiteOptions];
/** Lists of plain values, given comma-separated (`key=a,b`) or empty (`key=`) for none. */
type ListSiteOption = 'clearKeyAllowedOrigins';
type CertificatesSiteOption = Exclude<{ [K in keyof SiteOptions]-?: SiteOptions[K] extends readonly string[] ? K : never }[keyof SiteOptions], ListSiteOption>;
type StringSiteOption = Exclude<keyof SiteOptions, BooleanSiteOption | CertificatesSiteOption | ListSiteOption>;

/**
 * The site options `--option key=value` can set, by value type. Exhaustive over `SiteOptions`, so an
 * option added to the service does not compile here until the CLI knows how to parse it.
 */
const BOOLEAN_SITE_OPTIONS: Record<BooleanSiteOption, true> = {
  signCpixApiResponses: true,
  signSpekeResponses: true,
  acceptLegacyToken: true,
};
const STRING_SITE_OPTIONS: Record<StringSiteOption, true> = {
  playReadyLaUrl: true,
  fairPlaySkdTemplate: true,
  aes128KeyUriTemplate: true,
  widevineProvider: true,
};
/** Certificate lists, given as `key=@file.pem` (every PEM certificate in the file) or `key=` (none). */
const CERTIFICATES_SITE_OPTIONS: Record<CertificatesSiteOption, true> = {
  requestSignerCertificates: true,
};
const LIST_SITE_OPTIONS: Record<ListSiteOption, true> = {
  clearKeyAllowedOrigins: true,
};
const isBooleanSiteOption = (key: string): key is BooleanSiteOption => Object.hasOwn(BOOLEAN_SITE_OPTIONS, key);
const isStringSiteOption = (key: string): key is StringSiteOption => Object.hasOwn(STRING_SITE_OPTIONS, key);
const isCertificatesSiteOption = (key: string): key is CertificatesSiteOption => Object.hasOwn(CERTIFICATES_SITE_OPTIONS, key);
const isListSiteOption = (key: string): key is ListSiteOption => Object.hasOwn(LIST_SITE_OPTIONS, key);
export const SITE_OPTION_NAMES: readonly (keyof SiteOptions)[] = [
  ...(Object.keys(BOOLEAN_SITE_OPTIONS) as BooleanSiteOption[]),
  ...(Object.keys(STRING_SITE_OPTIONS) as StringSiteOption[]),
  ...(Object.keys(CERTIFICATES_SITE_OPTIONS) as CertificatesSiteOption[]),
  ...(Object.keys(LIST_SITE_OPTIONS) as ListSiteOption[]),
];

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** `--option key=value` pairs as a partial `SiteOptions`; the service validates the values themselves. */
function siteOptions(pairs: readonly string[] | undefined, readTextFile: ReadTextFile): Partial<SiteOptions> | undefined {
  if (pairs === undefined || pairs.length === 0) return undefined;
  const options: { -readonly [K in keyof SiteOptions]?: SiteOptions[K] } = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const key = eq > 0 ? pair.slice(0, eq) : '';
    const value = pair.slice(eq + 1);
    if (isBooleanSiteOption(key)) {
      if (value !== 'true' && value !== 'false') throw new UsageError(`--option ${key} takes true or false`);
      options[key] = value === 'true';
    } else if (isStringSiteOption(key)) {
      options[key] = value;
    } else if (isCertificatesSiteOption(key)) {
      if (value !== '' && !value.startsWith('@')) throw new UsageError(`--option ${key} takes @<file of PEM certificates>, or nothing for none`);
      options[key] = value === '' ? [] : (readTextFile(value.slice(1)).match(PEM_CERTIFICATE) ?? []).map((pem) => `${pem}\n`);
    } else if (isListSiteOption(key)) {
      options[key] = value === '' ? [] : value.split(',').map((item) => item.trim());
    } else {
      throw new UsageError(`--option takes <key>=<value> with a key among ${SITE_OPTION_NAMES.join(', ')}`);
    }
  }
  return options;
}

function required(ctx: CommandContext, name: 'name' | 'certificate' | 'file' | 'reason'): string {
  const value = ctx.values[name];
  if (value === undefined || value === '') throw new UsageError(`--${name} is required`);
  return value;
}

/** Revoking by the whole credential would put its secret into a URL (and access logs); only the ID is needed. */
function credentialId(value: string, what: string): string {
  if (/^[a-z0-9]{4}\.[^.]+\.[^.]+$/.test(value)) {
    throw new UsageError(`pass the ${what} ID (the middle part of <prefix>.<id>.<secret>), not the whole credential`);
  }
  return value;
}

/** Content IDs may hold spaces or quotes: shown as a JSON string, with what JSON leaves raw escaped too. */
const quoted = (value: string): string => printable(JSON.stringify(value));

const arg = (ctx: CommandContext, index: number): string => ctx.args[index] ?? '';

function tokenStatus(token: KmsTokenView): string {
  return token.revokedAt === undefined ? 'active' : `revoked ${token.revokedAt}`;
}

function licenseServerStatus(server: LicenseServerJson): string {
  return server.revokedAt === undefined ? 'active' : `revoked ${server.revokedAt}`;
}

function printSite(out: Output, site: SiteView): void {
  for (const line of fields([
    ['id', cell(site.id)],
    ['name', cell(site.name)],
    ['status', cell(site.status)],
    ['site key', `v${site.siteKeyVersion}`],
    ['created', cell(site.createdAt)],
    ['updated', cell(site.updatedAt)],
  ])) {
    out.line(line);
  }
  out.line('options:');
  for (const key of SITE_OPTION_NAMES) {
    const value = site.options[key];
    const shown = typeof value !== 'object' ? cell(value) : isListSiteOption(key) ? value.map(cell).join(', ') || '(none)' : `${value.length} certificate(s)`;
    out.line(`  ${key}: ${shown}`);
  }
}

function printAuditRecord(out: Output, record: AuditRecord): void {
  out.line(
    [
      cell(record.at),
      cell(record.action),
      cell(record.dialect),
      `content ${quoted(record.contentId)}`,
      `${record.kidCount ?? record.kids.length} keys (${record.keysCreated} new)`,
      `credential ${cell(record.credentialId)}`,
      `from ${cell(record.clientAddress)}`,
      `request ${cell(record.requestId)}`,
    ].join('  '),
  );
  // Records list their first KIDs and periods only (and older records all of them): say how many more there were.
  const more = (listed: number, count: number | undefined) => (count !== undefined && count > listed ? ` … (${count - listed} more)` : '');
  out.line(`  kids: ${record.kids.map(cell).join(' ')}${more(record.kids.length, record.kidCount)}`);
  if (record.kidsSha256 !== undefined) out.line(`  kids sha256: ${cell(record.kidsSha256)}`);
  if (record.periodIndexes.length > 0) out.line(`  periods: ${record.periodIndexes.join(' ')}${more(record.periodIndexes.length, record.periodIndexCount)}`);
}

function readFileOption(ctx: CommandContext, option: 'certificate' | 'file'): string {
  const path = required(ctx, option);
  try {
    return ctx.readTextFile(path);
  } catch (error) {
    const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : 'unreadable';
    throw new UsageError(`cannot read --${option} ${path}: ${code}`);
  }
}

/**
 * The keys of an import file: `{"keys": [...]}` or the array alone. Key bytes are read from a file,
 * never from the command line, where every local user could read them (ps).
 */
function importFile(ctx: CommandContext): readonly KeyImportItem[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileOption(ctx, 'file'));
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`--file ${ctx.values.file ?? ''} is not JSON`);
  }
  const keys = Array.isArray(parsed) ? parsed : typeof parsed === 'object' && parsed !== null ? (parsed as { keys?: unknown }).keys : undefined;
  if (!Array.isArray(keys)) throw new UsageError('--file must hold {"keys": [...]} or a JSON array of keys');
  // The service validates every key against schemas/admin/key-import.schema.json.
  return keys as KeyImportItem[];
}

function integerOption(ctx: CommandContext, option: 'license-duration' | 'rotation-interval'): number | undefined {
  const value = ctx.values[option];
  if (value === undefined) return undefined;
  if (!/^(0|[1-9][0-9]{0,9})$/.test(value)) throw new UsageError(`--${option} takes a non-negative integer`);
  return Number(value);
}

/** The policy fields given as options (`policies create` needs them all, `policies update` some). */
function policyFields(ctx: CommandContext): Partial<Omit<ContentPolicy, 'name'>> {
  const level = ctx.values['security-level'];
  if (level !== undefined && !SECURITY_LEVELS.includes(level as SecurityLevel)) throw new UsageError(`--security-level takes ${SECURITY_LEVELS.join(', ')}`);
  const persistent = ctx.values['persistent-license'];
  if (persistent !== undefined && persistent !== 'true' && persistent !== 'false') throw new UsageError('--persistent-license takes true or false');
  const duration = integerOption(ctx, 'license-duration');
  const interval = integerOption(ctx, 'rotation-interval');
  return {
    ...(level !== undefined && { securityLevel: level as SecurityLevel }),
    ...(persistent !== undefined && { persistentLicense: persistent === 'true' }),
    ...(duration !== undefined && { licenseDurationSeconds: duration }),
    ...(interval !== undefined && { rotationIntervalMinutes: interval }),
  };
}

const POLICY_OPTIONS_USAGE = '--security-level HIGH|MEDIUM|LOW --persistent-license true|false --license-duration <seconds> --rotation-interval <minutes>';

function printPolicy(out: Output, policy: ContentPolicy): void {
  for (const line of fields([
    ['name', cell(policy.name)],
    ['security level', cell(policy.securityLevel)],
    ['persistent licence', cell(policy.persistentLicense)],
    ['licence duration', policy.licenseDurationSeconds === 0 ? 'no limit' : `${policy.licenseDurationSeconds} s`],
    ['key rotation', policy.rotationIntervalMinutes === 0 ? 'none' : `every ${policy.rotationIntervalMinutes} min`],
  ])) {
    out.line(line);
  }
}

function printRevocation(out: Output, revocation: Revocation): void {
  const what = revocation.kids === undefined ? 'whole content' : `kids ${revocation.kids.map(cell).join(' ')}`;
  out.line(
    [cell(revocation.revokedAt), `content ${quoted(revocation.contentId)}`, what, `by ${cell(revocation.credentialId)}`, `reason ${quoted(revocation.reason)}`].join('  '),
  );
}

/** `--rule <prefix>=<policy>`: the prefix may be empty (the site's default) and may hold `=`; the policy name cannot. */
function policyRules(pairs: readonly string[] | undefined): PolicyRule[] {
  return (pairs ?? []).map((pair) => {
    const eq = pair.lastIndexOf('=');
    if (eq < 0) throw new UsageError('--rule takes <contentIdPrefix>=<policy> (an empty prefix is the default)');
    return { contentIdPrefix: pair.slice(0, eq), policy: pair.slice(eq + 1) };
  });
}

async function updateStatus(ctx: CommandContext, status: 'active' | 'disabled'): Promise<void> {
  const site = await ctx.client().updateSite(arg(ctx, 0), { status });
  if (ctx.json) return ctx.out.json(site);
  ctx.out.line(`site ${cell(site.id)} is now ${cell(site.status)}`);
}

export const COMMANDS: readonly Command[] = [
  {
    words: ['sites', 'create'],
    args: [],
    options: ['name', 'id', 'option'],
    optionsUsage: '--name <name> [--id <ID>] [--option <key>=<value>]...',
    summary: 'Create a site; prints its first KMS token and its access key (shown once).',
    async run(ctx) {
      const options = siteOptions(ctx.values.option, ctx.readTextFile);
      const created = await ctx.client().createSite({
        name: required(ctx, 'name'),
        ...(ctx.values.id !== undefined && { id: ctx.values.id }),
        ...(options !== undefined && { options }),
      });
      if (ctx.json) return ctx.out.json(created);
      ctx.out.line(`created site ${cell(created.site.id)} (${cell(created.site.name)}), site key v${created.site.siteKeyVersion}`);
      ctx.out.line(`token ID: ${cell(created.token.id)} (${cell(created.token.name)})`);
      ctx.out.secret('KMS token', created.token.token);
      ctx.out.secret('access key', created.accessKey);
    },
  },
  {
    words: ['sites', 'list'],
    args: [],
    options: [],
    summary: 'List the sites.',
    async run(ctx) {
      const { sites } = await ctx.client().listSites();
      if (ctx.json) return ctx.out.json({ sites });
      if (sites.length === 0) return ctx.out.line('no sites');
      const rows = sites.map((s) => [cell(s.id), cell(s.status), `v${s.siteKeyVersion}`, cell(s.createdAt), cell(s.name)]);
      for (const line of table(['ID', 'STATUS', 'SITE KEY', 'CREATED', 'NAME'], rows)) ctx.out.line(line);
    },
  },
  {
    words: ['sites', 'show'],
    args: ['<siteId>'],
    options: [],
    summary: 'Show a site and its options.',
    async run(ctx) {
      const site = await ctx.client().getSite(arg(ctx, 0));
      if (ctx.json) return ctx.out.json(site);
      printSite(ctx.out, site);
    },
  },
  {
    words: ['sites', 'update'],
    args: ['<siteId>'],
    options: ['name', 'option'],
    optionsUsage: '[--name <name>] [--option <key>=<value>]...',
    summary: 'Rename a site or change its options (others keep their values).',
    async run(ctx) {
      const options = siteOptions(ctx.values.option, ctx.readTextFile);
      const name = ctx.values.name;
      if (name === undefined && options === undefined) throw new UsageError('sites update needs --name or --option');
      const site = await ctx.client().updateSite(arg(ctx, 0), {
        ...(name !== undefined && { name }),
        ...(options !== undefined && { options }),
      });
      if (ctx.json) return ctx.out.json(site);
      printSite(ctx.out, site);
    },
  },
  {
    words: ['sites', 'disable'],
    args: ['<siteId>'],
    options: [],
    summary: 'Disable a site: every KMS token and license server of it is refused (403) until enabled.',
    run: (ctx) => updateStatus(ctx, 'disabled'),
  },
  {
    words: ['sites', 'enable'],
    args: ['<siteId>'],
    options: [],
    summary: 'Enable a disabled site again.',
    run: (ctx) => updateStatus(ctx, 'active'),
  },
  {
    words: ['tokens', 'issue'],
    args: ['<siteId>'],
    options: ['name'],
    optionsUsage: '[--name <name>]',
    summary: 'Issue another KMS token for a site (shown once); existing tokens stay valid.',
    async run(ctx) {
      const issued = await ctx.client().issueToken(arg(ctx, 0), ctx.values.name);
      if (ctx.json) return ctx.out.json(issued);
      ctx.out.line(`issued token ${cell(issued.id)} (${cell(issued.name)}) for site ${cell(issued.siteId)}`);
      ctx.out.secret('KMS token', issued.token);
    },
  },
  {
    words: ['tokens', 'list'],
    args: ['<siteId>'],
    options: [],
    summary: "List a site's KMS tokens (IDs and dates, never the tokens), revoked ones included.",
    async run(ctx) {
      const { tokens } = await ctx.client().listTokens(arg(ctx, 0));
      if (ctx.json) return ctx.out.json({ tokens });
      if (tokens.length === 0) return ctx.out.line('no tokens');
      const rows = tokens.map((t) => [cell(t.id), tokenStatus(t), cell(t.createdAt), cell(t.lastUsedAt), cell(t.name)]);
      for (const line of table(['ID', 'STATUS', 'CREATED', 'LAST USED', 'NAME'], rows)) ctx.out.line(line);
    },
  },
  {
    words: ['tokens', 'revoke'],
    args: ['<siteId>', '<tokenId>'],
    options: [],
    summary: 'Revoke a KMS token by its ID; requests with it get 401 from then on.',
    async run(ctx) {
      const [siteId, tokenId] = [arg(ctx, 0), credentialId(arg(ctx, 1), 'token')];
      await ctx.client().revokeToken(siteId, tokenId);
      if (ctx.json) return ctx.out.json({ siteId, tokenId, revoked: true });
      ctx.out.line(`revoked token ${cell(tokenId)} of site ${cell(siteId)}`);
    },
  },
  {
    words: ['site-key', 'rotate'],
    args: ['<siteId>'],
    options: [],
    summary: "Rotate a site's key: a new version becomes current and every content key is re-wrapped under it.",
    async run(ctx) {
      const siteId = arg(ctx, 0);
      const rotation = await ctx.client().rotateSiteKey(siteId);
      if (ctx.json) return ctx.out.json({ siteId, ...rotation });
      ctx.out.line(`site ${cell(siteId)}: site key v${rotation.version} is current; ${rotation.rewrapped} content keys re-wrapped`);
    },
  },
  {
    words: ['keys', 'list'],
    args: ['<siteId>', '<contentId>'],
    options: ['limit', 'after', 'all'],
    optionsUsage: '[--limit <1-1000>] [--after <cursor>] [--all]',
    summary:
      "List a content's keys, oldest first: KIDs, track types, periods, schemes, dates (metadata only; the API never returns key bytes); --all follows every page.",
    async run(ctx) {
      const [siteId, contentId] = [arg(ctx, 0), arg(ctx, 1)];
      const { limit, all } = ctx.values;
      let after = ctx.values.after;
      const keys: ContentKeyMetadata[] = [];
      let revoked: RevokedMark = {};
      let next: string | undefined;
      do {
        const page = await ctx.client().listContentKeys(siteId, contentId, {
          ...(limit !== undefined && { limit }),
          ...(after !== undefined && { after }),
        });
        keys.push(...page.keys);
        if (page.revokedAt !== undefined) revoked = { revokedAt: page.revokedAt, ...(page.revocationReason !== undefined && { revocationReason: page.revocationReason }) };
        next = page.next;
        after = next;
      } while (all === true && next !== undefined);
      if (ctx.json) return ctx.out.json({ siteId, contentId, ...revoked, keys, ...(next !== undefined && { next }) });
      ctx.out.line(`site ${cell(siteId)}, content ${quoted(contentId)}: ${keys.length} keys`);
      if (revoked.revokedAt !== undefined) ctx.out.line(`revoked ${cell(revoked.revokedAt)}: ${quoted(revoked.revocationReason ?? '')}`);
      const rows = keys.map((k) => [cell(k.kid), cell(k.trackType), cell(k.periodIndex), cell(k.scheme), cell(k.createdAt), cell(k.revokedAt)]);
      for (const line of table(['KID', 'TRACK', 'PERIOD', 'SCHEME', 'CREATED', 'REVOKED'], rows)) ctx.out.line(line);
      if (next !== undefined) ctx.out.line(`more: cpix-kms keys list ${cell(siteId)} --after ${cell(next)} -- ${quoted(contentId)}`);
    },
  },
  {
    words: ['keys', 'import'],
    args: ['<siteId>', '<contentId>'],
    options: ['file'],
    optionsUsage: '--file <keys.json>',
    summary:
      'Import keys made elsewhere from a JSON file ({"keys":[{"kid","key","iv"?,"trackType"?,"periodIndex"?}]}; key: base64 of 16 bytes, or 32 = KEY‖IV). All or nothing.',
    async run(ctx) {
      const [siteId, contentId] = [arg(ctx, 0), arg(ctx, 1)];
      const list = await ctx.client().importKeys(siteId, contentId, importFile(ctx));
      if (ctx.json) return ctx.out.json(list);
      ctx.out.line(`site ${cell(siteId)}, content ${quoted(contentId)}: ${list.keys.length} keys imported or already there`);
      for (const key of list.keys) ctx.out.line(`  ${cell(key.kid)}  ${cell(key.trackType)}  ${cell(key.periodIndex)}`);
    },
  },
  {
    words: ['contents', 'revoke'],
    args: ['<siteId>', '<contentId>'],
    options: ['reason', 'kid'],
    optionsUsage: '--reason <text> [--kid <KID>]...',
    summary: 'Revoke a content (or only the keys given by --kid) for good: key requests and license exports of it answer 410.',
    async run(ctx) {
      const [siteId, contentId] = [arg(ctx, 0), arg(ctx, 1)];
      const kids = ctx.values.kid;
      const result = await ctx.client().revokeContent(siteId, contentId, {
        reason: required(ctx, 'reason'),
        ...(kids !== undefined && { kids }),
      });
      if (ctx.json) return ctx.out.json(result);
      ctx.out.line(`site ${cell(siteId)}, content ${quoted(contentId)}: revoked`);
      for (const revocation of result.revocations) printRevocation(ctx.out, revocation);
    },
  },
  {
    words: ['revocations', 'list'],
    args: ['<siteId>'],
    options: ['since'],
    optionsUsage: '[--since <RFC 3339 UTC time>]',
    summary: "List a site's revocations, oldest first (at most 500; continue with --since the last one's time).",
    async run(ctx) {
      const { revocations } = await ctx.client().listRevocations(arg(ctx, 0), ctx.values.since);
      if (ctx.json) return ctx.out.json({ revocations });
      if (revocations.length === 0) return ctx.out.line('no revocations');
      for (const revocation of revocations) printRevocation(ctx.out, revocation);
    },
  },
  {
    words: ['policies', 'create'],
    args: ['<siteId>'],
    options: ['name', 'security-level', 'persistent-license', 'license-duration', 'rotation-interval'],
    optionsUsage: `--name <name> ${POLICY_OPTIONS_USAGE}`,
    summary: 'Create a content policy (DRM group): what license servers enforce for the content under it.',
    async run(ctx) {
      const fields = policyFields(ctx);
      const missing = (['security-level', 'persistent-license', 'license-duration', 'rotation-interval'] as const).find((o) => ctx.values[o] === undefined);
      if (missing !== undefined) throw new UsageError(`--${missing} is required`);
      const policy = await ctx.client().createPolicy(arg(ctx, 0), { name: required(ctx, 'name'), ...fields } as ContentPolicy);
      if (ctx.json) return ctx.out.json(policy);
      printPolicy(ctx.out, policy);
    },
  },
  {
    words: ['policies', 'list'],
    args: ['<siteId>'],
    options: [],
    summary: "List a site's content policies.",
    async run(ctx) {
      const { policies } = await ctx.client().listPolicies(arg(ctx, 0));
      if (ctx.json) return ctx.out.json({ policies });
      if (policies.length === 0) return ctx.out.line('no policies');
      const rows = policies.map((p) => [cell(p.name), cell(p.securityLevel), cell(p.persistentLicense), cell(p.licenseDurationSeconds), cell(p.rotationIntervalMinutes)]);
      for (const line of table(['NAME', 'LEVEL', 'PERSISTENT', 'DURATION S', 'ROTATION MIN'], rows)) ctx.out.line(line);
    },
  },
  {
    words: ['policies', 'show'],
    args: ['<siteId>', '<name>'],
    options: [],
    summary: 'Show a content policy.',
    async run(ctx) {
      const policy = await ctx.client().getPolicy(arg(ctx, 0), arg(ctx, 1));
      if (ctx.json) return ctx.out.json(policy);
      printPolicy(ctx.out, policy);
    },
  },
  {
    words: ['policies', 'update'],
    args: ['<siteId>', '<name>'],
    options: ['security-level', 'persistent-license', 'license-duration', 'rotation-interval'],
    optionsUsage: `[${POLICY_OPTIONS_USAGE}]`,
    summary: 'Change some fields of a content policy (its name stays).',
    async run(ctx) {
      const fields = policyFields(ctx);
      if (Object.keys(fields).length === 0) throw new UsageError('policies update needs at least one field option');
      const policy = await ctx.client().updatePolicy(arg(ctx, 0), arg(ctx, 1), fields);
      if (ctx.json) return ctx.out.json(policy);
      printPolicy(ctx.out, policy);
    },
  },
  {
    words: ['policies', 'delete'],
    args: ['<siteId>', '<name>'],
    options: [],
    summary: 'Delete a content policy no content and no rule uses.',
    async run(ctx) {
      const [siteId, name] = [arg(ctx, 0), arg(ctx, 1)];
      await ctx.client().deletePolicy(siteId, name);
      if (ctx.json) return ctx.out.json({ siteId, name, deleted: true });
      ctx.out.line(`deleted policy ${cell(name)} of site ${cell(siteId)}`);
    },
  },
  {
    words: ['policies', 'rules'],
    args: ['<siteId>'],
    options: ['rule'],
    optionsUsage: '[--rule <contentIdPrefix>=<policy>]...',
    summary: "Show a site's policy rules, or replace them with the --rule options (longest prefix wins; an empty prefix is the default).",
    async run(ctx) {
      const siteId = arg(ctx, 0);
      const rules = ctx.values.rule === undefined ? await ctx.client().policyRules(siteId) : await ctx.client().setPolicyRules(siteId, policyRules(ctx.values.rule));
      if (ctx.json) return ctx.out.json(rules);
      if (rules.length === 0) return ctx.out.line('no rules');
      for (const line of table(['PREFIX', 'POLICY'], rules.map((r) => [quoted(r.contentIdPrefix), cell(r.policy)]))) ctx.out.line(line);
    },
  },
  {
    words: ['contents', 'policy'],
    args: ['<siteId>', '<contentId>'],
    options: ['name'],
    optionsUsage: '[--name <policy> | --name ""]',
    summary: "Show the policy a content is under; --name puts it in that policy's group, --name \"\" takes it out.",
    async run(ctx) {
      const [siteId, contentId] = [arg(ctx, 0), arg(ctx, 1)];
      const name = ctx.values.name;
      const view =
        name === undefined ? await ctx.client().contentPolicy(siteId, contentId) : await ctx.client().assignPolicy(siteId, contentId, name === '' ? null : name);
      if (ctx.json) return ctx.out.json(view);
      if (view.policy === null) return ctx.out.line(`content ${quoted(contentId)} is under no policy`);
      printPolicy(ctx.out, view.policy);
    },
  },
  {
    words: ['license-servers', 'register'],
    args: ['<siteId>'],
    options: ['name', 'certificate'],
    optionsUsage: '--name <name> --certificate <file.pem>',
    summary: 'Register a license server with its certificate (PEM or base64 DER file); prints its credential (shown once).',
    async run(ctx) {
      const name = required(ctx, 'name');
      const certificate = readFileOption(ctx, 'certificate');
      const registered = await ctx.client().registerLicenseServer(arg(ctx, 0), { name, certificate });
      if (ctx.json) return ctx.out.json(registered);
      const server = registered.licenseServer;
      ctx.out.line(`registered license server ${cell(server.id)} (${cell(server.name)}) for site ${cell(server.siteId)}`);
      ctx.out.line(`certificate SHA-256: ${cell(server.certificateThumbprint)}`);
      ctx.out.secret('license-server credential', registered.credential);
    },
  },
  {
    words: ['license-servers', 'list'],
    args: ['<siteId>'],
    options: [],
    summary: "List a site's license servers with their certificate thumbprints.",
    async run(ctx) {
      const { licenseServers } = await ctx.client().listLicenseServers(arg(ctx, 0));
      if (ctx.json) return ctx.out.json({ licenseServers });
      if (licenseServers.length === 0) return ctx.out.line('no license servers');
      const rows = licenseServers.map((s) => [
        cell(s.id),
        licenseServerStatus(s),
        cell(s.certificateThumbprint),
        cell(s.createdAt),
        cell(s.lastUsedAt),
        cell(s.name),
      ]);
      for (const line of table(['ID', 'STATUS', 'CERTIFICATE SHA-256', 'CREATED', 'LAST USED', 'NAME'], rows)) ctx.out.line(line);
    },
  },
  {
    words: ['license-servers', 'revoke'],
    args: ['<siteId>', '<licenseServerId>'],
    options: [],
    summary: "Revoke a license server's credential by its ID.",
    async run(ctx) {
      const [siteId, licenseServerId] = [arg(ctx, 0), credentialId(arg(ctx, 1), 'license-server')];
      await ctx.client().revokeLicenseServer(siteId, licenseServerId);
      if (ctx.json) return ctx.out.json({ siteId, licenseServerId, revoked: true });
      ctx.out.line(`revoked license server ${cell(licenseServerId)} of site ${cell(siteId)}`);
    },
  },
  {
    words: ['licence-token-keys', 'create'],
    args: ['<siteId>'],
    options: ['alg', 'jwk'],
    optionsUsage: '--alg HS256 | --alg ES256|RS256 --jwk <public-key.jwk.json>',
    summary: 'Register a key that verifies the site\'s ClearKey licence tokens; HS256 prints its secret (shown once).',
    async run(ctx) {
      const alg = ctx.values.alg;
      let input: NewLicenceTokenKey;
      if (alg === 'HS256') {
        if (ctx.values.jwk !== undefined) throw new UsageError('--jwk is for ES256 and RS256; HS256 secrets are made by the service');
        input = { alg };
      } else if (alg === 'ES256' || alg === 'RS256') {
        const path = ctx.values.jwk;
        if (path === undefined || path === '') throw new UsageError(`--jwk <file> is required for ${alg}: the public key as a JWK`);
        let jwk: unknown;
        try {
          jwk = JSON.parse(ctx.readTextFile(path));
        } catch (error) {
          const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : 'not JSON';
          throw new UsageError(`cannot read --jwk ${path}: ${code}`);
        }
        if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) throw new UsageError(`--jwk ${path} is not a JSON object`);
        input = { alg, jwk: jwk as Record<string, unknown> };
      } else {
        throw new UsageError('--alg takes HS256, ES256 or RS256');
      }
      const created = await ctx.client().createLicenceTokenKey(arg(ctx, 0), input);
      if (ctx.json) return ctx.out.json(created);
      ctx.out.line(`registered licence-token key ${cell(created.kid)} (${cell(created.alg)}) for site ${cell(arg(ctx, 0))}`);
      if (created.secret !== undefined) ctx.out.secret('HS256 secret (base64url)', created.secret);
    },
  },
  {
    words: ['licence-token-keys', 'list'],
    args: ['<siteId>'],
    options: [],
    summary: "List a site's licence-token keys (kid, algorithm, dates; never a secret), revoked ones included.",
    async run(ctx) {
      const { licenceTokenKeys } = await ctx.client().listLicenceTokenKeys(arg(ctx, 0));
      if (ctx.json) return ctx.out.json({ licenceTokenKeys });
      if (licenceTokenKeys.length === 0) return ctx.out.line('no licence-token keys');
      const rows = licenceTokenKeys.map((k) => [cell(k.kid), cell(k.alg), k.revokedAt === undefined ? 'active' : `revoked ${k.revokedAt}`, cell(k.createdAt)]);
      for (const line of table(['KID', 'ALG', 'STATUS', 'CREATED'], rows)) ctx.out.line(line);
    },
  },
  {
    words: ['licence-token-keys', 'revoke'],
    args: ['<siteId>', '<kid>'],
    options: [],
    summary: 'Revoke a licence-token key: tokens it signed get 401 from then on, also ones accepted before.',
    async run(ctx) {
      const [siteId, kid] = [arg(ctx, 0), arg(ctx, 1)];
      await ctx.client().revokeLicenceTokenKey(siteId, kid);
      if (ctx.json) return ctx.out.json({ siteId, kid, revoked: true });
      ctx.out.line(`revoked licence-token key ${cell(kid)} of site ${cell(siteId)}`);
    },
  },
  {
    words: ['audit', 'list'],
    args: ['<siteId>'],
    options: ['limit', 'before', 'all'],
    optionsUsage: '[--limit <1-500>] [--before <cursor>] [--all]',
    summary: "Read a site's audit trail (who obtained which keys), newest first; --all follows every page.",
    async run(ctx) {
      const siteId = arg(ctx, 0);
      const { limit, all } = ctx.values;
      let before = ctx.values.before;
      const records: AuditRecord[] = [];
      let next: string | undefined;
      do {
        const page = await ctx.client().listAudit(siteId, {
          ...(limit !== undefined && { limit }),
          ...(before !== undefined && { before }),
        });
        records.push(...page.records);
        next = page.next;
        before = next;
      } while (all === true && next !== undefined);
      if (ctx.json) return ctx.out.json({ records, ...(next !== undefined && { next }) });
      if (records.length === 0) ctx.out.line('no audit records');
      for (const record of records) printAuditRecord(ctx.out, record);
      if (next !== undefined) ctx.out.line(`more: cpix-kms audit list ${cell(siteId)} --before ${cell(next)}`);
    },
  },
];

/**
 * The command whose words open `positionals`, the longest such (so a future `sites` command with
 * one word cannot shadow `sites list`).
 */
export function findCommand(positionals: readonly string[]): Command | undefined {
  let found: Command | undefined;
  for (const command of COMMANDS) {
    const matches = command.words.every((word, i) => positionals[i] === word);
    if (matches && (found === undefined || command.words.length > found.words.length)) found = command;
  }
  return found;
}

export function commandUsage(command: Command): string {
  return ['cpix-kms', ...command.words, ...command.args, ...(command.optionsUsage === undefined ? [] : [command.optionsUsage])].join(' ');
}
