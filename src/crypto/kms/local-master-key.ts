import { createHmac } from 'node:crypto';
import { KeyIntegrityError } from '../../errors';
import { AEAD_KEY_LENGTH_BYTES, encodeContext, open, seal } from '../aead';
import type { RandomSource } from '../random';
import type { MasterKeyProvider, SiteKeyContext, WrappedSiteKey } from './master-key';

const SITE_KEY_LENGTH_BYTES = 256 / 8;
const SITE_KEY_PURPOSE = 'cpix-kms/site-key/v1';
/**
 * The key-check value is AES-256-GCM over no plaintext with this label as associated data: a GMAC tag
 * under the master key, which only that key can reproduce (NIST SP 800-38D, GMAC).
 */
const CHECK_VALUE_PURPOSE = 'cpix-kms/master-key-check/v1';

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
  const checkContext = encodeContext(CHECK_VALUE_PURPOSE, []);

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
    async createCheckValue() {
      return { provider: 'local', masterKeyId, blob: seal(key, Buffer.alloc(0), checkContext, random) };
    },
    async verifyCheckValue(check) {
      if (check.provider !== 'local' || check.masterKeyId !== masterKeyId) {
        throw new KeyIntegrityError({ detail: `check value was made by another ${check.provider} master key` });
      }
      open(key, check.blob, checkContext);
    },
    async checkReady() {},
  };
}
