import { createKeyNames, encodeKeyPart } from '../../src/store/redis/key-names';

/** The part of a key Redis Cluster hashes: the text between the first `{` and the next `}`, if not empty. */
function hashTagOf(key: string): string {
  const open = key.indexOf('{');
  const close = open === -1 ? -1 : key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : key;
}

const TRICKY_IDS = ['plain', 'a:b', '{tag}', '}{', 'x}:ck:y', '%41', 'A', 'ü', 'space here', '', '*?[]', 'line\nbreak'];

describe('Redis key names', () => {
  it.each([
    ['movie-1_v2.mp4', 'movie-1_v2.mp4'],
    ['a:b', 'a%3Ab'],
    ['{x}', '%7Bx%7D'],
    ['%41', '%2541'],
    ['ü', '%C3%BC'],
    ['', ''],
  ])('encodes %j as %j', (text, encoded) => {
    expect(encodeKeyPart(text)).toBe(encoded);
  });

  it('encodes injectively and never emits a separator or a brace', () => {
    const encoded = TRICKY_IDS.map(encodeKeyPart);
    expect(new Set(encoded).size).toBe(TRICKY_IDS.length);
    for (const part of encoded) expect(part).not.toMatch(/[:{}]/);
  });

  it('puts every key of a site under the site hash tag, whatever the content ID', () => {
    const names = createKeyNames('cpixkms');
    for (const siteId of ['AB12', 'a}b', '{X}']) {
      const site = names.site(siteId);
      const expectedTag = `cpixkms:${encodeKeyPart(siteId)}`;
      expect(site.tag).toBe(`{${expectedTag}}`);
      const keys = [
        site.record,
        site.siteKeys,
        site.sequence,
        site.tokens,
        site.licenseServers,
        site.audit,
        site.contents,
        site.createdWindow,
        ...TRICKY_IDS.flatMap((id) => [site.content(id), site.contentKey(id, id), site.contentKey(id, 'kid')]),
      ];
      for (const key of keys) expect(hashTagOf(key)).toBe(expectedTag);
      expect(new Set(keys).size).toBe(keys.length);
    }
  });

  it('keeps global keys out of any site hash tag', () => {
    const names = createKeyNames('cpixkms');
    expect(names.siteIndex).toBe('cpixkms:sites');
    expect(names.token('{AB12}')).toBe('cpixkms:token:%7BAB12%7D');
    expect(hashTagOf(names.token('{AB12}'))).toBe(names.token('{AB12}'));
    expect(names.licenseServer('a:b')).toBe('cpixkms:license-server:a%3Ab');
    expect(hashTagOf(names.licenseServer('{AB12}'))).toBe(names.licenseServer('{AB12}'));
  });

  it.each(['', 'with space', 'a{b', 'glob*', 'x'.repeat(65)])('rejects the prefix %j', (prefix) => {
    expect(() => createKeyNames(prefix)).toThrow(RangeError);
  });
});
