import {
  COMMON_PSSH_SYSTEM_ID,
  FAIRPLAY_PSSH_SYSTEM_ID,
  FAIRPLAY_SYSTEM_ID,
  KNOWN_SYSTEM_IDS,
  PLAYREADY_SYSTEM_ID,
  sameSystemId,
  systemIdToBytes,
  WIDEVINE_SYSTEM_ID,
} from '../../../src/drm/system-ids';
import { describeWithVectors, sharedPath } from '../../support/shared-vectors';
import { readFileSync } from 'node:fs';

describeWithVectors('system IDs (docs/drm-signaling.md §1)', () => {
  it('has a constant for every system ID in the §1 table, and only lower-case dashed UUIDs', () => {
    const doc = readFileSync(sharedPath('docs', 'drm-signaling.md'), 'utf8');
    const section = doc.slice(doc.indexOf('## 1.'), doc.indexOf('## 2.'));
    const inTable = new Set(
      [...section.matchAll(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi)].map((m) => m[0].toLowerCase()),
    );
    expect(inTable.size).toBeGreaterThanOrEqual(16);
    for (const id of inTable) expect(KNOWN_SYSTEM_IDS).toContain(id);
    for (const id of KNOWN_SYSTEM_IDS) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(new Set(KNOWN_SYSTEM_IDS).size).toBe(KNOWN_SYSTEM_IDS.length);
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
