import express from 'express';
import { errorHandler } from '../../../src/http/error-mapping';
import { pipelineLimit } from '../../../src/http/pipelining';
import { captureLogs } from '../../support/log-capture';
import { eventually, pipelined, rawRequest, serveTracked, type TrackedServer } from '../../support/raw-http';

/**
 * `pipelineLimit` over real sockets, with small limits (2 in work, 3 waiting) and a route each test
 * finishes when it chooses: which requests a pipelining connection gets worked on, in what order, what
 * happens to the one too many, and that other connections never wait for it.
 */

const LIMITS = { inFlight: 2, waiting: 3 };

interface Harness extends TrackedServer {
  /** Request numbers in the order the route started them. */
  readonly started: number[];
  /** Answers request `n` (200, body `n`). */
  answer(n: number): void;
}

async function startHarness(): Promise<Harness> {
  const app = express();
  const started: number[] = [];
  const answers = new Map<number, () => void>();
  app.use(pipelineLimit(LIMITS));
  app.get('/hold/:n', (req, res) => {
    const n = Number(req.params.n);
    started.push(n);
    answers.set(n, () => res.type('text/plain').send(String(n)));
  });
  app.use(errorHandler(captureLogs().logger));
  const server = await serveTracked(app);
  return {
    ...server,
    started,
    answer(n) {
      const send = answers.get(n);
      if (send === undefined) throw new Error(`request ${n} was not started`);
      send();
    },
  };
}

const holds = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => rawRequest('GET', `/hold/${from + i}`));

describe('pipelineLimit: one connection, a few connections\' share', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('works on 2 of a connection\'s requests at once, starts the next as each answer is written, in order', async () => {
    const connection = await pipelined(h.port, holds(1, 5));
    await eventually(() => h.bytesRead() === connection.bytesSent, 'the server read every request');
    expect(h.started).toEqual([1, 2]);

    h.answer(2); // answered out of order: it is written only after 1, so nothing new starts
    await new Promise((resolve) => setImmediate(resolve));
    expect(h.started).toEqual([1, 2]);

    h.answer(1);
    await eventually(() => h.started.length === 4, 'requests 3 and 4 started');
    expect(h.started).toEqual([1, 2, 3, 4]);
    for (const n of [3, 4]) h.answer(n);
    await eventually(() => h.started.length === 5, 'request 5 started');
    h.answer(5);
    await eventually(() => connection.responses.length === 5, 'five answers');
    expect(connection.responses.map((r) => [r.status, r.body.toString()])).toEqual([1, 2, 3, 4, 5].map((n) => [200, String(n)]));
    connection.destroy();
  });

  it('refuses each request beyond 2 + 3 with 429, after the earlier answers, never starts it, and keeps the connection', async () => {
    const connection = await pipelined(h.port, holds(1, 7));
    await eventually(() => h.bytesRead() === connection.bytesSent, 'the server read every request');
    expect(h.started).toEqual([1, 2]);

    for (let n = 1; n <= 5; n += 1) {
      await eventually(() => h.started.includes(n), `request ${n} started`);
      h.answer(n);
    }
    await eventually(() => connection.responses.length === 7, 'seven answers');
    expect(connection.responses.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 429, 429]);
    const refusal = connection.responses[5];
    expect(refusal?.headers.connection).toBe('keep-alive');
    expect(refusal?.headers['retry-after']).toBe('1');
    expect(JSON.parse(refusal?.body.toString() ?? '')).toEqual({
      error: { code: 'ERR_RATE_LIMITED', message: 'too many requests waiting on this connection; read the answers before sending more' },
    });
    expect(h.started).toEqual([1, 2, 3, 4, 5]);

    // Closing would have made the kernel reset the connection over the client's unread requests,
    // and the client's kernel drop the answers it had not read; the connection goes on instead.
    connection.write(holds(8, 8));
    await eventually(() => h.started.includes(8), 'a later request on the same connection started');
    h.answer(8);
    await eventually(() => connection.responses.length === 8, 'its answer');
    expect(connection.responses[7]?.status).toBe(200);
    connection.destroy();
  });

  it('never makes another connection wait for a full one', async () => {
    const busy = await pipelined(h.port, holds(1, 7));
    await eventually(() => h.bytesRead() === busy.bytesSent, 'the server read the busy connection');
    const other = await pipelined(h.port, holds(100, 100));
    await eventually(() => h.started.includes(100), 'the other connection\'s request started');
    h.answer(100);
    await eventually(() => other.responses.length === 1, 'the other connection answered');
    expect(other.responses[0]?.status).toBe(200);
    expect(h.started).toEqual([1, 2, 100]);
    busy.destroy();
    other.destroy();
  });

  it('starts none of the waiting requests of a connection the client closed', async () => {
    const connection = await pipelined(h.port, holds(1, 5));
    await eventually(() => h.bytesRead() === connection.bytesSent, 'the server read every request');
    connection.destroy();
    await connection.closed;
    await eventually(() => h.started.length === 2, 'two started');
    // The two in work end (their answers go nowhere); the three behind them must not start.
    h.answer(1);
    h.answer(2);
    const after = await pipelined(h.port, holds(9, 9));
    await eventually(() => h.started.includes(9), 'a new connection\'s request started');
    expect(h.started).toEqual([1, 2, 9]);
    h.answer(9);
    after.destroy();
  });
});
