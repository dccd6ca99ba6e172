import type { AuditRepository } from '../audit/ports';
import type { AuthFailureRepository } from '../auth-limits/ports';
import type { PolicyRepository } from '../content-policy/ports';
import type { ContentKeyRepository } from '../keys/ports';
import type { LicenceTokenKeyRepository } from '../licence/ports';
import type { LicenseServerRepository } from '../license-servers/ports';
import type { MasterKeyCheckRepository } from '../master-key-check/ports';
import type { RevocationRepository } from '../revocation/ports';
import type { SiteRepository } from '../sites/ports';

/** One persistence backend: the repositories plus its lifecycle. */
export interface Store {
  readonly kind: 'sqlite' | 'redis';
  readonly sites: SiteRepository;
  readonly contentKeys: ContentKeyRepository;
  readonly audit: AuditRepository;
  readonly licenseServers: LicenseServerRepository;
  /** Revoked contents and keys; the content-key get-or-create reads them in its own atomic step. */
  readonly revocations: RevocationRepository;
  /** Content policies (DRM groups) and which content they apply to. */
  readonly policies: PolicyRepository;
  /** Keys that verify the sites' ClearKey licence tokens (docs/clearkey.md). */
  readonly licenceTokenKeys: LicenceTokenKeyRepository;
  /** Failed-authentication counters, shared by every process on this store (rate limits). */
  readonly authFailures: AuthFailureRepository;
  /** The key-check value of the master key this store's site keys are wrapped by. */
  readonly masterKeyCheck: MasterKeyCheckRepository;
  /** Resolves when the backend answers; used by `/readyz`. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
