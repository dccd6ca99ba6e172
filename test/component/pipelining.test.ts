import { once } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import type { Server } from 'node:http';
import { WIDEVINE_SYSTEM_ID } from '../../src/drm/system-ids';
import { PIPELINE_LIMITS } from '../../src/http/pipelining';
import { createAppServer } from '../../src/http/server';
import type { Store } from '../../src/store/store';
import { createTestApp, type TestApp } from '../support/app';
import { captureLogs } from '../support/log-capture';
import { eventually, pipelined, rawRequest } from '../support/raw-http';
import { buildSpekeV2Request } from '../support/speke-request';

/**
 * A tenant that pipelines key requests (decision 92): the app as main wires it, on a store whose
 * get-or-create waits until the test opens it, so what is in work at one moment is exact. One
 * connection gets PIPELINE_LIMITS.inFlight requests worked on, the next `waiting` held in order, and
 * those after refused before they reach the key service; another tenant's connection is served at
 * once meanwhile.
 */

interface Gate {
  /** getOrCreateAll calls that arrived, open or not. */
  calls: number;
  open(): void;
}

function gatedStore(gate: { calls: number; opened: Promise<void> }): (store: Store) => Store {
  return (store) => ({
    ...store,
    contentKeys: {
      ...store.contentKeys,
      getOrCreateAll: async (records, options) => {
        gate.calls += 1;
        await gate.opened;
        return store.contentKeys.getOrCreateAll(records, options);
      },
    },
  });
}

describe('key requests pipelined on one connection', () => {
  let t: TestApp;
  let server: Server;
  let port: number;
  let gate: Gate;
  const sockets: Socket[] = [];

  beforeEach(async () => {
    let open = () => undefined as void;
    const state = { calls: 0, opened: new Promise<void>((resolve) => (open = resolve)) };
    gate = {
      get calls() {
        return state.calls;
      },
      open: () => open(),
    };
    t = createTestApp(captureLogs().logger, undefined, { wrapStore: gatedStore(state) });
    server = createAppServer(t.app, {});
    server.on('connection', (socket: Socket) => sockets.push(socket));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });

  afterEach(async () => {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
    sockets.length = 0;
    await t.close();
  });

  const keyRequest = (token: string, contentId: string) =>
    rawRequest(
      'POST',
      '/speke/v2.0/copyProtection',
      { 'Content-Type': 'application/xml', 'X-Speke-Version': '2.0', Authorization: `Bearer ${token}` },
      Buffer.from(buildSpekeV2Request(contentId, 'cenc', [WIDEVINE_SYSTEM_ID])),
    );

  it(`works on ${PIPELINE_LIMITS.inFlight}, holds ${PIPELINE_LIMITS.waiting}, refuses the rest before the key service, and serves others meanwhile`, async () => {
    const { inFlight, waiting } = PIPELINE_LIMITS;
    const tenant = (await t.services.sites.createSite({ name: 'pipelining' })).token.token;
    const other = (await t.services.sites.createSite({ name: 'another tenant' })).token.token;
    const sent = inFlight + waiting + 6;
    const contents = Array.from({ length: sent }, (_, i) => `pipelined-${i + 1}`);
    const busy = await pipelined(port, contents.map((contentId) => keyRequest(tenant, contentId)));
    const bytesRead = () => sockets.reduce((sum, socket) => sum + socket.bytesRead, 0);
    await eventually(() => bytesRead() === busy.bytesSent && gate.calls === inFlight, 'every request read, the first ones at the store');

    const elsewhere = await pipelined(port, [keyRequest(other, 'elsewhere')]);
    await eventually(() => gate.calls === inFlight + 1, 'the other tenant\'s request reached the store');
    expect(gate.calls).toBe(inFlight + 1);

    gate.open();
    await eventually(() => busy.responses.length === sent, 'every request of the busy connection answered');
    await eventually(() => elsewhere.responses.length === 1, 'the other tenant answered');
    expect(elsewhere.responses[0]?.status).toBe(200);

    const answers = busy.responses;
    expect(answers.map((answer) => answer.status)).toEqual([...Array<number>(inFlight + waiting).fill(200), ...Array<number>(sent - inFlight - waiting).fill(429)]);
    answers.slice(0, inFlight + waiting).forEach((answer, i) => expect(answer.body.toString()).toContain(`contentId="${contents[i]}"`));
    // The refused requests never reached the key service: one store call per answered request.
    expect(gate.calls).toBe(inFlight + waiting + 1);
    busy.destroy();
    elsewhere.destroy();
  });
});
