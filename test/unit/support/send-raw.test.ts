import { createServer, type Server, type Socket } from 'node:net';
import { sendRaw } from '../../support/redis-server';

/**
 * The raw Redis client the fault tests poll with must settle in every case: a server that goes away
 * mid-conversation (Redis shutting down, or killed, after accepting the connection) once left
 * `sendRaw` pending forever, and the step waiting on it ran into its own timeout.
 */
describe('sendRaw', () => {
  let server: Server | undefined;
  const sockets = new Set<Socket>();
  afterEach(async () => {
    // A server socket that never reads does not see the client's FIN: end them here.
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    await new Promise<void>((done) => (server ? server.close(() => done()) : done()));
    server = undefined;
  });

  async function listen(onConnection: (socket: Socket) => void): Promise<number> {
    server = createServer((socket) => {
      sockets.add(socket);
      onConnection(socket);
    });
    await new Promise<void>((done) => server?.listen(0, '127.0.0.1', () => done()));
    const address = server.address();
    if (typeof address !== 'object' || address === null) throw new Error('no port');
    return address.port;
  }

  it('returns a complete reply', async () => {
    const port = await listen((socket) => socket.once('data', () => socket.write('+PONG\r\n')));
    await expect(sendRaw(port, ['PING'])).resolves.toBe('+PONG\r\n');
  });

  it('rejects when the server closes the connection without a reply', async () => {
    const port = await listen((socket) => socket.end());
    await expect(sendRaw(port, ['PING'], 60_000)).rejects.toThrow(/closed before a complete reply/);
  });

  it('rejects when the server closes the connection in the middle of a reply', async () => {
    const port = await listen((socket) => socket.once('data', () => socket.end('$10\r\nhalf')));
    await expect(sendRaw(port, ['GET', 'k'], 60_000)).rejects.toThrow(/closed before a complete reply/);
  });

  it('rejects when nothing listens', async () => {
    const port = await listen(() => undefined);
    await new Promise<void>((done) => server?.close(() => done()));
    server = undefined;
    await expect(sendRaw(port, ['PING'])).rejects.toThrow(/ECONNREFUSED/);
  });
});
