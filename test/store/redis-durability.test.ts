import { assessNode, parseInfo, type RedisNodeState } from '../../src/store/redis/durability';

const durableNode: RedisNodeState = {
  role: 'master',
  aofEnabled: true,
  aofWriteFailing: false,
  appendfsync: 'always',
  connectedReplicas: 0,
};

const warnings = (state: Partial<RedisNodeState>, waitReplicas: number) =>
  assessNode({ ...durableNode, ...state }, waitReplicas)
    .filter((finding) => finding.level === 'warn')
    .map((finding) => finding.message);

describe('Redis durability assessment', () => {
  it.each<[string, Partial<RedisNodeState>, number, RegExp[]]>([
    ['AOF always, no WAIT', {}, 0, []],
    ['AOF off, no WAIT', { aofEnabled: false }, 0, [/AOF is off/]],
    ['AOF off, WAIT 1 of 1 online replica', { aofEnabled: false, connectedReplicas: 1 }, 1, []],
    ['everysec, no WAIT', { appendfsync: 'everysec' }, 0, [/appendfsync is everysec/]],
    ['everysec, WAIT 2 of 2 replicas', { appendfsync: 'everysec', connectedReplicas: 2 }, 2, []],
    ['CONFIG refused, no WAIT', { appendfsync: undefined }, 0, [/appendfsync could not be checked/]],
    ['CONFIG refused, WAIT 1 of 1 replica', { appendfsync: undefined, connectedReplicas: 1 }, 1, []],
    ['WAIT 2 with 1 replica', { connectedReplicas: 1 }, 2, [/WAIT for 2 replica\(s\) but 1 are connected/]],
    ['replication unknown with WAIT', { connectedReplicas: undefined }, 1, [/replication could not be checked/]],
    ['INFO persistence refused, no WAIT', { aofEnabled: undefined, appendfsync: undefined }, 0, [/persistence could not be checked/]],
    ['failing AOF writes', { aofWriteFailing: true }, 0, [/last AOF write failed/]],
    ['a replica instead of a master', { role: 'slave' }, 0, [/not a master/]],
  ])('%s', (_name, state, waitReplicas, expected) => {
    const messages = warnings(state, waitReplicas);
    expect(messages).toHaveLength(expected.length);
    expected.forEach((pattern, i) => expect(messages[i]).toMatch(pattern));
  });

  it('says why a node is fine when nothing is wrong', () => {
    expect(assessNode(durableNode, 0)).toEqual([
      { level: 'ok', message: 'acknowledged writes are durable: AOF on with appendfsync always, no WAIT' },
    ]);
    expect(assessNode({ ...durableNode, aofEnabled: false, connectedReplicas: 2 }, 1, 'node a:1: ')).toEqual([
      { level: 'ok', message: 'node a:1: acknowledged writes are durable: AOF off, writes WAIT for 1 of 2 connected replica(s)' },
    ]);
  });

  it('parses INFO text, skipping section headers', () => {
    const info = parseInfo(
      '# Replication\r\nrole:master\r\nconnected_slaves:1\r\n' +
        'slave0:ip=127.0.0.1,port=7001,state=online,offset=1,lag=0\r\n\r\n',
    );
    expect(info.get('role')).toBe('master');
    expect(info.get('slave0')).toBe('ip=127.0.0.1,port=7001,state=online,offset=1,lag=0');
    expect(info.has('# Replication')).toBe(false);
  });
});
