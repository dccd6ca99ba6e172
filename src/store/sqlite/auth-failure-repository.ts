import type { Database } from 'better-sqlite3';
import type { AuthFailureRepository, FailureWindow } from '../../auth-limits/ports';
import { guarded } from './guarded';

interface WindowRow {
  count: number;
  resets_at: number;
}

/**
 * Failure counters in the `auth_failures` table (schema version 3). Processes sharing the file share
 * the counts; each upsert is one statement, so concurrent failures never lose a count. Closed windows
 * are deleted as new failures arrive, which bounds the table by the failures of one window.
 */
export function createSqliteAuthFailureRepository(db: Database): AuthFailureRepository {
  const stmt = {
    prune: db.prepare<[number]>('DELETE FROM auth_failures WHERE resets_at <= ?'),
    record: db.prepare<{ subject: string; now: number; resetsAt: number }, WindowRow>(
      `INSERT INTO auth_failures (subject, count, resets_at) VALUES (@subject, 1, @resetsAt)
       ON CONFLICT (subject) DO UPDATE SET
         count = CASE WHEN resets_at <= @now THEN 1 ELSE count + 1 END,
         resets_at = CASE WHEN resets_at <= @now THEN @resetsAt ELSE resets_at END
       RETURNING count, resets_at`,
    ),
    read: db.prepare<[string, number], WindowRow>('SELECT count, resets_at FROM auth_failures WHERE subject = ? AND resets_at > ?'),
  };
  const toWindow = (row: WindowRow | undefined, nowMs: number): FailureWindow =>
    row === undefined ? { count: 0, resetsAtMs: nowMs } : { count: row.count, resetsAtMs: row.resets_at };
  const recordAll = db.transaction((subjects: readonly string[], windowMs: number, nowMs: number) => {
    stmt.prune.run(nowMs);
    return subjects.map((subject) => toWindow(stmt.record.get({ subject, now: nowMs, resetsAt: nowMs + windowMs }), nowMs));
  });

  return {
    async record(subjects, windowMs, nowMs) {
      return guarded(() => recordAll.immediate(subjects, windowMs, nowMs));
    },
    async read(subjects, nowMs) {
      return guarded(() => subjects.map((subject) => toWindow(stmt.read.get(subject, nowMs), nowMs)));
    },
  };
}
