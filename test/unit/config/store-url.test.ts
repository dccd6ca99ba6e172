import { parseStoreUrl, type StoreConfig } from '../../../src/config/store-url';
import { ConfigError } from '../../../src/errors';

const SECRET = 'S3cr:t/p@ss';
const ENCODED_SECRET = encodeURIComponent(SECRET);

describe('parseStoreUrl', () => {
  describe('accepts', () => {
    it.each<[string, string, StoreConfig]>([
      ['a relative SQLite path', 'sqlite:data/store.db', { kind: 'sqlite', path: 'data/store.db' }],
      ['an absolute SQLite path', 'sqlite:/var/lib/cpix-kms/store.db', { kind: 'sqlite', path: '/var/lib/cpix-kms/store.db' }],
      ['an in-memory SQLite database', 'sqlite::memory:', { kind: 'sqlite', path: ':memory:' }],
      [
        'a Redis host with the default port',
        'redis://redis.internal',
        { kind: 'redis', mode: 'single', tls: false, nodes: [{ host: 'redis.internal', port: 6379 }] },
      ],
      [
        'a Redis host, port and database',
        'redis://127.0.0.1:6380/3',
        { kind: 'redis', mode: 'single', tls: false, nodes: [{ host: '127.0.0.1', port: 6380 }], db: 3 },
      ],
      [
        'a trailing slash as database 0',
        'redis://localhost/',
        { kind: 'redis', mode: 'single', tls: false, nodes: [{ host: 'localhost', port: 6379 }] },
      ],
      [
        'TLS, user and password',
        'rediss://app:hunter2@redis.example.com:6380/0',
        {
          kind: 'redis',
          mode: 'single',
          tls: true,
          nodes: [{ host: 'redis.example.com', port: 6380 }],
          username: 'app',
          password: 'hunter2',
          db: 0,
        },
      ],
      [
        'a password without a user (legacy requirepass)',
        'redis://:hunter2@cache',
        { kind: 'redis', mode: 'single', tls: false, nodes: [{ host: 'cache', port: 6379 }], password: 'hunter2' },
      ],
      [
        'percent-encoded credentials',
        `redis://us%3Aer:${ENCODED_SECRET}@cache`,
        { kind: 'redis', mode: 'single', tls: false, nodes: [{ host: 'cache', port: 6379 }], username: 'us:er', password: SECRET },
      ],
      [
        'a password with unencoded @, / and : (credentials run to the last @)',
        `redis://app:${SECRET}@cache:6379/2`,
        {
          kind: 'redis',
          mode: 'single',
          tls: false,
          nodes: [{ host: 'cache', port: 6379 }],
          username: 'app',
          password: SECRET,
          db: 2,
        },
      ],
      [
        'an IPv6 host in brackets',
        'redis://[::1]:6379',
        { kind: 'redis', mode: 'single', tls: false, nodes: [{ host: '::1', port: 6379 }] },
      ],
      [
        'an IPv6 host without a port',
        'redis://[2001:db8::7]/1',
        { kind: 'redis', mode: 'single', tls: false, nodes: [{ host: '2001:db8::7', port: 6379 }], db: 1 },
      ],
      [
        'Sentinels with a master name',
        'redis+sentinel://s1:26379,s2,[::1]:26380/mymaster',
        {
          kind: 'redis',
          mode: 'sentinel',
          tls: false,
          nodes: [
            { host: 's1', port: 26379 },
            { host: 's2', port: 26379 },
            { host: '::1', port: 26380 },
          ],
          sentinelMasterName: 'mymaster',
        },
      ],
      [
        'Sentinels over TLS with credentials, an encoded master name and a database',
        'rediss+sentinel://app:pw@s1:26379/my%2Fmaster/4',
        {
          kind: 'redis',
          mode: 'sentinel',
          tls: true,
          nodes: [{ host: 's1', port: 26379 }],
          username: 'app',
          password: 'pw',
          sentinelMasterName: 'my/master',
          db: 4,
        },
      ],
      [
        'cluster seed nodes',
        'redis+cluster://n1:7000,n2:7001',
        {
          kind: 'redis',
          mode: 'cluster',
          tls: false,
          nodes: [
            { host: 'n1', port: 7000 },
            { host: 'n2', port: 7001 },
          ],
        },
      ],
      [
        'a TLS cluster with a password and a trailing slash',
        'rediss+cluster://:pw@n1/',
        { kind: 'redis', mode: 'cluster', tls: true, nodes: [{ host: 'n1', port: 6379 }], password: 'pw' },
      ],
      [
        'an upper-case scheme and surrounding whitespace',
        '  REDIS+CLUSTER://n1:7000\n',
        { kind: 'redis', mode: 'cluster', tls: false, nodes: [{ host: 'n1', port: 7000 }] },
      ],
    ])('%s', (_name, text, expected) => {
      expect(parseStoreUrl(text)).toEqual(expected);
    });

    it('returns a frozen configuration', () => {
      const config = parseStoreUrl('redis+cluster://n1:7000,n2:7001');
      expect(Object.isFrozen(config)).toBe(true);
      if (config.kind !== 'redis') throw new Error('expected redis');
      expect(Object.isFrozen(config.nodes)).toBe(true);
      expect(Object.isFrozen(config.nodes[0])).toBe(true);
    });
  });

  describe('rejects', () => {
    it.each<[string, string, RegExp]>([
      ['an empty value', '   ', /is empty/],
      ['an unknown scheme', 'postgres://db/keys', /unknown form/],
      ['redis without //', 'redis:cache:6379', /unknown form/],
      ['an unknown Redis variant', 'redis+shard://n1', /unknown form/],
      ['sqlite without a path', 'sqlite:', /needs a file path/],
      ['sqlite written as a URL', 'sqlite://data/store.db', /plain path/],
      ['a missing host', 'redis://', /has no host/],
      ['a missing host after credentials', 'redis://:pw@/0', /has no host/],
      ['an empty host in a list', 'redis+cluster://n1:7000,,n2:7001', /host 2 of 3 is empty/],
      ['a port of 0', 'redis://cache:0', /invalid port/],
      ['a port above 65535', 'redis://cache:65536', /invalid port/],
      ['a non-numeric port', 'redis://cache:http', /invalid port/],
      ['an empty port', 'redis://cache:', /invalid port/],
      ['an invalid host name', 'redis://ca che', /not a valid host name/],
      ['an IPv6 address without brackets', 'redis://::1:6379', /put it in brackets/],
      ['an unclosed IPv6 bracket', 'redis://[::1:6379', /does not close/],
      ['a non-IPv6 address in brackets', 'redis://[cache]:6379', /not an IPv6 address/],
      ['text after the IPv6 bracket', 'redis://[::1]6379', /expected \[address\]:port/],
      ['several hosts in single mode', 'redis://a:6379,b:6379', /several hosts/],
      ['a non-numeric database', 'redis://cache/zero', /non-negative integer/],
      ['a negative database', 'redis://cache/-1', /non-negative integer/],
      ['a database with leading zeros', 'redis://cache/01', /non-negative integer/],
      ['a path after the database', 'redis://cache/0/x', /more than a database number/],
      ['a query string', 'redis://cache:6379?tls=true', /query string/],
      ['a fragment', 'redis://cache#x', /query string or fragment/],
      ['a Sentinel URL without a master name', 'redis+sentinel://s1:26379', /master name/],
      ['a Sentinel URL with an empty master name', 'redis+sentinel://s1:26379//2', /master name/],
      ['a Sentinel URL with extra path', 'redis+sentinel://s1/m/0/x', /more than a master name/],
      ['a Sentinel database that is not a number', 'redis+sentinel://s1/m/x', /non-negative integer/],
      ['a database in cluster mode', 'redis+cluster://n1:7000/0', /only database 0/],
      ['a user without a password', 'redis://app@cache', /names a user but no password/],
      ['a user with an empty password', 'redis://app:@cache', /names a user but no password/],
      ['bad percent-encoding in the password', 'redis://app:50%@cache', /password is not valid percent-encoding/],
      ['bad percent-encoding in the user', 'redis://a%zz:pw@cache', /user name is not valid percent-encoding/],
    ])('%s', (_name, text, message) => {
      let thrown: unknown;
      try {
        parseStoreUrl(text);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(ConfigError);
      expect(thrown).toMatchObject({ code: 'ERR_CONFIG_INVALID', message: expect.stringMatching(/^STORE /) });
      expect((thrown as Error).message).toMatch(message);
    });
  });

  describe('never echoes a password in an error', () => {
    const password = 'Pa55!w0rd=7f3c9e';
    it.each<[string, string]>([
      ['bad port after credentials', `redis://app:${password}@cache:99999`],
      ['bad host after credentials', `redis://app:${password}@bad host`],
      ['password misplaced into the port (missing @)', `redis://cache:${password}`],
      ['password misplaced into the host list', `redis+cluster://n1:7000,${password}`],
      ['password misplaced into the path', `redis://cache/${password}`],
      ['password in the master-name position', `redis+sentinel://s1/m/${password}`],
      ['query string after credentials', `redis://app:${password}@cache?x=${password}`],
      ['unknown scheme with credentials', `memcached://app:${password}@cache`],
      ['cluster database with credentials', `redis+cluster://app:${password}@n1/${password}`],
      ['broken percent-encoding in the password', `redis://app:${password}%@cache`],
      ['user without a password', `redis://${password}@cache`],
      ['IPv6 without brackets after credentials', `redis://app:${password}@::1:6379`],
      ['sqlite URL form', `sqlite://${password}`],
    ])('%s', (_name, text) => {
      let thrown: unknown;
      try {
        parseStoreUrl(text);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(ConfigError);
      const error = thrown as ConfigError;
      expect(error.message).not.toContain(password);
      expect(error.detail ?? '').not.toContain(password);
      expect(String(error.cause ?? '')).not.toContain(password);
    });
  });
});
