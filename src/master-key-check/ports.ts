import type { MasterKeyCheckValue } from '../crypto/kms/master-key';

/** The key-check value as a store holds it: one per store, written once (decision 58). */
export interface StoredMasterKeyCheck extends MasterKeyCheckValue {
  readonly createdAt: string;
}

/**
 * Persistence of the store's key-check value. Writes are durable before they resolve;
 * `DependencyUnavailable` when the store cannot be reached.
 */
export interface MasterKeyCheckRepository {
  get(): Promise<StoredMasterKeyCheck | undefined>;
  /**
   * Stores `check` unless the store already holds one (atomic: of two concurrent claims one wins)
   * and resolves with the value the store holds afterwards, ours or the winner's.
   */
  claim(check: StoredMasterKeyCheck): Promise<StoredMasterKeyCheck>;
  /** Whether the store holds any site, i.e. keys wrapped by some master key. */
  holdsSites(): Promise<boolean>;
}
