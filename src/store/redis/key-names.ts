/**
 * Redis key layout. Everything of one site lives under the hash tag `{<prefix>:<siteId>}`, so all
 * of its keys map to one Cluster slot and a Lua script may touch any of them. Only lookups that
 * happen before the site is known (KMS token or license server by ID) and the site index have keys
 * of their own, and those are only ever used by single-key commands.
 *
 * ```
 * <prefix>:schema-version              string  layout version (REDIS_SCHEMA_VERSION)
 * <prefix>:master-key-check            string  the master key's check value (JSON), written once
 * <prefix>:sites                       zset    site IDs, all score 0 (so ordered by ID)
 * <prefix>:token:<tokenId>             hash    KMS token record
 * <prefix>:license-server:<id>         hash    license-server record
 * <prefix>:auth-failures:<subject>     string  failed authentications in the open window (expires with it)
 * {<prefix>:<siteId>}:site             hash    site record
 * {<prefix>:<siteId>}:site-keys        hash    site-key version → wrapped site key
 * {<prefix>:<siteId>}:seq              string  insertion counter (scores of the zsets below)
 * {<prefix>:<siteId>}:tokens           zset    token IDs by insertion
 * {<prefix>:<siteId>}:revoked-credentials hash token ID → revokedAt, read by the key-request script
 * {<prefix>:<siteId>}:license-servers  zset    license-server IDs by insertion
 * {<prefix>:<siteId>}:audit            zset    audit records (JSON, with their ID), score = ID
 * {<prefix>:<siteId>}:contents         zset    content IDs by first insertion
 * {<prefix>:<siteId>}:content:<cid>    zset    KIDs of one content by insertion
 * {<prefix>:<siteId>}:ck:<kid>:<cid>   hash    content-key record
 * {<prefix>:<siteId>}:created-window   hash    keys created in the open creation window and when it closes
 * {<prefix>:<siteId>}:imported:<cid>   hash    imported keys of one content: slot (track|period) → KID
 * {<prefix>:<siteId>}:revoked:<cid>    hash    revoked targets of one content ('*' or a KID) → revocation JSON
 * {<prefix>:<siteId>}:revocations      zset    every revocation (JSON), score = epoch ms
 * {<prefix>:<siteId>}:policies         hash    policy name → policy JSON
 * {<prefix>:<siteId>}:policy-rules     string  the prefix rules (JSON array)
 * {<prefix>:<siteId>}:content-policies hash    content ID → assigned policy name
 * {<prefix>:<siteId>}:policy-users:<n> set     content IDs assigned to policy n
 * ```
 *
 * Caller-supplied identifiers are escaped with `encodeKeyPart`, so a content ID holding `:`, `{`
 * or `}` can neither collide with another key nor move a key out of its site's hash tag.
 */

/** Bumped when the layout changes incompatibly; a store refuses to open a newer layout. */
export const REDIS_SCHEMA_VERSION = 1;

/**
 * Allowed key prefixes: no glob characters (the prefix is used in SCAN patterns by operators and
 * tests) and no braces (it sits inside hash tags).
 */
export const KEY_PREFIX_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;

/** The bytes a key part keeps as they are; one class for both patterns below, so they cannot drift apart. */
const KEPT = 'A-Za-z0-9._-';
const KEPT_BYTE = new RegExp(`^[${KEPT}]$`);
/** Identifiers made of kept bytes only (UUIDs, site IDs, most content IDs) are their own encoding. */
const ALL_KEPT = new RegExp(`^[${KEPT}]*$`);

/**
 * Escapes an identifier for use inside a key name: ASCII letters, digits, `.`, `_` and `-` stay as
 * they are (IDs remain readable in `redis-cli`), every other UTF-8 byte becomes `%XX`. Injective,
 * because `%` itself is escaped; the result never contains `:`, `{` or `}`.
 */
export function encodeKeyPart(text: string): string {
  if (ALL_KEPT.test(text)) return text;
  let encoded = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const char = String.fromCharCode(byte);
    encoded += KEPT_BYTE.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return encoded;
}

/** The keys of one site; all share the site's hash tag. */
export interface SiteKeyNames {
  /** `{<prefix>:<siteId>}`: the hash tag itself. */
  readonly tag: string;
  readonly record: string;
  readonly siteKeys: string;
  readonly sequence: string;
  readonly tokens: string;
  /** The site's revoked KMS tokens, beside their records: the key-request script checks them in the site's slot. */
  readonly revokedCredentials: string;
  readonly licenseServers: string;
  readonly audit: string;
  readonly contents: string;
  readonly createdWindow: string;
  readonly revocations: string;
  readonly policies: string;
  readonly policyRules: string;
  readonly contentPolicies: string;
  imported(contentId: string): string;
  revoked(contentId: string): string;
  policyUsers(name: string): string;
  content(contentId: string): string;
  contentKey(contentId: string, kid: string): string;
}

export interface RedisKeyNames {
  readonly prefix: string;
  readonly schemaVersion: string;
  readonly masterKeyCheck: string;
  readonly siteIndex: string;
  token(tokenId: string): string;
  licenseServer(licenseServerId: string): string;
  authFailures(subject: string): string;
  site(siteId: string): SiteKeyNames;
}

/** @throws RangeError when `prefix` does not match `KEY_PREFIX_PATTERN` (validated as config first). */
export function createKeyNames(prefix: string): RedisKeyNames {
  if (!KEY_PREFIX_PATTERN.test(prefix)) throw new RangeError('invalid Redis key prefix');
  return {
    prefix,
    schemaVersion: `${prefix}:schema-version`,
    masterKeyCheck: `${prefix}:master-key-check`,
    siteIndex: `${prefix}:sites`,
    token: (tokenId) => `${prefix}:token:${encodeKeyPart(tokenId)}`,
    licenseServer: (licenseServerId) => `${prefix}:license-server:${encodeKeyPart(licenseServerId)}`,
    authFailures: (subject) => `${prefix}:auth-failures:${encodeKeyPart(subject)}`,
    site(siteId) {
      const tag = `{${prefix}:${encodeKeyPart(siteId)}}`;
      return {
        tag,
        record: `${tag}:site`,
        siteKeys: `${tag}:site-keys`,
        sequence: `${tag}:seq`,
        tokens: `${tag}:tokens`,
        revokedCredentials: `${tag}:revoked-credentials`,
        licenseServers: `${tag}:license-servers`,
        audit: `${tag}:audit`,
        contents: `${tag}:contents`,
        createdWindow: `${tag}:created-window`,
        revocations: `${tag}:revocations`,
        policies: `${tag}:policies`,
        policyRules: `${tag}:policy-rules`,
        contentPolicies: `${tag}:content-policies`,
        imported: (contentId) => `${tag}:imported:${encodeKeyPart(contentId)}`,
        revoked: (contentId) => `${tag}:revoked:${encodeKeyPart(contentId)}`,
        policyUsers: (name) => `${tag}:policy-users:${encodeKeyPart(name)}`,
        content: (contentId) => `${tag}:content:${encodeKeyPart(contentId)}`,
        contentKey: (contentId, kid) => `${tag}:ck:${encodeKeyPart(kid)}:${encodeKeyPart(contentId)}`,
      };
    },
  };
}
