import type { Database } from 'better-sqlite3';
import type { KeyId } from '../../keys/key-id';
import type { Revocation, RevocationRepository } from '../../revocation/ports';
import { decodeRevocation, encodeRevocation, revocationTargets, WHOLE_CONTENT } from '../lifecycle-records';
import { guarded } from './guarded';

/**
 * Revocations in the `revocations` table (one row per revoked target of a content, read by the
 * get-or-create transaction) and the `revocation_log` (schema version 5).
 */
export function createSqliteRevocationRepository(db: Database): RevocationRepository {
  const stmt = {
    insertTarget: db.prepare('INSERT OR IGNORE INTO revocations (site_id, content_id, target, revocation) VALUES (?, ?, ?, ?)'),
    wholeContent: db.prepare<[string, string], { target: string }>("SELECT target FROM revocations WHERE site_id = ? AND content_id = ? AND target = '*'"),
    targets: db.prepare<[string, string], { target: string; revocation: string }>('SELECT target, revocation FROM revocations WHERE site_id = ? AND content_id = ?'),
    log: db.prepare('INSERT INTO revocation_log (site_id, at_ms, revocation) VALUES (?, ?, ?)'),
    since: db.prepare<[string, number, number], { revocation: string }>(
      'SELECT revocation FROM revocation_log WHERE site_id = ? AND at_ms >= ? ORDER BY at_ms, id LIMIT ?',
    ),
  };

  // A whole-content revocation covers its KIDs; otherwise each target keeps its first revocation.
  const revoke = db.transaction((revocation: Revocation): boolean => {
    const { siteId, contentId } = revocation;
    if (stmt.wholeContent.get(siteId, contentId) !== undefined) return false;
    const text = encodeRevocation(revocation);
    let recorded = 0;
    for (const target of revocationTargets(revocation)) recorded += stmt.insertTarget.run(siteId, contentId, target, text).changes;
    if (recorded > 0) stmt.log.run(siteId, Date.parse(revocation.revokedAt), text);
    return recorded > 0;
  });

  return {
    async revoke(revocation) {
      return guarded(() => ({ recorded: revoke.immediate(revocation) }));
    },

    async get(siteId, contentId) {
      return guarded(() => {
        const kids = new Map<KeyId, Revocation>();
        let content: Revocation | undefined;
        for (const row of stmt.targets.all(siteId, contentId)) {
          const revocation = decodeRevocation(siteId, row.revocation);
          if (row.target === WHOLE_CONTENT) content = revocation;
          else kids.set(row.target as KeyId, revocation);
        }
        return { ...(content !== undefined && { content }), kids };
      });
    },

    async listSince(siteId, sinceMs, limit) {
      return guarded(() => stmt.since.all(siteId, sinceMs, limit).map((row) => decodeRevocation(siteId, row.revocation)));
    },
  };
}
