import { describe, expect, it } from 'vitest';
import { sortScores } from './sort-scores';

function randomValues(n: number, seed: number): number[] {
  let state = seed;
  const next = () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const specials = [0, -0, 1e-300, -1e-300, 5e-324, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e38, -1e38];
  return Array.from({ length: n }, (_, i) =>
    i < specials.length ? specials[i]! : (next() - 0.5) * 10 ** Math.floor(next() * 12 - 6),
  );
}

describe('sortScores (radix)', () => {
  for (const Ctor of [Float32Array, Float64Array]) {
    it(`sorts ${Ctor.name} exactly like a comparison sort, payload included`, () => {
      const values = Ctor.from(randomValues(5000, 7));
      const payload = Uint32Array.from(values.keys());
      const { values: sorted, payload: moved } = sortScores(values, payload);
      const expected = Array.from(values).sort((a, b) => a - b);
      expect(Array.from(sorted)).toEqual(expected.map((v) => (v === 0 ? 0 : v)));
      // -0 and +0 compare equal with ===, which is how ties are detected downstream.
      expect(Array.from(moved!).every((from, to) => values[from] === sorted[to])).toBe(true);
      expect(new Set(moved).size).toBe(values.length);
    });
  }
  it('does not modify its input', () => {
    const values = new Float64Array([3, -1, 2]);
    sortScores(values);
    expect(Array.from(values)).toEqual([3, -1, 2]);
  });
});
