import { X509Certificate, createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import type { SecretSource, SigningConfig } from './config/config';
import { readOrCreate, type ResolvedSecret } from './dev-secrets';
import { ConfigError } from './errors';

/**
 * The development signing identity: when no SIGNING_KEY_FILE/SIGNING_CERT_FILE is configured (and
 * NODE_ENV is not production), `npm start` signs with a self-signed RSA-2048 certificate kept in one
 * PEM file of the data folder (private key + certificate), created once with mode 0600 and reused, so
 * license servers can pin it across restarts. One file, written with O_EXCL, so two processes starting
 * together cannot end up with a key and a certificate from different runs (`readOrCreate`).
 *
 * node-forge only assembles and signs the certificate (Node's crypto cannot make an X.509 certificate);
 * the key pair comes from Node's own crypto.
 */

type Forge = typeof import('node-forge');

const DEV_CERTIFICATE_DAYS = 825;
const RSA_BITS = 2048;

/**
 * A positive serial of exactly 16 octets whatever the random bytes are (RFC 5280 §4.1.2.2): top bit
 * cleared (positive without a 00 pad) and the next one set (no leading zero octet). A fixed "00" prefix
 * made DER that OpenSSL refuses ("illegal padding") whenever the random bytes began with 00 and a byte
 * below 0x80, about one start in 500 (a CI run met it).
 */
export function certificateSerialHex(random: Buffer): string {
  const serial = Buffer.from(random.subarray(0, 16));
  serial[0] = ((serial[0] ?? 0) & 0x7f) | 0x40;
  return serial.toString('hex');
}

/**
 * node-forge, loaded when a certificate is made, never before: production refuses to start without
 * configured signing identities, so only development makes one. node-forge is therefore a development
 * dependency, which the container image does not install (decision 71).
 * @throws ConfigError when it is not installed: development files wanted where only the production
 *   dependencies are (the image run without NODE_ENV=production).
 */
function loadForge(): Forge {
  try {
    // A require in the function, not an import: an import would load node-forge with this module.
    return require('node-forge') as Forge;
  } catch (error) {
    if (!(error instanceof Error && 'code' in error && error.code === 'MODULE_NOT_FOUND')) throw error;
    throw new ConfigError(
      'no signing identity is configured and node-forge, which makes the development one, is not installed: ' +
        'set SIGNING_KEY_FILE, SIGNING_CERT_FILE, EXPORT_SIGNING_KEY_FILE and EXPORT_SIGNING_CERT_FILE (NODE_ENV=production requires them), ' +
        'or install the development dependencies (npm ci)',
      { cause: error },
    );
  }
}

/** A fresh self-signed RSA-2048 identity as one PEM text: PKCS#8 private key, then the certificate. */
export function createSelfSignedIdentityPem(commonName = 'cpix-kms development signing key', serialRandom: Buffer = randomBytes(16)): string {
  const forge = loadForge();
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: RSA_BITS });
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const forgePrivateKey = forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }).toString());
  const certificate = forge.pki.createCertificate();
  certificate.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  certificate.serialNumber = certificateSerialHex(serialRandom);
  const now = new Date();
  certificate.validity.notBefore = new Date(now.getTime() - 60_000);
  certificate.validity.notAfter = new Date(now.getTime() + DEV_CERTIFICATE_DAYS * 86_400_000);
  const name = [
    { name: 'commonName', value: commonName },
    { name: 'organizationName', value: 'cpix-kms (development only)' },
  ];
  certificate.setSubject(name);
  certificate.setIssuer(name);
  certificate.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, nonRepudiation: true },
  ]);
  certificate.sign(forgePrivateKey, forge.md.sha256.create());
  return `${privateKeyPem.trim()}\n${forge.pki.certificateToPem(certificate).trim()}\n`;
}

/** Splits the development PEM file into the signing configuration the signer uses. */
export function signingConfigFromPem(pem: string, path: string): SigningConfig {
  const privateKeyPem = /-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----/.exec(pem)?.[0];
  const certificatePem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)?.[0];
  if (privateKeyPem === undefined || certificatePem === undefined) {
    throw new Error(`development signing file ${path} does not hold a private key and a certificate`);
  }
  const privateKey = createPrivateKey(privateKeyPem);
  const certificate = new X509Certificate(certificatePem);
  if (!certificate.checkPrivateKey(privateKey)) throw new Error(`development signing file ${path}: key and certificate differ`);
  return { privateKey, certificate, privateKeyPem: `${privateKeyPem}\n`, certificatePem: `${certificatePem}\n` };
}

/** A configured signing identity, or the development one of `source.path` (`commonName` names it in its certificate). */
export function resolveSigningIdentity(source: SecretSource<SigningConfig>, commonName?: string): ResolvedSecret<SigningConfig> {
  if (source.kind === 'configured') return { value: source.value };
  const path = `${source.path}.pem`;
  const { text, created } = readOrCreate(path, () => createSelfSignedIdentityPem(commonName));
  return { value: signingConfigFromPem(text, path), devFile: { path, created } };
}
