import type { AuditPage } from '../audit/ports';
import type { ContentPolicy, PolicyRule } from '../content-policy/ports';
import type { KeyImportItem } from '../lifecycle/key-import';
import type { Revocation } from '../revocation/ports';
import type { LicenceTokenKeyView, NewLicenceTokenKey } from '../licence/licence-token-keys';
import type { KmsTokenView } from '../sites/site-service';
import type { SiteOptions, SiteStatus, SiteView } from '../sites/site';

/**
 * A typed client of the admin API (`/admin/v1`, src/http/routes/admin.ts) over HTTP. The wire types
 * reuse the service's own view types where those are plain JSON, so a change to a view breaks the
 * CLI at typecheck rather than at an operator's terminal.
 */

/** What POST /sites and POST /sites/:siteId/tokens return: the token itself appears here only. */
export interface IssuedToken extends KmsTokenView {
  readonly token: string;
}

export interface CreatedSite {
  readonly site: SiteView;
  readonly accessKey: string;
  readonly token: IssuedToken;
}

/** A license server as the admin API sends it: the certificate as PEM and its SHA-256 thumbprint. */
export interface LicenseServerJson {
  readonly id: string;
  readonly siteId: string;
  readonly name: string;
  readonly certificate: string;
  readonly certificateThumbprint: string;
  readonly createdAt: string;
  readonly lastUsedAt?: string;
  readonly revokedAt?: string;
}

export interface RegisteredLicenseServer {
  readonly licenseServer: LicenseServerJson;
  /** `lsc1.<id>.<secret>`, returned once. */
  readonly credential: string;
}

/** When and why a content, or a key, was revoked. */
export interface RevokedMark {
  readonly revokedAt?: string;
  readonly revocationReason?: string;
}

/** Key metadata only: the route never returns key bytes (they stay wrapped in the store). */
export interface ContentKeyMetadata extends RevokedMark {
  readonly kid: string;
  readonly trackType?: string;
  readonly periodIndex?: number;
  readonly scheme?: string;
  readonly createdAt: string;
}

export interface ContentKeyList extends RevokedMark {
  readonly siteId: string;
  readonly contentId: string;
  readonly keys: readonly ContentKeyMetadata[];
  /** Pass as `after` for the next page; absent on the last page. */
  readonly next?: string;
}

export interface ContentKeyQuery {
  readonly limit?: string;
  readonly after?: string;
}

export interface ContentRevocations {
  readonly siteId: string;
  readonly contentId: string;
  readonly revocations: readonly Revocation[];
}

export interface ContentPolicyView {
  readonly siteId: string;
  readonly contentId: string;
  readonly policy: ContentPolicy | null;
}

export interface SiteKeyRotation {
  /** The site-key version now current. */
  readonly version: number;
  /** Content keys re-wrapped under it. */
  readonly rewrapped: number;
}

/** What POST /sites/:siteId/licence-token-keys returns: an HS256 secret appears here only. */
export interface CreatedLicenceTokenKey extends LicenceTokenKeyView {
  readonly secret?: string;
}

export interface NewSite {
  readonly id?: string;
  readonly name: string;
  readonly options?: Partial<SiteOptions>;
}

export interface SitePatch {
  readonly name?: string;
  readonly status?: SiteStatus;
  readonly options?: Partial<SiteOptions>;
}

export interface AuditQuery {
  readonly limit?: string;
  readonly before?: string;
}

/** A non-2xx answer (or one the CLI cannot use), as the service reported it. */
export class AdminApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId?: string,
  ) {
    super(message);
    this.name = 'AdminApiError';
  }
}

/** The service could not be reached at all (connection refused, DNS, TLS). */
export class AdminConnectionError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AdminConnectionError';
  }
}

export interface AdminClientOptions {
  /** The service's base URL, e.g. http://127.0.0.1:8080 (a path prefix is kept). */
  readonly baseUrl: URL;
  readonly adminToken: string;
  readonly userAgent: string;
  readonly fetch?: typeof fetch;
}

/** One path segment, encoded: content IDs are chosen by packagers and may hold `/`, `?` or `%`. */
const segment = (value: string): string => encodeURIComponent(value);

function errorFromBody(status: number, statusText: string, text: string): AdminApiError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const error = typeof parsed === 'object' && parsed !== null ? (parsed as { error?: unknown }).error : undefined;
  if (typeof error === 'object' && error !== null) {
    const { code, message, requestId } = error as { code?: unknown; message?: unknown; requestId?: unknown };
    if (typeof code === 'string' && typeof message === 'string') {
      return new AdminApiError(status, code, message, typeof requestId === 'string' ? requestId : undefined);
    }
  }
  // Not the service's error shape (a proxy's HTML page, say): its body is not echoed, only the status line.
  return new AdminApiError(status, 'ERR_HTTP', statusText || 'unexpected response (is --url the cpix-kms service?)');
}

export function createAdminClient(options: AdminClientOptions) {
  const fetchImpl = options.fetch ?? fetch;
  const root = options.baseUrl.href.replace(/\/+$/, '');

  async function call<T>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown, query?: URLSearchParams): Promise<T> {
    const encoded = query?.toString() ?? '';
    const search = encoded === '' ? '' : `?${encoded}`;
    const headers: Record<string, string> = {
      Authorization: `Bearer ${options.adminToken}`,
      Accept: 'application/json',
      'User-Agent': options.userAgent,
    };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res: Response;
    try {
      res = await fetchImpl(`${root}/admin/v1${path}${search}`, {
        method,
        headers,
        ...(body !== undefined && { body: JSON.stringify(body) }),
        // The admin API never redirects; following one could replay the bearer token and the
        // request body to wherever a proxy or an attacker on the path points.
        redirect: 'manual',
      });
    } catch (error) {
      const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : undefined;
      const why = cause ?? (error instanceof Error ? error.message : String(error));
      throw new AdminConnectionError(`cannot reach ${options.baseUrl.origin}: ${why}`, { cause: error });
    }
    const text = await res.text();
    if (res.status >= 300 && res.status < 400) {
      throw new AdminApiError(res.status, 'ERR_REDIRECT', 'the service answered with a redirect, which the CLI does not follow (check --url)');
    }
    if (!res.ok) throw errorFromBody(res.status, res.statusText, text);
    if (res.status === 204) return undefined as T;
    try {
      // Trusted as typed: this is our own service, authenticated by the admin token, over --url.
      return JSON.parse(text) as T;
    } catch {
      throw new AdminApiError(res.status, 'ERR_BAD_RESPONSE', 'the response is not JSON (is --url the cpix-kms service?)');
    }
  }

  return {
    createSite: (site: NewSite) => call<CreatedSite>('POST', '/sites', site),
    listSites: () => call<{ readonly sites: readonly SiteView[] }>('GET', '/sites'),
    getSite: (siteId: string) => call<SiteView>('GET', `/sites/${segment(siteId)}`),
    updateSite: (siteId: string, patch: SitePatch) => call<SiteView>('PATCH', `/sites/${segment(siteId)}`, patch),

    issueToken: (siteId: string, name?: string) =>
      call<IssuedToken>('POST', `/sites/${segment(siteId)}/tokens`, name === undefined ? {} : { name }),
    listTokens: (siteId: string) => call<{ readonly tokens: readonly KmsTokenView[] }>('GET', `/sites/${segment(siteId)}/tokens`),
    revokeToken: (siteId: string, tokenId: string) =>
      call<void>('DELETE', `/sites/${segment(siteId)}/tokens/${segment(tokenId)}`),

    rotateSiteKey: (siteId: string) => call<SiteKeyRotation>('POST', `/sites/${segment(siteId)}/site-key/rotate`),
    listContentKeys: (siteId: string, contentId: string, query: ContentKeyQuery = {}) => {
      const params = new URLSearchParams();
      if (query.limit !== undefined) params.set('limit', query.limit);
      if (query.after !== undefined) params.set('after', query.after);
      return call<ContentKeyList>('GET', `/sites/${segment(siteId)}/contents/${segment(contentId)}/keys`, undefined, params);
    },
    importKeys: (siteId: string, contentId: string, keys: readonly KeyImportItem[]) =>
      call<ContentKeyList>('POST', `/sites/${segment(siteId)}/contents/${segment(contentId)}/keys`, { keys }),
    revokeContent: (siteId: string, contentId: string, body: { readonly reason: string; readonly kids?: readonly string[] }) =>
      call<ContentRevocations>('POST', `/sites/${segment(siteId)}/contents/${segment(contentId)}/revoke`, body),
    listRevocations: (siteId: string, since?: string) => {
      const params = new URLSearchParams();
      if (since !== undefined) params.set('since', since);
      return call<{ readonly revocations: readonly Revocation[] }>('GET', `/sites/${segment(siteId)}/revocations`, undefined, params);
    },
    contentPolicy: (siteId: string, contentId: string) =>
      call<ContentPolicyView>('GET', `/sites/${segment(siteId)}/contents/${segment(contentId)}/policy`),
    assignPolicy: (siteId: string, contentId: string, policy: string | null) =>
      call<ContentPolicyView>('PUT', `/sites/${segment(siteId)}/contents/${segment(contentId)}/policy`, { policy }),

    createPolicy: (siteId: string, policy: ContentPolicy) => call<ContentPolicy>('POST', `/sites/${segment(siteId)}/policies`, policy),
    listPolicies: (siteId: string) => call<{ readonly policies: readonly ContentPolicy[] }>('GET', `/sites/${segment(siteId)}/policies`),
    getPolicy: (siteId: string, name: string) => call<ContentPolicy>('GET', `/sites/${segment(siteId)}/policies/${segment(name)}`),
    updatePolicy: (siteId: string, name: string, patch: Partial<Omit<ContentPolicy, 'name'>>) =>
      call<ContentPolicy>('PATCH', `/sites/${segment(siteId)}/policies/${segment(name)}`, patch),
    deletePolicy: (siteId: string, name: string) => call<void>('DELETE', `/sites/${segment(siteId)}/policies/${segment(name)}`),
    policyRules: (siteId: string) => call<readonly PolicyRule[]>('GET', `/sites/${segment(siteId)}/policy-rules`),
    setPolicyRules: (siteId: string, rules: readonly PolicyRule[]) => call<readonly PolicyRule[]>('PUT', `/sites/${segment(siteId)}/policy-rules`, rules),

    registerLicenseServer: (siteId: string, input: { readonly name: string; readonly certificate: string }) =>
      call<RegisteredLicenseServer>('POST', `/sites/${segment(siteId)}/license-servers`, input),
    listLicenseServers: (siteId: string) =>
      call<{ readonly licenseServers: readonly LicenseServerJson[] }>('GET', `/sites/${segment(siteId)}/license-servers`),
    revokeLicenseServer: (siteId: string, licenseServerId: string) =>
      call<void>('DELETE', `/sites/${segment(siteId)}/license-servers/${segment(licenseServerId)}`),

    createLicenceTokenKey: (siteId: string, input: NewLicenceTokenKey) =>
      call<CreatedLicenceTokenKey>('POST', `/sites/${segment(siteId)}/licence-token-keys`, input),
    listLicenceTokenKeys: (siteId: string) =>
      call<{ readonly licenceTokenKeys: readonly LicenceTokenKeyView[] }>('GET', `/sites/${segment(siteId)}/licence-token-keys`),
    revokeLicenceTokenKey: (siteId: string, kid: string) =>
      call<void>('DELETE', `/sites/${segment(siteId)}/licence-token-keys/${segment(kid)}`),

    listAudit: (siteId: string, query: AuditQuery = {}) => {
      const params = new URLSearchParams();
      if (query.limit !== undefined) params.set('limit', query.limit);
      if (query.before !== undefined) params.set('before', query.before);
      return call<AuditPage>('GET', `/sites/${segment(siteId)}/audit`, undefined, params);
    },
  };
}

export type AdminClient = ReturnType<typeof createAdminClient>;
