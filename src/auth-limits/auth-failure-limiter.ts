import type { Clock } from '../crypto/random';
import { TooManyRequests, Unauthenticated } from '../errors';
import type { AuthFailureRepository } from './ports';

/** Failed authentications allowed per window; 0 turns a dimension off. */
export interface AuthFailureLimits {
  readonly perAddress: number;
  readonly perCredential: number;
  readonly windowMs: number;
}

/** Who is trying: the client address (after trusted proxies) and, when the credential names one, its ID. */
export interface AuthAttempt {
  readonly clientAddress: string;
  /** The non-secret lookup part of the presented credential (`kms1.<id>`, `lsc1.<id>`, `legacy.<siteId>`). */
  readonly credentialId?: string;
}

export interface AuthFailureLimiter {
  /**
   * Runs `authenticate` unless the address or credential has used up its failures in the current window
   * (then TooManyRequests, without checking the credential: a locked-out guesser learns nothing). An
   * `Unauthenticated` outcome is counted against both before it is rethrown.
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
 * Brute-force and credential-stuffing brake for every credential check (KMS tokens, license-server
 * credentials, the admin token). Fixed windows per client address and per credential ID (decision 27):
 * the address limit stops one client guessing many credentials, the credential limit stops many
 * addresses guessing one credential's secret. Only failures count; successful requests cost no write.
 */
export function createAuthFailureLimiter({ repository, clock, limits }: AuthFailureLimiterDeps): AuthFailureLimiter {
  const subjectsOf = ({ clientAddress, credentialId }: AuthAttempt) => {
    const subjects: { subject: string; limit: number }[] = [];
    if (limits.perAddress > 0) subjects.push({ subject: ADDRESS + clientAddress, limit: limits.perAddress });
    if (limits.perCredential > 0 && credentialId !== undefined) {
      subjects.push({ subject: CREDENTIAL + credentialId, limit: limits.perCredential });
    }
    return subjects;
  };

  return {
    async guard(attempt, authenticate) {
      const subjects = subjectsOf(attempt);
      if (subjects.length === 0) return authenticate();
      const names = subjects.map(({ subject }) => subject);
      const nowMs = clock().getTime();
      const windows = await repository.read(names, nowMs);
      const exhausted = windows.filter((window, i) => window.count >= (subjects[i]?.limit ?? Infinity));
      if (exhausted.length > 0) {
        const resetsAtMs = Math.max(...exhausted.map((window) => window.resetsAtMs));
        throw new TooManyRequests(Math.max(1, Math.ceil((resetsAtMs - nowMs) / 1000)), {
          detail: `authentication failures over the limit for ${exhausted.length === 1 ? 'one subject' : 'address and credential'}`,
        });
      }
      try {
        return await authenticate();
      } catch (error) {
        if (error instanceof Unauthenticated) await repository.record(names, limits.windowMs, clock().getTime());
        throw error;
      }
    },
  };
}
