import type { Clock } from '../crypto/random';

/**
 * Every web origin some site allows to read its ClearKey licences, for CORS preflights: a browser
 * sends the preflight without the licence token, so the site is not known yet and only the union can
 * be asked. The actual response is then allowed (or refused) by the token's own site. The union is
 * read from the store at most once per `ttlMs` per process, so preflights cost no store access.
 */
export interface AllowedOriginsDeps {
  /** Each site's allowed origins. */
  readonly originsOfAllSites: () => Promise<readonly (readonly string[])[]>;
  readonly clock: Clock;
  readonly ttlMs: number;
}

export type AllowedOrigins = (origin: string) => Promise<boolean>;

/** How long a process keeps the union of allowed origins (an added origin works everywhere within it). */
export const ALLOWED_ORIGINS_TTL_MS = 30_000;

export function createAllowedOrigins({ originsOfAllSites, clock, ttlMs }: AllowedOriginsDeps): AllowedOrigins {
  let cached: { readonly origins: ReadonlySet<string>; readonly until: number } | undefined;
  let loading: Promise<ReadonlySet<string>> | undefined;

  async function load(): Promise<ReadonlySet<string>> {
    const now = clock().getTime();
    if (cached !== undefined && cached.until > now) return cached.origins;
    loading ??= originsOfAllSites()
      .then((lists) => {
        const origins = new Set(lists.flat());
        cached = { origins, until: now + ttlMs };
        return origins;
      })
      .finally(() => {
        loading = undefined;
      });
    return loading;
  }

  return async (origin) => (await load()).has(origin);
}
