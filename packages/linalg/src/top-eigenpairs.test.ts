import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, loadFixture, useBackend } from '../test/helpers';
import { runSync } from './products';
import { type RowWriter, topEigenpairs } from './top-eigenpairs';

type EighCase = { name: string; rows: number; cols: number; data: number[]; values: number[] };
const fixture = loadFixture<{ eigh: EighCase[] }>('decompositions.json');
const byName = (name: string) => fixture.eigh.find((c) => c.name === name)!;

/** M² of a fixture matrix: positive semi-definite, eigenvalues = numpy's eigenvalues squared. */
function squared(c: EighCase): { matrix: Float64Array; values: number[] } {
  const n = c.rows;
  const matrix = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let k = 0; k < n; k++) sum += c.data[i * n + k]! * c.data[k * n + j]!;
      matrix[i * n + j] = sum;
    }
  }
  return { matrix, values: c.values.map((v) => v * v).sort((a, b) => b - a) };
}

function writer(matrix: Float64Array, n: number): RowWriter {
  return function* (i0, i1, scale, out) {
    for (let i = 0; i < (i1 - i0) * n; i++) out[i] = matrix[i0 * n + i]! / scale;
    yield* []; // a writer may yield products; this one needs none
  };
}

function traceAndLargest(matrix: Float64Array, n: number): { trace: number; largestDiagonal: number } {
  let trace = 0;
  let largestDiagonal = 0;
  for (let i = 0; i < n; i++) {
    trace += matrix[i * n + i]!;
    largestDiagonal = Math.max(largestDiagonal, matrix[i * n + i]!);
  }
  return { trace, largestDiagonal };
}

describe.each(BACKENDS)('topEigenpairs (subspace iteration) on the %s backend', (backend) => {
  beforeAll(() => useBackend(backend));

  it.each(['random', 'badly-scaled'])('the leading eigenvalues of the %s fixture (squared) match numpy to float32 precision', (name) => {
    const c = byName(name);
    const n = c.rows;
    const { matrix, values } = name === 'random' ? squared(c) : { matrix: Float64Array.from(c.data), values: c.values };
    const result = runSync(topEigenpairs(n, { writeRows: writer(matrix, n) }, { rule: { kind: 'count', count: 3 }, ...traceAndLargest(matrix, n), maxBlock: n }));
    expect(result).not.toBeNull();
    const { values: theta, vectors, block, needed } = result!;
    expect(needed).toBe(3);
    for (let i = 0; i < 3; i++) expect(Math.abs(theta[i]! - values[i]!)).toBeLessThanOrEqual(1e-5 * values[0]!);
    // Unit Ritz vectors with A u = θ u to float32 precision.
    for (let j = 0; j < 3; j++) {
      let norm = 0;
      let residual = 0;
      for (let i = 0; i < n; i++) {
        norm += vectors[i * block + j]! ** 2;
        let sum = 0;
        for (let k = 0; k < n; k++) sum += matrix[i * n + k]! * vectors[k * block + j]!;
        residual += (sum - theta[j]! * vectors[i * block + j]!) ** 2;
      }
      expect(Math.abs(norm - 1)).toBeLessThan(1e-5);
      expect(Math.sqrt(residual)).toBeLessThan(1e-4 * values[0]!);
    }
  });

  it('a variance ratio needs the smallest k whose eigenvalues pass level × the exact trace (numpy values)', () => {
    const { matrix, values } = squared(byName('random'));
    const n = 25;
    const total = values.reduce((a, b) => a + b, 0);
    let cumulative = 0;
    let expected = 0;
    while (cumulative / total <= 0.5) cumulative += values[expected++]!;
    const result = runSync(topEigenpairs(n, { writeRows: writer(matrix, n) }, { rule: { kind: 'ratio', level: 0.5 }, ...traceAndLargest(matrix, n), maxBlock: n }));
    expect(result?.needed).toBe(expected);
  });

  it('gives up (null) when the block would exceed maxBlock, and leaks no tensors either way', () => {
    const { matrix } = squared(byName('random'));
    const n = 25;
    const before = tf.memory().numTensors;
    expect(runSync(topEigenpairs(n, { writeRows: writer(matrix, n) }, { rule: { kind: 'count', count: 10 }, ...traceAndLargest(matrix, n), maxBlock: 12 }))).toBeNull();
    for (let i = 0; i < 5; i++) runSync(topEigenpairs(n, { writeRows: writer(matrix, n) }, { rule: { kind: 'count', count: 2 }, ...traceAndLargest(matrix, n), maxBlock: n }));
    expect(tf.memory().numTensors).toBe(before);
  });
});
