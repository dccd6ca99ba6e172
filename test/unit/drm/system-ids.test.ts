import * as systemIds from '../../../src/drm/system-ids';
import {
  COMMON_PSSH_SYSTEM_ID,
  FAIRPLAY_SYSTEM_ID,
  PLAYREADY_SYSTEM_ID,
  sameSystemId,
  systemIdToBytes,
  WIDEVINE_SYSTEM_ID,
} from '../../../src/drm/system-ids';
import { describeWithVectors, sharedPath } from '../../support/shared-vectors';
import { FAIRPLAY_PSSH_SYSTEM_ID } from '../../support/system-ids';
import { readFileSync } from 'node:fs';

describeWithVectors('system IDs (each one listed by the signaling vector documents)', () => {
  const uuidsIn = (path: string, from: string, to: string): Set<string> => {
    const doc = readFileSync(sharedPath('docs', path), 'utf8');
    const section = doc.slice(doc.indexOf(from), doc.indexOf(to));
    return new Set([...section.matchAll(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi)].map((m) => m[0].toLowerCase()));
  };

  it('names only documented system IDs, each once, as lower-case dashed UUIDs', () => {
    const signaling = uuidsIn('drm-signaling.md', '## 1.', '## 2.');
    expect(signaling.size).toBeGreaterThanOrEqual(16);
    // Irdeto is signaled by nobody in the open; the SPEKE reference names it (MediaPackage v2).
    const documented = new Set([...signaling, ...uuidsIn('speke.md', '## 5.', '## 6.')]);
    const ours = Object.entries(systemIds)
      .filter(([name]) => name.endsWith('_SYSTEM_ID'))
      .map(([, id]) => id);
    expect(ours).toContain(WIDEVINE_SYSTEM_ID); // the filter finds the constants
    for (const id of [...ours, FAIRPLAY_PSSH_SYSTEM_ID]) {
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(documented).toContain(id);
    }
    expect(new Set(ours).size).toBe(ours.length);
  });
});

describe('sameSystemId', () => {
  it('compares case-insensitively without rewriting either spelling', () => {
    const pallyCon = 'EDEF8BA9-79D6-4ACE-A3C8-27DCD51D21ED';
    expect(sameSystemId(pallyCon, WIDEVINE_SYSTEM_ID)).toBe(true);
    expect(pallyCon).toBe('EDEF8BA9-79D6-4ACE-A3C8-27DCD51D21ED');
    expect(sameSystemId(PLAYREADY_SYSTEM_ID, WIDEVINE_SYSTEM_ID)).toBe(false);
    expect(sameSystemId(FAIRPLAY_SYSTEM_ID, FAIRPLAY_PSSH_SYSTEM_ID)).toBe(false);
    expect(sameSystemId(`${WIDEVINE_SYSTEM_ID} `, WIDEVINE_SYSTEM_ID)).toBe(false);
  });

  it('turns a system ID into its 16 pssh bytes and rejects non-UUIDs (RangeError)', () => {
    expect(systemIdToBytes(COMMON_PSSH_SYSTEM_ID.toUpperCase()).toString('hex')).toBe('1077efecc0b24d02ace33c1e52e2fb4b');
    expect(() => systemIdToBytes('not-a-uuid')).toThrow(RangeError);
  });
});
