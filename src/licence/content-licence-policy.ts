import type { PolicyService } from '../content-policy/policy-service';
import type { KeyId } from '../keys/key-id';
import { isRevoked, type RevocationService } from '../revocation/revocation-service';
import type { ContentLicencePolicy } from './ports';

/**
 * The licence endpoint's `ContentLicencePolicy` from the content's revocations and its content policy
 * (docs/content-policies.md): a licence is refused when the content is revoked as a whole or any
 * requested key is (`isRevoked`, the one rule); a persistent licence needs a policy that allows it (no
 * policy: not allowed, since a stored licence outlives every later revocation).
 */
export function contentLicencePolicyOf(deps: {
  readonly revocations: Pick<RevocationService, 'state'>;
  readonly policies: Pick<PolicyService, 'policyOf'>;
}): ContentLicencePolicy {
  return {
    async isRevoked(siteId, contentId, kids) {
      const state = await deps.revocations.state(siteId, contentId);
      return state.content !== undefined || kids.some((kid) => isRevoked(state, kid as KeyId));
    },
    async allowsPersistent(siteId, contentId) {
      return (await deps.policies.policyOf(siteId, contentId))?.persistentLicense === true;
    },
  };
}
