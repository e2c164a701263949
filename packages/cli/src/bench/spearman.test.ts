import { describe, expect, it } from 'vitest';
import { averageRanks, spearman } from './spearman';

// Reference values: scipy 1.10.1 (Debian's python3-scipy), /usr/bin/python3:
//   from scipy.stats import spearmanr, rankdata
//   a = [0.31, 0.52, 0.52, 0.18, 0.77, 0.52, 0.05, 0.90, 0.18, 0.64]
//   b = [1.2, 2.9, 2.5, 0.7, 3.3, 2.5, 0.7, 4.1, 1.0, 2.5]
//   rankdata(a) → [4, 6, 6, 2.5, 9, 6, 1, 10, 2.5, 8]; rankdata(b) → [4, 8, 6, 1.5, 9, 6, 1.5, 10, 3, 6]
//   spearmanr(a, b).correlation → 0.9406249999999999
//   spearmanr([1, 2, 3, 4], [10, 20, 20, 40]).correlation → 0.9486832980505139
const a = [0.31, 0.52, 0.52, 0.18, 0.77, 0.52, 0.05, 0.9, 0.18, 0.64];
const b = [1.2, 2.9, 2.5, 0.7, 3.3, 2.5, 0.7, 4.1, 1.0, 2.5];

describe('averageRanks', () => {
  it('gives ties the mean of the ranks they span, as scipy rankdata', () => {
    expect(Array.from(averageRanks(a))).toEqual([4, 6, 6, 2.5, 9, 6, 1, 10, 2.5, 8]);
    expect(Array.from(averageRanks(b))).toEqual([4, 8, 6, 1.5, 9, 6, 1.5, 10, 3, 6]);
  });
});

describe('spearman', () => {
  it('matches scipy.stats.spearmanr with ties on both sides', () => {
    expect(spearman(a, b)).toBeCloseTo(0.9406249999999999, 12);
    expect(spearman([1, 2, 3, 4], [10, 20, 20, 40])).toBeCloseTo(0.9486832980505139, 12);
  });

  it('is 1 for the same order and -1 for the reverse', () => {
    expect(spearman(Float64Array.from([3, 1, 2]), [30, 10, 20])).toBeCloseTo(1, 12);
    expect(spearman([3, 1, 2], [1, 3, 2])).toBeCloseTo(-1, 12);
  });

  it('refuses samples of different lengths, naming both', () => {
    expect(() => spearman([1, 2, 3], [1, 2])).toThrow(/^spearman\(\): a and b must be paired samples of the same length ≥ 2 — got lengths 3 and 2\./);
  });
});
