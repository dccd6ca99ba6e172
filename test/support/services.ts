import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SigningConfig } from '../../src/config/config';
import { createSelfSignedIdentityPem, signingConfigFromPem } from '../../src/dev-signing';
import { createLocalMasterKey } from '../../src/crypto/kms/local-master-key';
import type { MasterKeyProvider } from '../../src/crypto/kms/master-key';
import { buildDomainServices } from '../../src/compose';
import { cryptoRandom, type Clock } from '../../src/crypto/random';
import type { ContentKeyRecord } from '../../src/keys/ports';
import type { Store } from '../../src/store/store';

/** A fresh random local master key for one test file. */
export function testMasterKey(): MasterKeyProvider {
  return createLocalMasterKey(randomBytes(32), cryptoRandom);
}

/** The domain services wired on a store, as the service wires them (`buildDomainServices`; fresh caches each call). */
export function buildServices(
  store: Store,
  masterKey: MasterKeyProvider,
  options: { readonly keysCreatedPerMinute?: number; readonly authenticationClock?: Clock } = {},
) {
  return buildDomainServices(store, masterKey, {
    keysCreatedPerMinute: options.keysCreatedPerMinute ?? 0,
    siteKeyCacheTtlMs: 60_000,
    ...(options.authenticationClock !== undefined && { clocks: { sites: options.authenticationClock } }),
  });
}

let signingIdentity: SigningConfig | undefined;
let exportSigningIdentity: SigningConfig | undefined;

/** The service's key-exchange signing identity in tests: one self-signed RSA-2048 certificate per test process. */
export function testSigningIdentity(): SigningConfig {
  signingIdentity ??= signingConfigFromPem(createSelfSignedIdentityPem('cpix-kms test signing key'), 'test');
  return signingIdentity;
}

/** The service's license-export signing identity in tests: another certificate, as in production. */
export function testExportSigningIdentity(): SigningConfig {
  exportSigningIdentity ??= signingConfigFromPem(createSelfSignedIdentityPem('cpix-kms test license-export signing key'), 'test-export');
  return exportSigningIdentity;
}

/** EXPORT_VALIDITY_SECONDS in tests: the default. */
export const TEST_EXPORT_VALIDITY_MS = 3_600_000;

/** A random site ID that tests on a shared Redis will not collide on. */
export function uniqueSiteId(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  return Array.from(randomBytes(4), (b) => alphabet[b % 36]).join('');
}

/** PEM of a project-made test certificate in test/fixtures/certificates/ (see its README). */
export function testCertificate(name: 'rsa2048' | 'rsa1024' | 'rsa2048-sha1' | 'ec-p256'): string {
  return readFileSync(join(__dirname, '../fixtures/certificates', `license-server-${name}.pem`), 'utf8');
}

/** Every content-key record of a site, following `pageBySite` (tests only: it holds them all). */
export async function allSiteRecords(store: Store, siteId: string, limit = 100): Promise<ContentKeyRecord[]> {
  const records: ContentKeyRecord[] = [];
  let after: string | undefined;
  do {
    const page = await store.contentKeys.pageBySite(siteId, { limit, ...(after !== undefined && { after }) });
    records.push(...page.records);
    after = page.next;
  } while (after !== undefined);
  return records;
}
