import type { AuditSink } from '../audit/ports';
import type { Clock } from '../crypto/random';
import { ContentRevoked, Forbidden, RequestInvalid } from '../errors';
import { keyIdToBytes, type KeyId } from '../keys/key-id';
import type { ContentKey } from '../keys/content-key-service';
import type { SiteView } from '../sites/site';
import { parseBase64UrlKid, verifyLicenceToken, type LicenceGrant } from './licence-token';
import type { VerificationKey } from './licence-token-keys';
import type { ContentLicencePolicy } from './ports';

/**
 * The W3C ClearKey licence exchange (Encrypted Media Extensions, §9.1.3 "License Request Format" and
 * §9.1.4 "License Format"): a CDM asks for keys by KID, the licence is a JSON Web Key Set of `oct`
 * keys. Every licence is authorised by a licence token (licence-token.ts) for one site and content.
 */

/** EME §7.1 MediaKeySessionType values a ClearKey licence can be for. */
export type LicenceType = 'temporary' | 'persistent-license';
const LICENCE_TYPES: readonly LicenceType[] = ['temporary', 'persistent-license'];

/** Most KIDs one licence request may ask for (a CDM asks for the KIDs of one init data). */
export const MAX_LICENCE_REQUEST_KIDS = 64;

export interface LicenceRequest {
  /** Distinct, in request order. */
  readonly kids: readonly KeyId[];
  readonly type: LicenceType;
}

/** EME §9.1.4: `{"keys":[{"kty":"oct","kid":…,"k":…}],"type":…}`, all binary values base64url without padding. */
export interface ClearKeyLicence {
  readonly keys: readonly { readonly kty: 'oct'; readonly kid: string; readonly k: string }[];
  readonly type: LicenceType;
}

/**
 * Reads an EME §9.1.3 licence request: `kids` (1 to MAX_LICENCE_REQUEST_KIDS base64url KIDs, repeats
 * folded) and `type`. Other members are ignored (later EME versions may add some).
 * @throws RequestInvalid naming the member, never echoing it.
 */
export function parseLicenceRequest(body: unknown): LicenceRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new RequestInvalid('licence request must be a JSON object');
  const { kids, type } = body as { kids?: unknown; type?: unknown };
  if (!Array.isArray(kids) || kids.length === 0 || kids.length > MAX_LICENCE_REQUEST_KIDS) {
    throw new RequestInvalid(`kids must be a list of 1 to ${MAX_LICENCE_REQUEST_KIDS} KIDs`);
  }
  const parsed = new Set<KeyId>();
  for (const entry of kids) {
    const kid = parseBase64UrlKid(entry);
    if (kid === undefined) throw new RequestInvalid('kids must hold base64url KIDs of 16 bytes, without padding');
    parsed.add(kid);
  }
  if (!LICENCE_TYPES.includes(type as LicenceType)) throw new RequestInvalid('type must be temporary or persistent-license');
  return { kids: [...parsed], type: type as LicenceType };
}

export interface ClearKeyLicencesDeps {
  readonly verificationKey: (siteId: string, kid: string) => Promise<VerificationKey | undefined>;
  /** The site of a verified token (its status decides whether it may get keys). */
  readonly site: (siteId: string) => Promise<SiteView>;
  readonly contentKey: (siteId: string, contentId: string, kid: KeyId) => Promise<ContentKey | undefined>;
  readonly policy: ContentLicencePolicy;
  readonly audit: AuditSink;
  readonly clock: Clock;
}

/** Where a licence request comes from, for its audit record. */
export interface LicenceRequestContext {
  readonly clientAddress: string;
  readonly requestId: string;
}

/** The one answer to any KID the token may not unlock: the same whether the KID exists or not. */
const NOT_GRANTED = 'the licence token does not grant every requested key';

/** `<key kid>:<sub>`: which token key and which user a licence was for (the key's kid is 16 characters). */
export function licenceCredentialId(grant: LicenceGrant): string {
  return `${grant.keyId}:${grant.userId}`;
}

export function createClearKeyLicences(deps: ClearKeyLicencesDeps) {
  const { policy, audit, clock } = deps;
  return {
    /**
     * Verifies a licence token and the state of its site.
     * @throws Unauthenticated for a token that does not verify; Forbidden for a disabled site.
     */
    async authenticate(token: string): Promise<{ readonly grant: LicenceGrant; readonly site: SiteView }> {
      const grant = await verifyLicenceToken(token, { verificationKey: deps.verificationKey, clock });
      const site = await deps.site(grant.siteId);
      if (site.status !== 'active') throw new Forbidden('this site is disabled', { detail: `site ${site.id} is disabled` });
      return { grant, site };
    },

    /**
     * The licence for `request` under `grant`: only keys of the grant's site and content (and of its
     * `kids`, when it names some). Checks, in order: every KID granted by the token (403), the content
     * not revoked (410), a persistent licence allowed by the content's policy (403), every KID a key of
     * the content (403, the same answer as the first), then the audit record, written durably before
     * the keys leave (fail closed).
     */
    async issue(grant: LicenceGrant, request: LicenceRequest, context: LicenceRequestContext): Promise<ClearKeyLicence> {
      const { siteId, contentId } = grant;
      if (grant.kids !== undefined && request.kids.some((kid) => !grant.kids?.has(kid))) {
        throw new Forbidden(NOT_GRANTED, { detail: 'a requested KID is not in the token kids claim' });
      }
      if (await policy.isRevoked(siteId, contentId, request.kids)) throw new ContentRevoked('this content is revoked');
      if (request.type === 'persistent-license' && !(await policy.allowsPersistent(siteId, contentId))) {
        throw new Forbidden('persistent licences are not allowed for this content');
      }
      const keys = await Promise.all(request.kids.map((kid) => deps.contentKey(siteId, contentId, kid)));
      if (keys.some((key) => key === undefined)) throw new Forbidden(NOT_GRANTED, { detail: 'a requested KID is not a key of the content' });
      await audit.record({
        at: clock().toISOString(),
        siteId,
        action: 'licence',
        credentialId: licenceCredentialId(grant),
        clientAddress: context.clientAddress,
        dialect: 'clearkey',
        contentId,
        kids: [...request.kids],
        periodIndexes: [...new Set(keys.flatMap((key) => (key?.periodIndex === undefined ? [] : [key.periodIndex])))],
        keysCreated: 0,
        requestId: context.requestId,
      });
      return {
        keys: (keys as ContentKey[]).map((key) => ({
          kty: 'oct',
          kid: keyIdToBytes(key.kid).toString('base64url'),
          k: key.key.toString('base64url'),
        })),
        type: request.type,
      };
    },
  };
}

export type ClearKeyLicences = ReturnType<typeof createClearKeyLicences>;
