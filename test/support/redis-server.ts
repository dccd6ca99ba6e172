import { spawn, spawnSync, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cluster, type Redis } from 'ioredis';
import { parseStoreUrl, type RedisStoreConfig } from '../../src/config/store-url';
import {
  closeRedisClient,
  connectRedisClient,
  createRedisClient,
  resolveRedisStoreOptions,
  type RedisClient,
} from '../../src/store/redis/client';
import { createKeyNames } from '../../src/store/redis/key-names';
import { openRedisStore, type RedisStoreOptions } from '../../src/store/redis/redis-store';
import type { StoreHarness } from '../store/store-contract';

/**
 * Private Redis processes for tests (redis-server 7, `redis-server --sentinel`), on free ports in
 * temporary directories. Every process started here is killed and its directory removed by
 * `stopAllRedisServers()` (call it in afterAll) and, as a last resort, when the test process exits.
 */

const HOST = '127.0.0.1';
const START_TIMEOUT_MS = 5000;
const START_ATTEMPTS = 3;
const POLL_INTERVAL_MS = 20;

const running = new Set<ChildProcess>();
const directories = new Set<string>();

process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
  for (const dir of directories) rmSync(dir, { recursive: true, force: true });
});

export interface RedisServer {
  readonly host: string;
  readonly port: number;
  readonly dir: string;
  /** SIGKILL, keeping the directory (an AOF written with appendfsync always survives); resolves once it has exited. */
  kill(): Promise<void>;
  /** SIGTERM (Redis's own clean shutdown), keeping the directory; resolves once it has exited. */
  terminate(): Promise<void>;
  /** Starts the same server again: same port, directory and arguments. */
  restart(): Promise<void>;
  /** SIGSTOP: the socket stays open but nothing answers (a hung server). */
  pause(): void;
  /** SIGCONT after `pause`. */
  resume(): void;
  /** Kills the process and removes its directory. */
  stop(): Promise<void>;
}

export interface RedisServerOptions {
  readonly appendonly?: boolean;
  readonly appendfsync?: 'always' | 'everysec' | 'no';
  /** More `redis-server` arguments, e.g. cluster settings. */
  readonly args?: readonly string[];
  /** Writes this configuration file and starts `redis-server <file> --sentinel`. */
  readonly sentinelConfig?: (port: number, dir: string) => string;
}

/** A port nobody listens on right now (the OS picks it; a race with other processes is retried). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Sends one command over a fresh socket and returns the raw reply text. Rejects on a socket error, on
 * `timeoutMs` without traffic, and when the server closes the connection before a complete reply —
 * as a Redis that is shutting down or being killed does with a connection it accepted but never
 * served. (The idle timer dies with the socket, so without that last case the promise would never
 * settle.)
 */
export function sendRaw(port: number, args: readonly string[], timeoutMs = 1000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: HOST, port });
    let reply = '';
    let settled = false;
    const done = (error?: Error) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      if (error) reject(error);
      else resolve(reply);
    };
    socket.setTimeout(timeoutMs, () => done(new Error('timed out')));
    socket.on('error', done);
    socket.on('close', () => done(new Error(`connection closed before a complete reply (${reply.length} bytes read)`)));
    socket.on('connect', () => {
      socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
    });
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      const bulk = /^\$(-?\d+)\r\n/.exec(reply);
      if (bulk) {
        if (Number(bulk[1]) < 0 || Buffer.byteLength(reply) >= bulk[0].length + Number(bulk[1]) + 2) done();
      } else if (reply.endsWith('\r\n')) {
        done();
      }
    });
  });
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number, exited?: () => string | undefined) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const exit = exited?.();
    if (exit !== undefined) throw new Error(`${what}: process exited (${exit})`);
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(POLL_INTERVAL_MS);
  }
}

function exitOf(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', () => resolve()));
}

async function spawnServer(args: readonly string[], port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-2000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  child.once('exit', () => running.delete(child));
  const exited = () =>
    child.exitCode !== null || child.signalCode !== null ? `${child.exitCode ?? child.signalCode}: ${output.trim()}` : undefined;
  try {
    const answers = async () => (await sendRaw(port, ['PING'])).startsWith('+PONG');
    await waitUntil(`redis-server on port ${port}`, answers, START_TIMEOUT_MS, exited);
  } catch (error) {
    child.kill('SIGKILL');
    await exitOf(child);
    throw error;
  }
  return child;
}

/** Starts a private redis-server (no RDB snapshots; AOF as asked) and waits until it answers. */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'cpix-kms-redis-'));
  directories.add(dir);
  let lastError: unknown;
  for (let attempt = 0; attempt < START_ATTEMPTS; attempt += 1) {
    const port = await freePort();
    let args: string[];
    if (options.sentinelConfig) {
      const file = join(dir, 'sentinel.conf');
      writeFileSync(file, options.sentinelConfig(port, dir));
      args = [file, '--sentinel'];
    } else {
      args = [
        '--port', String(port),
        '--bind', HOST,
        '--dir', dir,
        '--save', '',
        '--appendonly', options.appendonly ? 'yes' : 'no',
        '--appendfsync', options.appendfsync ?? 'everysec',
        '--daemonize', 'no',
        '--logfile', '',
        ...(options.args ?? []),
      ];
    }
    try {
      let child = await spawnServer(args, port);
      const server: RedisServer = {
        host: HOST,
        port,
        dir,
        async kill() {
          child.kill('SIGKILL');
          await exitOf(child);
        },
        async terminate() {
          child.kill('SIGTERM');
          await exitOf(child);
        },
        async restart() {
          await server.kill();
          child = await spawnServer(args, port);
        },
        pause() {
          child.kill('SIGSTOP');
        },
        resume() {
          child.kill('SIGCONT');
        },
        async stop() {
          await server.kill();
          rmSync(dir, { recursive: true, force: true });
          directories.delete(dir);
        },
      };
      return server;
    } catch (error) {
      lastError = error; // most likely a port taken meanwhile; try another
    }
  }
  rmSync(dir, { recursive: true, force: true });
  directories.delete(dir);
  throw lastError;
}

/** Starts a Sentinel monitoring `master` under `masterName` (quorum 1). */
export function startSentinel(master: RedisServer, masterName: string): Promise<RedisServer> {
  return startRedisServer({
    sentinelConfig: (port, dir) =>
      [
        `port ${port}`,
        `bind ${HOST}`,
        `dir ${dir}`,
        'daemonize no',
        'logfile ""',
        `sentinel monitor ${masterName} ${master.host} ${master.port} 1`,
        `sentinel down-after-milliseconds ${masterName} 5000`,
        '',
      ].join('\n'),
  });
}

/**
 * Starts `masters` cluster-enabled servers, joins them with `redis-cli --cluster create` (no
 * replicas) and waits for `cluster_state:ok` on every node.
 */
export async function startRedisCluster(masters = 3): Promise<RedisServer[]> {
  const nodes: RedisServer[] = [];
  for (let i = 0; i < masters; i += 1) {
    nodes.push(
      await startRedisServer({
        args: [
          '--cluster-enabled', 'yes',
          '--cluster-config-file', 'nodes.conf',
          '--cluster-node-timeout', '2000',
          '--cluster-port', String(await freePort()),
        ],
      }),
    );
  }
  await promisify(execFile)(
    'redis-cli',
    ['--cluster', 'create', ...nodes.map((n) => `${n.host}:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'],
    { timeout: 20_000 },
  );
  for (const node of nodes) {
    await waitUntil(
      `cluster state on port ${node.port}`,
      async () => (await sendRaw(node.port, ['CLUSTER', 'INFO'])).includes('cluster_state:ok'),
      10_000,
    );
  }
  return nodes;
}

/** Kills every server this process started and removes their directories. */
export async function stopAllRedisServers(): Promise<void> {
  await Promise.all(
    [...running].map(async (child) => {
      child.kill('SIGKILL');
      await exitOf(child);
    }),
  );
  for (const dir of directories) rmSync(dir, { recursive: true, force: true });
  directories.clear();
}

/** The shared test Redis: REDIS_URL, or the local default. */
export function sharedRedisConfig(): RedisStoreConfig {
  const config = parseStoreUrl(process.env.REDIS_URL ?? `redis://${HOST}:6379`);
  if (config.kind !== 'redis') throw new Error('REDIS_URL must be a redis URL');
  return config;
}

/**
 * Whether a Redis answers at the first node of `config`, decided synchronously (in a child
 * process) so that a test file can choose between describe and describe.skip while it loads.
 */
export function redisAnswers(config: RedisStoreConfig, timeoutMs = 2000): boolean {
  const [node] = config.nodes;
  if (!node) return false;
  const probe = `
    const [host, port, tls] = process.argv.slice(1);
    const lib = require(tls === '1' ? 'node:tls' : 'node:net');
    const socket = lib.connect({ host, port: Number(port), rejectUnauthorized: false }, () => socket.write('PING\\r\\n'));
    socket.setTimeout(${timeoutMs}, () => process.exit(1));
    socket.on('data', () => process.exit(0));
    socket.on('error', () => process.exit(1));`;
  const result = spawnSync(process.execPath, ['-e', probe, node.host, String(node.port), config.tls ? '1' : '0'], {
    timeout: timeoutMs + 1000,
  });
  return result.status === 0;
}

/** A prefix no other test run uses, so test files can share one Redis. */
export function uniqueKeyPrefix(): string {
  return `cpixkms-test-${randomBytes(6).toString('hex')}`;
}

/** An ioredis client for inspecting or cleaning up what a store wrote (same connection logic). */
export async function openAdminClient(config: RedisStoreConfig): Promise<RedisClient> {
  const settings = resolveRedisStoreOptions({});
  const client = createRedisClient(config, settings);
  client.on('error', () => undefined);
  await connectRedisClient(client, config.nodes.length, settings.connectTimeoutMs);
  return client;
}

function mastersOf(client: RedisClient): Redis[] {
  return client instanceof Cluster ? client.nodes('master') : [client];
}

/** Every key under `keyPrefix` (both `{prefix:…}` site keys and `prefix:…` global keys), on every master. */
export async function keysWithPrefix(client: RedisClient, keyPrefix: string): Promise<string[]> {
  const keys = new Set<string>();
  for (const node of mastersOf(client)) {
    for (const pattern of [`{${keyPrefix}:*`, `${keyPrefix}:*`]) {
      let cursor = '0';
      do {
        const [next, batch] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        for (const key of batch) keys.add(key);
        cursor = next;
      } while (cursor !== '0');
    }
  }
  return [...keys].sort();
}

/** Key names and every stored byte under `keyPrefix`: hash fields and values, set and zset members, strings. */
export async function dumpKeys(client: RedisClient, keyPrefix: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (const key of await keysWithPrefix(client, keyPrefix)) {
    parts.push(Buffer.from(key));
    const type = await client.type(key);
    switch (type) {
      case 'hash':
        for (const [field, value] of Object.entries(await client.hgetallBuffer(key))) parts.push(Buffer.from(field), value);
        break;
      case 'zset':
        parts.push(...(await client.zrangeBuffer(key, 0, -1)));
        break;
      case 'set':
        parts.push(...(await client.smembersBuffer(key)));
        break;
      case 'string':
        parts.push((await client.getBuffer(key)) ?? Buffer.alloc(0));
        break;
      case 'none':
        // Gone since the scan listed it: a failure counter of another test expired, or was deleted.
        break;
      default:
        throw new Error(`unexpected ${type} at ${key}`);
    }
  }
  return Buffer.concat(parts);
}

/** Deletes every key under `keyPrefix` (one key per command: they span Cluster slots). */
export async function deleteKeys(client: RedisClient, keyPrefix: string): Promise<void> {
  await Promise.all((await keysWithPrefix(client, keyPrefix)).map((key) => client.unlink(key)));
}

/** The contract-suite harness for a Redis reachable through `config`, under a fresh key prefix. */
export async function redisHarness(config: RedisStoreConfig, options: RedisStoreOptions = {}): Promise<StoreHarness> {
  const keyPrefix = options.keyPrefix ?? uniqueKeyPrefix();
  const admin = await openAdminClient(config);
  return {
    open: () => openRedisStore(config, { ...options, keyPrefix }),
    rawDump: () => dumpKeys(admin, keyPrefix),
    async appendLegacyAuditRecord(record) {
      // The member as the append script wrote it before the bound: the ID first, then the port's
      // fields of the time, in their order, with the complete lists.
      const site = createKeyNames(keyPrefix).site(record.siteId);
      const id = String(await admin.incr(site.sequence));
      const legacy = {
        id,
        at: record.at,
        siteId: record.siteId,
        action: record.action,
        credentialId: record.credentialId,
        clientAddress: record.clientAddress,
        dialect: record.dialect,
        contentId: record.contentId,
        kids: [...record.kids],
        periodIndexes: [...record.periodIndexes],
        keysCreated: record.keysCreated,
        requestId: record.requestId,
      };
      await admin.zadd(site.audit, id, JSON.stringify(legacy));
      return legacy;
    },
    async destroy() {
      try {
        await deleteKeys(admin, keyPrefix);
      } finally {
        await closeRedisClient(admin);
      }
    },
  };
}
