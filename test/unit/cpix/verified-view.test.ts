import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { CpixDocument } from '../../../src/cpix/model';
import { parseCpixDocument } from '../../../src/cpix/parse';
import { keepVerifiedParts } from '../../../src/cpix/verified-view';
import { verifyCpixSignatures, type VerifiedCpixSignature } from '../../../src/cpix/verify-signature';
import { describeWithVectors, vectorPath } from '../../support/shared-vectors';

const signer = {} as X509Certificate;
const signed = (...references: VerifiedCpixSignature['reference'][]) => references.map((reference) => ({ reference, signer }));

const document: CpixDocument = {
  contentId: 'movie',
  contentKeyList: { id: 'keys', items: [{ kid: '40d02dd1-61a3-4787-a155-572325d47b80' }] },
  drmSystemList: { id: 'drm', items: [] },
  contentKeyUsageRuleList: { items: [] },
};

describe('keepVerifiedParts', () => {
  it('keeps everything under a verified document signature', () => {
    expect(keepVerifiedParts(document, signed('#keys', ''))).toBe(document);
  });

  it('keeps only the lists a verified #id reference covers and drops unsigned ones', () => {
    const view = keepVerifiedParts(document, signed('#keys'));
    expect(view.contentKeyList).toBe(document.contentKeyList);
    expect(view.drmSystemList).toBeUndefined();
    expect(view.contentKeyUsageRuleList).toBeUndefined();
    expect(view.contentId).toBe('movie');
  });

  it('drops every list of an unsigned document', () => {
    const view = keepVerifiedParts(document, []);
    expect(view).toEqual({ contentId: 'movie' });
  });

  it.each([
    ['an unsigned required list', signed('#keys'), ['drmSystemList'] as const],
    ['a required list without id', signed('#keys', '#drm'), ['contentKeyUsageRuleList'] as const],
    ['no signature at all', [], ['contentKeyList'] as const],
  ])('refuses %s', (_name, signatures, required) => {
    expect(() => keepVerifiedParts(document, signatures, required)).toThrow(
      expect.objectContaining({ code: 'ERR_CPIX_SIGNATURE_INVALID' }),
    );
  });
});

describeWithVectors('keepVerifiedParts on signed DASH-IF vectors', () => {
  const cert = (name: string) => new X509Certificate(readFileSync(vectorPath('dashif-cpix-test-vectors', `${name}.cer`)));
  it('keeps the whole of Complex.xml, whose document signature verifies', () => {
    const bytes = readFileSync(vectorPath('dashif-cpix-test-vectors', 'Complex.xml'));
    const text = bytes.toString('utf8').replace(/^\uFEFF/, '');
    const { signatures } = verifyCpixSignatures(text, [cert('Cert3'), cert('Cert4')]);
    const parsed = parseCpixDocument(bytes);
    expect(keepVerifiedParts(parsed, signatures, ['contentKeyList', 'deliveryDataList'])).toBe(parsed);
  });
});
