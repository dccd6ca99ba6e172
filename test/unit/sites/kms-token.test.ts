import {
  credentialLookupId,
  generateCredential,
  generateKmsToken,
  parseCredential,
  parseKmsToken,
  parseLegacyToken,
} from '../../../src/sites/kms-token';

const counter = (() => {
  let n = 0;
  return (length: number) => Buffer.from(Array.from({ length }, () => n++ % 256));
})();

describe('KMS tokens', () => {
  it('generates kms1.<16-char id>.<43-char secret> from 96 + 256 random bits and parses it back', () => {
    const issued = generateKmsToken(counter);
    expect(issued.token).toBe(`kms1.${issued.id}.${issued.secret}`);
    expect(Buffer.from(issued.id, 'base64url')).toHaveLength(12);
    expect(Buffer.from(issued.secret, 'base64url')).toHaveLength(32);
    expect(parseKmsToken(issued.token)).toEqual({ id: issued.id, secret: issued.secret });
  });

  it('never issues an ID that starts with "-" (a command line would take it for an option): it draws again', () => {
    // 0xf8 0x00 … encodes as "-A…" in base64url; the next draw is taken.
    const draws = [Buffer.from([0xf8, ...Array(11).fill(0)]), Buffer.alloc(12, 1), Buffer.alloc(32, 2)];
    const issued = generateKmsToken((length) => {
      const next = draws.shift();
      if (next === undefined || next.length !== length) throw new Error(`unexpected draw of ${length} bytes`);
      return next;
    });
    expect(issued.id).toBe(Buffer.alloc(12, 1).toString('base64url'));
    expect(Buffer.from([0xf8, ...Array(11).fill(0)]).toString('base64url').startsWith('-')).toBe(true);
  });

  it.each([
    ['another prefix', 'kms2.AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB'],
    ['a short secret', 'kms1.AAAAAAAAAAAAAAAA.BBBB'],
    ['a long secret', `kms1.AAAAAAAAAAAAAAAA.${'B'.repeat(44)}`],
    ['a character outside base64url', 'kms1.AAAAAAAAAAAAAAA+.BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB'],
    ['trailing text', 'kms1.AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB '],
  ])('does not parse %s', (_name, text) => {
    expect(parseKmsToken(text)).toBeUndefined();
  });
});

describe('credentials of other kinds', () => {
  it('generates lsc1.<id>.<secret> license-server credentials of the same shape', () => {
    const issued = generateCredential('lsc1', counter);
    expect(issued.token).toMatch(/^lsc1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{43}$/);
    expect(issued.token).toBe(`lsc1.${issued.id}.${issued.secret}`);
    expect(parseCredential('lsc1', issued.token)).toEqual({ id: issued.id, secret: issued.secret });
  });

  it('never parses a credential as the other kind', () => {
    const kms = generateKmsToken(counter);
    const license = generateCredential('lsc1', counter);
    expect(parseCredential('lsc1', kms.token)).toBeUndefined();
    expect(parseKmsToken(license.token)).toBeUndefined();
    expect(parseCredential('kms1', kms.token)).toEqual({ id: kms.id, secret: kms.secret });
  });

  it('draws each credential from fresh random bytes', () => {
    const a = generateCredential('lsc1', counter);
    const b = generateCredential('lsc1', counter);
    expect(a.id).not.toBe(b.id);
    expect(a.secret).not.toBe(b.secret);
  });
});

describe('legacy PallyCon tokens', () => {
  const encode = (json: string) => Buffer.from(json).toString('base64');
  it.each([
    ['site_id first', encode('{"site_id":"DEMO", "access_key":"secret-1"}')],
    ['access_key first, no space', encode('{"access_key":"secret-1","site_id":"DEMO"}')],
    ['URL-safe alphabet', Buffer.from('{"site_id":"DEMO","access_key":"secret-1??>>"}').toString('base64url')],
  ])('parses %s', (_name, token) => {
    expect(parseLegacyToken(token)).toMatchObject({ siteId: 'DEMO' });
  });

  it.each([
    ['not base64', 'kms1.not.legacy'],
    ['not JSON', encode('site_id=DEMO')],
    ['a JSON array', encode('["DEMO","secret"]')],
    ['a number for access_key', encode('{"site_id":"DEMO","access_key":1}')],
    ['a missing site_id', encode('{"access_key":"secret"}')],
    ['an oversized token', encode(`{"site_id":"DEMO","access_key":"${'a'.repeat(2000)}"}`)],
  ])('rejects %s', (_name, token) => {
    expect(parseLegacyToken(token)).toBeUndefined();
  });
});

describe('credentialLookupId (what failure limits count by)', () => {
  const secret = 'S'.repeat(43);
  const legacy = (json: string) => Buffer.from(json).toString('base64');
  it.each([
    ['a KMS token', `kms1.AAAAAAAAAAAAAAAA.${secret}`, 'kms1.AAAAAAAAAAAAAAAA'],
    ['a license-server credential', `lsc1.BBBBBBBBBBBBBBBB.${secret}`, 'lsc1.BBBBBBBBBBBBBBBB'],
    ['a KMS token with a wrong secret of any length', 'kms1.AAAAAAAAAAAAAAAA.x', 'kms1.AAAAAAAAAAAAAAAA'],
    ['a legacy PallyCon token', legacy('{"site_id":"DEMO","access_key":"guess"}'), 'legacy.DEMO'],
    ['a legacy token naming no valid site ID', legacy('{"site_id":"not a site","access_key":"guess"}'), undefined],
    ['a random string', 'hello', undefined],
    ['a token ID too short', `kms1.AAAA.${secret}`, undefined],
  ])('names %s by its non-secret part', (_name, presented, expected) => {
    expect(credentialLookupId(presented)).toBe(expected);
  });
});
