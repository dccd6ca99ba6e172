import { Cluster, Redis } from 'ioredis';
import { ServiceError } from '../../errors';
import { storeUnavailable, type RedisClient } from './client';

/**
 * One observation about whether an acknowledged write survives a crash. `warn` means a key could
 * be handed out and then lost: log it loudly, and refuse to start where durability is required.
 */
export interface DurabilityFinding {
  readonly level: 'ok' | 'warn';
  readonly message: string;
}

/** The part of a Redis store this check needs (see `RedisStore.checkDurability`). */
export interface DurabilityCheckable {
  checkDurability(waitReplicas?: number): Promise<DurabilityFinding[]>;
}

/** `INFO` text → field map (`# Section` headers and blank lines skipped). */
export function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (line.startsWith('#') || colon === -1) continue;
    fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return fields;
}

/** A reply error (command refused: ACL, renamed or disabled command), as opposed to an outage. */
function isRefused(error: unknown): boolean {
  return error instanceof Error && error.name === 'ReplyError';
}

/** What `checkRedisDurability` reads from one node. */
export interface RedisNodeState {
  readonly role: string | undefined;
  readonly aofEnabled: boolean | undefined;
  readonly aofWriteFailing: boolean;
  /** Undefined when CONFIG GET is refused (common on managed Redis). */
  readonly appendfsync: string | undefined;
  /** Replicas in state online (able to acknowledge a WAIT). */
  readonly connectedReplicas: number | undefined;
}

async function readNodeState(node: Redis): Promise<RedisNodeState> {
  const info = async (section: string) => {
    try {
      return parseInfo(await node.info(section));
    } catch (error) {
      if (isRefused(error)) return new Map<string, string>();
      throw error;
    }
  };
  const [persistence, replication] = await Promise.all([info('persistence'), info('replication')]);
  let appendfsync: string | undefined;
  try {
    const reply = await node.config('GET', 'appendfsync');
    appendfsync = Array.isArray(reply) && typeof reply[1] === 'string' ? reply[1] : undefined;
  } catch (error) {
    if (!isRefused(error)) throw error;
  }
  const aof = persistence.get('aof_enabled');
  return {
    role: replication.get('role'),
    aofEnabled: aof === undefined ? undefined : aof === '1',
    aofWriteFailing: (persistence.get('aof_last_write_status') ?? 'ok') !== 'ok',
    appendfsync,
    connectedReplicas: onlineReplicas(replication),
  };
}

/**
 * Replicas that can acknowledge a WAIT: `slaveN:…,state=online,…` lines. `connected_slaves` alone
 * also counts replicas still in their initial sync, which acknowledge nothing yet.
 */
function onlineReplicas(replication: Map<string, string>): number | undefined {
  const connected = replication.get('connected_slaves');
  if (connected === undefined) return undefined;
  const states = [...replication]
    .filter(([field]) => /^slave\d+$/.test(field))
    .map(([, value]) => /(?:^|,)state=([a-z_]+)/.exec(value)?.[1]);
  return states.length === 0 ? Number(connected) : states.filter((state) => state === 'online').length;
}

/** The findings for one node; `label` prefixes messages in Cluster mode ("node 10.0.0.5:6379: "). */
export function assessNode(state: RedisNodeState, waitReplicas: number, label = ''): DurabilityFinding[] {
  const warn = (message: string): DurabilityFinding => ({ level: 'warn', message: label + message });
  const ok = (message: string): DurabilityFinding => ({ level: 'ok', message: label + message });
  const findings: DurabilityFinding[] = [];
  const withoutWait = waitReplicas === 0;

  if (state.role !== undefined && state.role !== 'master') {
    findings.push(warn(`connected to a ${state.role}, not a master: every write will fail`));
  }
  if (state.aofEnabled === undefined) {
    if (withoutWait) {
      findings.push(warn('persistence could not be checked (INFO persistence refused) and writes do not WAIT for replicas'));
    }
  } else if (!state.aofEnabled) {
    if (withoutWait) {
      findings.push(
        warn(
          'AOF is off (appendonly no) and writes do not WAIT for replicas: keys handed out since the last ' +
            'snapshot are lost when Redis restarts. Set appendonly yes and appendfsync always, or waitReplicas ≥ 1',
        ),
      );
    }
  } else {
    if (state.aofWriteFailing) findings.push(warn('the last AOF write failed (aof_last_write_status is not ok)'));
    if (state.appendfsync === undefined) {
      if (withoutWait) {
        findings.push(
          warn(
            'appendfsync could not be checked (CONFIG GET refused, as on managed Redis): unless it is ' +
              '"always", a crash can lose up to a second of keys already handed out',
          ),
        );
      } else {
        findings.push(ok('appendfsync could not be checked (CONFIG GET refused); durability rests on WAIT'));
      }
    } else if (state.appendfsync !== 'always' && withoutWait) {
      findings.push(
        warn(
          `appendfsync is ${state.appendfsync}, not always, and writes do not WAIT for replicas: a crash ` +
            'can lose keys already handed out',
        ),
      );
    }
  }
  if (!withoutWait) {
    if (state.connectedReplicas === undefined) {
      findings.push(warn(`writes WAIT for ${waitReplicas} replica(s), but replication could not be checked`));
    } else if (waitReplicas > state.connectedReplicas) {
      findings.push(
        warn(
          `writes WAIT for ${waitReplicas} replica(s) but ${state.connectedReplicas} are connected and in sync: every ` +
            'write will fail with ERR_DURABILITY_NOT_CONFIRMED',
        ),
      );
    }
  }
  if (!findings.some((finding) => finding.level === 'warn')) {
    const aof = {
      true: `AOF on with appendfsync ${state.appendfsync ?? 'unchecked'}`,
      false: 'AOF off',
      undefined: 'AOF unchecked',
    };
    const parts = [
      aof[`${state.aofEnabled}`],
      withoutWait ? 'no WAIT' : `writes WAIT for ${waitReplicas} of ${state.connectedReplicas ?? '?'} connected replica(s)`,
    ];
    findings.push(ok(`acknowledged writes are durable: ${parts.join(', ')}`));
  }
  return findings;
}

/**
 * Checks that a reply cannot outrun durability: reads `INFO persistence`, `CONFIG GET appendfsync`
 * (reported as unchecked where CONFIG is refused) and `INFO replication` on the master (every
 * master in Cluster mode). Warns when AOF is off or appendfsync is not `always` while writes do not
 * WAIT for replicas, and when `waitReplicas` exceeds the connected replicas.
 *
 * With `appendonly yes` and `appendfsync always` a single node is durable on its own: Redis fsyncs
 * the AOF before it replies.
 *
 * @param target an open Redis store, or an ioredis client.
 * @param waitReplicas the `waitReplicas` the store uses; a store defaults to its own setting.
 * @throws DependencyUnavailable ERR_STORE_UNAVAILABLE when Redis cannot be reached.
 */
export async function checkRedisDurability(
  target: RedisClient | DurabilityCheckable,
  waitReplicas?: number,
): Promise<DurabilityFinding[]> {
  if (!(target instanceof Redis || target instanceof Cluster)) return target.checkDurability(waitReplicas);
  const replicas = waitReplicas ?? 0;
  try {
    if (!(target instanceof Cluster)) return assessNode(await readNodeState(target), replicas);
    const masters = target.nodes('master');
    if (masters.length === 0) throw new Error('cluster has no connected master');
    const perNode = await Promise.all(
      masters.map(async (node) =>
        assessNode(await readNodeState(node), replicas, `node ${node.options.host ?? '?'}:${node.options.port ?? '?'}: `),
      ),
    );
    return perNode.flat();
  } catch (error) {
    if (error instanceof ServiceError) throw error;
    throw storeUnavailable('checkDurability', error);
  }
}
