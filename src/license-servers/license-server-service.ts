import type { X509Certificate } from 'node:crypto';
import {
  assertCertificatePolicy,
  DEFAULT_CERTIFICATE_POLICY,
  parseCertificate,
  type CertificatePolicy,
} from '../crypto/certificates';
import type { Clock, RandomSource } from '../crypto/random';
import { hashSecret, secretMatchesHash } from '../crypto/secrets';
import { CpixInvalid, CpixUnsupported, NotFound, RequestInvalid, siteDisabled, Unauthenticated } from '../errors';
import { generateCredential, LICENSE_SERVER_CREDENTIAL_PREFIX, parseCredential, recordCredentialUse } from '../sites/kms-token';
import type { SiteRepository } from '../sites/ports';
import { toSiteView, type SiteView } from '../sites/site';
import type { LicenseServerRecord, LicenseServerRepository } from './ports';

export interface LicenseServerServiceDeps {
  readonly repository: LicenseServerRepository;
  /** Only `getSite` is used: registration needs the site to exist, authentication to be active. */
  readonly sites: Pick<SiteRepository, 'getSite'>;
  readonly random: RandomSource;
  readonly clock: Clock;
  /** Key-size and digest rules for registered certificates; SPEKE-compatible default (RSA ≥ 2048, no SHA-1). */
  readonly certificatePolicy?: CertificatePolicy;
  /** Told about failures of best-effort writes (last-use time) that must not fail a request. */
  readonly onBestEffortError?: (error: unknown, what: string) => void;
}

/** What the admin API and the export route see of a license server: never the secret or its hash. */
export interface LicenseServerView {
  readonly id: string;
  readonly siteId: string;
  readonly name: string;
  /** The certificate exported keys are encrypted to. */
  readonly certificate: X509Certificate;
  readonly createdAt: string;
  readonly lastUsedAt?: string;
  readonly revokedAt?: string;
}

export interface NewLicenseServer {
  readonly name: string;
  /** PEM (exactly one CERTIFICATE block) or base64 of the DER. */
  readonly certificate: string;
}

/** Who a key export comes from, once its credential is verified. */
export interface AuthenticatedLicenseServer {
  readonly licenseServer: LicenseServerView;
  /** Its site, active. */
  readonly site: SiteView;
  /** The credential ID (= license-server ID), for audit records and rate limits. */
  readonly credentialId: string;
}

const PEM_CERTIFICATE = /^-----BEGIN CERTIFICATE-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END CERTIFICATE-----$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * DER bytes of a certificate given as PEM or base64 DER. Strict: one PEM block and nothing else,
 * canonical base64, no bytes after the certificate, so what is stored is exactly what was meant.
 */
function certificateBytes(input: string): Buffer {
  const text = input.trim();
  const pem = PEM_CERTIFICATE.exec(text);
  const base64 = (pem?.[1] ?? text).replace(/\s+/g, '');
  const der = BASE64.test(base64) ? Buffer.from(base64, 'base64') : undefined;
  if (!der || der.toString('base64') !== base64) {
    throw new RequestInvalid('certificate must be one PEM certificate or base64 of its DER');
  }
  return der;
}

/**
 * Parses and checks a certificate against `policy`.
 * @throws WeakCertificate (RSA key too small, SHA-1 signature); RequestInvalid for anything that is
 *   not one RSA X.509 certificate.
 */
function acceptCertificate(input: string, policy: CertificatePolicy): X509Certificate {
  const der = certificateBytes(input);
  try {
    const certificate = parseCertificate(der, 'certificate');
    if (!certificate.raw.equals(der)) throw new CpixInvalid('certificate: trailing bytes after the certificate');
    assertCertificatePolicy(certificate, policy, 'certificate');
    return certificate;
  } catch (error) {
    // The CPIX families name the problem well, but this is an admin request, not a CPIX document.
    if (error instanceof CpixInvalid || error instanceof CpixUnsupported) throw new RequestInvalid(error.message);
    throw error;
  }
}

function toView(record: LicenseServerRecord): LicenseServerView {
  const { secretHash: _hash, certificate, ...view } = record;
  return { ...view, certificate: parseCertificate(certificate, 'certificate') };
}

/** License servers of a site: registration with a certificate, credentials, authentication. */
export function createLicenseServerService(deps: LicenseServerServiceDeps) {
  const { repository, sites, random, clock, onBestEffortError } = deps;
  const policy = deps.certificatePolicy ?? DEFAULT_CERTIFICATE_POLICY;
  const now = () => clock().toISOString();

  async function requireSite(siteId: string) {
    const site = await sites.getSite(siteId);
    if (!site) throw new NotFound(`site ${siteId} not found`);
    return site;
  }

  return {
    /**
     * Registers a license server and issues its credential (`lsc1.<id>.<secret>`), returned here
     * and never again.
     * @throws NotFound for an unknown site; WeakCertificate; RequestInvalid for a certificate that is
     *   not one RSA X.509 certificate.
     */
    async register(siteId: string, input: NewLicenseServer): Promise<{ licenseServer: LicenseServerView; credential: string }> {
      await requireSite(siteId);
      const certificate = acceptCertificate(input.certificate, policy);
      const issued = generateCredential(LICENSE_SERVER_CREDENTIAL_PREFIX, random);
      const record: LicenseServerRecord = {
        id: issued.id,
        siteId,
        name: input.name,
        certificate: certificate.raw,
        secretHash: hashSecret(issued.secret),
        createdAt: now(),
      };
      await repository.create(record);
      return { licenseServer: toView(record), credential: issued.token };
    },

    /** A site's license servers, oldest first, revoked ones included. @throws NotFound for an unknown site. */
    async list(siteId: string): Promise<LicenseServerView[]> {
      await requireSite(siteId);
      return (await repository.list(siteId)).map(toView);
    },

    /** Revokes a license server's credential; idempotent. @throws NotFound when the site has no such server. */
    async revoke(siteId: string, licenseServerId: string): Promise<void> {
      if (!(await repository.revoke(siteId, licenseServerId, now()))) {
        throw new NotFound(`site ${siteId} has no license server ${licenseServerId}`);
      }
    },

    /**
     * Verifies a presented license-server credential.
     * @throws Unauthenticated for anything that does not verify (malformed, unknown, wrong secret,
     *   revoked); Forbidden when its site is disabled.
     */
    async authenticate(presented: string): Promise<AuthenticatedLicenseServer> {
      const parsed = parseCredential(LICENSE_SERVER_CREDENTIAL_PREFIX, presented);
      if (!parsed) throw new Unauthenticated({ detail: 'unrecognised license-server credential format' });
      const record = await repository.get(parsed.id);
      // Compare even when the ID is unknown, so timing does not tell which IDs exist.
      const matches = secretMatchesHash(parsed.secret, record?.secretHash ?? Buffer.alloc(32));
      if (!record || !matches) throw new Unauthenticated({ detail: `license server ${parsed.id} does not verify` });
      if (record.revokedAt !== undefined) throw new Unauthenticated({ detail: `license server ${parsed.id} is revoked` });
      const site = await sites.getSite(record.siteId);
      if (!site) throw new Unauthenticated({ detail: `license server ${parsed.id} belongs to no site` });
      if (site.status !== 'active') throw siteDisabled(site.id);
      await recordCredentialUse(
        record.lastUsedAt,
        clock(),
        (usedAt) => repository.touch(record.id, usedAt),
        (error) => onBestEffortError?.(error, 'recording license-server use'),
      );
      return { licenseServer: toView(record), site: toSiteView(site), credentialId: record.id };
    },
  };
}

export type LicenseServerService = ReturnType<typeof createLicenseServerService>;
