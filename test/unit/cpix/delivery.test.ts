import { expectOpaqueDecryptionFailure } from '../../support/errors';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { encryptDocumentKeys } from '../../../src/cpix/delivery';
import { decryptDocumentKeys, type RecipientKeyPair } from '../../support/cpix-decrypt';
import type { CpixDocument } from '../../../src/cpix/model';
import { ALGORITHM } from '../../../src/cpix/constants';
import { cryptoRandom } from '../../../src/crypto/random';
import { WeakCertificate } from '../../../src/errors';
import { describeWithVectors, vectorPath } from '../../support/shared-vectors';
import { parseCpixDocument } from '../../../src/cpix/parse';

const dir = (...parts: string[]) => vectorPath('dashif-cpix-test-vectors', ...parts);
const pair = (name: string): RecipientKeyPair => ({
  certificate: new X509Certificate(readFileSync(dir('pem', `${name}.cert.pem`))),
  privateKey: createPrivateKey(readFileSync(dir('pem', `${name}.key.pem`))),
});
const load = (file: string): CpixDocument => parseCpixDocument(readFileSync(dir(file)));

interface ExpectedLine {
  readonly file: string;
  readonly recipients: readonly { readonly recipient: string; readonly unwrappedWith: string }[];
  readonly contentKeys: readonly { readonly kid: string; readonly decrypted?: string; readonly macOk?: boolean }[];
}

const plainKeys = (doc: CpixDocument) =>
  (doc.contentKeyList?.items ?? []).map((key) => ({
    kid: key.kid,
    value: key.data?.kind === 'plain' ? key.data.value.toString('base64') : undefined,
  }));

describeWithVectors('decryptDocumentKeys on the DASH-IF vectors', () => {
  const expected: ExpectedLine[] = readFileSync(dir('EXPECTED.jsonl'), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as ExpectedLine);
  const cases = expected.flatMap((line) =>
    line.contentKeys.some((key) => key.decrypted !== undefined)
      ? line.recipients.map((recipient) => [line.file, recipient.unwrappedWith, line] as const)
      : [],
  );

  it('covers every encrypted vector', () => {
    expect(new Set(cases.map(([file]) => file))).toEqual(
      new Set(['Complex.xml', 'EncryptedContentKeys.xml', 'EncryptedContentKeysWithMultipleRecipients.xml', 'EvenMoreComplex.xml', 'Invalid_BadDocumentSignature.xml']),
    );
  });

  it.each(cases)('decrypts %s with %s to the EXPECTED.jsonl keys', (file, cert, line) => {
    const decrypted = decryptDocumentKeys(load(file), [pair(cert)]);
    expect(plainKeys(decrypted)).toEqual(line.contentKeys.map((key) => ({ kid: key.kid, value: key.decrypted })));
    expect(decrypted.deliveryDataList).toBeUndefined();
  });

  it('finds our DeliveryData among several recipients and several own keys', () => {
    const decrypted = decryptDocumentKeys(load('EncryptedContentKeysWithMultipleRecipients.xml'), [pair('WeakCert_SmallKey'), pair('Cert4')]);
    expect(plainKeys(decrypted).map((key) => key.value)).toEqual([
      'gMMdXMudvuGpYW5k3lzf/g==', 'WUxnvQjGw28bA3cgW/1jfg==', 'cCudMIPMQkak1l+oCVXT2A==', 'zqvOfAja51IUSRV385bvoA==',
    ]);
  });

  it('rejects Invalid_WrongMac.xml with the opaque error (loading alone succeeds)', () => {
    const doc = load('Invalid_WrongMac.xml');
    expect(doc.contentKeyList?.items[0]?.data?.kind).toBe('encrypted');
    expectOpaqueDecryptionFailure(() => decryptDocumentKeys(doc, [pair('Cert1')]));
  });

  it('rejects a document for another recipient with the same opaque error', () => {
    expectOpaqueDecryptionFailure(() => decryptDocumentKeys(load('EncryptedContentKeys.xml'), [pair('Cert2')]));
    expectOpaqueDecryptionFailure(() => decryptDocumentKeys(load('EncryptedContentKeys.xml'), []));
  });

  it('rejects a certificate match whose private key is wrong with the same opaque error', () => {
    expectOpaqueDecryptionFailure(() =>
      decryptDocumentKeys(load('EncryptedContentKeys.xml'), [{ certificate: pair('Cert1').certificate, privateKey: pair('Cert2').privateKey }]),
    );
  });

  const tamper = (doc: CpixDocument, field: 'iv' | 'ciphertext' | 'valueMac'): CpixDocument => {
    const items = (doc.contentKeyList?.items ?? []).map((key, index) => {
      if (index !== 2 || key.data?.kind !== 'encrypted') return key;
      const cipherValue = Buffer.from(key.data.cipherValue);
      const valueMac = Buffer.from(key.data.valueMac ?? Buffer.alloc(0));
      const target = field === 'valueMac' ? valueMac : cipherValue;
      const at = field === 'iv' ? 5 : field === 'ciphertext' ? 40 : 10;
      target[at] = (target[at] ?? 0) ^ 0x80;
      return { ...key, data: { ...key.data, cipherValue, valueMac } };
    });
    return { ...doc, contentKeyList: { items } };
  };
  it.each(['iv', 'ciphertext', 'valueMac'] as const)('rejects a 1-byte change in the %s with the opaque error', (field) => {
    expectOpaqueDecryptionFailure(() => decryptDocumentKeys(tamper(load('EncryptedContentKeys.xml'), field), [pair('Cert1')]));
  });

  it('rejects a wrapped MAC key that is missing or tampered', () => {
    const doc = load('EncryptedContentKeys.xml');
    const [recipient] = doc.deliveryDataList?.items ?? [];
    if (recipient?.macMethod?.encryptedKey === undefined) throw new Error('vector changed');
    const { macMethod: _omitted, ...withoutMac } = recipient;
    expectOpaqueDecryptionFailure(() => decryptDocumentKeys({ ...doc, deliveryDataList: { items: [withoutMac] } }, [pair('Cert1')]));
    const wrapped = Buffer.from(recipient.macMethod.encryptedKey);
    wrapped[7] = (wrapped[7] ?? 0) ^ 1;
    const tampered = { ...recipient, macMethod: { ...recipient.macMethod, encryptedKey: wrapped } };
    expectOpaqueDecryptionFailure(() => decryptDocumentKeys({ ...doc, deliveryDataList: { items: [tampered] } }, [pair('Cert1')]));
  });
});

describeWithVectors('encryptDocumentKeys', () => {
  const doc: CpixDocument = {
    contentId: 'movie-1',
    deliveryDataList: { id: 'recipients', items: [{ id: 'dd-1', name: 'packager', certificates: [pair('Cert2').certificate.raw], documentKeys: [] }] },
    contentKeyList: {
      id: 'ContentKeyList',
      items: [
        { kid: '11111111-2222-3333-4444-555555555555', data: { kind: 'plain', value: Buffer.alloc(16, 1) } },
        { kid: '66666666-7777-8888-9999-000000000000', data: { kind: 'plain', value: Buffer.alloc(32, 2) } },
      ],
    },
  };

  it('round-trips to every recipient, sharing one document key and one MAC key', () => {
    let draws = 0;
    const counting = (length: number) => {
      draws += 1;
      return cryptoRandom(length);
    };
    const encrypted = encryptDocumentKeys(doc, [pair('Cert1').certificate, pair('Cert2').certificate], counting);
    expect(draws).toBe(2 + 2); // document key + MAC key + one IV per content key
    const recipients = encrypted.deliveryDataList?.items ?? [];
    expect(recipients).toHaveLength(2);
    expect(recipients[0]?.certificates).toEqual([pair('Cert1').certificate.raw]);
    expect(recipients[1]).toMatchObject({ id: 'dd-1', name: 'packager' }); // echoed from the matching request entry
    expect(recipients[0]?.macMethod?.algorithm).toBe(ALGORITHM.hmacSha512);
    expect(recipients[0]?.documentKeys[0]?.algorithm).toBe(ALGORITHM.aes256Cbc);
    for (const key of encrypted.contentKeyList?.items ?? []) {
      expect(key.data).toMatchObject({ kind: 'encrypted', algorithm: ALGORITHM.aes256Cbc });
      if (key.data?.kind === 'encrypted') expect(key.data.valueMac).toHaveLength(64);
    }
    const [first, second] = encrypted.contentKeyList?.items ?? [];
    if (first?.data?.kind !== 'encrypted' || second?.data?.kind !== 'encrypted') throw new Error('not encrypted');
    expect(first.data.cipherValue).toHaveLength(48);
    expect(second.data.cipherValue).toHaveLength(64);
    for (const name of ['Cert1', 'Cert2']) {
      expect(plainKeys(decryptDocumentKeys(encrypted, [pair(name)]))).toEqual(plainKeys(doc));
    }
    expectOpaqueDecryptionFailure(() => decryptDocumentKeys(encrypted, [pair('Cert3')]));
  });

  it('accepts the 2048-bit WeakCert_SmallKey by default and refuses it with minRsaBits 3072', () => {
    const small = pair('WeakCert_SmallKey');
    const encrypted = encryptDocumentKeys(doc, [small.certificate], cryptoRandom);
    expect(plainKeys(decryptDocumentKeys(encrypted, [small]))).toEqual(plainKeys(doc));
    expect(() => encryptDocumentKeys(doc, [pair('Cert1').certificate, small.certificate], cryptoRandom, { policy: { minRsaBits: 3072, rejectSha1: true } })).toThrow(
      new WeakCertificate('DeliveryData[1]: RSA key of 2048 bits is below the minimum of 3072'),
    );
  });

  it('refuses the SHA-1-signed WeakCert_Sha1 by default and accepts it when rejectSha1 is off', () => {
    const sha1 = pair('WeakCert_Sha1').certificate;
    expect(() => encryptDocumentKeys(doc, [sha1], cryptoRandom)).toThrow(new WeakCertificate('DeliveryData[0]: certificate is signed with SHA-1'));
    expect(() => encryptDocumentKeys(doc, [sha1], cryptoRandom, { policy: { minRsaBits: 2048, rejectSha1: false } })).not.toThrow();
  });
});
