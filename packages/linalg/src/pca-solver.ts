import * as tf from '@tensorflow/tfjs-core';
import { accumulateScatter, columnMeans, gramProducts, powerOfTwoScale } from './centred-products';
import { eighSymmetricInPlace } from './eigh';
import type { NComponents, PCAState } from './pca';
import { InvalidArgumentError, formatShape } from '@dfm/errors';

/**
 * The one implementation of PCA's solve (internal): {@link PCA.fit} and {@link PCAStatistics.toPCA} both
 * end here. Rows with N < D go through the N×N Gram matrix ({@link solveRows}); N ≥ D rows, and
 * accumulated statistics, through the D×D scatter matrix ({@link solveMoments}). The k selection, the
 * eigenvalue clamps and the sign convention are shared ({@link finishPCA}).
 */

/**
 * Eigenvalues at or below this fraction of the largest count as zero (for `nComponents: 'all'`). The products
 * run in float32 on the backend, so an exactly rank-deficient input shows eigenvalues up to ~3e-7 of the
 * largest where it has none; this threshold sits above that noise floor. In singular values: directions
 * below 1e-3 × the largest are treated as absent by `'all'` (an integer nComponents still keeps them).
 */
export const ZERO_EIGENVALUE_TOLERANCE = 1e-6;

/** Gram-route components are re-orthonormalised when a kept eigenvalue is below this fraction of the largest. */
const REORTHONORMALISE_BELOW = 1e-4;

/** Whether `nComponents` is a component count (an integer ≥ 1) rather than a ratio or `'all'`. */
export function isCount(nComponents: NComponents): nComponents is number {
  return typeof nComponents === 'number' && Number.isInteger(nComponents) && nComponents >= 1;
}

/** Throws unless an integer `level` fits `min(nSamples, nFeatures)`; `what` names the data in the message. */
export function checkCountFits(level: NComponents, n: number, d: number, caller: string, what: string): void {
  const largest = Math.min(n, d);
  if (isCount(level) && level > largest) {
    throw new InvalidArgumentError(
      `${caller}: nComponents must be at most min(nSamples, nFeatures) = ${largest} — got ${level} for ${what}. Lower nComponents, or pass a variance ratio in (0, 1) or 'all'.`,
    );
  }
}

/**
 * PCA of `[n, d]` row-major float32 rows (finite, n ≥ 2, an integer level ≤ min(n, d) checked by the
 * caller): the Gram route when n < d, else the scatter route (the rows' moments about their own mean).
 */
export function solveRows(raw: Float32Array, n: number, d: number, level: NComponents, caller: string): PCAState {
  if (n < d) return solveGram(raw, n, d, level, caller);
  const shift = columnMeans(raw, n, d);
  const sum = new Float64Array(d);
  const scatter = new Float64Array(d * d);
  accumulateScatter({ layout: 'lower', scatter, sum }, raw, n, d, shift);
  return solveMoments({ nSamples: n, nFeatures: d, shift, sum, scatter }, level, caller);
}

/** Moments about a shift c, as {@link solveMoments} takes them. */
export type ShiftedMoments = {
  nSamples: number;
  nFeatures: number;
  /** `[D]` the shift c. */
  shift: Float64Array;
  /** `[D]` `Σ (x − c)`. */
  sum: Float64Array;
  /** `[D, D]` row-major; its lower triangle holds `Σ (x − c)(x − c)ᵀ`. Overwritten. */
  scatter: Float64Array;
};

/**
 * PCA from the moments of N ≥ D rows about a shift c: mean `μ = c + s/N` and centred scatter
 * `S = Σ (x − μ)(x − μ)ᵀ = Σ (x − c)(x − c)ᵀ − s sᵀ / N` (with `s = Σ (x − c)`), all in float64; then the
 * eigenproblem of S. The subtraction cancels digits in proportion to `N (μ − c)² / S_jj`, the squared
 * distance of the shift from the mean in units of the spread: with c = the mean of the first ≥ D rows
 * (what {@link PCAStatistics} uses) that is ~1/D for stationary data, so nothing is lost; with c = 0 (plain
 * `XᵀX − N μμᵀ`) it is (mean / std)², which for features of mean 1e3 and std 1 wipes out 6 of float64's 16
 * digits, and nearly all of float32's 7 in the backend products.
 */
export function solveMoments(moments: ShiftedMoments, level: NComponents, caller: string): PCAState {
  const { nSamples: n, nFeatures: d, shift, sum, scatter } = moments;
  const mean = new Float64Array(d);
  for (let j = 0; j < d; j++) mean[j] = shift[j]! + sum[j]! / n;
  for (let i = 0; i < d; i++) {
    const offset = i * d;
    const correction = sum[i]! / n;
    if (correction === 0) continue;
    for (let j = 0; j <= i; j++) scatter[offset + j] = scatter[offset + j]! - correction * sum[j]!;
  }
  const { values: eigenvalues, vectors } = eighSymmetricInPlace(scatter, d);
  return finishPCA({
    n,
    d,
    level,
    caller,
    eigenvalues,
    size: d,
    scale: 1,
    mean,
    components: (k) => {
      const components = new Float64Array(d * k);
      for (let i = 0; i < d; i++) for (let j = 0; j < k; j++) components[i * k + j] = vectors.data[i * d + j]!;
      return { components, computed: k };
    },
  });
}

/** PCA of n < d rows through the n×n Gram matrix of the centred rows. */
function solveGram(raw: Float32Array, n: number, d: number, level: NComponents, caller: string): PCAState {
  // Features of extreme magnitude (|x − mean| beyond 2^±50) are scaled by a power of two (exact) so
  // the float32 products neither overflow to Infinity nor underflow to zero; results are unscaled below.
  const scale = magnitudeScale(raw, n, d);
  const values = scale === 1 ? raw : raw.map((value) => value / scale);
  const products = gramProducts(values, n, d);
  const { values: eigenvalues, vectors } = eighSymmetricInPlace(products.product, n);
  return finishPCA({
    n,
    d,
    level,
    caller,
    eigenvalues,
    size: n,
    scale,
    mean: products.mean,
    components: (k, nonZero, lambda) => {
      // V = Xcᵀ U Λ^(−1/2), on the backend; zero-variance columns are completed by finishPCA.
      const weights = new Float32Array(n * k);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < Math.min(k, nonZero); j++) weights[i * k + j] = vectors.data[i * n + j]! / Math.sqrt(lambda[j]!);
      }
      const padded = products.paddedFeatures;
      const product = tf.tidy(() =>
        tf.matMul(tf.tensor2d(products.centredTransposed, [padded, n]), tf.tensor2d(weights, [n, k])),
      );
      const raw = product.dataSync();
      product.dispose();
      const components = new Float64Array(d * k);
      for (let i = 0; i < d * k; i++) components[i] = raw[i]!;
      const computed = Math.min(k, nonZero);
      // Xcᵀ U Λ^(−1/2) amplifies the float32 error of the Gram by 1/√(λᵢλⱼ): restore orthonormality when
      // small eigenvalues are kept (leading directions are unchanged by the triangular correction).
      if (computed > 1 && lambda[computed - 1]! < REORTHONORMALISE_BELOW * lambda[0]!) {
        choleskyOrthonormalise(components, d, k, computed);
      }
      return { components, computed };
    },
  });
}

type FinishInput = {
  n: number;
  d: number;
  level: NComponents;
  caller: string;
  /** Descending eigenvalues of the (scaled) centred product, `size` of them. */
  eigenvalues: Float64Array;
  size: number;
  /** The power of two the data was divided by before the product (1 = none). */
  scale: number;
  /** `[d]` float64 mean (scaled like the data). */
  mean: Float64Array;
  /** The first k components `[d, k]` row-major, and how many of them are computed (the rest are completed). */
  components: (k: number, nonZero: number, lambda: Float64Array) => { components: Float64Array; computed: number };
};

/** Clamps the eigenvalues, picks k, builds unit components with the sign convention, and the state. */
function finishPCA(input: FinishInput): PCAState {
  const { n, d, level, caller, eigenvalues, size, scale } = input;
  // Centred data has rank ≤ N − 1: eigenvalues past that are rounding noise.
  const rank = Math.min(n - 1, d);
  const lambda = new Float64Array(size);
  for (let j = 0; j < size; j++) lambda[j] = j < rank ? Math.max(0, eigenvalues[j]!) : 0;
  let total = 0;
  for (let j = 0; j < size; j++) total += lambda[j]!;
  if (!(total > 0)) {
    throw new InvalidArgumentError(
      `${caller}: features must vary across samples — got ${formatShape([n, d])} with zero total variance (all samples identical). Fit on varied samples.`,
    );
  }
  let nonZero = 0;
  while (nonZero < size && lambda[nonZero]! > ZERO_EIGENVALUE_TOLERANCE * lambda[0]!) nonZero++;
  const k = chooseK(level, lambda, total, nonZero);
  const { components, computed } = input.components(k, nonZero, lambda);
  completeOrthonormal(components, d, k, computed);
  flipSigns(components, d, k);
  return {
    nComponents: level,
    nFeatures: d,
    k,
    mean: Float32Array.from(input.mean, (value) => value * scale),
    components: Float32Array.from(components),
    singularValues: lambda.slice(0, k).map((value) => Math.sqrt(value) * scale),
    explainedVarianceRatio: lambda.slice(0, k).map((value) => value / total),
    explainedVariance: lambda.slice(0, k).map((value) => (value * scale * scale) / (n - 1)),
    nSamples: n,
  };
}

/** The number of components for `level` given the descending eigenvalues (sklearn's rule, see {@link PCAOptions}). */
function chooseK(level: NComponents, lambda: Float64Array, total: number, nonZero: number): number {
  if (isCount(level)) return level;
  if (level === 'all') return Math.max(1, nonZero);
  let cumulative = 0;
  let below = 0;
  for (let j = 0; j < lambda.length; j++) {
    cumulative += lambda[j]! / total;
    if (cumulative <= level) below++;
    else break;
  }
  return Math.max(1, Math.min(below + 1, nonZero));
}

/**
 * Makes columns `from…k−1` of the `[d, k]` row-major float64 `basis` orthonormal to the previous ones
 * (classical Gram–Schmidt, twice), starting from canonical unit vectors. Columns `< from` are kept.
 */
function completeOrthonormal(basis: Float64Array, d: number, k: number, from: number): void {
  const column = new Float64Array(d);
  const best = new Float64Array(d);
  for (let j = from; j < k; j++) {
    // The first canonical vector with a large part outside the span so far, else the largest one.
    let bestNorm = 0;
    for (let candidate = 0; candidate < d && bestNorm <= 0.5; candidate++) {
      column.fill(0);
      column[candidate] = 1;
      for (let pass = 0; pass < 2; pass++) {
        for (let q = 0; q < j; q++) {
          let dot = 0;
          for (let i = 0; i < d; i++) dot += basis[i * k + q]! * column[i]!;
          for (let i = 0; i < d; i++) column[i] = column[i]! - dot * basis[i * k + q]!;
        }
      }
      let norm = 0;
      for (let i = 0; i < d; i++) norm += column[i]! * column[i]!;
      norm = Math.sqrt(norm);
      if (norm > bestNorm) {
        bestNorm = norm;
        best.set(column);
      }
    }
    for (let i = 0; i < d; i++) basis[i * k + j] = best[i]! / bestNorm;
  }
}

/**
 * Cholesky QR of the first `count` columns of the `[d, k]` float64 `basis`, in place: `B ← B R⁻¹` with
 * `BᵀB = RᵀR`. The products run on the tfjs backend; the Cholesky factor in float64.
 */
function choleskyOrthonormalise(basis: Float64Array, d: number, k: number, count: number): void {
  const columns = new Float32Array(d * count);
  const rows = new Float32Array(count * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < count; j++) {
      const value = basis[i * k + j]!;
      columns[i * count + j] = value;
      rows[j * d + i] = value;
    }
  }
  const gramTensor = tf.tidy(() => tf.matMul(tf.tensor2d(rows, [count, d]), tf.tensor2d(columns, [d, count])));
  const gram = Float64Array.from(gramTensor.dataSync());
  gramTensor.dispose();
  // Upper-triangular R with gram = RᵀR.
  const r = new Float64Array(count * count);
  for (let j = 0; j < count; j++) {
    for (let i = 0; i <= j; i++) {
      let sum = gram[i * count + j]!;
      for (let p = 0; p < i; p++) sum -= r[p * count + i]! * r[p * count + j]!;
      if (i === j) {
        if (!(sum > 0)) return; // not positive definite: leave the basis as computed
        r[i * count + i] = Math.sqrt(sum);
      } else {
        r[i * count + j] = sum / r[i * count + i]!;
      }
    }
  }
  // R⁻¹, upper triangular.
  const inverse = new Float64Array(count * count);
  for (let j = 0; j < count; j++) {
    inverse[j * count + j] = 1 / r[j * count + j]!;
    for (let i = j - 1; i >= 0; i--) {
      let sum = 0;
      for (let p = i + 1; p <= j; p++) sum += r[i * count + p]! * inverse[p * count + j]!;
      inverse[i * count + j] = -sum / r[i * count + i]!;
    }
  }
  const product = tf.tidy(() =>
    tf.matMul(tf.tensor2d(columns, [d, count]), tf.tensor2d(Float32Array.from(inverse), [count, count])),
  );
  const values = product.dataSync();
  product.dispose();
  for (let i = 0; i < d; i++) for (let j = 0; j < count; j++) basis[i * k + j] = values[i * count + j]!;
}

/** Flips each column of the `[d, k]` basis so its largest-magnitude entry is positive (row-major passes). */
function flipSigns(basis: Float64Array, d: number, k: number): void {
  const largest = new Float64Array(k);
  for (let i = 0; i < d; i++) {
    const offset = i * k;
    for (let j = 0; j < k; j++) {
      const value = basis[offset + j]!;
      if (Math.abs(value) > Math.abs(largest[j]!)) largest[j] = value;
    }
  }
  const signs = largest.map((value) => (value < 0 ? -1 : 1));
  if (signs.every((sign) => sign === 1)) return;
  for (let i = 0; i < d; i++) {
    const offset = i * k;
    for (let j = 0; j < k; j++) basis[offset + j] = basis[offset + j]! * signs[j]!;
  }
}

/** {@link powerOfTwoScale} of the largest |x − mean| over `[n, d]` rows. */
function magnitudeScale(values: Float32Array, n: number, d: number): number {
  const mean = columnMeans(values, n, d);
  let largest = 0;
  for (let i = 0; i < n; i++) {
    const offset = i * d;
    for (let j = 0; j < d; j++) largest = Math.max(largest, Math.abs(values[offset + j]! - mean[j]!));
  }
  return powerOfTwoScale(largest);
}
