import type { MasterKeyCheckRepository } from '../../master-key-check/ports';
import { decodeMasterKeyCheck, encodeMasterKeyCheck } from './codec';
import type { RedisContext } from './context';

/**
 * The master key's check value as one string under the key prefix (layout in `key-names.ts`).
 * `SET NX` makes the first claim win; the write is WAITed for like every other durable write
 * (`REDIS_WAIT_REPLICAS`), so a failover cannot bring back a store without it.
 */
export function createRedisMasterKeyCheckRepository({ client, names, call, confirmDurable }: RedisContext): MasterKeyCheckRepository {
  const read = async (operation: string) =>
    decodeMasterKeyCheck(await call(operation, () => client.get(names.masterKeyCheck)));

  return {
    get: () => read('getMasterKeyCheck'),
    async claim(check) {
      await call('claimMasterKeyCheck', () => client.set(names.masterKeyCheck, encodeMasterKeyCheck(check), 'NX'));
      await confirmDurable('claimMasterKeyCheck', names.masterKeyCheck);
      const stored = await read('claimMasterKeyCheck');
      if (!stored) throw new Error('master key check value vanished right after it was claimed');
      return stored;
    },
    async holdsSites() {
      // The index is a sorted set, which Redis removes when it becomes empty.
      return (await call('holdsSites', () => client.exists(names.siteIndex))) === 1;
    },
  };
}
