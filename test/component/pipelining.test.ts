import { WIDEVINE_SYSTEM_ID } from '../../src/drm/system-ids';
import { PIPELINE_LIMITS } from '../../src/http/pipelining';
import { createTestApp, type TestApp } from '../support/app';
import { captureLogs } from '../support/log-capture';
import { eventually, pipelined, rawRequest, serveTracked, type TrackedServer } from '../support/raw-http';
import { buildSpekeV2Request } from '../support/speke-request';
import { beforeGetOrCreate } from '../support/speke-slow-store';

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
  readonly opened: Promise<void>;
  open(): void;
}

function createGate(): Gate {
  let open = () => undefined as void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { calls: 0, opened, open: () => open() };
}

describe('key requests pipelined on one connection', () => {
  let t: TestApp;
  let server: TrackedServer;
  let gate: Gate;

  beforeEach(async () => {
    gate = createGate();
    t = createTestApp(captureLogs().logger, undefined, {
      wrapStore: beforeGetOrCreate(() => {
        gate.calls += 1;
        return gate.opened;
      }),
    });
    server = await serveTracked(t.app);
  });

  afterEach(async () => {
    await server.close();
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
    const busy = await pipelined(server.port, contents.map((contentId) => keyRequest(tenant, contentId)));
    await eventually(() => server.bytesRead() === busy.bytesSent && gate.calls === inFlight, 'every request read, the first ones at the store');

    const elsewhere = await pipelined(server.port, [keyRequest(other, 'elsewhere')]);
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
