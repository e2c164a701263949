import * as tf from '@tensorflow/tfjs-core';
import { checkCountFits, type PCAProgressCallback, solveRows } from './pca-solver';
import type { PCAStatistics } from './pca-statistics';
import { checkProducts, type MatrixProducts, runAsync, runSync } from './products';
import { assertEnoughSamples, assertFeatures, tensorRows } from './validate';
import { InvalidArgumentError, NotFittedError, ShapeMismatchError, formatShape } from '@dfm/errors';

/**
 * How many components {@link PCA} keeps. One meaning per value, the same in `PCA.nComponents`,
 * `DFMModel.nComps` and `Dfm.pcaLevel` (anomalib's `n_comps` / `pca_level`):
 * - a number in `(0, 1)`: a variance ratio — the smallest k whose cumulative explained-variance ratio
 *   exceeds it (sklearn's count: `searchsorted(cumsum, level, side='right') + 1`);
 * - an integer ≥ 1: exactly that many components (`1` = ONE component, as sklearn's `n_components=1`;
 *   anomalib reads every value ≤ 1, the integer 1 included, as a variance ratio); at most
 *   `min(nSamples, nFeatures)`;
 * - `'all'`: every component with non-zero variance (the numerical rank of the centred data; sklearn's
 *   `n_components=None` also keeps the zero-variance ones, which score nothing).
 */
export type NComponents = number | 'all';

export { type PCAProgress, type PCAProgressCallback, ZERO_EIGENVALUE_TOLERANCE } from './pca-solver';

/** Options of one fit ({@link PCA.fit}, {@link PCAStatistics.toPCA}). */
export type PCAFitOptions = {
  /**
   * Called synchronously during the fit: `{ phase: 'accumulating', fraction }` while the second-moment
   * products run (PCA.fit only: statistics accumulated theirs in `update`), then `{ phase: 'solving' }` and
   * `{ phase: 'solving', iteration }` after each subspace iteration. For progress bars on long fits.
   */
  onProgress?: PCAProgressCallback;
};

/**
 * Options of the asynchronous fits ({@link PCA.fitAsync}, {@link PCAStatistics.toPCAAsync}): those of
 * {@link PCAFitOptions}, and where the products run.
 */
export type PCAAsyncFitOptions = PCAFitOptions & {
  /**
   * Runs the heavy products (see `products.ts`), e.g. `await onnxMatrixProducts()` from `@dfm/backbone`
   * (onnxruntime-node's BLAS on every core). Omitted: the active tfjs backend, as {@link PCA.fit}.
   */
  products?: MatrixProducts;
};

/** Options of {@link PCA}. */
export type PCAOptions = {
  /** See {@link NComponents}: a ratio in (0, 1), an integer count ≥ 1, or `'all'`. */
  nComponents: NComponents;
};

/**
 * Everything a fitted {@link PCA} holds, as typed arrays (for binary model files). `k` = kept components.
 */
export type PCAState = {
  /** The `nComponents` option the model was built with. */
  nComponents: NComponents;
  /** D, the number of features. */
  nFeatures: number;
  /** The number of kept components. */
  k: number;
  /** `[D]` feature means. */
  mean: Float32Array;
  /** `[D, k]` row-major; column j is the j-th principal axis (unit length). */
  components: Float32Array;
  /** `[k]` singular values of the centred data, descending. */
  singularValues: Float64Array;
  /** `[k]` each kept component's share of the total variance. */
  explainedVarianceRatio: Float64Array;
  /** `[k]` each kept component's variance, `singularValue² / (nSamples − 1)`. */
  explainedVariance: Float64Array;
  /** N, the number of samples fitted. */
  nSamples: number;
};

/** {@link PCAState} with plain number arrays, safe for `JSON.stringify`. */
export type PCAJSON = {
  format: 'dfm-linalg/pca';
  version: 1;
  nComponents: NComponents;
  nFeatures: number;
  k: number;
  nSamples: number;
  mean: number[];
  components: number[];
  singularValues: number[];
  explainedVarianceRatio: number[];
  explainedVariance: number[];
};

type Fitted = {
  state: PCAState;
  mean: tf.Tensor1D;
  components: tf.Tensor2D;
  componentsTransposed: tf.Tensor2D;
};

/**
 * Principal component analysis of `[nSamples, nFeatures]` float32 features, exact to float64 reference
 * precision. The solver works on the smaller of the Gram matrix `Xc Xcᵀ` (`[N, N]`, when N < D) and the
 * covariance `Xcᵀ Xc` (`[D, D]`): the products run on the active tfjs backend in float32 chunks summed in
 * float64; the eigenproblem in float64 arithmetic: randomized subspace iteration for the leading components
 * (products on the backend, Rayleigh–Ritz in float64; see `pca-solver.ts`), or the full {@link eigh} for
 * `'all'`, large counts and ratios that need more than about a quarter of the components. Inputs are never modified; the features are centred
 * on a copy (anomalib's PCA centres its input in place). To fit on more rows than fit in memory, or on
 * shards fitted apart, accumulate {@link PCAStatistics} and call {@link PCA.fromStatistics}: the same solver.
 *
 * Component signs: the largest-magnitude entry of each component is positive.
 * Ownership: a fitted PCA owns `mean` and `components` (the getters return those tensors: do not dispose
 * them; call {@link PCA.dispose}). Tensors returned by `transform`, `inverseTransform`, `residual` and
 * `fitTransform` belong to the caller.
 *
 * @example
 * const pca = new PCA({ nComponents: 0.97 }).fit(features);    // features: [N, D]
 * const z = pca.transform(features);                            // [N, k]
 * const fre = pca.residual(features).square().sum(1);           // [N] feature reconstruction error
 */
export class PCA {
  /** The `nComponents` option. */
  readonly nComponentsOption: NComponents;
  private fitted: Fitted | undefined;

  constructor(options: PCAOptions) {
    const nComponents = (options as Partial<PCAOptions> | undefined)?.nComponents;
    checkNComponents(nComponents, 'new PCA()');
    this.nComponentsOption = nComponents;
  }

  /** Whether {@link PCA.fit} (or `fromState`/`fromJSON`) has run and {@link PCA.dispose} has not. */
  get isFitted(): boolean {
    return this.fitted !== undefined;
  }

  /**
   * Fits the model on `x` `[nSamples, nFeatures]` (N ≥ 2, finite). Replaces (and frees) a previous fit.
   * `options.onProgress` reports the phases (see {@link PCAFitOptions}).
   * @returns `this`.
   */
  fit(x: tf.Tensor2D, options: PCAFitOptions = {}): this {
    const caller = 'PCA.fit()';
    const onProgress = checkProgressCallback(options?.onProgress, caller);
    assertFeatures(x, caller);
    assertEnoughSamples(x, caller);
    const [n, d] = x.shape;
    checkCountFits(this.nComponentsOption, n, d, caller, `features ${formatShape(x.shape)}`);
    this.install(runSync(solveRows(tensorRows(x, caller), n, d, this.nComponentsOption, caller, onProgress)));
    return this;
  }

  /**
   * {@link PCA.fit} with the products on `options.products` (e.g. onnxruntime's multi-threaded BLAS), awaited:
   * the same model to float32 rounding. Without `products`, the tfjs backend (then it is `fit`, in a promise).
   * @returns `this`.
   */
  async fitAsync(x: tf.Tensor2D, options: PCAAsyncFitOptions = {}): Promise<this> {
    const caller = 'PCA.fitAsync()';
    const onProgress = checkProgressCallback(options?.onProgress, caller);
    const products = checkProducts(options?.products, caller);
    assertFeatures(x, caller);
    assertEnoughSamples(x, caller);
    const [n, d] = x.shape;
    checkCountFits(this.nComponentsOption, n, d, caller, `features ${formatShape(x.shape)}`);
    const work = solveRows(tensorRows(x, caller), n, d, this.nComponentsOption, caller, onProgress, products === undefined ? 'float32' : 'float64');
    this.install(products === undefined ? runSync(work) : await runAsync(work, products));
    return this;
  }

  /**
   * A fitted PCA from accumulated {@link PCAStatistics} — the same model as `new PCA({ nComponents }).fit(rows)`
   * on all the rows the statistics saw (see {@link PCAStatistics.toPCA}, which this calls).
   */
  static fromStatistics(statistics: PCAStatistics, options: PCAOptions): PCA {
    if (typeof (statistics as Partial<PCAStatistics> | null)?.toPCA !== 'function') {
      throw new InvalidArgumentError(
        `PCA.fromStatistics(): statistics must be a PCAStatistics — got ${statistics === null ? 'null' : typeof statistics}. Accumulate features with new PCAStatistics().update(batch).`,
      );
    }
    return statistics.toPCA(options);
  }

  /** Projects `x` `[B, D]` onto the components: `(x − mean) · components` → `[B, k]` (caller owns it). */
  transform(x: tf.Tensor2D): tf.Tensor2D {
    const fitted = this.require('PCA.transform()');
    assertFeatures(x, 'PCA.transform()', fitted.state.nFeatures);
    return tf.tidy(() => tf.matMul(tf.sub(x, fitted.mean), fitted.components));
  }

  /** Maps `z` `[B, k]` back to feature space, mean included: `z · componentsᵀ + mean` → `[B, D]`. */
  inverseTransform(z: tf.Tensor2D): tf.Tensor2D {
    const caller = 'PCA.inverseTransform()';
    const fitted = this.require(caller);
    if (!(z instanceof tf.Tensor) || z.rank !== 2 || z.shape[1] !== fitted.state.k) {
      throw new ShapeMismatchError(
        `${caller}: projections must be [B, k] = [B, ${fitted.state.k}] — got ${z instanceof tf.Tensor ? formatShape(z.shape) : typeof z}. Pass the output of transform().`,
      );
    }
    return tf.tidy(() => tf.add(tf.matMul(z, fitted.componentsTransposed), fitted.mean));
  }

  /**
   * The reconstruction residual `x − x̂` `[B, D]`, computed as `(x − μ) − ((x − μ)V)Vᵀ` so the large mean
   * never cancels in float32. `residual(x).square().sum(1)` is DFM's feature reconstruction error (FRE).
   */
  residual(x: tf.Tensor2D): tf.Tensor2D {
    const fitted = this.require('PCA.residual()');
    assertFeatures(x, 'PCA.residual()', fitted.state.nFeatures);
    return tf.tidy(() => {
      const centred = tf.sub(x, fitted.mean);
      const projected = tf.matMul(tf.matMul(centred, fitted.components), fitted.componentsTransposed);
      return tf.sub(centred, projected);
    });
  }

  /** `fit(x)` then `transform(x)`. */
  fitTransform(x: tf.Tensor2D): tf.Tensor2D {
    return this.fit(x).transform(x);
  }

  /** k, the number of kept components. */
  get numComponents(): number {
    return this.require('PCA.numComponents').state.k;
  }

  /** `[D]` feature means (owned by the PCA: do not dispose). */
  get mean(): tf.Tensor1D {
    return this.require('PCA.mean').mean;
  }

  /** `[D, k]` principal axes as columns (owned by the PCA: do not dispose). */
  get components(): tf.Tensor2D {
    return this.require('PCA.components').components;
  }

  /** `[k]` singular values of the centred training data (a copy). */
  get singularValues(): Float64Array {
    return this.require('PCA.singularValues').state.singularValues.slice();
  }

  /** `[k]` explained-variance ratios of the kept components (a copy). */
  get explainedVarianceRatio(): Float64Array {
    return this.require('PCA.explainedVarianceRatio').state.explainedVarianceRatio.slice();
  }

  /** `[k]` explained variances `s² / (N − 1)` of the kept components (a copy). */
  get explainedVariance(): Float64Array {
    return this.require('PCA.explainedVariance').state.explainedVariance.slice();
  }

  /** Frees the owned tensors; the PCA is unfitted afterwards. Safe to call twice. */
  dispose(): void {
    if (this.fitted === undefined) return;
    tf.dispose([this.fitted.mean, this.fitted.components, this.fitted.componentsTransposed]);
    this.fitted = undefined;
  }

  /** A copy of the fitted state as typed arrays. */
  getState(): PCAState {
    return copyState(this.require('PCA.getState()').state);
  }

  /** Rebuilds a fitted PCA from {@link PCA.getState}'s output (copied, validated). */
  static fromState(state: PCAState): PCA {
    const pca = new PCA({ nComponents: state.nComponents });
    pca.install(copyState(checkState(state, 'PCA.fromState()')));
    return pca;
  }

  /**
   * A fitted PCA on a state this package's solver just made (PCAStatistics' toPCA): kept as it is, not
   * validated again (a pass over its D × k components).
   * @internal
   */
  static fromSolvedState(state: PCAState): PCA {
    const pca = new PCA({ nComponents: state.nComponents });
    pca.install(state);
    return pca;
  }

  /** The fitted state as plain JSON-safe numbers. */
  toJSON(): PCAJSON {
    const state = this.require('PCA.toJSON()').state;
    return {
      format: 'dfm-linalg/pca',
      version: 1,
      nComponents: state.nComponents,
      nFeatures: state.nFeatures,
      k: state.k,
      nSamples: state.nSamples,
      mean: Array.from(state.mean),
      components: Array.from(state.components),
      singularValues: Array.from(state.singularValues),
      explainedVarianceRatio: Array.from(state.explainedVarianceRatio),
      explainedVariance: Array.from(state.explainedVariance),
    };
  }

  /** Rebuilds a fitted PCA from {@link PCA.toJSON}'s output. */
  static fromJSON(json: PCAJSON): PCA {
    const caller = 'PCA.fromJSON()';
    if (typeof json !== 'object' || json === null || json.format !== 'dfm-linalg/pca' || json.version !== 1) {
      throw new InvalidArgumentError(
        `${caller}: expected an object from PCA.toJSON() (format 'dfm-linalg/pca', version 1) — got ${describeFormat(json)}. Pass the JSON written by this package.`,
      );
    }
    return PCA.fromState({
      nComponents: json.nComponents,
      nFeatures: json.nFeatures,
      k: json.k,
      nSamples: json.nSamples,
      mean: Float32Array.from(json.mean ?? []),
      components: Float32Array.from(json.components ?? []),
      singularValues: Float64Array.from(json.singularValues ?? []),
      explainedVarianceRatio: Float64Array.from(json.explainedVarianceRatio ?? []),
      explainedVariance: Float64Array.from(json.explainedVariance ?? []),
    });
  }

  private install(state: PCAState): void {
    const { nFeatures: d, k } = state;
    const components = tf.tensor2d(state.components, [d, k]);
    const fitted: Fitted = {
      state,
      mean: tf.tensor1d(state.mean),
      components,
      // Stored transposed as well: on wasm, matMul with transposeB is ~10× slower than a plain product.
      componentsTransposed: tf.tidy(() => tf.transpose(components)),
    };
    this.dispose();
    this.fitted = fitted;
  }

  private require(caller: string): Fitted {
    if (this.fitted === undefined) {
      throw new NotFittedError(
        `${caller}: the PCA must be fitted first — got an unfitted (or disposed) PCA. Call fit(features), PCA.fromState() or PCA.fromJSON().`,
      );
    }
    return this.fitted;
  }
}

/** The state with its arrays copied. */
function copyState(state: PCAState): PCAState {
  return {
    ...state,
    mean: state.mean.slice(),
    components: state.components.slice(),
    singularValues: state.singularValues.slice(),
    explainedVarianceRatio: state.explainedVarianceRatio.slice(),
    explainedVariance: state.explainedVariance.slice(),
  };
}

/**
 * Throws {@link InvalidArgumentError} unless `nComponents` is a valid {@link NComponents}; `name` is the
 * option's name in the caller's API (`nComponents`, `nComps`, `pcaLevel`), for the message.
 */
export function checkNComponents(nComponents: unknown, caller: string, name = 'nComponents'): asserts nComponents is NComponents {
  if (nComponents === 'all') return;
  if (
    typeof nComponents !== 'number' ||
    !Number.isFinite(nComponents) ||
    nComponents <= 0 ||
    (nComponents >= 1 && !Number.isInteger(nComponents))
  ) {
    throw new InvalidArgumentError(
      `${caller}: ${name} must be a variance ratio in (0, 1), an integer count ≥ 1 (1 = one component) or 'all' — got ${JSON.stringify(nComponents)}. Pass e.g. 0.97, 16 or 'all'.`,
    );
  }
}

/** Throws {@link InvalidArgumentError} unless `onProgress` is a function or undefined; returns it. */
export function checkProgressCallback(onProgress: unknown, caller: string): PCAProgressCallback | undefined {
  if (onProgress === undefined || typeof onProgress === 'function') return onProgress as PCAProgressCallback | undefined;
  throw new InvalidArgumentError(
    `${caller}: options.onProgress must be a function (progress) => void — got ${onProgress === null ? 'null' : typeof onProgress}. Pass a function or omit it.`,
  );
}

/** The largest finite float32. */
const FLOAT32_MAX = 3.4028234663852886e38;
/** How far from 1 a restored unit vector's squared norm may be (float32 storage rounds at ~1e-7 per entry). */
const UNIT_NORM_TOLERANCE = 1e-3;
function checkState(state: PCAState, caller: string): PCAState {
  if (typeof state !== 'object' || state === null) {
    throw new InvalidArgumentError(`${caller}: state must be an object from getState() — got ${String(state)}. Pass a PCAState.`);
  }
  checkNComponents(state.nComponents, caller);
  const { nFeatures: d, k, nSamples } = state;
  for (const [name, value] of [
    ['nFeatures', d],
    ['k', k],
    ['nSamples', nSamples],
  ] as const) {
    if (!Number.isInteger(value) || value < 1) {
      throw new InvalidArgumentError(`${caller}: state.${name} must be a positive integer — got ${String(value)}. Pass a PCAState from getState().`);
    }
  }
  const expect = (name: string, actual: number | undefined, expected: number) => {
    if (actual !== expected) {
      throw new ShapeMismatchError(
        `${caller}: state.${name} must have ${expected} entries for nFeatures = ${d}, k = ${k} — got ${String(actual)}. The state is truncated or mixed up.`,
      );
    }
  };
  expect('mean', state.mean?.length, d);
  expect('components', state.components?.length, d * k);
  expect('singularValues', state.singularValues?.length, k);
  expect('explainedVarianceRatio', state.explainedVarianceRatio?.length, k);
  expect('explainedVariance', state.explainedVariance?.length, k);
  for (const [name, array, limit] of [
    ['mean', state.mean, FLOAT32_MAX],
    ['components', state.components, FLOAT32_MAX],
    ['singularValues', state.singularValues, Number.MAX_VALUE],
    ['explainedVarianceRatio', state.explainedVarianceRatio, Number.MAX_VALUE],
    ['explainedVariance', state.explainedVariance, Number.MAX_VALUE],
  ] as const) {
    for (let i = 0; i < array.length; i++) {
      const value = array[i]!;
      if (!(Math.abs(value) <= limit)) {
        const fault = Number.isFinite(value) ? `${value}, beyond float32 range (±${FLOAT32_MAX.toExponential(3)})` : String(value);
        throw new InvalidArgumentError(`${caller}: state.${name} must be finite — got ${fault} at index ${i}. The state is corrupt.`);
      }
      if (name !== 'mean' && name !== 'components' && value < 0) {
        throw new InvalidArgumentError(`${caller}: state.${name} must be ≥ 0 — got ${value} at index ${i}. The state is corrupt.`);
      }
    }
  }
  // Principal axes are unit vectors: a damaged state (a flipped exponent bit) would score NaN or Infinity.
  for (let j = 0; j < k; j++) {
    let norm = 0;
    for (let i = 0; i < d; i++) norm += state.components[i * k + j]! ** 2;
    if (!(Math.abs(norm - 1) <= UNIT_NORM_TOLERANCE)) {
      throw new InvalidArgumentError(
        `${caller}: state.components must have unit columns (principal axes) — column ${j} has squared norm ${norm}. The state is corrupt.`,
      );
    }
  }
  return {
    nComponents: state.nComponents,
    nFeatures: d,
    k,
    nSamples,
    mean: Float32Array.from(state.mean),
    components: Float32Array.from(state.components),
    singularValues: Float64Array.from(state.singularValues),
    explainedVarianceRatio: Float64Array.from(state.explainedVarianceRatio),
    explainedVariance: Float64Array.from(state.explainedVariance),
  };
}

function describeFormat(json: unknown): string {
  if (typeof json !== 'object' || json === null) return String(json);
  const { format, version } = json as { format?: unknown; version?: unknown };
  return `format ${String(format)}, version ${String(version)}`;
}
