import { Conflict } from '../../errors';
import { LICENCE_TOKEN_ALGORITHMS, type LicenceTokenAlgorithm, type LicenceTokenKeyRecord, type LicenceTokenKeyRepository } from '../../licence/ports';
import type { RedisContext } from './context';
import { repliesOf } from './context';

/**
 * Licence-token keys in Redis (docs/clearkey.md), under the site's hash tag beside its other keys:
 *
 * ```
 * {<prefix>:<siteId>}:licence-token-keys          hash  kid → key record (JSON; an HS256 secret only sealed)
 * {<prefix>:<siteId>}:licence-token-keys:revoked  hash  kid → revocation time (the first one kept)
 * ```
 *
 * A record is written once (`HSETNX`) and never deleted, so revocation needs no script: the record's
 * existence is checked, then `HSETNX` keeps the first revocation time.
 */

interface StoredJson {
  readonly alg: LicenceTokenAlgorithm;
  readonly siteKeyVersion?: number;
  /** base64 of the sealed secret. */
  readonly sealedSecret?: string;
  readonly publicJwk?: string;
  readonly createdAt: string;
}

function keyNames(context: RedisContext, siteId: string) {
  const { tag } = context.names.site(siteId);
  return { records: `${tag}:licence-token-keys`, revoked: `${tag}:licence-token-keys:revoked` };
}

function encode(record: LicenceTokenKeyRecord): string {
  const stored: StoredJson = {
    alg: record.alg,
    ...(record.secret !== undefined && { siteKeyVersion: record.secret.siteKeyVersion, sealedSecret: record.secret.sealed.toString('base64') }),
    ...(record.publicJwk !== undefined && { publicJwk: record.publicJwk }),
    createdAt: record.createdAt,
  };
  return JSON.stringify(stored);
}

function decode(siteId: string, kid: string, json: string, revokedAt: string | null): LicenceTokenKeyRecord {
  const stored = JSON.parse(json) as Partial<StoredJson>;
  if (!LICENCE_TOKEN_ALGORITHMS.includes(stored.alg as LicenceTokenAlgorithm) || typeof stored.createdAt !== 'string') {
    throw new Error(`licence token key ${kid} of site ${siteId} is malformed in Redis`);
  }
  return {
    siteId,
    kid,
    alg: stored.alg as LicenceTokenAlgorithm,
    ...(typeof stored.sealedSecret === 'string' &&
      typeof stored.siteKeyVersion === 'number' && { secret: { siteKeyVersion: stored.siteKeyVersion, sealed: Buffer.from(stored.sealedSecret, 'base64') } }),
    ...(typeof stored.publicJwk === 'string' && { publicJwk: stored.publicJwk }),
    createdAt: stored.createdAt,
    ...(revokedAt !== null && { revokedAt }),
  };
}

export function createRedisLicenceTokenKeyRepository(context: RedisContext): LicenceTokenKeyRepository {
  const { client, call, confirmDurable } = context;

  return {
    async create(record) {
      const keys = keyNames(context, record.siteId);
      const created = await call('createLicenceTokenKey', () => client.hsetnx(keys.records, record.kid, encode(record)));
      if (created !== 1) throw new Conflict('licence token key ID is taken');
      await confirmDurable('createLicenceTokenKey', keys.records);
    },

    async get(siteId, kid) {
      const keys = keyNames(context, siteId);
      const replies = await call('getLicenceTokenKey', () => client.pipeline().hget(keys.records, kid).hget(keys.revoked, kid).exec());
      const [json, revokedAt] = repliesOf('getLicenceTokenKey', replies, 2) as [string | null, string | null];
      return json === null ? undefined : decode(siteId, kid, json, revokedAt);
    },

    async list(siteId) {
      const keys = keyNames(context, siteId);
      const replies = await call('listLicenceTokenKeys', () => client.pipeline().hgetall(keys.records).hgetall(keys.revoked).exec());
      const [records, revoked] = repliesOf('listLicenceTokenKeys', replies, 2) as [Record<string, string>, Record<string, string>];
      return Object.entries(records)
        .map(([kid, json]) => decode(siteId, kid, json, revoked[kid] ?? null))
        .sort((a, b) => (a.createdAt === b.createdAt ? (a.kid < b.kid ? -1 : 1) : a.createdAt < b.createdAt ? -1 : 1));
    },

    async revoke(siteId, kid, revokedAt) {
      const keys = keyNames(context, siteId);
      const exists = await call('revokeLicenceTokenKey', () => client.hexists(keys.records, kid));
      if (exists !== 1) return false;
      await call('revokeLicenceTokenKey', () => client.hsetnx(keys.revoked, kid, revokedAt));
      await confirmDurable('revokeLicenceTokenKey', keys.revoked);
      return true;
    },
  };
}
