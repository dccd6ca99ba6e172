/**
 * The operator's side of a content's keys (docs/content-policies.md): importing keys made elsewhere,
 * revoking a content or some of its keys, and the policies (DRM groups) its license server enforces.
 * Each change is durable, then audited (action, site, who, content, KIDs, reason — never key bytes),
 * then answered; an audit write that fails is a 503, and the change, which stands, is idempotent to
 * repeat.
 */

import type { NewAuditRecord } from '../audit/ports';
import type { PolicyService } from '../content-policy/policy-service';
import type { ContentPolicy, PolicyRule } from '../content-policy/ports';
import type { Clock } from '../crypto/random';
import type { ContentKeyMetadata, ContentKeyService, KeyImport } from '../keys/content-key-service';
import type { KeyId } from '../keys/key-id';
import type { Revocation } from '../revocation/ports';
import type { RevocationService } from '../revocation/revocation-service';

/** Who asked for a change, for its audit record. */
export interface Actor {
  /** The admin credential's ID (never a secret). */
  readonly credentialId: string;
  readonly clientAddress: string;
  readonly requestId: string;
}

export interface ContentLifecycleDeps {
  readonly contentKeys: ContentKeyService;
  readonly revocations: RevocationService;
  readonly policies: PolicyService;
  readonly audit: { record(record: NewAuditRecord): Promise<unknown> };
  readonly clock: Clock;
}

export function createContentLifecycle(deps: ContentLifecycleDeps) {
  const { contentKeys, revocations, policies, audit, clock } = deps;

  function record(
    actor: Actor,
    siteId: string,
    change: Pick<NewAuditRecord, 'action' | 'contentId'> & Partial<Pick<NewAuditRecord, 'kids' | 'keysCreated' | 'reason' | 'policy' | 'at'>>,
  ): Promise<unknown> {
    return audit.record({
      at: change.at ?? clock().toISOString(),
      siteId,
      action: change.action,
      credentialId: actor.credentialId,
      clientAddress: actor.clientAddress,
      dialect: 'admin-api',
      contentId: change.contentId,
      kids: change.kids ?? [],
      periodIndexes: [],
      keysCreated: change.keysCreated ?? 0,
      requestId: actor.requestId,
      ...(change.reason !== undefined && { reason: change.reason }),
      ...(change.policy !== undefined && { policy: change.policy }),
    });
  }

  return {
    /**
     * Imports keys into a content, all or nothing; `created` is false when every key was stored
     * already with the same bytes (a repeat).
     */
    async importKeys(
      actor: Actor,
      siteId: string,
      contentId: string,
      imports: readonly KeyImport[],
    ): Promise<{ readonly created: boolean; readonly keys: ContentKeyMetadata[] }> {
      const stored = await contentKeys.importKeys(siteId, contentId, imports);
      const keysCreated = stored.filter((key) => key.created).length;
      await record(actor, siteId, { action: 'import', contentId, kids: stored.map((key) => key.kid), keysCreated });
      return {
        created: keysCreated > 0,
        keys: stored.map(({ key: _key, created: _created, ...metadata }) => metadata),
      };
    },

    /** Revokes a content (no `kids`) or some of its keys; `recorded` false when all already were. */
    async revoke(
      actor: Actor,
      siteId: string,
      contentId: string,
      request: { readonly reason: string; readonly kids?: readonly KeyId[] },
    ): Promise<{ readonly recorded: boolean; readonly revocation: Revocation }> {
      const outcome = await revocations.revoke(siteId, contentId, { ...request, credentialId: actor.credentialId });
      await record(actor, siteId, {
        action: 'revoke',
        at: outcome.revocation.revokedAt,
        contentId,
        kids: outcome.revocation.kids ?? [],
        reason: request.reason,
      });
      return outcome;
    },

    async createPolicy(actor: Actor, siteId: string, policy: ContentPolicy): Promise<ContentPolicy> {
      const created = await policies.create(siteId, policy);
      await record(actor, siteId, { action: 'policy-create', contentId: '', policy: policy.name });
      return created;
    },

    async updatePolicy(actor: Actor, siteId: string, name: string, patch: Partial<Omit<ContentPolicy, 'name'>>): Promise<ContentPolicy> {
      const updated = await policies.update(siteId, name, patch);
      await record(actor, siteId, { action: 'policy-update', contentId: '', policy: name });
      return updated;
    },

    async deletePolicy(actor: Actor, siteId: string, name: string): Promise<void> {
      await policies.delete(siteId, name);
      await record(actor, siteId, { action: 'policy-delete', contentId: '', policy: name });
    },

    async setPolicyRules(actor: Actor, siteId: string, rules: readonly PolicyRule[]): Promise<readonly PolicyRule[]> {
      const set = await policies.setRules(siteId, rules);
      await record(actor, siteId, { action: 'policy-rules', contentId: '' });
      return set;
    },

    /** Puts a content in a policy's group, or (undefined) takes it out of its assigned one. */
    async assignPolicy(actor: Actor, siteId: string, contentId: string, policy: string | undefined): Promise<void> {
      await policies.assign(siteId, contentId, policy);
      await record(actor, siteId, { action: 'policy-assign', contentId, ...(policy !== undefined && { policy }) });
    },
  };
}

export type ContentLifecycle = ReturnType<typeof createContentLifecycle>;
