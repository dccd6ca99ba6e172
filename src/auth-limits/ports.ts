/**
 * Persistence of failed-authentication counters. They live in the shared store, not in process memory,
 * so every replica behind the load balancer sees the same counts: an attacker gains nothing by spreading
 * guesses over pods.
 */

/** One fixed window of failures of one subject (a client address or a credential ID). */
export interface FailureWindow {
  readonly count: number;
  /** When the window closes and the count starts again from zero (epoch ms); `nowMs` when there is none. */
  readonly resetsAtMs: number;
}

export interface AuthFailureRepository {
  /**
   * Adds one failure to each subject's open window, opening a `windowMs` window where there is none or
   * it has closed. Atomic per subject, also across processes.
   */
  record(subjects: readonly string[], windowMs: number, nowMs: number): Promise<FailureWindow[]>;
  /** The open windows of `subjects` (count 0 where none is open), in the same order. */
  read(subjects: readonly string[], nowMs: number): Promise<FailureWindow[]>;
}
