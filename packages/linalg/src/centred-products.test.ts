import { describe, expect, it } from 'vitest';
import { seededRandom } from '../test/helpers';
import { gramProducts } from './centred-products';
import type { ProductRequest, ProductWork } from './products';
import { denseKernelsAvailable } from './wasm-kernels';

/** Answers float32 product requests in float64 (rounded to float32 at the end), in order of the summed index. */
function drive<T>(work: ProductWork<T>): T {
  let step = work.next();
  while (!step.done) {
    const { a, b, m, k, n, transposeA, transposeB } = step.value as ProductRequest;
    const out = new Float32Array(m * n);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let p = 0; p < k; p++) sum += (transposeA ? a[p * m + i]! : a[i * k + p]!) * (transposeB ? b[j * k + p]! : b[p * n + j]!);
        out[i * n + j] = sum;
      }
    }
    step = work.next(out);
  }
  return step.value;
}

/** `[n, d]` rows around `offset` with spread `spread`, cut into row blocks of the given sizes. */
function blocksOf(sizes: number[], d: number, offset: number, spread: number, seed: number): Float32Array[] {
  const random = seededRandom(seed);
  return sizes.map((rows) => Float32Array.from({ length: rows * d }, () => offset + spread * (random() - 0.5)));
}

describe.skipIf(!denseKernelsAvailable())('gramProducts: the column sums and the centring in WebAssembly', () => {
  for (const [name, sizes, d, offset, spread] of [
    ['three uneven row blocks, two chunks (the second 44 features wide)', [7, 5, 9], 300, 0.5, 0.01],
    ['fewer features than a chunk (one row is longer than the chunk buffer of 3 rows)', [3], 16, -2, 1],
    ['magnitudes beyond 2^50 (the data divided by a power of two)', [4, 6], 40, 0, 2 ** 60],
  ] as const) {
    it(`gives the JavaScript loops' mean, product and chunks bit for bit: ${name}`, () => {
      const blocks = blocksOf([...sizes], d, offset, spread, d);
      const n = sizes.reduce((sum, rows) => sum + rows, 0);
      const [wasm, js] = [true, false].map((flag) => drive(gramProducts(() => blocks, n, d, 'test', { wasm: flag })));
      expect(Array.from(wasm!.mean)).toEqual(Array.from(js!.mean));
      expect(Array.from(wasm!.product)).toEqual(Array.from(js!.product));
      expect(wasm!.scale).toBe(js!.scale);
      for (let c = 0; c < js!.chunkCount; c++) expect(Array.from(wasm!.chunk(c))).toEqual(Array.from(js!.chunk(c)));
      // And against a float64 reference: the mean exactly as summed in order, the Gram within float32 rounding.
      const rows = blocks.flatMap((block) => Array.from(block));
      const means = Array.from({ length: d }, (_, j) => {
        let sum = 0;
        for (let i = 0; i < n; i++) sum += rows[i * d + j]!;
        return sum / n;
      });
      for (let j = 0; j < d; j++) expect(wasm!.mean[j]).toBe(means[j]! / wasm!.scale);
      let largest = 0;
      let worst = 0;
      for (let r = 0; r < n; r++) {
        for (let c = r; c < n; c++) {
          let dot = 0;
          for (let j = 0; j < d; j++) dot += (rows[r * d + j]! - means[j]!) * (rows[c * d + j]! - means[j]!);
          dot /= wasm!.scale ** 2;
          largest = Math.max(largest, Math.abs(dot));
          worst = Math.max(worst, Math.abs(dot - wasm!.product[r * n + c]!));
        }
      }
      expect(worst).toBeLessThan(1e-5 * largest);
    });
  }

  it('finds a non-finite value as the JavaScript loops do (the same error, naming the sample and feature)', () => {
    const blocks = blocksOf([4, 4], 64, 1, 1, 3);
    blocks[1]![2 * 64 + 17] = Number.NaN;
    const errors = [true, false].map((flag) => {
      try {
        drive(gramProducts(() => blocks, 8, 64, 'test', { wasm: flag }));
        return null;
      } catch (error) {
        return error as Error & { code?: string };
      }
    });
    expect(errors[0]?.code).toBe('E_INVALID_ARGUMENT');
    expect(errors[0]?.message).toContain('NaN at sample 6, feature 17');
    expect(errors[0]?.message).toBe(errors[1]?.message);
  });
});
