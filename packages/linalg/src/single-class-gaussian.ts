import * as tf from '@tensorflow/tfjs-core';
import { columnMeans } from './centred-products';
import { eighSymmetricInPlace } from './eigh';
import type { PCA } from './pca';
import type { PCAStatistics, ProjectedMoments } from './pca-statistics';
import { svd } from './svd';
import { assertEnoughSamples, assertFeatures, readFiniteValues } from './validate';
import { InvalidArgumentError, NotFittedError, ShapeMismatchError } from '@dfm/errors';

/** The largest finite float32. */
const FLOAT32_MAX = 3.4028234663852886e38;
/** Smallest σ a restored state may hold: 1/σ must stay inside float32's range. */
const SMALLEST_SIGMA = 1e-30;

/** Options of {@link SingleClassGaussian}. */
export type SingleClassGaussianOptions = {
  /**
   * Singular values at or below `relativeTolerance × the largest` are dropped (with their directions):
   * they carry no variance, and `log σ` / `1/σ` would be −Infinity / Infinity. Default `1e-6`, about where
   * float32 features stop resolving a direction. The count is {@link SingleClassGaussian.droppedComponents}.
   */
  relativeTolerance?: number;
};

/** Everything a fitted {@link SingleClassGaussian} holds, as typed arrays. r = kept directions. */
export type SingleClassGaussianState = {
  /** k, the number of features. */
  nFeatures: number;
  /** r, the number of kept directions (≤ min(N, k)). */
  rank: number;
  /** `[k]` mean. */
  mean: Float64Array;
  /** `[k, r]` row-major; column j is a unit principal direction of the training data. */
  directions: Float64Array;
  /** `[r]` σ_j: standard deviation along direction j (singular value of the centred data / √N). */
  sigma: Float64Array;
  /** Directions dropped because their σ was zero or near zero. */
  droppedComponents: number;
  /** The option used at fit time. */
  relativeTolerance: number;
};

/** {@link SingleClassGaussianState} with plain number arrays, safe for `JSON.stringify`. */
export type SingleClassGaussianJSON = {
  format: 'dfm-linalg/single-class-gaussian';
  version: 1;
  nFeatures: number;
  rank: number;
  mean: number[];
  directions: number[];
  sigma: number[];
  droppedComponents: number;
  relativeTolerance: number;
};

type Fitted = {
  state: SingleClassGaussianState;
  mean: tf.Tensor1D;
  /** `[k, r]` directions / σ. */
  whitening: tf.Tensor2D;
  /** 2 Σ log σ, in float64. */
  logDeterminantTerm: number;
};

/**
 * A multivariate Gaussian fitted to one class, scoring samples by negative log-likelihood (up to the
 * constant `k·log 2π` and a factor ½): `score(x) = ‖(x − m) U / σ‖² + 2 Σ log σ`, where `m` is the mean and
 * `U`, `σ` come from the thin SVD of the centred data divided by √N (the maximum-likelihood covariance is
 * `U diag(σ²) Uᵀ`). In DFM it is fitted on the PCA projection of the normal features.
 *
 * Layout: `[nSamples, nFeatures]` like every `@dfm/*` API. anomalib's `SingleClassGaussian.fit` takes the
 * transpose `[nFeatures, nSamples]`; here U is the right singular vectors of the `[N, k]` data, which are
 * anomalib's left singular vectors of its `[k, N]` input.
 *
 * Zero or near-zero σ (constant features, N ≤ k) are dropped and counted in {@link droppedComponents};
 * scores stay finite (anomalib returns −Inf/NaN there). The score then lives in the kept subspace.
 *
 * @example
 * const gaussian = new SingleClassGaussian().fit(z);   // z: [N, k]
 * const nll = gaussian.scoreSamples(zTest);            // [B]
 */
export class SingleClassGaussian {
  readonly relativeTolerance: number;
  private fitted: Fitted | undefined;

  constructor(options: SingleClassGaussianOptions = {}) {
    const { relativeTolerance = 1e-6 } = options;
    if (typeof relativeTolerance !== 'number' || !(relativeTolerance >= 0 && relativeTolerance < 1)) {
      throw new InvalidArgumentError(
        `new SingleClassGaussian(): relativeTolerance must be a number in [0, 1) — got ${String(relativeTolerance)}. Use e.g. 1e-6.`,
      );
    }
    this.relativeTolerance = relativeTolerance;
  }

  /** Whether {@link fit} (or `fromState`/`fromJSON`) has run and {@link dispose} has not. */
  get isFitted(): boolean {
    return this.fitted !== undefined;
  }

  /** Directions dropped at fit time because their σ was zero or below `relativeTolerance × max σ`. */
  get droppedComponents(): number {
    return this.require('SingleClassGaussian.droppedComponents').state.droppedComponents;
  }

  /** r, the number of directions kept. */
  get rank(): number {
    return this.require('SingleClassGaussian.rank').state.rank;
  }

  /**
   * Fits mean and covariance on `x` `[nSamples, nFeatures]` (N ≥ 2, finite; the transpose of anomalib's
   * input). The SVD runs in float64 on the host. Replaces (and frees) a previous fit.
   */
  fit(x: tf.Tensor2D): this {
    const caller = 'SingleClassGaussian.fit()';
    assertFeatures(x, caller);
    assertEnoughSamples(x, caller);
    const [n, k] = x.shape;
    const values = readFiniteValues(x, caller);
    const mean = columnMeans(values, n, k);
    const centred = new Float64Array(n * k);
    const scale = 1 / Math.sqrt(n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < k; j++) centred[i * k + j] = (values[i * k + j]! - mean[j]!) * scale;
    }
    const { s, v } = svd({ rows: n, cols: k, data: centred });
    const largest = s[0]!;
    let rank = 0;
    while (rank < s.length && s[rank]! > this.relativeTolerance * largest && s[rank]! > 0) rank++;
    if (rank === 0) {
      throw new InvalidArgumentError(
        `${caller}: features must vary across samples — got ${n} identical samples (all σ are zero). Fit on varied samples.`,
      );
    }
    const directions = new Float64Array(k * rank);
    const r = v.cols;
    for (let i = 0; i < k; i++) for (let j = 0; j < rank; j++) directions[i * rank + j] = v.data[i * r + j]!;
    this.install({
      nFeatures: k,
      rank,
      mean,
      directions,
      sigma: s.slice(0, rank),
      droppedComponents: s.length - rank,
      relativeTolerance: this.relativeTolerance,
    });
    return this;
  }

  /**
   * The Gaussian {@link fit} would give on `[N, k]` data, from the data's sufficient statistics alone: the
   * count N, the mean `m` and the centred scatter `Σ (z − m)(z − m)ᵀ` (e.g. from
   * {@link PCAStatistics.projectedMoments}). `fit` takes the thin SVD of `(z − m)/√N`, whose right singular
   * vectors U and singular values σ are the eigenvectors and the square roots of the eigenvalues of
   * `scatter / N` (the maximum-likelihood covariance `U diag(σ²) Uᵀ`); this takes that eigendecomposition
   * ({@link eigh}, float64) directly. The same σ are dropped (σ ≤ relativeTolerance × max σ, or zero; of the
   * min(N, k) there are), so scores equal `fit`'s up to rounding.
   */
  static fromMoments(moments: ProjectedMoments, options: SingleClassGaussianOptions = {}): SingleClassGaussian {
    const caller = 'SingleClassGaussian.fromMoments()';
    const gaussian = new SingleClassGaussian(options);
    const { nSamples: n, mean, scatter } = moments ?? ({} as Partial<ProjectedMoments>);
    if (!Number.isSafeInteger(n) || (n as number) < 2) {
      throw new InvalidArgumentError(
        `${caller}: at least 2 samples are needed to estimate a variance — got nSamples ${String(n)}. Accumulate more rows.`,
      );
    }
    const k = mean?.length ?? 0;
    if (!(mean instanceof Float64Array) || k < 1 || !(scatter instanceof Float64Array) || scatter.length !== k * k) {
      throw new ShapeMismatchError(
        `${caller}: moments must hold mean [k] and scatter [k, k] as Float64Arrays — got mean of ${String(mean?.length)} and scatter of ${String(scatter?.length)} entries. Pass statistics.projectedMoments(pca).`,
      );
    }
    for (const [name, values] of [['mean', mean], ['scatter', scatter]] as const) {
      for (let i = 0; i < values.length; i++) {
        if (!Number.isFinite(values[i]!)) {
          throw new InvalidArgumentError(`${caller}: moments.${name} must be finite — got ${values[i]} at index ${i}. Remove NaN/Infinity from the data first.`);
        }
      }
    }
    const covariance = Float64Array.from(scatter, (value) => value / (n as number));
    const { values, vectors } = eighSymmetricInPlace(covariance, k);
    const count = Math.min(n as number, k);
    const sigma = Float64Array.from(values.subarray(0, count), (value) => Math.sqrt(Math.max(0, value)));
    const largest = sigma[0]!;
    let rank = 0;
    while (rank < count && sigma[rank]! > gaussian.relativeTolerance * largest && sigma[rank]! > 0) rank++;
    if (rank === 0) {
      throw new InvalidArgumentError(
        `${caller}: features must vary across samples — got ${n} identical samples (all σ are zero). Fit on varied samples.`,
      );
    }
    const directions = new Float64Array(k * rank);
    for (let i = 0; i < k; i++) for (let j = 0; j < rank; j++) directions[i * rank + j] = vectors.data[i * k + j]!;
    gaussian.install({
      nFeatures: k,
      rank,
      mean: mean.slice(),
      directions,
      sigma: sigma.slice(0, rank),
      droppedComponents: count - rank,
      relativeTolerance: gaussian.relativeTolerance,
    });
    return gaussian;
  }

  /**
   * DFM's NLL Gaussian from {@link PCAStatistics}: the same model as
   * `new SingleClassGaussian(options).fit(pca.transform(allRows))`, without the rows.
   *
   * Why the statistics suffice: the Gaussian is fitted on `z = (x − μ) V` (μ, V the PCA's mean and
   * components), a linear map of x, so its sufficient statistics are images of the rows' own: the mean
   * `z̄ = (x̄ − μ) V` and the centred scatter `Σ (z − z̄)(z − z̄)ᵀ = Vᵀ S V`, with x̄ and
   * `S = Σ (x − x̄)(x − x̄)ᵀ` exactly what the statistics hold. For the PCA fitted from the same statistics
   * this is, in exact arithmetic, `z̄ = 0`, `Vᵀ S V = diag(s₁², …, s_k²)` (S's eigenvalues, the squared
   * singular values): U = I and `σ_j = s_j / √N` (fit() estimates the maximum-likelihood covariance, 1/N,
   * not 1/(N − 1)). No extra statistic is needed. The computation nonetheless projects the moments through
   * the PCA's stored float32 μ and V ({@link PCAStatistics.projectedMoments}, O(D²·k) from moments), which
   * is what `transform` applies at scoring time: μ rounded to float32 puts `z̄` off zero by up to 6e-8 ×
   * |x̄| (large next to a small σ when features have a large mean), and components completed past the
   * data's rank have variances that s_j does not describe. Then {@link fromMoments}.
   */
  static fromStatistics(statistics: PCAStatistics, pca: PCA, options: SingleClassGaussianOptions = {}): SingleClassGaussian {
    if (typeof (statistics as Partial<PCAStatistics> | null)?.projectedMoments !== 'function') {
      throw new InvalidArgumentError(
        `SingleClassGaussian.fromStatistics(): statistics must be a PCAStatistics — got ${statistics === null ? 'null' : typeof statistics}. Accumulate features with new PCAStatistics().update(batch).`,
      );
    }
    return SingleClassGaussian.fromMoments(statistics.projectedMoments(pca), options);
  }

  /**
   * Scores `x` `[B, nFeatures]`: `‖(x − m) U / σ‖² + 2 Σ log σ` → `[B]` (caller owns it). Larger = less
   * likely under the fitted Gaussian.
   */
  scoreSamples(x: tf.Tensor2D): tf.Tensor1D {
    const fitted = this.require('SingleClassGaussian.scoreSamples()');
    assertFeatures(x, 'SingleClassGaussian.scoreSamples()', fitted.state.nFeatures);
    return tf.tidy(() => {
      const whitened = tf.matMul(tf.sub(x, fitted.mean), fitted.whitening);
      return tf.add(tf.sum(tf.square(whitened), 1), fitted.logDeterminantTerm) as tf.Tensor1D;
    });
  }

  /** Frees the owned tensors; unfitted afterwards. Safe to call twice. */
  dispose(): void {
    if (this.fitted === undefined) return;
    tf.dispose([this.fitted.mean, this.fitted.whitening]);
    this.fitted = undefined;
  }

  /** A copy of the fitted state as typed arrays. */
  getState(): SingleClassGaussianState {
    const { state } = this.require('SingleClassGaussian.getState()');
    return { ...state, mean: state.mean.slice(), directions: state.directions.slice(), sigma: state.sigma.slice() };
  }

  /** Rebuilds a fitted Gaussian from {@link getState}'s output (copied, validated). */
  static fromState(state: SingleClassGaussianState): SingleClassGaussian {
    const caller = 'SingleClassGaussian.fromState()';
    const gaussian = new SingleClassGaussian({ relativeTolerance: state?.relativeTolerance ?? 1e-6 });
    const { nFeatures: k, rank } = state;
    if (!Number.isInteger(k) || k < 1 || !Number.isInteger(rank) || rank < 1 || rank > k) {
      throw new InvalidArgumentError(
        `${caller}: state.nFeatures and state.rank must be integers with 1 ≤ rank ≤ nFeatures — got ${String(k)} and ${String(rank)}. Pass a state from getState().`,
      );
    }
    const check = (name: string, array: ArrayLike<number> | undefined, length: number) => {
      if (array?.length !== length) {
        throw new ShapeMismatchError(
          `${caller}: state.${name} must have ${length} entries for nFeatures = ${k}, rank = ${rank} — got ${String(array?.length)}. The state is truncated or mixed up.`,
        );
      }
      for (let i = 0; i < length; i++) {
        if (!Number.isFinite(array[i]!)) {
          throw new InvalidArgumentError(`${caller}: state.${name} must be finite — got ${array[i]} at index ${i}. The state is corrupt.`);
        }
      }
    };
    check('mean', state.mean, k);
    check('directions', state.directions, k * rank);
    check('sigma', state.sigma, rank);
    for (const sigma of state.sigma) {
      if (!(sigma > 0)) {
        throw new InvalidArgumentError(`${caller}: state.sigma must be positive — got ${sigma}. The state is corrupt.`);
      }
    }
    // Guards against damaged states that would score NaN or Infinity: the mean is used in float32,
    // directions are unit vectors, and fit() never keeps a σ below relativeTolerance × max σ (or so
    // small that 1/σ leaves float32's range).
    for (let i = 0; i < k; i++) {
      if (Math.abs(state.mean[i]!) > FLOAT32_MAX) {
        throw new InvalidArgumentError(`${caller}: state.mean must fit in float32 — got ${state.mean[i]} at index ${i}. The state is corrupt.`);
      }
    }
    for (let j = 0; j < rank; j++) {
      let norm = 0;
      for (let i = 0; i < k; i++) norm += state.directions[i * rank + j]! ** 2;
      if (!(Math.abs(norm - 1) <= 1e-3)) {
        throw new InvalidArgumentError(
          `${caller}: state.directions must have unit columns — column ${j} has squared norm ${norm}. The state is corrupt.`,
        );
      }
    }
    const largest = Math.max(...state.sigma);
    for (const sigma of state.sigma) {
      if (sigma < gaussian.relativeTolerance * largest || sigma < SMALLEST_SIGMA) {
        throw new InvalidArgumentError(
          `${caller}: state.sigma must be ≥ relativeTolerance × max σ (${gaussian.relativeTolerance} × ${largest}) and ≥ ${SMALLEST_SIGMA} — got ${sigma}; fit() drops such directions. The state is corrupt.`,
        );
      }
    }
    gaussian.install({
      nFeatures: k,
      rank,
      mean: Float64Array.from(state.mean),
      directions: Float64Array.from(state.directions),
      sigma: Float64Array.from(state.sigma),
      droppedComponents: state.droppedComponents ?? 0,
      relativeTolerance: gaussian.relativeTolerance,
    });
    return gaussian;
  }

  /** The fitted state as plain JSON-safe numbers. */
  toJSON(): SingleClassGaussianJSON {
    const { state } = this.require('SingleClassGaussian.toJSON()');
    return {
      format: 'dfm-linalg/single-class-gaussian',
      version: 1,
      nFeatures: state.nFeatures,
      rank: state.rank,
      mean: Array.from(state.mean),
      directions: Array.from(state.directions),
      sigma: Array.from(state.sigma),
      droppedComponents: state.droppedComponents,
      relativeTolerance: state.relativeTolerance,
    };
  }

  /** Rebuilds a fitted Gaussian from {@link toJSON}'s output. */
  static fromJSON(json: SingleClassGaussianJSON): SingleClassGaussian {
    if (typeof json !== 'object' || json === null || json.format !== 'dfm-linalg/single-class-gaussian' || json.version !== 1) {
      throw new InvalidArgumentError(
        `SingleClassGaussian.fromJSON(): expected an object from toJSON() (format 'dfm-linalg/single-class-gaussian', version 1) — got ${typeof json === 'object' && json !== null ? `format ${String(json.format)}, version ${String(json.version)}` : String(json)}. Pass the JSON written by this package.`,
      );
    }
    return SingleClassGaussian.fromState({
      nFeatures: json.nFeatures,
      rank: json.rank,
      mean: Float64Array.from(json.mean ?? []),
      directions: Float64Array.from(json.directions ?? []),
      sigma: Float64Array.from(json.sigma ?? []),
      droppedComponents: json.droppedComponents,
      relativeTolerance: json.relativeTolerance,
    });
  }

  private install(state: SingleClassGaussianState): void {
    const { nFeatures: k, rank } = state;
    const whitening = new Float32Array(k * rank);
    for (let i = 0; i < k; i++) for (let j = 0; j < rank; j++) whitening[i * rank + j] = state.directions[i * rank + j]! / state.sigma[j]!;
    let logDeterminantTerm = 0;
    for (const sigma of state.sigma) logDeterminantTerm += 2 * Math.log(sigma);
    const fitted: Fitted = {
      state,
      mean: tf.tensor1d(Float32Array.from(state.mean)),
      whitening: tf.tensor2d(whitening, [k, rank]),
      logDeterminantTerm,
    };
    this.dispose();
    this.fitted = fitted;
  }

  private require(caller: string): Fitted {
    if (this.fitted === undefined) {
      throw new NotFittedError(
        `${caller}: the SingleClassGaussian must be fitted first — got an unfitted (or disposed) one. Call fit(features), fromState() or fromJSON().`,
      );
    }
    return this.fitted;
  }
}
