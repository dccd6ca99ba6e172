/**
 * Key export for license servers: a content's stored keys as a CPIX 2.3 document, encrypted to the
 * license server's certificate (DASH-IF CPIX 2.3 §6.1: RSA-OAEP document and MAC keys, AES-256-CBC +
 * HMAC-SHA512 per key), carrying the grant (site, license server, time, expiry) and the content's
 * policy (export-extensions.ts) in every usage rule, and signed with the export signing identity,
 * which signs nothing else — so the license server can check who sent the keys, to whom, until when,
 * under which policy, and that nobody on the way could read them (docs/license-servers.md). Revoked
 * keys are never exported. Audited like an issuance, fail closed.
 */

import type { X509Certificate } from 'node:crypto';
import type { AuditSink } from '../audit/ports';
import type { SigningConfig } from '../config/config';
import { buildCpix, XML_DECLARATION } from '../cpix/build';
import { encryptDocumentKeys } from '../cpix/delivery';
import type { ContentKeyPeriod, ContentKeyUsageRule, CpixDocument } from '../cpix/model';
import { signCpix } from '../cpix/signature';
import type { RandomSource, Clock } from '../crypto/random';
import type { PolicyService } from '../content-policy/policy-service';
import type { ContentPolicy } from '../content-policy/ports';
import { periodBounds } from '../content-policy/rotation';
import { ContentRevoked, NotFound } from '../errors';
import type { ContentKey, ContentKeyMetadata, ContentKeyService } from '../keys/content-key-service';
import type { KeyId } from '../keys/key-id';
import { isRevoked, type RevocationService } from '../revocation/revocation-service';
import { contentPolicyElement, exportGrantElement, type ExportGrant } from './export-extensions';
import { distinctPeriodIndexes } from './key-exchange';

export interface LicenseExportDeps {
  readonly contentKeys: ContentKeyService;
  readonly revocations: Pick<RevocationService, 'state'>;
  readonly policies: Pick<PolicyService, 'policyOf'>;
  readonly audit: AuditSink;
  /** The export signing identity (EXPORT_SIGNING_KEY_FILE), never the key-exchange one. */
  readonly signing: SigningConfig;
  readonly random: RandomSource;
  readonly clock: Clock;
  /** How long after it was made an export may be accepted (EXPORT_VALIDITY_SECONDS). */
  readonly validityMs: number;
  /** Most keys one export holds (MAX_KEYS_PER_REQUEST); a license server narrows with filters. */
  readonly maxKeys: number;
}

/** Optional narrowing of the export; all given filters must match. */
export interface LicenseExportFilter {
  readonly kid?: KeyId;
  readonly trackType?: string;
  readonly periodIndex?: number;
}

export interface LicenseExportRequest {
  readonly siteId: string;
  readonly contentId: string;
  readonly filter: LicenseExportFilter;
  readonly licenseServerId: string;
  readonly certificate: X509Certificate;
  readonly clientAddress: string;
  readonly requestId: string;
}

const EXPORT_CPIX_VERSION = '2.3';

function matches(key: ContentKeyMetadata, filter: LicenseExportFilter): boolean {
  return (
    (filter.kid === undefined || key.kid === filter.kid) &&
    (filter.trackType === undefined || key.trackType === filter.trackType) &&
    (filter.periodIndex === undefined || key.periodIndex === filter.periodIndex)
  );
}

/** `xs:ID` of the period element for an index (ids must not start with a digit). */
function periodId(index: number): string {
  return `period-${index}`;
}

/**
 * The export document: every key with its scheme and IV, and a usage rule per key holding the grant,
 * the content's policy when it has one, and, so the license server can tell which key serves which
 * track and period, its track type and period. A content whose policy rotates keys gets each
 * period's start and end (docs/content-policies.md).
 */
function exportDocument(contentId: string, keys: readonly ContentKey[], grant: ExportGrant, policy: ContentPolicy | undefined): CpixDocument {
  const indexes = distinctPeriodIndexes(keys).sort((a, b) => a - b);
  const intervalMs = (policy?.rotationIntervalMinutes ?? 0) * 60_000;
  const periods = indexes.map((index): ContentKeyPeriod => ({ id: periodId(index), index, ...(intervalMs > 0 && periodBounds(index, intervalMs)) }));
  const extensions = policy === undefined ? [exportGrantElement(grant)] : [exportGrantElement(grant), contentPolicyElement(policy)];
  const rules = keys.map(
    (key): ContentKeyUsageRule => ({
      kid: key.kid,
      ...(key.trackType !== undefined && { intendedTrackType: key.trackType }),
      keyPeriodFilters: key.periodIndex === undefined ? [] : [{ periodId: periodId(key.periodIndex) }],
      labelFilters: [],
      videoFilters: [],
      audioFilters: [],
      bitrateFilters: [],
      extensions,
    }),
  );
  return {
    contentId,
    version: EXPORT_CPIX_VERSION,
    contentKeyList: {
      items: keys.map((key) => ({
        kid: key.kid,
        ...(key.iv !== undefined && { explicitIV: key.iv }),
        ...(key.scheme !== undefined && { commonEncryptionScheme: key.scheme }),
        data: { kind: 'plain', value: key.key },
      })),
    },
    ...(periods.length > 0 && { contentKeyPeriodList: { items: periods } }),
    contentKeyUsageRuleList: { items: rules },
  };
}

export function createLicenseExport(deps: LicenseExportDeps) {
  const { contentKeys, revocations, policies, audit, signing, random, clock, validityMs, maxKeys } = deps;

  /** The content's keys the filter selects: one read for a KID, else a scan of the content. */
  async function matchingKeys({ siteId, contentId, filter }: LicenseExportRequest): Promise<ContentKey[]> {
    if (filter.kid === undefined) return contentKeys.listMatching(siteId, contentId, (key) => matches(key, filter), maxKeys);
    const key = await contentKeys.get(siteId, contentId, filter.kid);
    return key !== undefined && matches(key, filter) ? [key] : [];
  }

  return {
    /**
     * The signed, encrypted CPIX document of the content's matching keys that are not revoked.
     * @throws NotFound when no key of the content matches; ContentRevoked when the content is
     * revoked, or every matching key is; PayloadTooLarge when more than `maxKeys` match.
     */
    async export(request: LicenseExportRequest): Promise<string> {
      const [revoked, matching, policy] = await Promise.all([
        revocations.state(request.siteId, request.contentId),
        matchingKeys(request),
        policies.policyOf(request.siteId, request.contentId),
      ]);
      if (revoked.content !== undefined) throw new ContentRevoked('this content is revoked');
      if (matching.length === 0) throw new NotFound('no keys for this content');
      const keys = matching.filter((key) => !isRevoked(revoked, key.kid));
      if (keys.length === 0) throw new ContentRevoked('the matching keys of this content are revoked');
      const now = clock();
      const grant: ExportGrant = {
        siteId: request.siteId,
        licenseServerId: request.licenseServerId,
        issuedAt: now.toISOString(),
        expiresAt: new Date(now.getTime() + validityMs).toISOString(),
      };
      const encrypted = encryptDocumentKeys(exportDocument(request.contentId, keys, grant, policy), [request.certificate], random);
      const built = buildCpix(encrypted, EXPORT_CPIX_VERSION, { willBeSigned: true });
      const xml = XML_DECLARATION + signCpix(built.canonical, signing);
      await audit.record({
        at: grant.issuedAt,
        siteId: request.siteId,
        action: 'export',
        credentialId: request.licenseServerId,
        clientAddress: request.clientAddress,
        dialect: 'license-export',
        contentId: request.contentId,
        kids: keys.map((key) => key.kid),
        periodIndexes: distinctPeriodIndexes(keys),
        keysCreated: 0,
        requestId: request.requestId,
      });
      return xml;
    },
  };
}

export type LicenseExport = ReturnType<typeof createLicenseExport>;
