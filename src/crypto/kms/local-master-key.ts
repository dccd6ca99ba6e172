import { createHmac } from 'node:crypto';
import { KeyIntegrityError } from '../../errors';
import { AEAD_KEY_LENGTH_BYTES, encodeContext, open, seal } from '../aead';
import type { RandomSource } from '../random';
import type { MasterKeyProvider, SiteKeyContext, WrappedSiteKey } from './master-key';

const SITE_KEY_LENGTH_BYTES = 256 / 8;
const SITE_KEY_PURPOSE = 'cpix-kms/site-key/v1';

/**
 * Master key held in process memory (from a file or an environment variable). Site keys are sealed
 * with AES-256-GCM, bound to (site ID, version) as associated data.
 */
export function createLocalMasterKey(masterKey: Buffer, random: RandomSource): MasterKeyProvider {
  if (masterKey.length !== AEAD_KEY_LENGTH_BYTES) throw new RangeError('local master key must be 32 bytes');
  const key = Buffer.from(masterKey);
  // A fingerprint, not the key: lets an operator see which master key a blob needs.
  const masterKeyId = `local:${createHmac('sha256', key).update('cpix-kms master key id').digest('hex').slice(0, 16)}`;
  const context = (c: SiteKeyContext) => encodeContext(SITE_KEY_PURPOSE, [c.siteId, String(c.version)]);

  return {
    name: 'local',
    async generateSiteKey(siteKeyContext) {
      const plaintext = random(SITE_KEY_LENGTH_BYTES);
      const wrapped: WrappedSiteKey = {
        provider: 'local',
        masterKeyId,
        blob: seal(key, plaintext, context(siteKeyContext), random),
      };
      return { plaintext, wrapped };
    },
    async unwrapSiteKey(wrapped, siteKeyContext) {
      if (wrapped.provider !== 'local' || wrapped.masterKeyId !== masterKeyId) {
        throw new KeyIntegrityError({ detail: `site key was wrapped by ${wrapped.masterKeyId}, not ${masterKeyId}` });
      }
      return open(key, wrapped.blob, context(siteKeyContext));
    },
    async checkReady() {},
  };
}
