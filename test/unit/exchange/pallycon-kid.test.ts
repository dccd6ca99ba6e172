import { assignPallyConKid } from '../../../src/exchange/pallycon-kid';

describe('assignPallyConKid', () => {
  const base = assignPallyConKid('DEMO', 'movie-1', 'HD', undefined);

  it('is a lowercase UUID marked as RFC 9562 version 8, variant 10', () => {
    expect(base).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('gives the same KID for the same (site, content, track type, period)', () => {
    expect(assignPallyConKid('DEMO', 'movie-1', 'HD', undefined)).toBe(base);
    expect(assignPallyConKid('DEMO', 'movie-1', 'HD', 7)).toBe(assignPallyConKid('DEMO', 'movie-1', 'HD', 7));
  });

  it.each([
    ['another site', ['DEMX', 'movie-1', 'HD', undefined]],
    ['another content', ['DEMO', 'movie-2', 'HD', undefined]],
    ['another track type', ['DEMO', 'movie-1', 'SD', undefined]],
    ['a period', ['DEMO', 'movie-1', 'HD', 0]],
    ['another period', ['DEMO', 'movie-1', 'HD', 1]],
    // Length prefixes: moving a character between fields must not give the same input.
    ['shifted field boundaries', ['DEMO', 'movie-1H', 'D', undefined]],
  ] as const)('gives a different KID for %s', (_name, [site, content, track, period]) => {
    expect(assignPallyConKid(site, content, track, period)).not.toBe(base);
  });

  it('tells period 0 from no period', () => {
    expect(assignPallyConKid('DEMO', 'movie-1', 'HD', 0)).not.toBe(assignPallyConKid('DEMO', 'movie-1', 'HD', undefined));
  });
});
