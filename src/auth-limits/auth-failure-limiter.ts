import type { Clock } from '../crypto/random';
import { TooManyRequests, Unauthenticated } from '../errors';
import { addressGroup } from './address-group';
import type { AuthFailureRepository, FailureWindow } from './ports';

/** Failed authentications allowed per window; 0 turns a dimension off. */
export interface AuthFailureLimits {
  readonly perAddress: number;
  readonly perCredential: number;
  readonly windowMs: number;
}

/**
 * Which door a credential is presented at; each has its own per-address counter, so failures at one
 * (a packager with a stale token on the key routes) never change the answers at another (the admin API).
 * `key`: KMS tokens and license-server credentials; `admin`: the admin token; `metrics`: METRICS_TOKEN.
 */
export type AuthRealm = 'key' | 'admin' | 'metrics';

/** Who is trying: the client address (after trusted proxies) and, when the credential names one, its ID. */
export interface AuthAttempt {
  readonly clientAddress: string;
  /** The non-secret lookup part of the presented credential (`kms1.<id>`, `lsc1.<id>`, `legacy.<siteId>`). */
  readonly credentialId?: string;
  /** Default `key`. */
  readonly realm?: AuthRealm;
}

export interface AuthFailureLimiter {
  /**
   * Runs `authenticate` and returns what it returns: a credential that verifies is answered whatever
   * the counters say. An `Unauthenticated` outcome is counted against the client address (its /64 for
   * IPv6) and the credential ID; when that failure is past a limit, it is answered with TooManyRequests
   * instead (RFC 6585 §4), else rethrown. Other errors (a disabled site, a store outage) count nothing.
   */
  guard<T>(attempt: AuthAttempt, authenticate: () => Promise<T> | T): Promise<T>;
}

export interface AuthFailureLimiterDeps {
  readonly repository: AuthFailureRepository;
  readonly clock: Clock;
  readonly limits: AuthFailureLimits;
}

const ADDRESS = 'addr:';
const CREDENTIAL = 'cred:';

/**
 * Brute-force brake for every credential check (KMS tokens, license-server credentials, the admin and
 * metrics tokens). Fixed windows per client address and per credential ID (decision 27), counted in the
 * shared store. The credential is always checked first (decision 53): the limits slow down failures
 * only, so nobody can lock a valid credential out by failing with its ID, or from its address (an
 * ingress all clients share). Successful requests read and write no counter.
 */
export function createAuthFailureLimiter({ repository, clock, limits }: AuthFailureLimiterDeps): AuthFailureLimiter {
  const subjectsOf = ({ clientAddress, credentialId, realm = 'key' }: AuthAttempt) => {
    const subjects: { subject: string; limit: number; what: string }[] = [];
    if (limits.perAddress > 0) {
      subjects.push({ subject: `${ADDRESS}${realm}:${addressGroup(clientAddress)}`, limit: limits.perAddress, what: 'address' });
    }
    if (limits.perCredential > 0 && credentialId !== undefined) {
      subjects.push({ subject: CREDENTIAL + credentialId, limit: limits.perCredential, what: 'credential' });
    }
    return subjects;
  };

  return {
    async guard(attempt, authenticate) {
      try {
        return await authenticate();
      } catch (error) {
        if (!(error instanceof Unauthenticated)) throw error;
        const subjects = subjectsOf(attempt);
        if (subjects.length === 0) throw error;
        const nowMs = clock().getTime();
        const windows = await repository.record(
          subjects.map(({ subject }) => subject),
          limits.windowMs,
          nowMs,
        );
        const over = subjects.flatMap(({ limit, what }, i) => {
          const window: FailureWindow | undefined = windows[i];
          return window !== undefined && window.count > limit ? [{ what, window }] : [];
        });
        if (over.length === 0) throw error;
        const resetsAtMs = Math.max(...over.map(({ window }) => window.resetsAtMs));
        throw new TooManyRequests(Math.max(1, Math.ceil((resetsAtMs - nowMs) / 1000)), {
          detail: `authentication failures over the limit of the ${over.map(({ what }) => what).join(' and ')} (${error.detail ?? 'no detail'})`,
          cause: error,
        });
      }
    },
  };
}
