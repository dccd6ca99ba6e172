/**
 * SQLite schema, applied idempotently at open. Secrets appear only as hashes (access keys, token
 * and license-server secrets) or AES-256-GCM blobs (site keys under the master key, content keys
 * under site keys).
 *
 * Versions: 1 sites, site keys, KMS tokens, content keys; 2 adds license servers and the audit
 * trail; 3 adds the failed-authentication counters; 4 the master key's check value; 5 the per-site
 * key-creation windows, imported-key slots, revocations and content policies, and drops the
 * content-key index by KID, which nothing reads. Every statement
 * is idempotent (`IF NOT EXISTS`, `IF EXISTS`), so opening an older file upgrades it in place.
 */
export const SCHEMA_VERSION = 5;

export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS sites (
  id              TEXT PRIMARY KEY,
  name            TEXT NOT NULL,
  status          TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
  options         TEXT NOT NULL,
  access_key_hash BLOB NOT NULL,
  created_at      TEXT NOT NULL,
  updated_at      TEXT NOT NULL
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
  kids           TEXT NOT NULL, -- JSON array of lowercase UUIDs
  period_indexes TEXT NOT NULL, -- JSON array of integers
  keys_created   INTEGER NOT NULL,
  request_id     TEXT NOT NULL
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
-- Imported keys by (track type, period) slot, for servers that assign KIDs per slot (PallyCon).
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
