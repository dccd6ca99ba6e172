import { isIPv6 } from 'node:net';
import { ConfigError } from '../errors';

/**
 * Parsing of the `STORE` setting: which persistence backend to use and how to reach it.
 *
 * Every error message names STORE and what is wrong, by position ("host 2"), and never quotes the
 * input: the URL may carry a password, and a mistyped URL may put it where a host or path should be.
 */

/** A Redis endpoint: a server (single, cluster seed) or a Sentinel. */
export interface RedisNode {
  readonly host: string;
  readonly port: number;
}

export type RedisMode = 'single' | 'sentinel' | 'cluster';

export type StoreConfig =
  | { readonly kind: 'sqlite'; readonly path: string }
  | {
      readonly kind: 'redis';
      readonly mode: RedisMode;
      readonly tls: boolean;
      /** The server (single), the Sentinels (sentinel) or the seed nodes (cluster); never empty. */
      readonly nodes: readonly RedisNode[];
      readonly username?: string;
      readonly password?: string;
      /** Logical database; absent means 0. Never set in cluster mode (Redis Cluster has only db 0). */
      readonly db?: number;
      /** The Sentinel master group name; set exactly in sentinel mode. */
      readonly sentinelMasterName?: string;
    };

export type RedisStoreConfig = Extract<StoreConfig, { kind: 'redis' }>;

const REDIS_PORT = 6379;
const SENTINEL_PORT = 26379;
const MAX_PORT = 65535;
const MAX_HOSTNAME_LENGTH = 253;
/** Letters, digits, dots, hyphens; underscores too, as container and compose service names use them. */
const HOSTNAME_PATTERN = /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$/;
const DB_PATTERN = /^(?:0|[1-9][0-9]{0,8})$/;
const PORT_PATTERN = /^[0-9]{1,5}$/;
const REDIS_SCHEME_PATTERN = /^(rediss?)(?:\+(sentinel|cluster))?:\/\//i;
const SQLITE_SCHEME = 'sqlite:';

const FORMS =
  'sqlite:<path>, redis[s]://[user:password@]host[:port][/db], ' +
  'redis[s]+sentinel://[user:password@]host:port,…/<master>[/db] or redis[s]+cluster://[user:password@]host:port,…';

function invalid(what: string): ConfigError {
  return new ConfigError(`STORE ${what}`);
}

/**
 * Parses `STORE`.
 *
 * - `sqlite:<path>`: a relative or absolute file path, or `sqlite::memory:`.
 * - `redis://[user:password@]host[:6379][/db]`, `rediss://…` for TLS.
 * - `redis+sentinel://[user:password@]h1:26379,h2:26379/<master>[/db]` and `rediss+sentinel://…`; the
 *   credentials are those of the master (Sentinels are reached without authentication).
 * - `redis+cluster://[user:password@]h1:6379,h2:6379` and `rediss+cluster://…`; no database.
 *
 * User name, password and master name are percent-decoded. The credentials run to the last `@`, so a
 * password may contain `@`, `/` or `:` unencoded; `%` must be written `%25`. IPv6 hosts go in
 * brackets: `[::1]:6379`. Query strings are not supported (every option has its own setting).
 *
 * @throws ConfigError naming STORE and what is wrong; the message never contains the password.
 */
export function parseStoreUrl(text: string): StoreConfig {
  const trimmed = text.trim();
  if (trimmed.length === 0) throw invalid(`is empty; expected ${FORMS}`);
  if (trimmed.toLowerCase().startsWith(SQLITE_SCHEME)) return parseSqlite(trimmed.slice(SQLITE_SCHEME.length));
  const scheme = REDIS_SCHEME_PATTERN.exec(trimmed);
  if (!scheme) throw invalid(`has an unknown form; expected ${FORMS}`);
  return parseRedis(
    (scheme[1] as string).toLowerCase() === 'rediss',
    modeOf(scheme[2]?.toLowerCase()),
    trimmed.slice(scheme[0].length),
  );
}

function parseSqlite(path: string): StoreConfig {
  if (path.length === 0) throw invalid('sqlite: needs a file path (sqlite:<path> or sqlite::memory:)');
  // `sqlite://x` reads like a URL whose host is x; refuse rather than guess between "//x" and "x".
  if (path.startsWith('//')) {
    throw invalid('sqlite: takes a plain path: sqlite:relative/file.db or sqlite:/absolute/file.db');
  }
  return Object.freeze({ kind: 'sqlite', path });
}

function modeOf(suffix: string | undefined): RedisMode {
  if (suffix === 'sentinel' || suffix === 'cluster') return suffix;
  return 'single';
}

function parseRedis(tls: boolean, mode: RedisMode, rest: string): RedisStoreConfig {
  const at = rest.lastIndexOf('@');
  const credentials = at === -1 ? {} : parseCredentials(rest.slice(0, at));
  const location = rest.slice(at + 1);
  if (/[?#]/.test(location)) throw invalid('has a query string or fragment; Redis options have their own settings');

  const slash = location.indexOf('/');
  const hostList = slash === -1 ? location : location.slice(0, slash);
  const path = slash === -1 ? '' : location.slice(slash + 1);
  const nodes = parseNodes(hostList, mode === 'sentinel' ? SENTINEL_PORT : REDIS_PORT);
  if (mode === 'single' && nodes.length > 1) {
    throw invalid('lists several hosts; use redis+sentinel:// or redis+cluster:// for more than one');
  }
  return Object.freeze({
    kind: 'redis',
    mode,
    tls,
    nodes: Object.freeze(nodes),
    ...credentials,
    ...parsePath(mode, path),
  });
}

function parseCredentials(userinfo: string): { username?: string; password?: string } {
  const colon = userinfo.indexOf(':');
  const username = decode(colon === -1 ? userinfo : userinfo.slice(0, colon), 'user name');
  const password = colon === -1 ? '' : decode(userinfo.slice(colon + 1), 'password');
  if (username.length > 0 && password.length === 0) {
    throw invalid('names a user but no password; write user:password@ (or :password@ without a user)');
  }
  return {
    ...(username.length > 0 && { username }),
    ...(password.length > 0 && { password }),
  };
}

function decode(text: string, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw invalid(`${what} is not valid percent-encoding (write % as %25)`);
  }
}

function parseNodes(hostList: string, defaultPort: number): RedisNode[] {
  if (hostList.length === 0) throw invalid('has no host');
  const tokens = hostList.split(',');
  return tokens.map((token, index) => {
    const where = tokens.length === 1 ? 'host' : `host ${index + 1} of ${tokens.length}`;
    return Object.freeze(parseNode(token, defaultPort, where));
  });
}

function parseNode(token: string, defaultPort: number, where: string): RedisNode {
  if (token.length === 0) throw invalid(`${where} is empty`);
  let host: string;
  let portText: string | undefined;
  if (token.startsWith('[')) {
    const close = token.indexOf(']');
    if (close === -1) throw invalid(`${where} opens an IPv6 bracket but does not close it`);
    host = token.slice(1, close);
    if (!isIPv6(host)) throw invalid(`${where} is not an IPv6 address inside its brackets`);
    const after = token.slice(close + 1);
    if (after.length > 0) {
      if (!after.startsWith(':')) throw invalid(`${where} has text after its IPv6 address; expected [address]:port`);
      portText = after.slice(1);
    }
  } else {
    const parts = token.split(':');
    if (parts.length > 2) throw invalid(`${where} looks like an IPv6 address; put it in brackets: [address]:port`);
    host = parts[0] as string;
    portText = parts[1];
    if (host.length === 0 || host.length > MAX_HOSTNAME_LENGTH || !HOSTNAME_PATTERN.test(host)) {
      throw invalid(`${where} is not a valid host name or address`);
    }
  }
  return { host, port: portText === undefined ? defaultPort : parsePort(portText, where) };
}

function parsePort(text: string, where: string): number {
  const port = PORT_PATTERN.test(text) ? Number(text) : NaN;
  if (!(port >= 1 && port <= MAX_PORT)) throw invalid(`${where} has an invalid port (expected 1 to ${MAX_PORT})`);
  return port;
}

function parseDb(text: string): number {
  if (!DB_PATTERN.test(text)) throw invalid('database must be a non-negative integer');
  return Number(text);
}

function parsePath(mode: RedisMode, path: string): { db?: number; sentinelMasterName?: string } {
  const segments = path.length === 0 ? [] : path.split('/');
  switch (mode) {
    case 'single': {
      if (segments.length > 1) throw invalid('has more than a database number after the host');
      const [db] = segments;
      return db === undefined || db.length === 0 ? {} : { db: parseDb(db) };
    }
    case 'sentinel': {
      const [name, db, ...extra] = segments;
      if (name === undefined || name.length === 0) {
        throw invalid('needs the Sentinel master name after the hosts: redis+sentinel://host:26379/<master>[/db]');
      }
      if (extra.length > 0) throw invalid('has more than a master name and a database number after the hosts');
      const sentinelMasterName = decode(name, 'master name');
      return db === undefined || db.length === 0 ? { sentinelMasterName } : { sentinelMasterName, db: parseDb(db) };
    }
    case 'cluster':
      if (segments.some((segment) => segment.length > 0)) {
        throw invalid(
          'selects a database or path, but Redis Cluster has only database 0; remove everything after the hosts',
        );
      }
      return {};
  }
}
