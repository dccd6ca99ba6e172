import type { Socket } from 'node:net';
import type { RequestHandler } from 'express';
import { TooManyRequests } from '../errors';

export interface PipelineLimits {
  /** Requests of one connection the service works on at once. */
  readonly inFlight: number;
  /** Requests of one connection that may wait behind those before the next one is refused. */
  readonly waiting: number;
}

/**
 * HTTP/1.1 lets a client send any number of requests on one connection before reading an answer
 * (pipelining, RFC 9112 §9.3.2), and Node hands every one it has read to the application at once: one
 * connection with 8,000 key requests in a single write had them all in work together, and the rest of
 * the service's clients waited behind them (docs/decisions.md, decision 92). A connection is one client,
 * so it gets the share of a few connections: 8 in work, 56 more waiting in order, and a 429 for each
 * request beyond. No real packager or license server pipelines at all.
 */
export const PIPELINE_LIMITS: PipelineLimits = { inFlight: 8, waiting: 56 };

/** Retry-After of the refusal: the connection's earlier answers are on their way. */
const RETRY_AFTER_SECONDS = 1;

interface ConnectionQueue {
  active: number;
  readonly waiting: Array<() => void>;
}

/**
 * Holds a connection's requests beyond `limits.inFlight` until one of its answers is complete, and
 * refuses (429) what arrives while `limits.waiting` already wait, before any route has seen it. An
 * answer counts until it is written, because Node keeps a pipelined answer in memory until those
 * before it are sent. The refusal is queued behind the earlier answers like any other, so Node's own
 * back-pressure (it stops reading a connection whose unsent answers pass the socket's high-water
 * mark) bounds what a client that keeps writing can make the service hold. The connection stays
 * open: closing it while the client's later requests are still unread makes the kernel reset it,
 * and the client's kernel then drops the answers it has not read yet, work done included.
 */
export function pipelineLimit(limits: PipelineLimits = PIPELINE_LIMITS): RequestHandler {
  const queues = new WeakMap<Socket, ConnectionQueue>();
  const queueOf = (socket: Socket): ConnectionQueue => {
    let queue = queues.get(socket);
    if (queue === undefined) {
      queue = { active: 0, waiting: [] };
      queues.set(socket, queue);
    }
    return queue;
  };
  return (req, res, next) => {
    const { socket } = req;
    const queue = queueOf(socket);
    const start = () => {
      queue.active += 1;
      res.once('close', () => {
        queue.active -= 1;
        // Requests still waiting when the client went away would be answered to nobody: none is started.
        if (!socket.destroyed) queue.waiting.shift()?.();
      });
      next();
    };
    if (queue.active < limits.inFlight) {
      start();
    } else if (queue.waiting.length < limits.waiting) {
      queue.waiting.push(start);
    } else {
      next(new TooManyRequests(RETRY_AFTER_SECONDS, {}, 'too many requests waiting on this connection; read the answers before sending more'));
    }
  };
}
