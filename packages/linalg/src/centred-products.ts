import * as tf from '@tensorflow/tfjs-core';

/**
 * The second-moment products behind {@link PCA} and {@link PCAStatistics} (internal).
 *
 * Both routes round the centred data to float32 once and multiply it on the active tfjs backend in chunks
 * of {@link CHUNK} along the summed axis; chunk results are summed in float64. Float32 rounding error then
 * grows with the chunk length instead of with the full length (16384 features → 64× smaller error than
 * one float32 matMul), which keeps PCA's subspace at float64 reference precision to ~1e-6.
 *
 * - Gram route (N < D): {@link gramProducts}, `Xc Xcᵀ` `[N, N]` of all rows at once.
 * - Covariance route (N ≥ D): {@link accumulateScatter} adds `Σ (x − c)(x − c)ᵀ` of any number of rows,
 *   chunk by chunk, into a float64 lower triangle: memory is O(D²) + one chunk, whatever N is. The
 *   chunks are the consecutive groups of CHUNK rows, so feeding the rows in batches of any size gives
 *   the same sums as feeding them at once.
 */
export type GramProducts = {
  /** `[nFeatures]` column means in float64. */
  mean: Float64Array;
  /** `[nSamples, nSamples]` = Xc Xcᵀ, row-major, symmetric. */
  product: Float64Array;
  size: number;
  /**
   * The centred data transposed, `[paddedFeatures, nSamples]` float32 row-major (rows past `nFeatures`
   * are zero), ready to form the components `Xcᵀ U`.
   */
  centredTransposed: Float32Array;
  paddedFeatures: number;
};

/** Length of the chunks along the summed axis. */
export const CHUNK = 256;

/** Output rows per product in {@link accumulateScatter} (a block of 1024 × D float32 is read back at a time). */
const ROW_BLOCK = 1024;

/** Centred magnitudes inside [2^-50, 2^50] need no scaling: float32 products of them stay normal and finite. */
const LARGEST_UNSCALED = 2 ** 50;
const SMALLEST_UNSCALED = 2 ** -50;

/** Column means of `[n, d]` row-major `data` in float64. */
export function columnMeans(data: ArrayLike<number>, n: number, d: number): Float64Array {
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    const offset = i * d;
    for (let j = 0; j < d; j++) mean[j]! += data[offset + j]!;
  }
  for (let j = 0; j < d; j++) mean[j]! /= n;
  return mean;
}

/**
 * A power of two near `largest` (a largest |x − centre|) when that lies outside [2^-50, 2^50], else 1.
 * Dividing by it is exact (barring values far below the largest, which float32 cannot resolve anyway),
 * and keeps float32 products from overflowing to Infinity or underflowing to zero.
 */
export function powerOfTwoScale(largest: number): number {
  if (largest === 0 || (largest <= LARGEST_UNSCALED && largest >= SMALLEST_UNSCALED)) return 1;
  return 2 ** Math.round(Math.log2(largest));
}

/** Entries of the packed lower triangle of a `[d, d]` symmetric matrix: row i holds columns 0…i. */
export function packedLength(d: number): number {
  return (d * (d + 1)) / 2;
}

/** Offset of row `i` in a packed lower triangle. */
export function packedRow(i: number): number {
  return (i * (i + 1)) / 2;
}

/**
 * Computes {@link GramProducts} of `[n, d]` row-major float32 `data` (n < d); `onChunk` gets the fraction done.
 * The summed axis (features) is cut into chunks of {@link gramChunk}`(d)` (256, or 1024 once d > 2048: the
 * readback and float64 sum of an n×n product per chunk cost more than the product at 256); only the lower
 * triangle is multiplied (row blocks of {@link ROW_BLOCK} against the columns up to their end).
 */
export function gramProducts(data: Float32Array, n: number, d: number, onChunk?: (fraction: number) => void): GramProducts {
  const mean = columnMeans(data, n, d);
  const chunkLength = gramChunk(d);
  const chunks = Math.ceil(d / chunkLength);
  const padded = chunks * chunkLength;
  // left: [chunks][n][chunkLength] ; right = centredTransposed: [padded][n] (chunk b is rows b·chunkLength…).
  const left = new Float32Array(chunks * n * chunkLength);
  const right = new Float32Array(padded * n);
  // Tiles of TILE samples keep the transposed writes into `right` cache-friendly.
  const TILE = 16;
  for (let i0 = 0; i0 < n; i0 += TILE) {
    const i1 = Math.min(n, i0 + TILE);
    for (let chunk = 0; chunk < chunks; chunk++) {
      const j0 = chunk * chunkLength;
      const j1 = Math.min(d, j0 + chunkLength);
      for (let i = i0; i < i1; i++) {
        const rowOffset = i * d;
        const leftOffset = (chunk * n + i) * chunkLength - j0;
        for (let j = j0; j < j1; j++) left[leftOffset + j] = data[rowOffset + j]! - mean[j]!;
      }
      for (let j = j0; j < j1; j++) {
        const rightOffset = j * n;
        const leftColumn = j - j0;
        for (let i = i0; i < i1; i++) right[rightOffset + i] = left[(chunk * n + i) * chunkLength + leftColumn]!;
      }
    }
  }
  const product = new Float64Array(n * n);
  const block = n * chunkLength;
  for (let b = 0; b < chunks; b++) {
    const c = tf.tensor2d(right.subarray(b * block, (b + 1) * block), [chunkLength, n]);
    try {
      for (let i0 = 0; i0 < n; i0 += ROW_BLOCK) {
        const i1 = Math.min(n, i0 + ROW_BLOCK);
        const partial = tf.tidy(() => {
          const a = tf.tensor2d(left.subarray(b * block + i0 * chunkLength, b * block + i1 * chunkLength), [i1 - i0, chunkLength]);
          return tf.matMul(a, i1 === n ? c : tf.slice(c, [0, 0], [chunkLength, i1]));
        });
        const values = partial.dataSync();
        partial.dispose();
        for (let i = i0; i < i1; i++) {
          const source = (i - i0) * i1;
          const destination = i * n;
          for (let j = 0; j <= i; j++) product[destination + j]! += values[source + j]!;
        }
      }
    } finally {
      c.dispose();
    }
    onChunk?.((b + 1) / chunks);
  }
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) product[j * n + i] = product[i * n + j]!;
  return { mean, product, size: n, centredTransposed: right, paddedFeatures: padded };
}

/** The Gram route's chunk length along the features for `d` features (see {@link gramProducts}). */
export function gramChunk(d: number): number {
  return d > 2048 ? 4 * CHUNK : CHUNK;
}

/** Where {@link accumulateScatter} adds its sums. */
export type ScatterTarget = {
  /**
   * `'packed'`: a packed lower triangle of `packedLength(d)` entries; `'lower'`: the lower triangle of a
   * full `[d, d]` row-major matrix (the upper one is not touched).
   */
  layout: 'packed' | 'lower';
  scatter: Float64Array;
  /** `[d]`, receives `Σ (x − shift)` in float64 (exact differences, not the float32-rounded ones). */
  sum: Float64Array;
};

/**
 * Adds `Σ (x − shift)(x − shift)ᵀ` (lower triangle) and `Σ (x − shift)` over the `n` rows of `[n, d]`
 * row-major float32 `rows` to `target`. The rows are taken in consecutive chunks of {@link CHUNK}: each
 * chunk's centred values are rounded to float32 (divided first by a power of two when their magnitude
 * would overflow or underflow a float32 square; see {@link powerOfTwoScale}), multiplied on the tfjs
 * backend, and the product is added in float64 (times the square of that power of two).
 */
export function accumulateScatter(target: ScatterTarget, rows: Float32Array, n: number, d: number, shift: Float64Array): void {
  const { layout, scatter, sum } = target;
  const centred = new Float64Array(Math.min(n, CHUNK) * d);
  const leftBuffer = new Float32Array(Math.min(n, CHUNK) * d);
  const rightBuffer = new Float32Array(Math.min(n, CHUNK) * d);
  for (let r0 = 0; r0 < n; r0 += CHUNK) {
    const m = Math.min(CHUNK, n - r0);
    let largest = 0;
    for (let r = 0; r < m; r++) {
      const rowOffset = (r0 + r) * d;
      const offset = r * d;
      for (let j = 0; j < d; j++) {
        const value = rows[rowOffset + j]! - shift[j]!;
        centred[offset + j] = value;
        sum[j]! += value;
        const magnitude = Math.abs(value);
        if (magnitude > largest) largest = magnitude;
      }
    }
    const scale = powerOfTwoScale(largest);
    // left = chunkᵀ [d, m] ; right = chunk [m, d] (explicit transposes: on wasm a transposed matMul is slower).
    const left = leftBuffer.subarray(0, d * m);
    const right = rightBuffer.subarray(0, m * d);
    for (let r = 0; r < m; r++) {
      const offset = r * d;
      for (let j = 0; j < d; j++) {
        const value = scale === 1 ? centred[offset + j]! : centred[offset + j]! / scale;
        right[offset + j] = value;
        left[j * m + r] = value;
      }
    }
    const factor = scale * scale;
    const leftTensor = tf.tensor2d(left, [d, m]);
    const rightTensor = tf.tensor2d(right, [m, d]);
    try {
      // Only the lower triangle is needed: output rows [i0, i1) against columns [0, i1), a block at a time
      // (about half the flops of the full product, and a block instead of D² floats read back at once).
      for (let i0 = 0; i0 < d; i0 += ROW_BLOCK) {
        const i1 = Math.min(d, i0 + ROW_BLOCK);
        const partial = tf.tidy(() =>
          tf.matMul(
            i0 === 0 && i1 === d ? leftTensor : tf.slice(leftTensor, [i0, 0], [i1 - i0, m]),
            i1 === d ? rightTensor : tf.slice(rightTensor, [0, 0], [m, i1]),
          ),
        );
        const values = partial.dataSync();
        partial.dispose();
        for (let i = i0; i < i1; i++) {
          const source = (i - i0) * i1;
          const destination = layout === 'packed' ? packedRow(i) : i * d;
          if (factor === 1) {
            for (let j = 0; j <= i; j++) scatter[destination + j]! += values[source + j]!;
          } else {
            for (let j = 0; j <= i; j++) scatter[destination + j]! += values[source + j]! * factor;
          }
        }
      }
    } finally {
      leftTensor.dispose();
      rightTensor.dispose();
    }
  }
}
