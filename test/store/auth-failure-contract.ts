import { randomUUID } from 'node:crypto';
import type { Store } from '../../src/store/store';
import type { StoreHarness } from './store-contract';

/**
 * The failed-authentication counters every store keeps: fixed windows, atomic increments (also from a
 * second connection, which is what a second pod is), expiry, and independent subjects.
 */
export function describeAuthFailureContract(context: () => { readonly harness: StoreHarness; readonly store: Store }): void {
  describe('authentication-failure counters', () => {
    const subject = (what: string) => `${what}:${randomUUID()}`;

    it('counts failures in one window that opens at the first failure', async () => {
      const { store } = context();
      const address = subject('addr');
      const now = Date.now();
      expect(await store.authFailures.read([address], now)).toEqual([{ count: 0, resetsAtMs: now }]);
      const [first] = await store.authFailures.record([address], 60_000, now);
      const [second] = await store.authFailures.record([address], 60_000, now + 10);
      expect(first?.count).toBe(1);
      expect(second?.count).toBe(2);
      // Later failures do not push the window out: it closes 60 s after the first one.
      for (const window of [first, second]) {
        expect(window?.resetsAtMs).toBeGreaterThan(now + 59_000);
        expect(window?.resetsAtMs).toBeLessThanOrEqual(now + 60_010);
      }
      const [read] = await store.authFailures.read([address], now + 20);
      expect(read?.count).toBe(2);
    });

    it('keeps subjects apart and answers in the order asked', async () => {
      const { store } = context();
      const [a, b, untouched] = [subject('addr'), subject('cred'), subject('addr')];
      const now = Date.now();
      await store.authFailures.record([a, b], 60_000, now);
      await store.authFailures.record([b], 60_000, now);
      const counts = (await store.authFailures.read([untouched, b, a], now)).map((window) => window.count);
      expect(counts).toEqual([0, 2, 1]);
    });

    it('loses no count when many failures arrive at once from two connections', async () => {
      const { harness, store } = context();
      const other = await harness.open();
      try {
        const address = subject('addr');
        const now = Date.now();
        const counts = await Promise.all(
          Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? store : other).authFailures.record([address], 60_000, now)),
        );
        expect(counts.map(([window]) => window?.count).sort((x = 0, y = 0) => x - y)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
        const [seenByOther] = await other.authFailures.read([address], now);
        expect(seenByOther?.count).toBe(40);
      } finally {
        await other.close();
      }
    });

    it('starts from zero once the window has closed', async () => {
      const { store } = context();
      const address = subject('addr');
      await store.authFailures.record([address], 200, Date.now());
      await store.authFailures.record([address], 200, Date.now());
      await new Promise((done) => setTimeout(done, 300));
      const [closed] = await store.authFailures.read([address], Date.now());
      expect(closed?.count).toBe(0);
      const [reopened] = await store.authFailures.record([address], 200, Date.now());
      expect(reopened?.count).toBe(1);
    });
  });
}
