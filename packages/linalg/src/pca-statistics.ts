import * as tf from '@tensorflow/tfjs-core';
import { accumulateScatter, addColumnSums, CHUNK, concatenateRows, packedLength, packedRow } from './centred-products';
import { checkNComponents, checkProgressCallback, PCA, type PCAAsyncFitOptions, type PCAFitOptions, type PCAOptions, type PCAState } from './pca';
import { checkCountFits, solveMoments, solveRows } from './pca-solver';
import { checkProducts, type MatrixProducts, type ProductPrecision, type ProductWork, runAsync, runSync } from './products';
import { assertFeatures, assertFiniteValues, readFiniteValues } from './validate';
import { CorruptFileError, InvalidArgumentError, NotFittedError, ShapeMismatchError, formatShape } from '@dfm/errors';

/** Options of {@link PCAStatistics}. All optional: D is taken from the first batch. */
export type PCAStatisticsOptions = {
  /** D, the number of features per row; fixed by the first batch when omitted. */
  nFeatures?: number;
  /**
   * Where the features come from, e.g. `'resnet18/layer3/pool4'`: {@link PCAStatistics.merge} refuses
   * statistics with another label (two layers can have the same D). Travels in {@link PCAStatistics.toBytes}.
   */
  label?: string;
  /** `[h, w, c]` of the feature map the rows were flattened from (h·w·c = D); merge refuses another. */
  featureShape?: readonly number[];
  /**
   * Where {@link PCAStatistics.updateAsync} and {@link PCAStatistics.toPCAAsync} run their products, e.g.
   * `await onnxMatrixProducts()` from `@dfm/backbone`. Omitted: the tfjs backend. Not serialised.
   */
  products?: MatrixProducts;
};

/** How {@link PCAStatistics} holds what it saw: the rows themselves (N < D), or their moments (N ≥ D). */
export type PCAStatisticsStorage = 'rows' | 'moments';

/** Options of {@link PCAStatistics.update} / {@link PCAStatistics.updateAsync}. */
export type PCAStatisticsUpdateOptions = {
  /**
   * Hand a Float32Array batch over: the statistics may keep it instead of a copy (while they hold rows,
   * N < D); the caller must not change it afterwards. Default false (copied).
   */
  transfer?: boolean;
};

/**
 * The sufficient statistics of a Gaussian on a projection `z = (x − μ) V` of the accumulated rows
 * (from {@link PCAStatistics.projectedMoments}; {@link SingleClassGaussian.fromMoments} takes them).
 */
export type ProjectedMoments = {
  /** N. */
  nSamples: number;
  /** `[k]` float64 mean of z. */
  mean: Float64Array;
  /** `[k, k]` float64 row-major centred scatter `Σ (z − z̄)(z − z̄)ᵀ` (not divided by N). */
  scatter: Float64Array;
};

/** Moments about a shift c (see {@link PCAStatistics}). */
type Moments = {
  /** `[D]` c: the float64 mean of the rows held when the statistics switched to moments. */
  shift: Float64Array;
  /** `[D]` `Σ (x − c)` over the folded rows. */
  sum: Float64Array;
  /** Packed lower triangle of `Σ (x − c)(x − c)ᵀ` over the folded rows. */
  scatter: Float64Array;
  /** `[CHUNK, D]` rows waiting to complete a chunk of the product (float32, as given). */
  pending: Float32Array;
  pendingRows: number;
};

const MAGIC = 'DFMPCAST';
const FORMAT_VERSION = 1;
const HEADER_BYTES = 40;
const STORAGE_CODES: readonly PCAStatisticsStorage[] = ['rows', 'moments'];
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Mergeable, serialisable PCA statistics: accumulate `[n, D]` float32 feature batches — from one stream,
 * or from shards on other processes or machines, merged — then fit a {@link PCA} (and, for NLL, a
 * {@link SingleClassGaussian}) that is the one `new PCA({ nComponents }).fit(allRows)` would give.
 * Holds no tensors (no `dispose()`); memory is O(D²) whatever N is.
 *
 * What it holds (the rule; {@link storage} says which):
 * - **rows** while N < D: the rows themselves, float32 as given (fewer than D² / 2 numbers). Their PCA is the
 *   N×N Gram route of {@link PCA.fit} on exactly these rows, so statistics of N < D rows give a bit-identical PCA.
 * - **moments** once N ≥ D: the update (or merge) that brings N to D or beyond folds every row held into
 *   the count N, the float64 sum `s = Σ (x − c)` and the float64 packed lower triangle of
 *   `Σ (x − c)(x − c)ᵀ`, where the shift c is the float64 mean of the rows held at that moment; later rows
 *   are folded in as they come. That is {@link PCA.fit}'s covariance route (which it also takes for N ≥ D):
 *   the products run (on the tfjs backend, or the `products` option's) in float32 chunks of 1024 consecutive
 *   rows summed in float64 (rows wait in a one-chunk buffer, so batch sizes do not change the chunks), and
 *   the eigenproblem in float64.
 *
 * Why a shift: the covariance is `S = Σ (x − c)(x − c)ᵀ − s sᵀ / N`. With c = 0 (plain `XᵀX − N μμᵀ`) the
 * subtraction cancels digits in proportion to (mean / std)²: features of mean 1e3 and std 1 lose 6 digits
 * of float64, and the float32 products nearly all of theirs. With c near the mean the correction is small
 * (~1/D of S for stationary data) and nothing is lost. Merging moments of another shift c' is exact:
 * `Σ (x − c)(x − c)ᵀ = Σ (x − c')(x − c')ᵀ + s' δᵀ + δ s'ᵀ + N' δδᵀ` with `δ = c' − c`, `s' + N' δ` for the sum.
 *
 * Exactness: merging the statistics of shards gives the PCA of all their rows — k equal, and components
 * and scores equal to float32 rounding (the chunks and the shift differ): FRE within 1e-6 relative on
 * held-out rows, about as far as one pass is from itself with its rows reversed.
 *
 * @example
 * const stats = new PCAStatistics({ label: 'resnet18/layer3' });
 * for await (const batch of batches) stats.update(batch);          // batch: [B, D] float32
 * const bytes = stats.toBytes();                                   // to another process…
 * const total = PCAStatistics.fromBytes(bytes).merge(otherShard);  // …and merged there
 * const pca = total.toPCA({ nComponents: 0.97 });                  // = new PCA(…).fit(all rows)
 * const gaussian = SingleClassGaussian.fromStatistics(total, pca); // for NLL
 */
export class PCAStatistics {
  #nFeatures: number | null;
  #label: string | null;
  #featureShape: number[] | null;
  #nSamples = 0;
  /** Rows storage: copies of the batches, float32 as given. */
  #rows: Float32Array[] = [];
  /** Moments storage, once N ≥ D. */
  #moments: Moments | null = null;
  /** The accumulation's float32 work buffer (`[CHUNK, D]`), kept across updates: not state, never serialised. */
  #scratch: Float32Array | null = null;
  #products: MatrixProducts | undefined;
  /** The asynchronous operation running (its name), or null: nothing else may run meanwhile. */
  #busy: string | null = null;
  /** Set when an asynchronous update failed half-way: the statistics are then unusable. */
  #broken: string | null = null;

  constructor(options: PCAStatisticsOptions = {}) {
    const caller = 'new PCAStatistics()';
    const { nFeatures, label, featureShape, products } = options ?? {};
    this.#products = checkProducts(products, caller);
    if (nFeatures !== undefined && !(Number.isSafeInteger(nFeatures) && nFeatures >= 1)) {
      throw new InvalidArgumentError(`${caller}: nFeatures must be a positive integer — got ${String(nFeatures)}. Omit it to take D from the first batch.`);
    }
    if (label !== undefined && typeof label !== 'string') {
      throw new InvalidArgumentError(`${caller}: label must be a string such as 'resnet18/layer3' — got ${typeof label}. Omit it if unneeded.`);
    }
    const shape = featureShape === undefined ? null : checkFeatureShape(featureShape, caller);
    if (shape !== null && nFeatures !== undefined && product(shape) !== nFeatures) {
      throw new ShapeMismatchError(
        `${caller}: featureShape ${formatShape(shape)} has ${product(shape)} elements — nFeatures is ${nFeatures}. Pass a featureShape whose product is nFeatures.`,
      );
    }
    this.#nFeatures = nFeatures ?? (shape === null ? null : product(shape));
    this.#label = label ?? null;
    this.#featureShape = shape;
  }

  /** N, the number of rows accumulated (merged ones included; during an `updateAsync`, its batch is already counted). */
  get nSamples(): number {
    return this.#nSamples;
  }

  /** D, the number of features per row; `null` until the first batch (or the `nFeatures` option) fixes it. */
  get nFeatures(): number | null {
    return this.#nFeatures;
  }

  /** The `label` option (or a merged statistics' label); `null` when none. */
  get label(): string | null {
    return this.#label;
  }

  /** `[h, w, c]` from the options (or a merged statistics'); `null` when none. A copy. */
  get featureShape(): number[] | null {
    return this.#featureShape === null ? null : [...this.#featureShape];
  }

  /** `'rows'` while N < D, `'moments'` once N ≥ D (see the class description). */
  get storage(): PCAStatisticsStorage {
    return this.#moments === null ? 'rows' : 'moments';
  }

  /** `[D]` float64 column means of every row accumulated (a new array). */
  get mean(): Float64Array {
    this.#checkUsable('PCAStatistics.mean');
    const d = this.#requireSamples('PCAStatistics.mean', 1);
    const n = this.#nSamples;
    const mean = new Float64Array(d);
    const moments = this.#moments;
    if (moments === null) {
      for (const rows of this.#rows) {
        for (let offset = 0; offset < rows.length; offset += d) for (let j = 0; j < d; j++) mean[j]! += rows[offset + j]!;
      }
      for (let j = 0; j < d; j++) mean[j]! /= n;
      return mean;
    }
    const sum = this.#totalSum(moments, d);
    for (let j = 0; j < d; j++) mean[j] = moments.shift[j]! + sum[j]! / n;
    return mean;
  }

  /**
   * Adds a batch of rows: a `tf.Tensor2D` `[n, D]` (read synchronously, not disposed), or a row-major
   * `Float32Array` with its `shape` `[n, D]` (copied where the statistics keep rows, while N < D; never
   * modified). `options.transfer`: a Float32Array batch is handed over — kept as it is instead of copied
   * (a copy of every batch costs its page faults: ~30 ms per 8 MB on a VM); the caller must not change it
   * afterwards. All-or-nothing: a refused batch leaves the statistics unchanged. An empty batch `[0, D]`
   * only fixes D.
   *
   * @throws ShapeMismatchError when D differs from earlier batches; InvalidArgumentError for NaN/Infinity,
   *   or `transfer` that is not a boolean or comes with a tensor.
   * @returns `this`.
   */
  update(batch: tf.Tensor2D | Float32Array, shape?: readonly [number, number], options?: PCAStatisticsUpdateOptions): this {
    runSync(this.#updateWork(batch, shape, options, 'PCAStatistics.update()'));
    return this;
  }

  /**
   * {@link PCAStatistics.update} with the products on the `products` option (awaited). One asynchronous
   * operation at a time: await it before the next call. If the products fail half-way the statistics are
   * unusable afterwards (every later call says so): rebuild them from the data.
   * @returns `this`.
   */
  async updateAsync(batch: tf.Tensor2D | Float32Array, shape?: readonly [number, number], options?: PCAStatisticsUpdateOptions): Promise<this> {
    const work = this.#updateWork(batch, shape, options, 'PCAStatistics.updateAsync()');
    await this.#runAsync(work, 'PCAStatistics.updateAsync()', true);
    return this;
  }

  /** Validates a batch (eagerly), then returns the work that adds it. */
  #updateWork(
    batch: tf.Tensor2D | Float32Array,
    shape: readonly [number, number] | undefined,
    options: PCAStatisticsUpdateOptions | undefined,
    caller: string,
  ): ProductWork<void> {
    this.#checkUsable(caller);
    const transfer = options?.transfer;
    if (transfer !== undefined && typeof transfer !== 'boolean') {
      throw new InvalidArgumentError(`${caller}: options.transfer must be a boolean — got ${typeof transfer}. Pass { transfer: true } to hand a Float32Array batch over, or omit it.`);
    }
    if (transfer === true && !(batch instanceof Float32Array)) {
      throw new InvalidArgumentError(
        `${caller}: options.transfer is for Float32Array batches — got ${batch instanceof tf.Tensor ? 'a tensor' : Object.prototype.toString.call(batch)}. Drop it for tensors (their values are read out anyway).`,
      );
    }
    const { values, n, d } = readBatch(batch, shape, caller);
    if (this.#nFeatures !== null && d !== this.#nFeatures) {
      throw new ShapeMismatchError(
        `${caller}: batch must have ${this.#nFeatures} features per row (the statistics' nFeatures) — got ${formatShape([n, d])}. Use one backbone, layer, pooling and image size for every batch.`,
      );
    }
    this.#nFeatures = d;
    const self = this;
    return (function* () {
      if (n > 0) yield* self.#addRows(values, n, transfer !== true);
    })();
  }

  /** Runs `work` on the products option (or the tfjs backend), one asynchronous operation at a time. */
  async #runAsync<T>(work: ProductWork<T>, caller: string, mutates: boolean): Promise<T> {
    this.#busy = caller;
    try {
      return this.#products === undefined ? runSync(work) : await runAsync(work, this.#products);
    } catch (error) {
      if (mutates) this.#broken = `${caller} failed half-way (${error instanceof Error ? error.message : String(error)})`;
      throw error;
    } finally {
      this.#busy = null;
    }
  }

  /** Throws while an asynchronous operation runs, or after one failed half-way. */
  #checkUsable(caller: string): void {
    if (this.#busy !== null) {
      throw new InvalidArgumentError(`${caller}: ${this.#busy} is still running on these statistics — got a second call meanwhile. Await it first.`, {
        code: 'E_BUSY',
      });
    }
    if (this.#broken !== null) {
      throw new InvalidArgumentError(`${caller}: the statistics are incomplete: ${this.#broken}. Rebuild them from the data.`, { code: 'E_INVALID_STATE' });
    }
  }

  /**
   * Adds everything `other` accumulated (in place; `other` is not modified): the result is the statistics
   * of both sets of rows, as if one had seen them all (see the class description for how exact).
   *
   * @throws InvalidArgumentError when the labels differ; ShapeMismatchError when D or featureShape differ.
   * @returns `this`.
   */
  merge(other: PCAStatistics): this {
    const caller = 'PCAStatistics.merge()';
    if (!(other instanceof PCAStatistics)) {
      throw new InvalidArgumentError(
        `${caller}: other must be a PCAStatistics — got ${other === null ? 'null' : typeof other}. Rebuild serialised statistics with PCAStatistics.fromBytes().`,
      );
    }
    this.#checkUsable(caller);
    other.#checkUsable(caller);
    const source = other === this ? other.clone() : other;
    this.#checkCompatible(source, caller);
    this.#label ??= source.#label;
    this.#featureShape ??= source.#featureShape === null ? null : [...source.#featureShape];
    this.#nFeatures ??= source.#nFeatures;
    if (source.#nSamples === 0) return this;
    const d = this.#nFeatures as number;
    if (source.#moments === null) {
      runSync(
        (function* (self: PCAStatistics) {
          for (const rows of source.#rows) yield* self.#addRows(rows, rows.length / d, true);
        })(this),
      );
      return this;
    }
    if (this.#moments === null) {
      // Start from a copy of the other's moments, then fold this one's rows in.
      const own = this.#rows;
      this.#rows = [];
      this.#moments = cloneMoments(source.#moments);
      this.#nSamples = source.#nSamples;
      runSync(
        (function* (self: PCAStatistics) {
          for (const rows of own) yield* self.#addRows(rows, rows.length / d, false);
        })(this),
      );
      return this;
    }
    runSync(this.#foldMoments(source.#moments, source.#nSamples));
    return this;
  }

  /**
   * The PCA of every row accumulated: the same as `new PCA({ nComponents }).fit(allRows)` (the Gram route
   * for N < D, the covariance route for N ≥ D; k chosen by the same rule). The statistics are unchanged,
   * so more rows can follow. The returned PCA belongs to the caller (dispose it).
   *
   * @throws InvalidArgumentError for N < 2, an invalid nComponents, or an integer above min(N, D).
   */
  toPCA(options: PCAOptions & PCAFitOptions): PCA {
    return PCA.fromSolvedState(runSync(this.#solveWork(options, 'PCAStatistics.toPCA()', 'float32')));
  }

  /**
   * {@link PCAStatistics.toPCA} with the products on `options.products`, or else on the statistics'
   * `products` option (else the tfjs backend), awaited.
   */
  async toPCAAsync(options: PCAOptions & PCAAsyncFitOptions): Promise<PCA> {
    const caller = 'PCAStatistics.toPCAAsync()';
    const products = checkProducts(options?.products, caller) ?? this.#products;
    const work = this.#solveWork(options, caller, products === undefined ? 'float32' : 'float64');
    this.#busy = caller;
    try {
      return PCA.fromSolvedState(products === undefined ? runSync(work) : await runAsync(work, products));
    } finally {
      this.#busy = null;
    }
  }

  /** Validates the options (eagerly), then returns the solve's work. */
  #solveWork(options: PCAOptions & PCAFitOptions, caller: string, precision: ProductPrecision): ProductWork<PCAState> {
    this.#checkUsable(caller);
    const level = (options as Partial<PCAOptions> | undefined)?.nComponents;
    const onProgress = checkProgressCallback(options?.onProgress, caller);
    checkNComponents(level, caller);
    const d = this.#requireSamples(caller, 2);
    const n = this.#nSamples;
    checkCountFits(level, n, d, caller, `statistics of ${n} samples × ${d} features`);
    const moments = this.#moments;
    if (moments === null) return solveRows([...this.#rows], n, d, level, caller, onProgress, precision);
    const sum = this.#totalSum(moments, d);
    const pending = moments.pendingRows > 0 ? { rows: moments.pending, count: moments.pendingRows } : undefined;
    return solveMoments(
      { nSamples: n, nFeatures: d, shift: moments.shift, sum, scatter: moments.scatter, ...(pending === undefined ? {} : { pending }) },
      level,
      caller,
      onProgress,
      precision,
    );
  }

  /**
   * The count, mean and centred scatter of the projections `z = (x − pca.mean) · pca.components` of every
   * row accumulated, computed in float64 from the statistics through the PCA's own (float32) mean and
   * components: `z̄ = (x̄ − μ) V` and `Σ (z − z̄)(z − z̄)ᵀ = Vᵀ S V` with S the rows' centred scatter. These
   * are all a Gaussian on z needs ({@link SingleClassGaussian.fromMoments}). Cost: O(N·D·k) while the rows
   * are held, O(D²·k) from the moments.
   */
  projectedMoments(pca: PCA): ProjectedMoments {
    const caller = 'PCAStatistics.projectedMoments()';
    this.#checkUsable(caller);
    if (!(pca instanceof PCA) || !pca.isFitted) {
      throw new NotFittedError(`${caller}: pca must be a fitted PCA — got ${pca instanceof PCA ? 'an unfitted one' : typeof pca}. Pass statistics.toPCA(…).`);
    }
    const d = this.#requireSamples(caller, 1);
    const state = pca.getState();
    if (state.nFeatures !== d) {
      throw new ShapeMismatchError(
        `${caller}: pca must have ${d} features like the statistics — got a PCA of ${state.nFeatures}. Pass the PCA fitted from these statistics.`,
      );
    }
    const { k } = state;
    const n = this.#nSamples;
    const components = Float64Array.from(state.components);
    const mean = this.mean;
    const projectedMean = new Float64Array(k);
    for (let i = 0; i < d; i++) {
      const offset = mean[i]! - state.mean[i]!;
      for (let j = 0; j < k; j++) projectedMean[j]! += offset * components[i * k + j]!;
    }
    const scatter = new Float64Array(k * k);
    const y = new Float64Array(k);
    /** scatter += y yᵀ (upper triangle) for y = (row − centre) V. */
    const addRow = (rows: Float32Array, offset: number, centre: Float64Array): void => {
      y.fill(0);
      for (let i = 0; i < d; i++) {
        const value = rows[offset + i]! - centre[i]!;
        if (value === 0) continue;
        const base = i * k;
        for (let j = 0; j < k; j++) y[j]! += value * components[base + j]!;
      }
      for (let a = 0; a < k; a++) {
        const ya = y[a]!;
        const base = a * k;
        for (let b = a; b < k; b++) scatter[base + b]! += ya * y[b]!;
      }
    };
    const moments = this.#moments;
    if (moments === null) {
      for (const rows of this.#rows) for (let offset = 0; offset < rows.length; offset += d) addRow(rows, offset, mean);
    } else {
      // T = A V from the packed lower triangle of A = Σ (x − c)(x − c)ᵀ, then Vᵀ T.
      const t = new Float64Array(d * k);
      const packed = moments.scatter;
      for (let i = 0; i < d; i++) {
        const row = packedRow(i);
        const ti = i * k;
        for (let j = 0; j < i; j++) {
          const a = packed[row + j]!;
          if (a === 0) continue;
          const tj = j * k;
          for (let c = 0; c < k; c++) {
            t[ti + c]! += a * components[tj + c]!;
            t[tj + c]! += a * components[ti + c]!;
          }
        }
        const diagonal = packed[row + i]!;
        for (let c = 0; c < k; c++) t[ti + c]! += diagonal * components[ti + c]!;
      }
      for (let i = 0; i < d; i++) {
        const base = i * k;
        for (let a = 0; a < k; a++) {
          const via = components[base + a]!;
          if (via === 0) continue;
          const row = a * k;
          for (let b = a; b < k; b++) scatter[row + b]! += via * t[base + b]!;
        }
      }
      for (let r = 0; r < moments.pendingRows; r++) addRow(moments.pending, r * d, moments.shift);
      // Σ (z − z̄)(z − z̄)ᵀ = Vᵀ A V − g gᵀ / N with g = Vᵀ s, s = Σ (x − c).
      const sum = this.#totalSum(moments, d);
      const g = new Float64Array(k);
      for (let i = 0; i < d; i++) for (let j = 0; j < k; j++) g[j]! += sum[i]! * components[i * k + j]!;
      for (let a = 0; a < k; a++) for (let b = a; b < k; b++) scatter[a * k + b]! -= (g[a]! * g[b]!) / n;
    }
    for (let a = 0; a < k; a++) for (let b = 0; b < a; b++) scatter[a * k + b] = scatter[b * k + a]!;
    return { nSamples: n, mean: projectedMean, scatter };
  }

  /** An independent copy. */
  clone(): PCAStatistics {
    this.#checkUsable('PCAStatistics.clone()');
    const copy = new PCAStatistics(this.#products === undefined ? {} : { products: this.#products });
    copy.#nFeatures = this.#nFeatures;
    copy.#label = this.#label;
    copy.#featureShape = this.#featureShape === null ? null : [...this.#featureShape];
    copy.#nSamples = this.#nSamples;
    copy.#rows = this.#rows.map((rows) => rows.slice());
    copy.#moments = this.#moments === null ? null : cloneMoments(this.#moments);
    return copy;
  }

  /**
   * The statistics as bytes (format version 1, little-endian), for another process or a file:
   *
   * | offset | bytes | field |
   * |---|---|---|
   * | 0 | 8 | magic `DFMPCAST` (ASCII) |
   * | 8 | 4 | u32 format version (1) |
   * | 12 | 4 | u32 storage: 0 = rows, 1 = moments |
   * | 16 | 4 | u32 nFeatures D (0 = not fixed yet, only with N = 0) |
   * | 20 | 4 | u32 pendingRows P (moments: rows waiting to complete a chunk; 0 for rows) |
   * | 24 | 8 | f64 nSamples N |
   * | 32 | 4 | u32 metadata length L |
   * | 36 | 4 | u32 CRC-32 (IEEE) of every byte from offset 40 to the end |
   * | 40 | L | metadata, UTF-8 JSON `{ label?, featureShape? }`, then zeros to a multiple of 8 |
   * | … | | rows: N × D f32. moments: shift D f64, sum D f64, packed lower triangle D(D+1)/2 f64, P × D f32 |
   *
   * {@link PCAStatistics.fromBytes} reads it back (the same statistics, bit for bit).
   */
  toBytes(): Uint8Array {
    this.#checkUsable('PCAStatistics.toBytes()');
    const d = this.#nFeatures ?? 0;
    const metadata = new TextEncoder().encode(
      JSON.stringify({
        ...(this.#label !== null ? { label: this.#label } : {}),
        ...(this.#featureShape !== null ? { featureShape: this.#featureShape } : {}),
      }),
    );
    const payloadStart = align8(HEADER_BYTES + metadata.length);
    const moments = this.#moments;
    const pendingRows = moments?.pendingRows ?? 0;
    const length = payloadStart + payloadBytes(moments === null ? 'rows' : 'moments', this.#nSamples, d, pendingRows);
    const bytes = new Uint8Array(length);
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < MAGIC.length; i++) bytes[i] = MAGIC.charCodeAt(i);
    view.setUint32(8, FORMAT_VERSION, true);
    view.setUint32(12, moments === null ? 0 : 1, true);
    view.setUint32(16, d, true);
    view.setUint32(20, pendingRows, true);
    view.setFloat64(24, this.#nSamples, true);
    view.setUint32(32, metadata.length, true);
    bytes.set(metadata, HEADER_BYTES);
    let offset = payloadStart;
    const put = (values: Float32Array | Float64Array) => {
      writeLittleEndian(bytes, offset, values);
      offset += values.byteLength;
    };
    if (moments === null) {
      for (const rows of this.#rows) put(rows);
    } else {
      put(moments.shift);
      put(moments.sum);
      put(moments.scatter);
      put(moments.pending.subarray(0, pendingRows * d));
    }
    view.setUint32(36, crc32(bytes, HEADER_BYTES, length), true);
    return bytes;
  }

  /**
   * Reads {@link PCAStatistics.toBytes}'s output back, validating it: a wrong magic, another format
   * version, a truncated or padded length, a checksum mismatch or impossible fields throw
   * `CorruptFileError` (`E_CORRUPT_FILE`) saying which.
   */
  static fromBytes(bytes: Uint8Array | ArrayBuffer): PCAStatistics {
    const caller = 'PCAStatistics.fromBytes()';
    const data = bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : bytes;
    if (!(data instanceof Uint8Array)) {
      throw new InvalidArgumentError(`${caller}: bytes must be a Uint8Array or ArrayBuffer — got ${bytes === null ? 'null' : typeof bytes}. Pass the output of toBytes().`);
    }
    const corrupt = (what: string) =>
      new CorruptFileError(`${caller}: expected PCA statistics written by toBytes() — ${what}. Write the statistics again with toBytes().`);
    if (data.length < HEADER_BYTES) throw corrupt(`got ${data.length} bytes, fewer than the ${HEADER_BYTES}-byte header (truncated)`);
    const magic = String.fromCharCode(...data.subarray(0, MAGIC.length));
    if (magic !== MAGIC) throw corrupt(`got magic ${JSON.stringify(magic)} instead of "${MAGIC}" (not PCA statistics)`);
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const version = view.getUint32(8, true);
    if (version !== FORMAT_VERSION) {
      throw corrupt(`got format version ${version}, this @dfm/linalg reads version ${FORMAT_VERSION} (written by another version?)`);
    }
    const storage = STORAGE_CODES[view.getUint32(12, true)];
    const d = view.getUint32(16, true);
    const pendingRows = view.getUint32(20, true);
    const n = view.getFloat64(24, true);
    const metadataLength = view.getUint32(32, true);
    if (storage === undefined) throw corrupt(`got storage code ${view.getUint32(12, true)} (0 = rows, 1 = moments)`);
    if (!Number.isSafeInteger(n) || n < 0) throw corrupt(`got nSamples ${n}`);
    const consistent =
      storage === 'rows'
        ? pendingRows === 0 && (n === 0 || (d >= 1 && n < d))
        : d >= 1 && n >= d && pendingRows < CHUNK && pendingRows <= n;
    if (!consistent) throw corrupt(`got ${storage} storage with nSamples ${n}, nFeatures ${d}, pendingRows ${pendingRows}`);
    const payloadStart = align8(HEADER_BYTES + metadataLength);
    const expected = payloadStart + payloadBytes(storage, n, d, pendingRows);
    if (!Number.isSafeInteger(expected) || data.length !== expected) {
      throw corrupt(`got ${data.length} bytes where the header promises ${expected} (${data.length < expected ? 'truncated' : 'trailing bytes'})`);
    }
    if (crc32(data, HEADER_BYTES, data.length) !== view.getUint32(36, true)) throw corrupt('the CRC-32 checksum does not match (damaged bytes)');
    let metadata: { label?: unknown; featureShape?: unknown };
    try {
      metadata = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(data.subarray(HEADER_BYTES, HEADER_BYTES + metadataLength))) as typeof metadata;
    } catch (error) {
      throw new CorruptFileError(`${caller}: expected PCA statistics written by toBytes() — the metadata is not JSON. Write the statistics again with toBytes().`, { cause: error });
    }
    if (typeof metadata !== 'object' || metadata === null || (metadata.label !== undefined && typeof metadata.label !== 'string')) {
      throw corrupt('the metadata is not { label?: string, featureShape?: number[] }');
    }
    let featureShape: number[] | undefined;
    if (metadata.featureShape !== undefined) {
      const valid = Array.isArray(metadata.featureShape) && metadata.featureShape.every((v) => Number.isSafeInteger(v) && (v as number) >= 1);
      if (!valid || (d > 0 && product(metadata.featureShape as number[]) !== d)) throw corrupt(`got featureShape ${JSON.stringify(metadata.featureShape)} for ${d} features`);
      featureShape = metadata.featureShape as number[];
    }
    const statistics = new PCAStatistics({
      ...(d > 0 ? { nFeatures: d } : {}),
      ...(typeof metadata.label === 'string' ? { label: metadata.label } : {}),
      ...(featureShape !== undefined ? { featureShape } : {}),
    });
    let offset = payloadStart;
    const take64 = (count: number) => {
      const values = readLittleEndian64(data, offset, count);
      offset += count * 8;
      return values;
    };
    const take32 = (count: number) => {
      const values = readLittleEndian32(data, offset, count);
      offset += count * 4;
      return values;
    };
    const finite = (name: string, values: Float32Array | Float64Array) => {
      for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i]!)) throw corrupt(`${name} holds ${values[i]} at index ${i}`);
    };
    statistics.#nSamples = n;
    if (storage === 'rows') {
      if (n > 0) {
        const rows = take32(n * d);
        finite('the rows', rows);
        statistics.#rows = [rows];
      }
      return statistics;
    }
    const shift = take64(d);
    const sum = take64(d);
    const scatter = take64(packedLength(d));
    const pending = new Float32Array(CHUNK * d);
    pending.set(take32(pendingRows * d));
    finite('the shift', shift);
    finite('the sum', sum);
    finite('the scatter', scatter);
    finite('the pending rows', pending);
    statistics.#moments = { shift, sum, scatter, pending, pendingRows };
    return statistics;
  }

  /** Appends `n` rows (copied when `copy`): rows storage until N reaches D, then folded into the moments. */
  *#addRows(values: Float32Array, n: number, copy: boolean): ProductWork<void> {
    const d = this.#nFeatures as number;
    this.#nSamples += n;
    if (this.#moments !== null) {
      yield* this.#foldRows(this.#moments, values, n, d);
      return;
    }
    this.#rows.push(copy ? values.slice() : values);
    if (this.#nSamples < d) return;
    // N reached D: switch to moments about the mean of the rows held.
    const rows = this.#concatenatedRows(d);
    const count = this.#nSamples;
    const shift = new Float64Array(d);
    addColumnSums(rows, d, shift);
    for (let j = 0; j < d; j++) shift[j]! /= count;
    const moments: Moments = {
      shift,
      sum: new Float64Array(d),
      scatter: new Float64Array(packedLength(d)),
      pending: new Float32Array(CHUNK * d),
      pendingRows: 0,
    };
    this.#rows = [];
    this.#moments = moments;
    yield* this.#foldRows(moments, rows, count, d);
  }

  /** Folds rows into the moments in whole chunks of CHUNK consecutive rows; a partial chunk waits in `pending`. */
  *#foldRows(moments: Moments, values: Float32Array, n: number, d: number): ProductWork<void> {
    if (this.#scratch === null || this.#scratch.length !== CHUNK * d) this.#scratch = new Float32Array(CHUNK * d);
    const target = { layout: 'packed' as const, scatter: moments.scatter, sum: moments.sum, scratch: this.#scratch };
    let row = 0;
    if (moments.pendingRows > 0) {
      const take = Math.min(n, CHUNK - moments.pendingRows);
      moments.pending.set(values.subarray(0, take * d), moments.pendingRows * d);
      moments.pendingRows += take;
      row = take;
      if (moments.pendingRows === CHUNK) {
        yield* accumulateScatter(target, moments.pending, CHUNK, d, moments.shift);
        moments.pendingRows = 0;
      }
    }
    const whole = Math.floor((n - row) / CHUNK) * CHUNK;
    if (whole > 0) {
      const chunk = values.subarray(row * d, (row + whole) * d);
      yield* accumulateScatter(target, chunk, whole, d, moments.shift);
      row += whole;
    }
    if (row < n) {
      moments.pending.set(values.subarray(row * d, n * d), moments.pendingRows * d);
      moments.pendingRows += n - row;
    }
  }

  /** Adds another statistics' moments (about its own shift c') to these (about c), then its pending rows. */
  *#foldMoments(other: Moments, otherSamples: number): ProductWork<void> {
    const moments = this.#moments as Moments;
    const d = this.#nFeatures as number;
    const folded = otherSamples - other.pendingRows;
    const delta = new Float64Array(d);
    for (let j = 0; j < d; j++) delta[j] = other.shift[j]! - moments.shift[j]!;
    // Σ (x − c)(x − c)ᵀ = Σ (x − c')(x − c')ᵀ + s' δᵀ + δ s'ᵀ + N' δδᵀ, δ = c' − c.
    for (let i = 0; i < d; i++) {
      const row = packedRow(i);
      const si = other.sum[i]!;
      const di = delta[i]!;
      for (let j = 0; j <= i; j++) {
        moments.scatter[row + j]! += other.scatter[row + j]! + si * delta[j]! + di * other.sum[j]! + folded * di * delta[j]!;
      }
    }
    for (let j = 0; j < d; j++) moments.sum[j]! += other.sum[j]! + folded * delta[j]!;
    this.#nSamples += otherSamples;
    if (other.pendingRows > 0) yield* this.#foldRows(moments, other.pending.subarray(0, other.pendingRows * d), other.pendingRows, d);
  }

  /** `Σ (x − c)` over every row, the pending ones included. */
  #totalSum(moments: Moments, d: number): Float64Array {
    const sum = moments.sum.slice();
    for (let r = 0; r < moments.pendingRows; r++) {
      const offset = r * d;
      for (let j = 0; j < d; j++) sum[j]! += moments.pending[offset + j]! - moments.shift[j]!;
    }
    return sum;
  }

  #concatenatedRows(d: number): Float32Array {
    return concatenateRows(this.#rows, this.#nSamples * d);
  }

  /** Throws unless at least `minimum` rows were accumulated; returns D. */
  #requireSamples(caller: string, minimum: number): number {
    if (this.#nSamples < minimum || this.#nFeatures === null) {
      throw new InvalidArgumentError(
        `${caller}: at least ${minimum} sample${minimum > 1 ? 's are' : ' is'} needed${minimum > 1 ? ' to estimate a variance' : ''} — got statistics of ${this.#nSamples}. Update the statistics with more rows.`,
      );
    }
    return this.#nFeatures;
  }

  #checkCompatible(other: PCAStatistics, caller: string): void {
    if (this.#label !== null && other.#label !== null && this.#label !== other.#label) {
      throw new InvalidArgumentError(
        `${caller}: statistics must describe the same features — got label ${JSON.stringify(this.#label)} here and ${JSON.stringify(other.#label)} in the other. Merge only statistics of one backbone layer.`,
      );
    }
    if (this.#featureShape !== null && other.#featureShape !== null && formatShape(this.#featureShape) !== formatShape(other.#featureShape)) {
      throw new ShapeMismatchError(
        `${caller}: statistics must have the same featureShape — got ${formatShape(this.#featureShape)} here and ${formatShape(other.#featureShape)} in the other. Merge only statistics of one backbone layer and pooling.`,
      );
    }
    if (this.#nFeatures !== null && other.#nFeatures !== null && this.#nFeatures !== other.#nFeatures) {
      throw new ShapeMismatchError(
        `${caller}: statistics must have the same nFeatures — got ${this.#nFeatures} here and ${other.#nFeatures} in the other. Merge only statistics of features from one backbone, layer, pooling and image size.`,
      );
    }
  }
}

/** Reads a batch as float32 values `[n, d]`, checking shape and finiteness (the values are not copied). */
function readBatch(
  batch: tf.Tensor2D | Float32Array,
  shape: readonly [number, number] | undefined,
  caller: string,
): { values: Float32Array; n: number; d: number } {
  if (batch instanceof tf.Tensor) {
    if (shape !== undefined) {
      throw new InvalidArgumentError(`${caller}: shape is only for Float32Array batches — got a tensor and a shape. Drop the shape; the tensor has one.`);
    }
    assertFeatures(batch, caller);
    const [n, d] = batch.shape;
    if (d === 0) throw new ShapeMismatchError(`${caller}: features must have at least 1 column — got ${formatShape(batch.shape)}.`);
    return { values: readFiniteValues(batch, caller), n, d };
  }
  if (!(batch instanceof Float32Array)) {
    throw new InvalidArgumentError(
      `${caller}: batch must be a tf.Tensor2D [nSamples, nFeatures] or a row-major Float32Array with its shape — got ${batch === null ? 'null' : Object.prototype.toString.call(batch)}. Convert with Float32Array.from().`,
    );
  }
  const valid = Array.isArray(shape) && shape.length === 2 && shape.every((v) => Number.isSafeInteger(v) && v >= 0) && shape[1]! >= 1;
  if (!valid || shape[0] * shape[1] !== batch.length) {
    throw new ShapeMismatchError(
      `${caller}: a Float32Array batch needs its shape [nSamples, nFeatures] with nSamples × nFeatures = ${batch.length} entries — got ${Array.isArray(shape) ? formatShape(shape) : String(shape)}. Pass update(values, [n, d]).`,
    );
  }
  const [n, d] = shape as [number, number];
  assertFiniteValues(batch, d, caller);
  return { values: batch, n, d };
}

function checkFeatureShape(featureShape: readonly number[], caller: string): number[] {
  if (!Array.isArray(featureShape) || featureShape.length === 0 || !featureShape.every((v) => Number.isSafeInteger(v) && v >= 1)) {
    throw new InvalidArgumentError(
      `${caller}: featureShape must be an array of positive integers such as [4, 4, 256] — got ${JSON.stringify(featureShape)}. Pass the featureShape getFeatures() returned.`,
    );
  }
  return [...featureShape];
}

function product(values: readonly number[]): number {
  return values.reduce((a, b) => a * b, 1);
}

function cloneMoments(moments: Moments): Moments {
  return {
    shift: moments.shift.slice(),
    sum: moments.sum.slice(),
    scatter: moments.scatter.slice(),
    pending: moments.pending.slice(),
    pendingRows: moments.pendingRows,
  };
}

function align8(value: number): number {
  return Math.ceil(value / 8) * 8;
}

function payloadBytes(storage: PCAStatisticsStorage, n: number, d: number, pendingRows: number): number {
  return storage === 'rows' ? n * d * 4 : (2 * d + packedLength(d)) * 8 + pendingRows * d * 4;
}

function writeLittleEndian(bytes: Uint8Array, offset: number, values: Float32Array | Float64Array): void {
  if (LITTLE_ENDIAN) {
    bytes.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), offset);
    return;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, values.byteLength);
  const size = values.BYTES_PER_ELEMENT;
  for (let i = 0; i < values.length; i++) {
    if (size === 8) view.setFloat64(i * 8, values[i]!, true);
    else view.setFloat32(i * 4, values[i]!, true);
  }
}

function readLittleEndian64(bytes: Uint8Array, offset: number, count: number): Float64Array {
  if (LITTLE_ENDIAN) return new Float64Array(bytes.slice(offset, offset + count * 8).buffer);
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, count * 8);
  return Float64Array.from({ length: count }, (_, i) => view.getFloat64(i * 8, true));
}

function readLittleEndian32(bytes: Uint8Array, offset: number, count: number): Float32Array {
  if (LITTLE_ENDIAN) return new Float32Array(bytes.slice(offset, offset + count * 4).buffer);
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, count * 4);
  return Float32Array.from({ length: count }, (_, i) => view.getFloat32(i * 4, true));
}

let crcTable: Uint32Array | undefined;

/** CRC-32 (IEEE 802.3, as zlib's `crc32`) of `bytes[start, end)`. */
function crc32(bytes: Uint8Array, start: number, end: number): number {
  if (crcTable === undefined) {
    crcTable = new Uint32Array(256);
    for (let i = 0; i < 256; i++) {
      let c = i;
      for (let bit = 0; bit < 8; bit++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[i] = c >>> 0;
    }
  }
  const table = crcTable;
  let crc = 0xffffffff;
  for (let i = start; i < end; i++) crc = table[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
