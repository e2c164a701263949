import { describe, expect, it } from 'vitest';
import { frobenius, loadFixture, orthonormalityError, reconstructionError, seededRandom } from '../test/helpers';
import { createMatrix64 } from './matrix64';
import { svd } from './svd';
import { InvalidArgumentError } from '@dfm/errors';

type SvdCase = { name: string; rows: number; cols: number; data: number[]; singularValues: number[] };
const fixture = loadFixture<{ svd: SvdCase[] }>('decompositions.json');

describe('svd', () => {
  it.each(fixture.svd.map((c) => [c.name, c] as const))('matches numpy.linalg.svd on the %s case', (_, c) => {
    const a = createMatrix64(c.rows, c.cols, c.data);
    const before = a.data.slice();
    const { u, s, v } = svd(a);
    expect(a.data).toEqual(before);
    const r = Math.min(c.rows, c.cols);
    expect([u.rows, u.cols, s.length, v.rows, v.cols]).toEqual([c.rows, r, r, c.cols, r]);
    const largest = c.singularValues[0]!;
    for (let i = 0; i < r; i++) expect(Math.abs(s[i]! - c.singularValues[i]!)).toBeLessThanOrEqual(1e-9 * largest);
    expect(reconstructionError(a, u, s, v)).toBeLessThanOrEqual(1e-10 * frobenius(a));
    expect(orthonormalityError(u)).toBeLessThanOrEqual(1e-10);
    expect(orthonormalityError(v)).toBeLessThanOrEqual(1e-10);
  });

  it('handles zero, single-entry and rank-one matrices', () => {
    const zero = svd(createMatrix64(4, 3));
    expect(Array.from(zero.s)).toEqual([0, 0, 0]);
    expect(orthonormalityError(zero.u)).toBe(0);
    const single = svd([[-2]]);
    expect(single.s[0]).toBe(2);
    expect(single.u.data[0]! * single.v.data[0]!).toBe(-1);
    const random = seededRandom(3);
    const x = Array.from({ length: 7 }, () => random());
    const y = Array.from({ length: 5 }, () => random());
    const rankOne = svd(x.map((xi) => y.map((yj) => xi * yj)));
    expect(rankOne.s[1]!).toBeLessThan(1e-14 * rankOne.s[0]!);
    expect(orthonormalityError(rankOne.u)).toBeLessThan(1e-12);
  });

  it('rejects empty and non-finite input, and full: true', () => {
    expect(() => svd([])).toThrow(InvalidArgumentError);
    expect(() => svd([[1, Number.POSITIVE_INFINITY]])).toThrow(/^svd\(\): matrix entries must be finite — got Infinity at \(0, 1\)/);
    expect(() => svd([[1]], { full: true as unknown as false })).toThrow(/only the thin SVD/);
  });
});
