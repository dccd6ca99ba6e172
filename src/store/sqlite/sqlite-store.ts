import { chmodSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { MasterKeyProviderName } from '../../crypto/kms/master-key';
import { Conflict, RequestInvalid } from '../../errors';
import type { KeyId } from '../../keys/key-id';
import type { ContentKeyRecord, ContentKeyRepository, GetOrCreateOptions, GetOrCreateOutcome, GetOrCreateRequest, IssueContext } from '../../keys/ports';
import type { KmsTokenRecord, SiteRepository } from '../../sites/ports';
import type { SiteOptions, SiteRecord, SiteStatus, StoredSiteKey } from '../../sites/site';
import type { Store } from '../store';
import { createSqliteAuditRepository, prepareAuditInsert } from './audit-repository';
import { createSqliteAuthFailureRepository } from './auth-failure-repository';
import { guarded } from './guarded';
import { createSqliteLicenceTokenKeyRepository } from './licence-token-key-repository';
import { createSqliteLicenseServerRepository } from './license-server-repository';
import { createSqlitePolicyRepository } from './policy-repository';
import { createSqliteRevocationRepository } from './revocation-repository';
import { createSqliteMasterKeyCheckRepository } from './master-key-check-repository';
import { ADDED_COLUMNS, SCHEMA_SQL, SCHEMA_VERSION, TRIGGERS_SQL } from './schema';

interface SiteRow {
  id: string;
  name: string;
  status: SiteStatus;
  options: string;
  access_key_hash: Buffer;
  created_at: string;
  updated_at: string;
  revision: number;
}
interface SiteKeyRow {
  version: number;
  provider: MasterKeyProviderName;
  master_key_id: string;
  blob: Buffer;
  created_at: string;
}
interface TokenRow {
  id: string;
  site_id: string;
  name: string;
  secret_hash: Buffer;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}
interface ContentKeyRow {
  site_id: string;
  content_id: string;
  kid: string;
  site_key_version: number;
  wrapped_key: Buffer;
  iv: Buffer | null;
  track_type: string | null;
  period_index: number | null;
  scheme: string | null;
  created_at: string;
}

function toContentKeyRecord(row: ContentKeyRow): ContentKeyRecord {
  return {
    siteId: row.site_id,
    contentId: row.content_id,
    kid: row.kid as KeyId,
    siteKeyVersion: row.site_key_version,
    wrappedKey: row.wrapped_key,
    createdAt: row.created_at,
    ...(row.iv !== null && { iv: row.iv }),
    ...(row.track_type !== null && { trackType: row.track_type }),
    ...(row.period_index !== null && { periodIndex: row.period_index }),
    ...(row.scheme !== null && { scheme: row.scheme }),
  };
}

function toTokenRecord(row: TokenRow): KmsTokenRecord {
  return {
    id: row.id,
    siteId: row.site_id,
    name: row.name,
    secretHash: row.secret_hash,
    createdAt: row.created_at,
    ...(row.last_used_at !== null && { lastUsedAt: row.last_used_at }),
    ...(row.revoked_at !== null && { revokedAt: row.revoked_at }),
  };
}

function toSiteKey(row: SiteKeyRow): StoredSiteKey {
  return {
    version: row.version,
    wrapped: { provider: row.provider, masterKeyId: row.master_key_id, blob: row.blob },
    createdAt: row.created_at,
  };
}

function assertPageLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError('page limit must be a positive integer');
}

/** The last (content ID, KID) of a `pageBySite` page, as its `next` cursor carries it. */
function parseSitePageCursor(cursor: string): { readonly contentId: string; readonly kid: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(cursor);
  } catch {
    parsed = undefined;
  }
  if (!Array.isArray(parsed) || parsed.length !== 2 || !parsed.every((part) => typeof part === 'string')) {
    throw new RangeError('not a content-key page cursor of this store');
  }
  const [contentId, kid] = parsed as [string, string];
  return { contentId, kid };
}

/**
 * The (created_at, rowid) of the last key of a `pageByContent` page, from its `next` cursor
 * (base64url of a JSON pair, opaque to API clients).
 * @throws RequestInvalid for anything else: the cursor comes from an API client.
 */
function parseContentPageCursor(cursor: string): { readonly createdAt: string; readonly rowId: number } {
  let parsed: unknown;
  try {
    parsed = /^[A-Za-z0-9_-]{1,128}$/.test(cursor) ? JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!Array.isArray(parsed) || parsed.length !== 2 || typeof parsed[0] !== 'string' || !Number.isSafeInteger(parsed[1])) {
    throw new RequestInvalid('content-key cursor is not valid');
  }
  return { createdAt: parsed[0], rowId: parsed[1] as number };
}

/**
 * The embedded store: one SQLite file in WAL mode with `synchronous=FULL`, so every committed
 * transaction is on disk (fsync of the WAL) before the call returns — a key is durable before it
 * is handed out. Several processes may share the file; SQLite serialises writers.
 */
export function openSqliteStore(path: string): Store {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const db = new Database(path);
  if (path !== ':memory:') chmodSync(path, 0o600);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  db.exec(SCHEMA_SQL);
  const userVersion = db.pragma('user_version', { simple: true }) as number;
  if (userVersion > SCHEMA_VERSION) {
    db.close();
    throw new Error(`database ${path} has schema version ${userVersion}, newer than this build (${SCHEMA_VERSION})`);
  }
  // Only when it changes: opening a current file writes nothing (a refused start leaves the file as it was).
  if (userVersion !== SCHEMA_VERSION) {
    // IMMEDIATE: two processes upgrading one file at once must not both add a column.
    db.transaction(() => {
      for (const { table, column, type } of ADDED_COLUMNS) {
        const present = db.prepare<[string], { name: string }>('SELECT name FROM pragma_table_info(?)').all(table);
        if (!present.some(({ name }) => name === column)) db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`);
      }
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
    }).immediate();
  }
  db.exec(TRIGGERS_SQL);

  const stmt = {
    insertSite: db.prepare(
      `INSERT INTO sites (id, name, status, options, access_key_hash, created_at, updated_at)
       VALUES (@id, @name, @status, @options, @accessKeyHash, @createdAt, @updatedAt)`,
    ),
    insertSiteKey: db.prepare(
      `INSERT INTO site_keys (site_id, version, provider, master_key_id, blob, created_at)
       VALUES (@siteId, @version, @provider, @masterKeyId, @blob, @createdAt)`,
    ),
    getSite: db.prepare<[string], SiteRow>('SELECT * FROM sites WHERE id = ?'),
    listSites: db.prepare<[], SiteRow>('SELECT * FROM sites ORDER BY id'),
    siteKeys: db.prepare<[string], SiteKeyRow>('SELECT * FROM site_keys WHERE site_id = ? ORDER BY version'),
    currentSiteKeyVersion: db.prepare<[string], { version: number | null }>(
      'SELECT MAX(version) AS version FROM site_keys WHERE site_id = ?',
    ),
    updateSite: db.prepare(
      `UPDATE sites SET name = COALESCE(@name, name), status = COALESCE(@status, status),
       options = COALESCE(@options, options), updated_at = @updatedAt, revision = revision + 1 WHERE id = @id`,
    ),
    bumpSiteRevision: db.prepare<[string]>('UPDATE sites SET revision = revision + 1 WHERE id = ?'),
    insertToken: db.prepare(
      `INSERT INTO kms_tokens (id, site_id, name, secret_hash, created_at)
       VALUES (@id, @siteId, @name, @secretHash, @createdAt)`,
    ),
    getToken: db.prepare<[string], TokenRow>('SELECT * FROM kms_tokens WHERE id = ?'),
    listTokens: db.prepare<[string], TokenRow>('SELECT * FROM kms_tokens WHERE site_id = ? ORDER BY created_at, rowid'),
    revokeToken: db.prepare(
      'UPDATE kms_tokens SET revoked_at = COALESCE(revoked_at, @revokedAt) WHERE id = @id AND site_id = @siteId',
    ),
    touchToken: db.prepare('UPDATE kms_tokens SET last_used_at = @usedAt WHERE id = @id'),
    insertContentKey: db.prepare(
      `INSERT INTO content_keys (site_id, content_id, kid, site_key_version, wrapped_key, iv, track_type,
         period_index, scheme, created_at)
       VALUES (@siteId, @contentId, @kid, @siteKeyVersion, @wrappedKey, @iv, @trackType, @periodIndex, @scheme,
         @createdAt)
       ON CONFLICT (site_id, content_id, kid) DO NOTHING`,
    ),
    getContentKey: db.prepare<[string, string, string], ContentKeyRow>(
      'SELECT * FROM content_keys WHERE site_id = ? AND content_id = ? AND kid = ?',
    ),
    contentKeysByContent: db.prepare<[string, string], ContentKeyRow>(
      'SELECT * FROM content_keys WHERE site_id = ? AND content_id = ? ORDER BY created_at, rowid',
    ),
    // Keyset pages of the same order, seeking the index by content and age.
    contentKeysByContentFirst: db.prepare<[string, string, number], ContentKeyRow & { row_id: number }>(
      'SELECT rowid AS row_id, * FROM content_keys WHERE site_id = ? AND content_id = ? ORDER BY created_at, rowid LIMIT ?',
    ),
    contentKeysByContentAfter: db.prepare<[string, string, string, number, number], ContentKeyRow & { row_id: number }>(
      `SELECT rowid AS row_id, * FROM content_keys WHERE site_id = ? AND content_id = ? AND (created_at, rowid) > (?, ?)
       ORDER BY created_at, rowid LIMIT ?`,
    ),
    creationWindow: db.prepare<[string], { count: number; resets_at: number }>('SELECT count, resets_at FROM key_creation_windows WHERE site_id = ?'),
    revokedTarget: db.prepare<[string, string, string, string], { target: string }>(
      "SELECT target FROM revocations WHERE site_id = ? AND content_id = ? AND target IN ('*', ?, ?) LIMIT 1",
    ),
    importedKid: db.prepare<[string, string, string], { kid: string }>('SELECT kid FROM imported_slots WHERE site_id = ? AND content_id = ? AND slot = ?'),
    insertImportedSlot: db.prepare('INSERT OR IGNORE INTO imported_slots (site_id, content_id, slot, kid) VALUES (?, ?, ?, ?)'),
    setCreationWindow: db.prepare(
      `INSERT INTO key_creation_windows (site_id, count, resets_at) VALUES (@siteId, @count, @resetsAt)
       ON CONFLICT (site_id) DO UPDATE SET count = excluded.count, resets_at = excluded.resets_at`,
    ),
    // Keyset pages in primary-key order: each page is a range seek on the primary key's index (no
    // sort, no offset), so a page costs its own rows however many keys the site has.
    contentKeysBySiteFirst: db.prepare<[string, number], ContentKeyRow>(
      'SELECT * FROM content_keys WHERE site_id = ? ORDER BY content_id, kid LIMIT ?',
    ),
    contentKeysBySiteAfter: db.prepare<[string, string, string, number], ContentKeyRow>(
      'SELECT * FROM content_keys WHERE site_id = ? AND (content_id, kid) > (?, ?) ORDER BY content_id, kid LIMIT ?',
    ),
    replaceWrappedKey: db.prepare(
      `UPDATE content_keys SET site_key_version = @siteKeyVersion, wrapped_key = @wrappedKey
       WHERE site_id = @siteId AND content_id = @contentId AND kid = @kid AND wrapped_key = @expected`,
    ),
  };

  const readSite = (row: SiteRow | undefined): SiteRecord | undefined =>
    row && {
      id: row.id,
      name: row.name,
      status: row.status,
      options: JSON.parse(row.options) as SiteOptions,
      accessKeyHash: row.access_key_hash,
      siteKeys: stmt.siteKeys.all(row.id).map(toSiteKey),
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      revision: row.revision,
    };

  const insertSiteKey = (siteId: string, key: StoredSiteKey) =>
    stmt.insertSiteKey.run({
      siteId,
      version: key.version,
      provider: key.wrapped.provider,
      masterKeyId: key.wrapped.masterKeyId,
      blob: key.wrapped.blob,
      createdAt: key.createdAt,
    });

  const createSite = db.transaction((site: SiteRecord) => {
    if (stmt.getSite.get(site.id)) throw new Conflict(`site ${site.id} already exists`);
    stmt.insertSite.run({ ...site, options: JSON.stringify(site.options) });
    for (const key of site.siteKeys) insertSiteKey(site.id, key);
  });

  // IMMEDIATE: take the write lock before reading, so the check-then-insert is atomic across processes.
  const addSiteKey = db.transaction((siteId: string, expected: number, key: StoredSiteKey) => {
    if (stmt.currentSiteKeyVersion.get(siteId)?.version !== expected) return false;
    insertSiteKey(siteId, key);
    stmt.bumpSiteRevision.run(siteId);
    return true;
  });

  /** Equal IVs, absence included. */
  const sameBytes = (a: Buffer | undefined, b: Buffer | undefined) => (a === undefined || b === undefined ? a === b : a.equals(b));

  const insertAudit = prepareAuditInsert(db);

  /** Whether an `issue` context is stale: its site changed since (or is not active), or its token was revoked. */
  const isStale = (siteId: string, { credentialId, siteRevision }: IssueContext): boolean => {
    const site = stmt.getSite.get(siteId);
    return site?.status !== 'active' || site.revision !== siteRevision || stmt.getToken.get(credentialId)?.revoked_at != null;
  };

  /** The imported KIDs of `assignedSlot` requests, when any differs from the KID assigned. */
  const importedSlots = (requests: readonly GetOrCreateRequest[]): GetOrCreateOutcome | undefined => {
    const kids = requests.map(({ record, assignedSlot }) =>
      assignedSlot === undefined ? undefined : (stmt.importedKid.get(record.siteId, record.contentId, assignedSlot)?.kid as KeyId | undefined),
    );
    return kids.some((kid, i) => kid !== undefined && kid !== requests[i]?.record.kid) ? { kind: 'slot-imported', kids } : undefined;
  };

  /**
   * Checks every request first (the issue context, imported slots, revocations, an IV that must
   * match, the site's creation window), so a refused request writes nothing, then inserts what is
   * missing and the issue's audit record; one IMMEDIATE transaction.
   */
  const getOrCreateAll = db.transaction((requests: readonly GetOrCreateRequest[], { limit, issue }: GetOrCreateOptions): GetOrCreateOutcome => {
    const siteId = requests[0]?.record.siteId;
    if (siteId === undefined) return { kind: 'obtained', results: [] };
    if (issue !== undefined && isStale(siteId, issue)) return { kind: 'stale-authentication' };
    const imported = importedSlots(requests);
    if (imported !== undefined) return imported;
    let fresh = 0;
    for (const [index, { record, ivMustMatch, mustBeNew }] of requests.entries()) {
      if (record.siteId !== siteId) throw new RangeError('getOrCreateAll takes the records of one site');
      if (stmt.revokedTarget.get(record.siteId, record.contentId, record.kid, record.kid) !== undefined) return { kind: 'revoked', index };
      const row = stmt.getContentKey.get(record.siteId, record.contentId, record.kid);
      if (row === undefined) fresh += 1;
      else if (mustBeNew === true) return { kind: 'exists', index };
      else if (ivMustMatch && !sameBytes(row.iv ?? undefined, record.iv)) return { kind: 'iv-differs', index };
    }
    if (fresh > 0 && limit !== undefined && limit.perWindow > 0) {
      const window = stmt.creationWindow.get(siteId);
      const open = window !== undefined && window.resets_at > limit.nowMs;
      const used = open ? window.count : 0;
      const resetsAt = open ? window.resets_at : limit.nowMs + limit.windowMs;
      if (used + fresh > limit.perWindow) return { kind: 'over-limit', retryAfterMs: resetsAt - limit.nowMs };
      stmt.setCreationWindow.run({ siteId, count: used + fresh, resetsAt });
    }
    const results = requests.map(({ record, importSlot }) => {
      const created =
        stmt.insertContentKey.run({
          ...record,
          iv: record.iv ?? null,
          trackType: record.trackType ?? null,
          periodIndex: record.periodIndex ?? null,
          scheme: record.scheme ?? null,
        }).changes === 1;
      if (created && importSlot !== undefined) stmt.insertImportedSlot.run(record.siteId, record.contentId, importSlot, record.kid);
      const row = stmt.getContentKey.get(record.siteId, record.contentId, record.kid);
      if (!row) throw new Error('content key vanished inside its own transaction');
      return { record: toContentKeyRecord(row), created };
    });
    if (issue !== undefined) insertAudit({ ...issue.audit, keysCreated: results.filter(({ created }) => created).length });
    return { kind: 'obtained', results };
  });

  const sites: SiteRepository = {
    async createSite(site) {
      guarded(() => createSite.immediate(site));
    },
    async getSite(siteId) {
      return guarded(() => readSite(stmt.getSite.get(siteId)));
    },
    async listSites() {
      return guarded(() => stmt.listSites.all().map((row) => readSite(row) as SiteRecord));
    },
    async updateSite(siteId, patch) {
      return guarded(() => {
        stmt.updateSite.run({
          id: siteId,
          name: patch.name ?? null,
          status: patch.status ?? null,
          options: patch.options === undefined ? null : JSON.stringify(patch.options),
          updatedAt: patch.updatedAt,
        });
        return readSite(stmt.getSite.get(siteId));
      });
    },
    async addSiteKey(siteId, expectedCurrentVersion, siteKey) {
      if (siteKey.version !== expectedCurrentVersion + 1) throw new RangeError('a new site-key version must follow the current one');
      return guarded(() => addSiteKey.immediate(siteId, expectedCurrentVersion, siteKey));
    },
    async createToken(token) {
      guarded(() => stmt.insertToken.run(token));
    },
    async getToken(tokenId) {
      return guarded(() => {
        const row = stmt.getToken.get(tokenId);
        return row && toTokenRecord(row);
      });
    },
    async listTokens(siteId) {
      return guarded(() => stmt.listTokens.all(siteId).map(toTokenRecord));
    },
    async revokeToken(siteId, tokenId, revokedAt) {
      return guarded(() => stmt.revokeToken.run({ id: tokenId, siteId, revokedAt }).changes === 1);
    },
    async touchToken(tokenId, usedAt) {
      guarded(() => stmt.touchToken.run({ id: tokenId, usedAt }));
    },
  };

  const contentKeys: ContentKeyRepository = {
    async getOrCreateAll(requests, options = {}) {
      return guarded(() => getOrCreateAll.immediate(requests, options));
    },
    async get(siteId, contentId, kid) {
      return guarded(() => {
        const row = stmt.getContentKey.get(siteId, contentId, kid);
        return row && toContentKeyRecord(row);
      });
    },
    async listByContent(siteId, contentId) {
      return guarded(() => stmt.contentKeysByContent.all(siteId, contentId).map(toContentKeyRecord));
    },
    async pageByContent(siteId, contentId, { limit, after }) {
      assertPageLimit(limit);
      const from = after === undefined ? undefined : parseContentPageCursor(after);
      const rows = guarded(() =>
        from === undefined
          ? stmt.contentKeysByContentFirst.all(siteId, contentId, limit)
          : stmt.contentKeysByContentAfter.all(siteId, contentId, from.createdAt, from.rowId, limit),
      );
      const last = rows[rows.length - 1];
      const records = rows.map(toContentKeyRecord);
      return rows.length === limit && last !== undefined
        ? { records, next: Buffer.from(JSON.stringify([last.created_at, last.row_id])).toString('base64url') }
        : { records };
    },
    async pageBySite(siteId, { limit, after }) {
      assertPageLimit(limit);
      const from = after === undefined ? undefined : parseSitePageCursor(after);
      // Read whole: one page is bounded, and an open iterator would hold a read transaction across
      // the caller's awaits.
      const rows = guarded(() =>
        from === undefined
          ? stmt.contentKeysBySiteFirst.all(siteId, limit)
          : stmt.contentKeysBySiteAfter.all(siteId, from.contentId, from.kid, limit),
      );
      const records = rows.map(toContentKeyRecord);
      const last = records[records.length - 1];
      return records.length === limit && last !== undefined ? { records, next: JSON.stringify([last.contentId, last.kid]) } : { records };
    },
    async replaceWrappedKey(identity, expectedWrappedKey, next) {
      return guarded(
        () =>
          stmt.replaceWrappedKey.run({
            siteId: identity.siteId,
            contentId: identity.contentId,
            kid: identity.kid,
            expected: expectedWrappedKey,
            siteKeyVersion: next.siteKeyVersion,
            wrappedKey: next.wrappedKey,
          }).changes === 1,
      );
    },
  };

  return {
    kind: 'sqlite',
    sites,
    contentKeys,
    audit: createSqliteAuditRepository(db),
    licenseServers: createSqliteLicenseServerRepository(db),
    revocations: createSqliteRevocationRepository(db),
    policies: createSqlitePolicyRepository(db),
    licenceTokenKeys: createSqliteLicenceTokenKeyRepository(db),
    authFailures: createSqliteAuthFailureRepository(db),
    masterKeyCheck: createSqliteMasterKeyCheckRepository(db),
    async ping() {
      guarded(() => db.prepare('SELECT 1').get());
    },
    async close() {
      if (db.open) db.close();
    },
  };
}
