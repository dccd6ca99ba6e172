import { inOrder } from '../../src/objects';

describe('inOrder', () => {
  const byNumber = (a: number, b: number): number => a - b;

  it.each([
    [[], []],
    [[1], [1]],
    [[2, 1], [1, 2]],
    [[3, 1, 2], [1, 2, 3]],
    [[5, 4, 3, 2, 1], [1, 2, 3, 4, 5]],
    [[1, 3, 2, 3, 1], [1, 1, 2, 3, 3]],
  ])('puts %j in order as %j', (items, expected) => {
    const input = [...items];
    expect(inOrder(input, byNumber)).toEqual(expected);
    expect(input).toEqual(items); // a copy is sorted, never the caller's array
  });

  it('returns the input itself when it is in order already', () => {
    const sorted = [1, 2, 2, 3];
    expect(inOrder(sorted, byNumber)).toBe(sorted);
  });

  it('keeps equal items in their given order', () => {
    const items = [{ k: 2, id: 'a' }, { k: 1, id: 'b' }, { k: 2, id: 'c' }, { k: 1, id: 'd' }];
    expect(inOrder(items, (a, b) => a.k - b.k).map((item) => item.id)).toEqual(['b', 'd', 'a', 'c']);
  });
});
