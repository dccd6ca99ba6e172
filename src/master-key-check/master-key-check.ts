import type { MasterKeyCheckValue, MasterKeyProvider } from '../crypto/kms/master-key';
import type { Clock } from '../crypto/random';
import { KeyIntegrityError, MasterKeyMismatch } from '../errors';
import type { SiteRepository } from '../sites/ports';
import { currentSiteKey } from '../sites/site';
import type { MasterKeyCheckRepository, StoredMasterKeyCheck } from './ports';

/**
 * Binds a store to the master key that wrapped it (docs/decisions.md, decision 58). The store holds a
 * key-check value made by that master key; a start with another key is refused before anything is
 * served, and a store that changes under a running process (another Redis behind the same address) is
 * reported by `/readyz` and refused by every site-key operation.
 */
export interface MasterKeyCheckOptions {
  readonly repository: MasterKeyCheckRepository;
  /** Read only for a store made before check values existed: one of its site keys is the evidence. */
  readonly sites: Pick<SiteRepository, 'listSites'>;
  readonly masterKey: MasterKeyProvider;
  /**
   * How the operator configured this master key, for messages: `MASTER_KEY`, `AWS_KMS_KEY_ID <id>`,
   * the development key file's path. A name, never a value.
   */
  readonly configuredAs: string;
  readonly clock: Clock;
  /** Called when a check that passed before fails with a mismatch (for the log). */
  readonly onMismatch?: (error: MasterKeyMismatch) => void;
}

/** What the start-up check found: a new store, a matching check value, or an older store now given one. */
export type MasterKeyCheckOutcome = 'created' | 'verified' | 'adopted';

export interface MasterKeyCheck {
  /**
   * At start: writes a check value into a store that has none, or verifies the stored one.
   * @throws MasterKeyMismatch (detail ends "refusing to start") when the store belongs to another master key.
   * @throws DependencyUnavailable when the store or the master key cannot be used.
   */
  verifyAtStart(): Promise<MasterKeyCheckOutcome>;
  /**
   * For `/readyz`: the store still holds a check value this master key made (one store read while it
   * is the value already verified).
   * @throws MasterKeyMismatch, DependencyUnavailable.
   */
  checkReady(): Promise<void>;
  /**
   * `provider`, running the readiness check before each site-key operation: a site key is never
   * created for, nor unwrapped from, a store of another master key, whichever process serves the
   * request and whether or not a probe has looked yet. Those operations are rare (site creation,
   * rotation, a site-key cache miss), so the store read is cheap next to them.
   */
  guard(provider: MasterKeyProvider): MasterKeyProvider;
}

/** Whether a store holds anything a master key wrapped (a check value or a site). */
export async function storeHoldsKeys(repository: MasterKeyCheckRepository): Promise<boolean> {
  return (await repository.get()) !== undefined || (await repository.holdsSites());
}

function sameCheck(a: MasterKeyCheckValue, b: MasterKeyCheckValue): boolean {
  return a.provider === b.provider && a.masterKeyId === b.masterKeyId && a.blob.equals(b.blob);
}

export function createMasterKeyCheck(options: MasterKeyCheckOptions): MasterKeyCheck {
  const { repository, sites, masterKey, configuredAs, clock } = options;
  const doesNotMatch = `${configuredAs} does not match the key this store was created with`;
  /** The check value last verified, so that a readiness probe costs one store read, not a KMS call. */
  let verified: StoredMasterKeyCheck | undefined;
  /** The mismatch the last check found, so that it is reported once, not on every probe. */
  let mismatch: MasterKeyMismatch | undefined;
  let inFlight: Promise<MasterKeyCheckOutcome> | undefined;

  async function verifyStored(stored: StoredMasterKeyCheck): Promise<void> {
    if (stored.provider !== masterKey.name) {
      throw new MasterKeyMismatch({
        detail: `${doesNotMatch} (check value mismatch: the store was created with MASTER_KEY_PROVIDER=${stored.provider}, this one is ${masterKey.name})`,
      });
    }
    try {
      await masterKey.verifyCheckValue(stored);
    } catch (error) {
      if (!(error instanceof KeyIntegrityError)) throw error;
      // A KMS key ARN names the key to configure instead; a local key's fingerprint is left out.
      const madeBy = stored.provider === 'aws-kms' ? `: the store's check value was made by ${stored.masterKeyId}` : '';
      throw new MasterKeyMismatch({ detail: `${doesNotMatch} (check value mismatch${madeBy})` });
    }
  }

  /** A store from before check values: this master key must unwrap one of its site keys. */
  async function verifyAgainstSiteKey(): Promise<void> {
    const site = (await sites.listSites()).find((candidate) => candidate.siteKeys.length > 0);
    if (!site) return; // index entries only: nothing was wrapped yet
    const { version, wrapped } = currentSiteKey(site);
    try {
      if (wrapped.provider !== masterKey.name) throw new KeyIntegrityError();
      (await masterKey.unwrapSiteKey(wrapped, { siteId: site.id, version })).fill(0);
    } catch (error) {
      if (!(error instanceof KeyIntegrityError)) throw error;
      throw new MasterKeyMismatch({
        detail: `${doesNotMatch} (the store has no check value yet and the site key of site ${site.id} does not unwrap under it)`,
      });
    }
  }

  async function claimOrVerify(): Promise<MasterKeyCheckOutcome> {
    const stored = await repository.get();
    if (stored) {
      if (!verified || !sameCheck(stored, verified)) await verifyStored(stored);
      verified = stored;
      return 'verified';
    }
    const adopting = await repository.holdsSites();
    if (adopting) await verifyAgainstSiteKey();
    const ours = { ...(await masterKey.createCheckValue()), createdAt: clock().toISOString() };
    const claimed = await repository.claim(ours);
    // Another process claimed the store first: its value must be ours too.
    if (!sameCheck(claimed, ours)) await verifyStored(claimed);
    verified = claimed;
    return adopting ? 'adopted' : 'created';
  }

  /** One check at a time: concurrent readiness probes share the one in flight. */
  function check(): Promise<MasterKeyCheckOutcome> {
    inFlight ??= claimOrVerify().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  }

  async function checkReady(): Promise<void> {
    try {
      await check();
      mismatch = undefined;
    } catch (error) {
      if (error instanceof MasterKeyMismatch) {
        if (!mismatch) options.onMismatch?.(error);
        mismatch = error;
      }
      throw error;
    }
  }

  return {
    async verifyAtStart() {
      try {
        return await check();
      } catch (error) {
        if (error instanceof MasterKeyMismatch) {
          throw new MasterKeyMismatch({ detail: `${error.detail ?? doesNotMatch}; refusing to start` });
        }
        throw error;
      }
    },
    checkReady,
    guard(provider) {
      return {
        name: provider.name,
        async generateSiteKey(context) {
          await checkReady();
          return provider.generateSiteKey(context);
        },
        async unwrapSiteKey(wrapped, context) {
          await checkReady();
          return provider.unwrapSiteKey(wrapped, context);
        },
        createCheckValue: () => provider.createCheckValue(),
        verifyCheckValue: (value) => provider.verifyCheckValue(value),
        checkReady: () => provider.checkReady(),
        close: () => provider.close?.(),
      };
    },
  };
}
