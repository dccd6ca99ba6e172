import { once } from 'node:events';
import { connect, type AddressInfo, type Socket } from 'node:net';
import type { Express } from 'express';
import { createAppServer } from '../../src/http/server';

/** One HTTP/1.1 response as it came off the wire. */
export interface ParsedResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
  /** Bytes of `data` the response took (head and body). */
  readonly length: number;
}

/** A complete HTTP/1.1 response at the start of `data` (Content-Length framed, or ended by close). */
export function parseResponse(data: Buffer, ended: boolean): ParsedResponse | undefined {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine = '', ...lines] = data.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1]);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const rest = data.subarray(end + 4);
  const length = headers['content-length'] === undefined ? undefined : Number(headers['content-length']);
  if (length !== undefined && rest.length >= length) return { status, headers, body: rest.subarray(0, length), length: end + 4 + length };
  if (length === undefined && ended) return { status, headers, body: rest, length: data.length };
  return undefined;
}

/** An HTTP/1.1 request as bytes (`Content-Length` from the body; `Host` is set). */
export function rawRequest(method: string, path: string, headers: Readonly<Record<string, string>> = {}, body: Buffer = Buffer.alloc(0)): Buffer {
  const head = [`${method} ${path} HTTP/1.1`, 'Host: localhost', ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`)];
  if (body.length > 0 || method !== 'GET') head.push(`Content-Length: ${body.length}`);
  return Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1'), body]);
}

export interface PipelinedConnection {
  /** Bytes written so far: the server has read every request once its socket's `bytesRead` reaches this. */
  readonly bytesSent: number;
  /** The responses complete so far, in order. */
  readonly responses: readonly ParsedResponse[];
  /** Resolves with every response once the server has closed the connection. */
  readonly closed: Promise<readonly ParsedResponse[]>;
  /** Writes more requests on the same connection. */
  write(requests: readonly Buffer[]): void;
  /** Ends the connection from the client's side. */
  destroy(): void;
}

/** Opens a connection and writes every request in one write, before reading any response (pipelining). */
export function pipelined(port: number, requests: readonly Buffer[]): Promise<PipelinedConnection> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(port, '127.0.0.1');
    const payload = Buffer.concat(requests);
    const responses: ParsedResponse[] = [];
    let pending = Buffer.alloc(0);
    const closed = new Promise<readonly ParsedResponse[]>((done) => socket.once('close', () => done(responses)));
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      for (let response = parseResponse(pending, false); response; response = parseResponse(pending, false)) {
        responses.push(response);
        pending = pending.subarray(response.length);
      }
    });
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.write(payload);
      const connection = {
        bytesSent: payload.length,
        responses,
        closed,
        write(more: readonly Buffer[]) {
          const bytes = Buffer.concat(more);
          connection.bytesSent += bytes.length;
          socket.write(bytes);
        },
        destroy: () => socket.destroy(),
      };
      resolve(connection);
    });
  });
}

/** An app on the service's HTTP server on a free port, with what it read from its connections. */
export interface TrackedServer {
  readonly port: number;
  /** Bytes the server has read from all its connections: every request written is parsed once this reaches what was sent. */
  bytesRead(): number;
  close(): Promise<void>;
}

export async function serveTracked(app: Express): Promise<TrackedServer> {
  const server = createAppServer(app, {});
  const sockets: Socket[] = [];
  server.on('connection', (socket: Socket) => sockets.push(socket));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    bytesRead: () => sockets.reduce((sum, socket) => sum + socket.bytesRead, 0),
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

/**
 * Resolves once `condition` holds, checking every few milliseconds; rejects after `giveUpMs` (a
 * bound for a broken test, never a figure the test measures).
 */
export async function eventually(condition: () => boolean, what: string, giveUpMs = 10_000): Promise<void> {
  const deadline = Date.now() + giveUpMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
