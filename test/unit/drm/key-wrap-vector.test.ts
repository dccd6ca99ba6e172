import { createCipheriv } from 'node:crypto';

import { describeWithVectors } from '../../support/shared-vectors';
import { codeSpan, signalingVector } from './signaling-vectors';

/**
 * V22 is not DRM signaling: it is the RFC 3394 §4.3 AES key-wrap vector the doc lists as a candidate for
 * wrapping content keys under a site key. Nothing in src/drm implements it (the service wraps keys with
 * AES-256-GCM, src/crypto/aead.ts); this test only keeps the doc's 31 checks reproducible here, with
 * Node's `id-aes256-wrap` as the doc row names.
 */
describeWithVectors('V22 (RFC 3394 §4.3): AES-256 key wrap of a 128-bit key', () => {
  it('wraps 00112233… under KEK 000102…1F to the RFC ciphertext', () => {
    const row = signalingVector('V22');
    expect(row.text).toContain('RFC 3394');
    const kek = Buffer.from('000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F', 'hex'); // "000102…1F"
    const defaultIv = Buffer.from('A6A6A6A6A6A6A6A6', 'hex'); // RFC 3394 §2.2.3.1
    const cipher = createCipheriv('id-aes256-wrap', kek, defaultIv);
    const wrapped = Buffer.concat([cipher.update(Buffer.from(codeSpan(row, 1), 'hex')), cipher.final()]);
    expect(wrapped.toString('hex').toUpperCase()).toBe(codeSpan(row, 2));
  });
});
