import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../test/helpers';
import { packedLength, packedRow } from './centred-products';
import { type ShiftedMoments, scatterOperator } from './pca-solver';
import { runSync } from './products';

/** Deterministic pseudo-random values in [-1, 1). */
function values(seed: number, count: number): Float64Array {
  let state = seed >>> 0 || 1;
  return Float64Array.from({ length: count }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 31 - 1;
  });
}

/**
 * The operator the eigensolver uses beyond 512 MiB of dense scatter (D > 8192 in float64): S·q from the packed
 * triangle block by block, without forming S. Checked against S written out densely in float64 and multiplied
 * by a JavaScript triple loop, at sizes that cross its 1024-row blocks.
 */
describe('scatterOperator (S · q without a dense S)', () => {
  beforeAll(() => useBackend('cpu'));
  for (const [d, b, pendingCount] of [
    [7, 3, 0],
    [1500, 5, 0],
    [2100, 4, 3],
  ] as const) {
    it(`D = ${d}, b = ${b}, ${pendingCount} pending rows: equals the dense float64 product within 2e-6 of Σ|S||q| (float32 products on tfjs)`, () => {
      const n = 50;
      const scatter = values(1, packedLength(d));
      for (let i = 0; i < d; i++) scatter[packedRow(i) + i] = Math.abs(scatter[packedRow(i) + i]!) + d; // positive definite enough
      const sum = values(2, d);
      const shift = new Float64Array(d);
      const pending = pendingCount === 0 ? undefined : Float32Array.from(values(3, pendingCount * d));
      const moments: ShiftedMoments = { nSamples: n, nFeatures: d, shift, sum, scatter };
      // Dense S = P (symmetrised) − s sᵀ / N + Cᵀ C, in float64.
      const dense = new Float64Array(d * d);
      for (let i = 0; i < d; i++) {
        for (let j = 0; j <= i; j++) {
          let value = scatter[packedRow(i) + j]! - (sum[i]! * sum[j]!) / n;
          if (pending !== undefined) for (let r = 0; r < pendingCount; r++) value += pending[r * d + i]! * pending[r * d + j]!;
          dense[i * d + j] = value;
          dense[j * d + i] = value;
        }
      }
      const columns = pending === undefined ? undefined : new Float32Array(d * pendingCount);
      if (pending !== undefined && columns !== undefined) for (let r = 0; r < pendingCount; r++) for (let j = 0; j < d; j++) columns[j * pendingCount + r] = pending[r * d + j]!;
      const operator = scatterOperator(moments, columns === undefined ? undefined : { columns, count: pendingCount });
      const q = values(4, d * b);
      const expected = new Float64Array(d * b);
      const magnitude = new Float64Array(d * b);
      for (let i = 0; i < d; i++) {
        for (let k = 0; k < d; k++) {
          const a = dense[i * d + k]!;
          for (let c = 0; c < b; c++) {
            expected[i * b + c]! += a * q[k * b + c]!;
            magnitude[i * b + c]! += Math.abs(a * q[k * b + c]!);
          }
        }
      }
      const scale = 4;
      const got64 = runSync(operator(q, b, scale, 'float64'));
      const got32 = runSync(operator(Float32Array.from(q), b, scale, 'float32'));
      expect(got64).toBeInstanceOf(Float64Array);
      expect(got32).toBeInstanceOf(Float32Array);
      let worst64 = 0;
      let worst32 = 0;
      for (let i = 0; i < d * b; i++) {
        worst64 = Math.max(worst64, Math.abs(got64[i]! * scale - expected[i]!) / magnitude[i]!);
        worst32 = Math.max(worst32, Math.abs(got32[i]! * scale - expected[i]!) / magnitude[i]!);
      }
      // runSync computes float64 requests as float32 chunks on tfjs: this checks the block algebra, not float64 BLAS.
      expect(worst64).toBeLessThan(2e-6);
      expect(worst32).toBeLessThan(2e-6);
    });
  }
});
