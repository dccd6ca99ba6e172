import { createServer, IncomingMessage, type Server, type ServerOptions, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Express } from 'express';

/**
 * The HTTP server for the express application, whose request and response objects are made with
 * express's prototypes (`app.request`, `app.response`) from the start.
 *
 * Why: express gives every request and response its prototypes with `Object.setPrototypeOf`, which
 * makes V8 move each of them, and what they reach, out of the young generation: every object alive
 * at a scavenge is promoted at once, scavenges take milliseconds instead of a fraction of one, and
 * old space fills up and is marked and compacted every second or two. Measured on express 5.3 with a
 * route answering 39 KB on Node 20: 0.13–0.18 ms of CPU per request, against 0.05–0.07 ms with this
 * server (docs/performance.md); Node 24 promotes nothing either way, and there it changes nothing
 * measurable. When an object already has the prototype, `setPrototypeOf` changes nothing, and
 * express's other behaviour is the same: the objects are what express makes, only made so earlier.
 */
export function createAppServer(app: Express, options: ServerOptions): Server {
  // Node declares both constructors as plain functions (Node 20 and 24), so a function whose
  // prototype is express's can run them on itself: `new` then makes the object with that prototype.
  // (Reflect.construct with such a function as the new target measured slower than express's own switch.)
  const initRequest = IncomingMessage as unknown as (this: IncomingMessage, socket: Socket) => void;
  const initResponse = ServerResponse as unknown as (this: ServerResponse, req: IncomingMessage, responseOptions: object) => void;
  function AppRequest(this: IncomingMessage, socket: Socket): void {
    initRequest.call(this, socket);
  }
  AppRequest.prototype = app.request;
  function AppResponse(this: ServerResponse, req: IncomingMessage, responseOptions: object): void {
    initResponse.call(this, req, responseOptions);
  }
  AppResponse.prototype = app.response;
  return createServer(
    {
      ...options,
      IncomingMessage: AppRequest as unknown as typeof IncomingMessage,
      ServerResponse: AppResponse as unknown as typeof ServerResponse,
    },
    app,
  );
}
