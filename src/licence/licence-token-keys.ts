import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { encodeContext, open, seal } from '../crypto/aead';
import type { Clock, RandomSource } from '../crypto/random';
import { randomIdentifier } from '../crypto/secrets';
import { Conflict, NotFound, RequestInvalid } from '../errors';
import type { SiteKeyProvider } from '../keys/ports';
import type { LicenceTokenAlgorithm, LicenceTokenKeyRecord, LicenceTokenKeyRepository } from './ports';

/** HS256 secrets are 256 random bits (RFC 7518 §3.2: a key of at least the hash output size). */
export const HS256_SECRET_BYTES = 32;
/** `kid`s are 96 random bits, 16 base64url characters, like credential IDs. */
const KID_BYTES = 12;
export const LICENCE_TOKEN_KID_PATTERN = /^[A-Za-z0-9_-]{16}$/;
/** RSA moduli below this are refused (NIST SP 800-131A). */
const MIN_RSA_MODULUS_BITS = 2048;
const MAX_RSA_MODULUS_BITS = 8192;
/** Generated kids are drawn from 2^96; a collision is retried rather than assumed impossible. */
const KID_ATTEMPTS = 4;

const SECRET_PURPOSE = 'cpix-kms/licence-token-key/v1';

/** What the admin API shows of a key: never its secret. */
export interface LicenceTokenKeyView {
  readonly kid: string;
  readonly alg: LicenceTokenAlgorithm;
  /** The registered public key (ES256, RS256). */
  readonly jwk?: JsonWebKey;
  readonly createdAt: string;
  readonly revokedAt?: string;
}

export type NewLicenceTokenKey =
  | { readonly alg: 'HS256' }
  | { readonly alg: 'ES256' | 'RS256'; readonly jwk: Readonly<Record<string, unknown>> };

/** What verifies a token: the algorithm pinned to the key, and the key itself. */
export type VerificationKey =
  | { readonly alg: 'HS256'; readonly key: Uint8Array }
  | { readonly alg: 'ES256' | 'RS256'; readonly key: KeyObject };

export interface LicenceTokenKeyServiceDeps {
  readonly repository: LicenceTokenKeyRepository;
  readonly siteKeys: SiteKeyProvider;
  /** Resolves when the site exists. @throws NotFound otherwise. */
  readonly requireSite: (siteId: string) => Promise<unknown>;
  readonly random: RandomSource;
  readonly clock: Clock;
}

/**
 * Associated data of a wrapped secret: a blob copied to another key, another site or another
 * algorithm does not open.
 */
function secretContext(siteId: string, kid: string, alg: LicenceTokenAlgorithm): Buffer {
  return encodeContext(SECRET_PURPOSE, [siteId, kid, alg]);
}

/**
 * The public members of an ES256 (P-256) or RS256 (RSA ≥ 2048) JWK, checked by importing it. Any
 * private member, another key type or curve, or an `alg` other than the one registered is refused.
 * @throws RequestInvalid naming the problem (never echoing the key).
 */
export function publicJwkFor(alg: 'ES256' | 'RS256', jwk: Readonly<Record<string, unknown>>): JsonWebKey {
  for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']) {
    if (member in jwk) throw new RequestInvalid('jwk must be a public key (it holds private members)');
  }
  if (jwk.alg !== undefined && jwk.alg !== alg) throw new RequestInvalid(`jwk.alg must be ${alg} when given`);
  if (jwk.use !== undefined && jwk.use !== 'sig') throw new RequestInvalid('jwk.use must be sig when given');
  const members = alg === 'ES256' ? (['kty', 'crv', 'x', 'y'] as const) : (['kty', 'n', 'e'] as const);
  const publicJwk: Record<string, string> = {};
  for (const member of members) {
    const value = jwk[member];
    if (typeof value !== 'string' || value === '') throw new RequestInvalid(`jwk.${member} is required`);
    publicJwk[member] = value;
  }
  if (alg === 'ES256' && (publicJwk.kty !== 'EC' || publicJwk.crv !== 'P-256')) throw new RequestInvalid('ES256 takes an EC P-256 jwk');
  if (alg === 'RS256' && publicJwk.kty !== 'RSA') throw new RequestInvalid('RS256 takes an RSA jwk');
  let key: KeyObject;
  try {
    key = createPublicKey({ key: publicJwk, format: 'jwk' });
  } catch {
    throw new RequestInvalid('jwk is not a valid public key');
  }
  const details = key.asymmetricKeyDetails;
  if (alg === 'RS256') {
    const bits = details?.modulusLength ?? 0;
    if (bits < MIN_RSA_MODULUS_BITS || bits > MAX_RSA_MODULUS_BITS) {
      throw new RequestInvalid(`RS256 keys must have ${MIN_RSA_MODULUS_BITS} to ${MAX_RSA_MODULUS_BITS} bits`);
    }
  }
  // The key as node exports it: canonical members, nothing the caller added.
  return key.export({ format: 'jwk' });
}

function toView(record: LicenceTokenKeyRecord): LicenceTokenKeyView {
  return {
    kid: record.kid,
    alg: record.alg,
    ...(record.publicJwk !== undefined && { jwk: JSON.parse(record.publicJwk) as JsonWebKey }),
    createdAt: record.createdAt,
    ...(record.revokedAt !== undefined && { revokedAt: record.revokedAt }),
  };
}

/**
 * The keys that verify a site's licence tokens (docs/clearkey.md), managed through the admin API. An HS256
 * secret is generated here, shown once and stored sealed under the site key (it must be usable to
 * verify, so it cannot be hashed); ES256/RS256 keys are the customer's public keys.
 */
export function createLicenceTokenKeyService(deps: LicenceTokenKeyServiceDeps) {
  const { repository, siteKeys, requireSite, random, clock } = deps;

  async function insert(record: (kid: string) => Promise<LicenceTokenKeyRecord>): Promise<LicenceTokenKeyRecord> {
    for (let attempt = 1; ; attempt += 1) {
      const candidate = await record(randomIdentifier(random, KID_BYTES));
      try {
        await repository.create(candidate);
        return candidate;
      } catch (error) {
        if (!(error instanceof Conflict) || attempt >= KID_ATTEMPTS) throw error;
      }
    }
  }

  return {
    /**
     * Registers a key. HS256: a new random secret, returned here and never again.
     * @throws NotFound for an unknown site; RequestInvalid for a JWK that is not an acceptable public key.
     */
    async create(siteId: string, input: NewLicenceTokenKey): Promise<LicenceTokenKeyView & { readonly secret?: string }> {
      await requireSite(siteId);
      const createdAt = clock().toISOString();
      if (input.alg === 'HS256') {
        const secret = random(HS256_SECRET_BYTES);
        try {
          const siteKey = await siteKeys.currentSiteKey(siteId);
          const record = await insert(async (kid) => ({
            siteId,
            kid,
            alg: 'HS256',
            secret: { siteKeyVersion: siteKey.version, sealed: seal(siteKey.key, secret, secretContext(siteId, kid, 'HS256'), random) },
            createdAt,
          }));
          return { ...toView(record), secret: secret.toString('base64url') };
        } finally {
          secret.fill(0);
        }
      }
      const publicJwk = JSON.stringify(publicJwkFor(input.alg, input.jwk));
      return toView(await insert(async (kid) => ({ siteId, kid, alg: input.alg, publicJwk, createdAt })));
    },

    async list(siteId: string): Promise<LicenceTokenKeyView[]> {
      await requireSite(siteId);
      return (await repository.list(siteId)).map(toView);
    },

    /** @throws NotFound when the site has no such key. */
    async revoke(siteId: string, kid: string): Promise<void> {
      if (!LICENCE_TOKEN_KID_PATTERN.test(kid) || !(await repository.revoke(siteId, kid, clock().toISOString()))) {
        throw new NotFound('licence token key not found');
      }
    },

    /**
     * The key that verifies `kid`'s tokens for `siteId`, or undefined when there is none that may: no
     * such key in that site, or a revoked one. Secrets are unwrapped per call (the site key is cached).
     */
    async verificationKey(siteId: string, kid: string): Promise<VerificationKey | undefined> {
      if (!LICENCE_TOKEN_KID_PATTERN.test(kid)) return undefined;
      const record = await repository.get(siteId, kid);
      if (record === undefined || record.siteId !== siteId || record.kid !== kid || record.revokedAt !== undefined) return undefined;
      if (record.alg === 'HS256') {
        if (record.secret === undefined) throw new Error(`HS256 licence token key ${kid} has no secret`);
        const siteKey = await siteKeys.siteKey(siteId, record.secret.siteKeyVersion);
        return { alg: 'HS256', key: open(siteKey, record.secret.sealed, secretContext(siteId, kid, 'HS256')) };
      }
      if (record.publicJwk === undefined) throw new Error(`${record.alg} licence token key ${kid} has no public key`);
      return { alg: record.alg, key: createPublicKey({ key: JSON.parse(record.publicJwk) as JsonWebKey, format: 'jwk' }) };
    },
  };
}

export type LicenceTokenKeyService = ReturnType<typeof createLicenceTokenKeyService>;
