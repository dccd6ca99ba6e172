import { createAuthFailureLimiter, type AuthAttempt, type AuthFailureLimits } from '../../../src/auth-limits/auth-failure-limiter';
import type { AuthFailureRepository, FailureWindow } from '../../../src/auth-limits/ports';
import { DependencyUnavailable, Forbidden, TooManyRequests, Unauthenticated } from '../../../src/errors';

/** The repository contract in memory (fixed windows), with every call written down. */
function memoryRepository() {
  const windows = new Map<string, { count: number; resetsAtMs: number }>();
  const calls: string[] = [];
  const repository: AuthFailureRepository = {
    async record(subjects, windowMs, nowMs) {
      calls.push(`record ${subjects.join(' ')}`);
      return subjects.map((subject): FailureWindow => {
        const open = windows.get(subject);
        const next = open !== undefined && open.resetsAtMs > nowMs ? { ...open, count: open.count + 1 } : { count: 1, resetsAtMs: nowMs + windowMs };
        windows.set(subject, next);
        return next;
      });
    },
    async read(subjects, nowMs) {
      calls.push(`read ${subjects.join(' ')}`);
      return subjects.map((subject) => {
        const open = windows.get(subject);
        return open !== undefined && open.resetsAtMs > nowMs ? open : { count: 0, resetsAtMs: nowMs };
      });
    },
  };
  return { repository, calls, windows };
}

describe('authentication-failure limiter', () => {
  const LIMITS: AuthFailureLimits = { perAddress: 3, perCredential: 5, windowMs: 60_000 };
  const START = Date.parse('2026-12-08T10:00:00Z');

  function setUp(limits: AuthFailureLimits = LIMITS) {
    let now = START;
    const memory = memoryRepository();
    const limiter = createAuthFailureLimiter({ repository: memory.repository, clock: () => new Date(now), limits });
    return {
      ...memory,
      limiter,
      advance: (ms: number) => {
        now += ms;
      },
    };
  }
  const valid = () => 'site A';
  const wrong = () => {
    throw new Unauthenticated({ detail: 'token kms1.x does not verify' });
  };
  const ingress: AuthAttempt = { clientAddress: '10.0.0.1', credentialId: 'kms1.AAAAAAAAAAAAAAAA' };

  it('answers a valid credential from an address past its failure limit (the shared ingress address)', async () => {
    const { limiter } = setUp();
    for (let i = 0; i < 10; i += 1) {
      await limiter.guard({ clientAddress: '10.0.0.1', credentialId: `kms1.guess${i}` }, wrong).catch(() => undefined);
    }
    await expect(limiter.guard({ clientAddress: '10.0.0.1', credentialId: 'kms1.BBBBBBBBBBBBBBBB' }, valid)).resolves.toBe('site A');
  });

  it('answers a valid credential whose ID has failed past its limit from many (spoofed) addresses', async () => {
    const { limiter } = setUp();
    for (let i = 0; i < 20; i += 1) await limiter.guard({ ...ingress, clientAddress: `203.0.113.${i}` }, wrong).catch(() => undefined);
    await expect(limiter.guard({ ...ingress, clientAddress: '198.51.100.1' }, valid)).resolves.toBe('site A');
  });

  it('answers 401 up to the limit and 429 past it, with Retry-After until the window closes', async () => {
    const { limiter, advance } = setUp();
    for (let i = 0; i < LIMITS.perAddress; i += 1) await expect(limiter.guard(ingress, wrong)).rejects.toBeInstanceOf(Unauthenticated);
    advance(15_000);
    const refused = await limiter.guard(ingress, wrong).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(TooManyRequests);
    expect((refused as TooManyRequests).retryAfterSeconds).toBe(45);
    expect((refused as TooManyRequests).detail).toBe('authentication failures over the limit of the address (token kms1.x does not verify)');
    advance(45_000);
    await expect(limiter.guard(ingress, wrong)).rejects.toBeInstanceOf(Unauthenticated);
  });

  it('reads and writes no counter for a credential that verifies', async () => {
    const { limiter, calls } = setUp();
    await limiter.guard(ingress, valid);
    expect(calls).toEqual([]);
  });

  it('counts neither a disabled site (403) nor a store outage as a failure', async () => {
    const { limiter, calls } = setUp();
    const disabled = () => {
      throw new Forbidden('site ABCD is disabled');
    };
    const outage = () => {
      throw new DependencyUnavailable('ERR_STORE_UNAVAILABLE', 'store unavailable');
    };
    for (let i = 0; i < 10; i += 1) {
      await expect(limiter.guard(ingress, disabled)).rejects.toBeInstanceOf(Forbidden);
      await expect(limiter.guard(ingress, outage)).rejects.toBeInstanceOf(DependencyUnavailable);
    }
    expect(calls).toEqual([]);
  });

  it('keeps the admin API, the metrics token and the key routes on separate address counters', async () => {
    const { limiter } = setUp();
    for (let i = 0; i < 10; i += 1) await limiter.guard({ clientAddress: '10.0.0.1' }, wrong).catch(() => undefined);
    await expect(limiter.guard({ clientAddress: '10.0.0.1' }, wrong)).rejects.toBeInstanceOf(TooManyRequests);
    await expect(limiter.guard({ clientAddress: '10.0.0.1', realm: 'admin' }, wrong)).rejects.toBeInstanceOf(Unauthenticated);
    await expect(limiter.guard({ clientAddress: '10.0.0.1', realm: 'metrics' }, wrong)).rejects.toBeInstanceOf(Unauthenticated);
  });

  it('counts IPv6 clients by their /64, IPv4-mapped clients by their IPv4 address', async () => {
    const { limiter, windows } = setUp();
    for (let i = 1; i <= LIMITS.perAddress; i += 1) await limiter.guard({ clientAddress: `2001:db8:1:2::${i.toString(16)}` }, wrong).catch(() => undefined);
    await expect(limiter.guard({ clientAddress: '2001:db8:1:2:ffff:ffff:ffff:ffff' }, wrong)).rejects.toBeInstanceOf(TooManyRequests);
    await expect(limiter.guard({ clientAddress: '2001:db8:1:3::1' }, wrong)).rejects.toBeInstanceOf(Unauthenticated);
    await limiter.guard({ clientAddress: '::ffff:192.0.2.1' }, wrong).catch(() => undefined);
    expect([...windows.keys()]).toEqual(['addr:key:2001:db8:1:2::/64', 'addr:key:2001:db8:1:3::/64', 'addr:key:192.0.2.1']);
  });

  it('turns a dimension off with 0', async () => {
    const { limiter, calls } = setUp({ perAddress: 0, perCredential: 0, windowMs: 60_000 });
    for (let i = 0; i < 10; i += 1) await expect(limiter.guard(ingress, wrong)).rejects.toBeInstanceOf(Unauthenticated);
    expect(calls).toEqual([]);
  });
});
