import { describe, expect, it } from 'vitest';
import { labelConnectedComponents } from './connected-components';

const picture = (rows: string[]) => Array.from(rows.join(''), (ch) => (ch === '#' ? 1 : 0));

describe('labelConnectedComponents', () => {
  const mask = picture(['#..#', '.#.#', '....', '##.#']);
  it('joins diagonal neighbours with 8-connectivity (the default)', () => {
    const { count, sizes, labels } = labelConnectedComponents(mask, { height: 4, width: 4 });
    expect(count).toBe(4);
    expect(Array.from(sizes)).toEqual([2, 2, 2, 1]);
    expect(Array.from(labels)).toEqual([1, 0, 0, 2, 0, 1, 0, 2, 0, 0, 0, 0, 3, 3, 0, 4]);
  });
  it('keeps them apart with 4-connectivity', () => {
    const { count, sizes } = labelConnectedComponents(mask, { height: 4, width: 4, connectivity: 4 });
    expect(count).toBe(5);
    expect(Array.from(sizes)).toEqual([1, 2, 1, 2, 1]);
  });
  it('handles an empty and a full mask', () => {
    expect(labelConnectedComponents(new Uint8Array(6), { height: 2, width: 3 }).count).toBe(0);
    const full = labelConnectedComponents(new Uint8Array(6).fill(1), { height: 2, width: 3 });
    expect([full.count, full.sizes[0]]).toEqual([1, 6]);
  });
  it('rejects a wrong size with a fix', () => {
    expect(() => labelConnectedComponents([1, 0], { height: 2, width: 2 })).toThrow(
      /^labelConnectedComponents\(\): mask must hold height·width = 4 values — got 2\. Pass one image's mask/,
    );
  });
});
