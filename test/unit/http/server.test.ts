import type { AddressInfo } from 'node:net';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import express from 'express';
import { createAppServer } from '../../../src/http/server';

/**
 * The service's HTTP server makes requests and responses with express's prototypes from the start
 * (src/http/server.ts: express's own per-request prototype switch made V8 promote every live
 * object at each scavenge). What express does with them must not change.
 */
describe('createAppServer', () => {
  const app = express();
  app.disable('x-powered-by');
  app.post('/echo/:name', express.raw({ type: () => true }), (req, res) => {
    res.status(201).set('X-Seen', req.get('x-probe') ?? 'none').json({ name: req.params.name, bytes: (req.body as Buffer).length, ip: req.ip });
  });
  let server: Server;
  let url: string;
  const prototypes: { request: boolean; response: boolean }[] = [];

  beforeAll(async () => {
    server = createAppServer(app, { keepAliveTimeout: 1000 });
    // Before express sees them: the objects Node made for the request.
    server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
      prototypes.push({ request: Object.getPrototypeOf(req) === app.request, response: Object.getPrototypeOf(res) === app.response });
    });
    await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((closed) => server.close(() => closed())));

  it("makes the request and the response with express's prototypes before express handles them", async () => {
    prototypes.length = 0;
    await (await fetch(`${url}/echo/x`, { method: 'POST', body: 'abc' })).arrayBuffer();
    expect(prototypes).toEqual([{ request: true, response: true }]);
  });

  it('leaves what express does with them as it was: parameters, headers, body, status, JSON, address', async () => {
    const res = await fetch(`${url}/echo/caf%C3%A9`, { method: 'POST', body: 'x'.repeat(1000), headers: { 'x-probe': 'yes' } });
    expect([res.status, res.headers.get('x-seen'), res.headers.get('content-type')]).toEqual([201, 'yes', 'application/json; charset=utf-8']);
    expect(await res.json()).toEqual({ name: 'café', bytes: 1000, ip: '127.0.0.1' });
    const missing = await fetch(`${url}/nowhere`);
    expect(missing.status).toBe(404);
  });
});
