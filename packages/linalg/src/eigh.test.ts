import { describe, expect, it } from 'vitest';
import { frobenius, loadFixture, orthonormalityError } from '../test/helpers';
import { eigh } from './eigh';
import { createMatrix64 } from './matrix64';
import { InvalidArgumentError, ShapeMismatchError } from '@dfm/errors';

type EighCase = { name: string; rows: number; cols: number; data: number[]; values: number[] };
const fixture = loadFixture<{ eigh: EighCase[] }>('decompositions.json');

describe('eigh', () => {
  it.each(fixture.eigh.map((c) => [c.name, c] as const))('matches numpy.linalg.eigvalsh on the %s case', (_, c) => {
    const matrix = createMatrix64(c.rows, c.cols, c.data);
    const before = matrix.data.slice();
    const { values, vectors } = eigh(matrix);
    expect(matrix.data).toEqual(before); // input untouched
    const largest = Math.max(...c.values.map(Math.abs));
    for (let i = 0; i < c.values.length; i++) expect(Math.abs(values[i]! - c.values[i]!)).toBeLessThanOrEqual(1e-9 * largest);
    for (let i = 1; i < values.length; i++) expect(values[i]!).toBeLessThanOrEqual(values[i - 1]!);
    expect(orthonormalityError(vectors)).toBeLessThan(1e-10);
    // A V = V Λ
    const n = c.rows;
    let residual = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let k = 0; k < n; k++) sum += c.data[i * n + k]! * vectors.data[k * n + j]!;
        residual = Math.max(residual, Math.abs(sum - values[j]! * vectors.data[i * n + j]!));
      }
    }
    expect(residual).toBeLessThanOrEqual(1e-10 * Math.max(largest, frobenius(matrix) * 1e-3));
  });

  it('takes arrays of rows and returns descending eigenvalues with unit eigenvectors', () => {
    const { values, vectors } = eigh([
      [2, 1],
      [1, 2],
    ]);
    expect(Array.from(values)).toEqual([expect.closeTo(3, 14), expect.closeTo(1, 14)]);
    expect(Math.abs(vectors.data[0]!)).toBeCloseTo(Math.SQRT1_2, 14);
    expect(vectors.data[0]! * vectors.data[2]!).toBeGreaterThan(0); // both entries of [1,1]/√2 share a sign
  });

  it('rejects non-square, empty, non-finite and asymmetric input with clear messages', () => {
    expect(() => eigh([[1, 2, 3]])).toThrow(ShapeMismatchError);
    expect(() => eigh([[1, 2, 3]])).toThrow(/^eigh\(\): matrix must be square \[n, n\] — got \[1,3\]/);
    expect(() => eigh([])).toThrow(InvalidArgumentError);
    expect(() => eigh([[Number.NaN]])).toThrow(/finite — got NaN at \(0, 0\)/);
    expect(() =>
      eigh([
        [1, 2],
        [3, 1],
      ]),
    ).toThrow(/must be symmetric — entries \(1, 0\) and \(0, 1\) differ/);
  });
});

describe('eigh on a cluster of tiny eigenvalues below large ones', () => {
  it('converges (a Gram matrix of duplicated rows: rank 3 of 60)', () => {
    const d = 50;
    const base = Array.from({ length: 3 }, (_, r) => Array.from({ length: d }, (_, j) => Math.sin(1 + r * 7.3 + j * 0.37) * 100));
    const rows = Array.from({ length: 60 }, (_, i) => base[i % 3]!.map((v, j) => v + 1e-7 * Math.cos(i * j)));
    const gram = rows.map((a) => rows.map((b) => a.reduce((s, v, j) => s + v * b[j]!, 0)));
    const sym = gram.map((row, i) => row.map((v, j) => (v + gram[j]![i]!) / 2));
    const { values, vectors } = eigh(sym);
    expect(values[3]! / values[0]!).toBeLessThan(1e-12);
    expect(orthonormalityError(vectors)).toBeLessThan(1e-10);
  });
});
