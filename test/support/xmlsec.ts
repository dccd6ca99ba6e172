import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * xmlsec1 (libxmlsec + libxml2's C14N): the independent XML-DSig verifier, one signature per run.
 * Missing locally → the tests that need it are skipped with a note; missing under CI=true → error.
 */
const available = spawnSync('xmlsec1', ['--version']).status === 0;
if (!available && process.env.CI === 'true') throw new Error('xmlsec1 is required under CI=true (apt-get install xmlsec1)');

export const describeWithXmlsec: jest.Describe = available
  ? describe
  : (((name: string, fn: () => void) => {
      // eslint-disable-next-line no-console
      console.warn(`skipping "${name}": xmlsec1 not installed`);
      describe.skip(name, fn);
    }) as jest.Describe);

export interface XmlsecVerifyOptions {
  /** Pinned signer certificate (PEM text): `--pubkey-cert-pem … --enabled-key-data rsa`, KeyInfo ignored. */
  readonly pinnedCertPem?: string;
  /** Trust anchors (PEM text): `--trusted-pem`, the KeyInfo certificate must chain to one. */
  readonly trustedPem?: readonly string[];
  /** Element local names whose `id` attribute is an XML ID (`--id-attr:id NAME`). */
  readonly idElements?: readonly string[];
}

export interface XmlsecResult {
  readonly ok: boolean;
  readonly output: string;
}

/** Selects the `ds:Signature` children of the root (one per xmlsec1 run, by index). */
export const SIGNATURE_XPATH = "/*/*[local-name()='Signature' and namespace-uri()='http://www.w3.org/2000/09/xmldsig#']";

/** Verifies the `index`-th (1-based) root `ds:Signature` of `xml` with `xmlsec1 --verify`. */
export function xmlsecVerify(xml: string, index: number, options: XmlsecVerifyOptions): XmlsecResult {
  const dir = mkdtempSync(join(tmpdir(), 'xmlsec-'));
  try {
    const args = ['--verify', '--enabled-reference-uris', 'same-doc,empty'];
    if (options.pinnedCertPem !== undefined) {
      writeFileSync(join(dir, 'pinned.pem'), options.pinnedCertPem);
      args.push('--pubkey-cert-pem', join(dir, 'pinned.pem'), '--enabled-key-data', 'rsa');
    }
    (options.trustedPem ?? []).forEach((pem, n) => {
      writeFileSync(join(dir, `trusted-${n}.pem`), pem);
      args.push('--trusted-pem', join(dir, `trusted-${n}.pem`));
    });
    for (const name of options.idElements ?? []) args.push(`--id-attr:id`, name);
    writeFileSync(join(dir, 'doc.xml'), xml);
    args.push('--node-xpath', `(${SIGNATURE_XPATH})[${index}]`, join(dir, 'doc.xml'));
    const run = spawnSync('xmlsec1', args, { encoding: 'utf8' });
    return { ok: run.status === 0, output: `${run.stdout}${run.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * An enveloped whole-document signature template (RSA-SHA256, C14N 1.0, SHA-256, the signer's
 * certificate in KeyInfo) for `xmlsecSign`, as a packager that signs its CPIX requests writes it.
 */
const SIGNATURE_TEMPLATE = [
  '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>',
  '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/>',
  '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>',
  '<ds:Reference URI=""><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/></ds:Transforms>',
  '<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference>',
  '</ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data><ds:X509Certificate/></ds:X509Data></ds:KeyInfo></ds:Signature>',
].join('');

/** Signs `xml` as a whole with `xmlsec1 --sign` (template appended as the root's last child). */
export function xmlsecSign(xml: string, keyPem: string, certPem: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'xmlsec-sign-'));
  try {
    const closing = xml.lastIndexOf('</');
    writeFileSync(join(dir, 'template.xml'), `${xml.slice(0, closing)}${SIGNATURE_TEMPLATE}${xml.slice(closing)}`);
    writeFileSync(join(dir, 'key.pem'), keyPem, { mode: 0o600 });
    writeFileSync(join(dir, 'cert.pem'), certPem);
    const run = spawnSync('xmlsec1', ['--sign', '--privkey-pem', `${join(dir, 'key.pem')},${join(dir, 'cert.pem')}`, '--output', join(dir, 'signed.xml'), join(dir, 'template.xml')], {
      encoding: 'utf8',
    });
    if (run.status !== 0) throw new Error(`xmlsec1 --sign failed: ${run.stderr}`);
    return readFileSync(join(dir, 'signed.xml'), 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
