/**
 * SQLite schema, applied idempotently at open. Secrets appear only as hashes (access keys, token
 * and license-server secrets) or AES-256-GCM blobs (site keys under the master key, content keys
 * under site keys).
 *
 * Versions: 1 sites, site keys, KMS tokens, content keys; 2 adds license servers and the audit
 * trail; 3 adds the failed-authentication counters; 4 the master key's check value; 5 the per-site
 * key-creation windows, and drops the content-key index by KID, which nothing reads; 6 the audit
 * records' KID count and digest (`ADDED_COLUMNS`) and the content-key index by content and age,
 * which pages of a content's keys seek; 7 imported-key slots, revocations, content policies, and the
 * audit records' reason and policy; 8 the sites' revision (`ADDED_COLUMNS`) and the triggers that count a
 * change of a site's content policies in it (`TRIGGERS_SQL`). Every statement is idempotent (`IF NOT EXISTS`,
 * `IF EXISTS`), and columns added to an existing table are added only where missing, so opening an
 * older file upgrades it in place.
 */
export const SCHEMA_VERSION = 8;

export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS sites (
  id              TEXT PRIMARY KEY,
  name            TEXT NOT NULL,
  status          TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
  options         TEXT NOT NULL,
  access_key_hash BLOB NOT NULL,
  created_at      TEXT NOT NULL,
  updated_at      TEXT NOT NULL,
  -- Schema 8 (ADDED_COLUMNS): counts changes (SiteRecord.revision).
  revision        INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS site_keys (
  site_id       TEXT NOT NULL REFERENCES sites (id),
  version       INTEGER NOT NULL,
  provider      TEXT NOT NULL,
  master_key_id TEXT NOT NULL,
  blob          BLOB NOT NULL,
  created_at    TEXT NOT NULL,
  PRIMARY KEY (site_id, version)
);
CREATE TABLE IF NOT EXISTS kms_tokens (
  id           TEXT PRIMARY KEY,
  site_id      TEXT NOT NULL REFERENCES sites (id),
  name         TEXT NOT NULL,
  secret_hash  BLOB NOT NULL,
  created_at   TEXT NOT NULL,
  last_used_at TEXT,
  revoked_at   TEXT
);
CREATE INDEX IF NOT EXISTS kms_tokens_by_site ON kms_tokens (site_id);
CREATE TABLE IF NOT EXISTS content_keys (
  site_id          TEXT NOT NULL,
  content_id       TEXT NOT NULL,
  kid              TEXT NOT NULL,
  site_key_version INTEGER NOT NULL,
  wrapped_key      BLOB NOT NULL,
  iv               BLOB,
  track_type       TEXT,
  period_index     INTEGER,
  scheme           TEXT,
  created_at       TEXT NOT NULL,
  PRIMARY KEY (site_id, content_id, kid)
);
DROP INDEX IF EXISTS content_keys_by_kid;
-- A content's keys oldest first (rowid, implicitly last, breaks ties), read a page at a time.
CREATE INDEX IF NOT EXISTS content_keys_by_content_age ON content_keys (site_id, content_id, created_at);
CREATE TABLE IF NOT EXISTS license_servers (
  id           TEXT PRIMARY KEY,
  site_id      TEXT NOT NULL REFERENCES sites (id),
  name         TEXT NOT NULL,
  certificate  BLOB NOT NULL,
  secret_hash  BLOB NOT NULL,
  created_at   TEXT NOT NULL,
  last_used_at TEXT,
  revoked_at   TEXT
);
CREATE INDEX IF NOT EXISTS license_servers_by_site ON license_servers (site_id);
-- AUTOINCREMENT: IDs are never reused, so a paging cursor never points at a later record.
CREATE TABLE IF NOT EXISTS audit_records (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  site_id        TEXT NOT NULL,
  at             TEXT NOT NULL,
  action         TEXT NOT NULL,
  credential_id  TEXT NOT NULL,
  client_address TEXT NOT NULL,
  dialect        TEXT NOT NULL,
  content_id     TEXT NOT NULL,
  kids           TEXT NOT NULL, -- JSON array of lowercase UUIDs: the first 16 (before schema 6: all)
  period_indexes TEXT NOT NULL, -- JSON array of integers: the first 16 (before schema 6: all)
  keys_created   INTEGER NOT NULL,
  request_id     TEXT NOT NULL,
  -- Schema 6 (ADDED_COLUMNS); NULL in records written before it.
  kid_count          INTEGER,
  kids_sha256        TEXT,
  period_index_count INTEGER,
  -- Schema 7 (ADDED_COLUMNS): an operator's change's reason and policy; NULL where none.
  reason             TEXT,
  policy             TEXT
);
CREATE INDEX IF NOT EXISTS audit_records_by_site ON audit_records (site_id, id);
-- One fixed window of failed authentications per subject (client address or credential ID).
CREATE TABLE IF NOT EXISTS auth_failures (
  subject   TEXT PRIMARY KEY,
  count     INTEGER NOT NULL,
  resets_at INTEGER NOT NULL -- epoch ms
);
CREATE INDEX IF NOT EXISTS auth_failures_by_reset ON auth_failures (resets_at);
-- The key-check value of the master key that wraps this store's site keys: one row, written once.
CREATE TABLE IF NOT EXISTS master_key_check (
  id            INTEGER PRIMARY KEY CHECK (id = 1),
  provider      TEXT NOT NULL,
  master_key_id TEXT NOT NULL,
  blob          BLOB NOT NULL,
  created_at    TEXT NOT NULL
);
-- One fixed window of keys created per site (MAX_KEYS_CREATED_PER_MINUTE).
CREATE TABLE IF NOT EXISTS key_creation_windows (
  site_id   TEXT PRIMARY KEY,
  count     INTEGER NOT NULL,
  resets_at INTEGER NOT NULL -- epoch ms
);
-- Schema 7. Imported keys by (track type, period) slot, for servers that assign KIDs per slot (PallyCon).
CREATE TABLE IF NOT EXISTS imported_slots (
  site_id    TEXT NOT NULL,
  content_id TEXT NOT NULL,
  slot       TEXT NOT NULL,
  kid        TEXT NOT NULL,
  PRIMARY KEY (site_id, content_id, slot)
);
-- Revoked targets of a content: '*' (the whole content) or a KID; the first revocation stands.
CREATE TABLE IF NOT EXISTS revocations (
  site_id    TEXT NOT NULL,
  content_id TEXT NOT NULL,
  target     TEXT NOT NULL,
  revocation TEXT NOT NULL, -- JSON
  PRIMARY KEY (site_id, content_id, target)
);
CREATE TABLE IF NOT EXISTS revocation_log (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  site_id    TEXT NOT NULL,
  at_ms      INTEGER NOT NULL,
  revocation TEXT NOT NULL -- JSON
);
CREATE INDEX IF NOT EXISTS revocation_log_by_site ON revocation_log (site_id, at_ms, id);
CREATE TABLE IF NOT EXISTS policies (
  site_id TEXT NOT NULL,
  name    TEXT NOT NULL,
  policy  TEXT NOT NULL, -- JSON
  PRIMARY KEY (site_id, name)
);
CREATE TABLE IF NOT EXISTS policy_rules (
  site_id TEXT PRIMARY KEY,
  rules   TEXT NOT NULL -- JSON array
);
CREATE TABLE IF NOT EXISTS content_policies (
  site_id    TEXT NOT NULL,
  content_id TEXT NOT NULL,
  policy     TEXT NOT NULL,
  PRIMARY KEY (site_id, content_id)
);
CREATE INDEX IF NOT EXISTS content_policies_by_policy ON content_policies (site_id, policy);
`;

/**
 * Columns added to tables that older files already have (`ALTER TABLE … ADD COLUMN` has no
 * `IF NOT EXISTS`): added, in this order, where missing. `SCHEMA_SQL` creates new tables with them,
 * last, so both kinds of file end up with the same columns.
 */
export const ADDED_COLUMNS: readonly { readonly table: string; readonly column: string; readonly type: string }[] = [
  { table: 'audit_records', column: 'kid_count', type: 'INTEGER' },
  { table: 'audit_records', column: 'kids_sha256', type: 'TEXT' },
  { table: 'audit_records', column: 'period_index_count', type: 'INTEGER' },
  { table: 'audit_records', column: 'reason', type: 'TEXT' },
  { table: 'audit_records', column: 'policy', type: 'TEXT' },
  { table: 'sites', column: 'revision', type: 'INTEGER NOT NULL DEFAULT 0' },
];

/**
 * Every change of a site's content policies counts in its revision, in the same transaction as the
 * change: key requests cache a content's policy by the site's revision (`SiteRecord.revision`). Run
 * after `ADDED_COLUMNS`, which gives older files the column.
 */
/** The tables that hold a site's content policies, and the row each write event leaves behind. */
const POLICY_TABLES = ['policies', 'policy_rules', 'content_policies'] as const;
const ROW_OF_EVENT = { insert: 'NEW', update: 'NEW', delete: 'OLD' } as const;

export const TRIGGERS_SQL = POLICY_TABLES.flatMap((table) =>
  Object.entries(ROW_OF_EVENT).map(
    ([event, row]) =>
      `CREATE TRIGGER IF NOT EXISTS ${table}_count_${event} AFTER ${event.toUpperCase()} ON ${table}
  BEGIN UPDATE sites SET revision = revision + 1 WHERE id = ${row}.site_id; END;`,
  ),
).join('\n');
