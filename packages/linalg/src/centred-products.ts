import * as tf from '@tensorflow/tfjs-core';

/**
 * The float64 mean and the float64-accumulated second-moment matrix of centred float32 data
 * (internal to {@link PCA}).
 *
 * The centred data is rounded to float32 once and multiplied on the active tfjs backend in chunks of
 * {@link CHUNK} along the summed axis; chunk results are summed in float64. Float32 rounding error then
 * grows with the chunk length instead of with the full length (16384 features → 64× smaller error than
 * one float32 matMul), which keeps PCA's subspace at float64 reference precision to ~1e-6.
 */
export type CentredProducts = {
  /** `[nFeatures]` column means in float64. */
  mean: Float64Array;
  /** `'gram'`: `[nSamples, nSamples]` = Xc Xcᵀ; `'covariance'`: `[nFeatures, nFeatures]` = Xcᵀ Xc (unscaled). */
  kind: 'gram' | 'covariance';
  /** The product, row-major, size² entries. */
  product: Float64Array;
  size: number;
  /**
   * `'gram'` only: the centred data transposed, `[paddedFeatures, nSamples]` float32 row-major
   * (rows past `nFeatures` are zero), ready to form the components `Xcᵀ U`.
   */
  centredTransposed?: Float32Array;
  paddedFeatures?: number;
};

/** Length of the chunks along the summed axis. */
export const CHUNK = 256;

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

/** Computes {@link CentredProducts} of `[n, d]` row-major float32 `data`: the Gram matrix when n < d, else the covariance. */
export function centredProducts(data: Float32Array, n: number, d: number): CentredProducts {
  const mean = columnMeans(data, n, d);
  return n < d ? gram(data, n, d, mean) : covariance(data, n, d, mean);
}

function gram(data: Float32Array, n: number, d: number, mean: Float64Array): CentredProducts {
  const chunks = Math.ceil(d / CHUNK);
  const padded = chunks * CHUNK;
  // left: [chunks][n][CHUNK] ; right = centredTransposed: [padded][n] (chunk b is rows b·CHUNK…).
  const left = new Float32Array(chunks * n * CHUNK);
  const right = new Float32Array(padded * n);
  // Tiles of TILE samples keep the transposed writes into `right` cache-friendly.
  const TILE = 16;
  for (let i0 = 0; i0 < n; i0 += TILE) {
    const i1 = Math.min(n, i0 + TILE);
    for (let chunk = 0; chunk < chunks; chunk++) {
      const j0 = chunk * CHUNK;
      const j1 = Math.min(d, j0 + CHUNK);
      for (let i = i0; i < i1; i++) {
        const rowOffset = i * d;
        const leftOffset = (chunk * n + i) * CHUNK - j0;
        for (let j = j0; j < j1; j++) left[leftOffset + j] = data[rowOffset + j]! - mean[j]!;
      }
      for (let j = j0; j < j1; j++) {
        const rightOffset = j * n;
        const leftColumn = j - j0;
        for (let i = i0; i < i1; i++) right[rightOffset + i] = left[(chunk * n + i) * CHUNK + leftColumn]!;
      }
    }
  }
  const product = sumChunkProducts(left, right, chunks, n, CHUNK);
  return { mean, kind: 'gram', product, size: n, centredTransposed: right, paddedFeatures: padded };
}

function covariance(data: Float32Array, n: number, d: number, mean: Float64Array): CentredProducts {
  const chunks = Math.ceil(n / CHUNK);
  // left: [chunks][d][CHUNK] (Xcᵀ per chunk) ; right: [chunks·CHUNK][d] (Xc, zero-padded rows).
  const left = new Float32Array(chunks * d * CHUNK);
  const right = new Float32Array(chunks * CHUNK * d);
  for (let i = 0; i < n; i++) {
    const rowOffset = i * d;
    const chunk = (i / CHUNK) | 0;
    const within = i - chunk * CHUNK;
    for (let j = 0; j < d; j++) {
      const value = data[rowOffset + j]! - mean[j]!;
      left[(chunk * d + j) * CHUNK + within] = value;
      right[rowOffset + j] = value;
    }
  }
  const product = sumChunkProducts(left, right, chunks, d, CHUNK);
  return { mean, kind: 'covariance', product, size: d };
}

/** Σ_b left_b · right_b with left_b `[size, chunk]`, right_b `[chunk, size]`, each product on tfjs, summed in float64. */
function sumChunkProducts(
  left: Float32Array,
  right: Float32Array,
  chunks: number,
  size: number,
  chunk: number,
): Float64Array {
  const product = new Float64Array(size * size);
  const block = size * chunk;
  for (let b = 0; b < chunks; b++) {
    const partial = tf.tidy(() => {
      const a = tf.tensor2d(left.subarray(b * block, (b + 1) * block), [size, chunk]);
      const c = tf.tensor2d(right.subarray(b * block, (b + 1) * block), [chunk, size]);
      return tf.matMul(a, c);
    });
    const values = partial.dataSync();
    partial.dispose();
    for (let i = 0; i < values.length; i++) product[i]! += values[i]!;
  }
  // Symmetrise: the two triangles may differ in the last float32 bits.
  for (let i = 0; i < size; i++) {
    for (let j = 0; j < i; j++) {
      const average = 0.5 * (product[i * size + j]! + product[j * size + i]!);
      product[i * size + j] = average;
      product[j * size + i] = average;
    }
  }
  return product;
}
