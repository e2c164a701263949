import * as tf from '@tensorflow/tfjs-core';
import { type MatrixProducts, PCAStatistics } from '@dfm/linalg';
import { InvalidArgumentError, ShapeMismatchError, formatShape } from '@dfm/errors';
import type { FeatureShape } from './feature-pooling';

/**
 * The memory bank of a one-pass fit (anomalib's `MemoryBankMixin` embeddings), kept as
 * {@link PCAStatistics}: feature rows `[n, D]` collected batch by batch on the CPU side (not as
 * backend tensors), checked finite on the way in. While fewer than D rows have arrived the bank holds
 * the rows themselves; from D rows on it holds their float64 moments (O(D²) memory, flat in N) and no
 * `[N, D]` matrix exists. {@link takeStatistics} hands them to `DFMModel.fit`. The single implementation
 * used by {@link DFMModel.fit} and the lightning-like `Dfm` module.
 */
export class FeatureBank {
  #statistics: PCAStatistics | null = null;
  /** Resolves where the statistics run their products (see `DFMModel.pcaProducts`). */
  #products: (() => Promise<MatrixProducts | undefined>) | undefined;
  #accumulateSeconds = 0;
  readonly #label: string | undefined;
  #featureShape: FeatureShape | null = null;
  #batches = 0;

  /**
   * @param options.label where the features come from (e.g. `'resnet18/layer3/pool4'`), recorded in the
   * statistics so shards of another backbone, layer or pooling are refused by `PCAStatistics.merge`.
   */
  constructor(options: { label?: string; products?: () => Promise<MatrixProducts | undefined> } = {}) {
    if (options.label !== undefined && typeof options.label !== 'string') {
      throw new InvalidArgumentError(
        `new FeatureBank(): options.label must be a string such as 'resnet18/layer3/pool4' — got ${typeof options.label}. Omit it if unneeded.`,
      );
    }
    if (options.products !== undefined && typeof options.products !== 'function') {
      throw new InvalidArgumentError(
        `new FeatureBank(): options.products must be a function resolving to a MatrixProducts (or undefined) — got ${typeof options.products}. Pass () => model.pcaProducts(), or omit it.`,
      );
    }
    this.#label = options.label;
    this.#products = options.products;
  }

  /** Seconds spent adding rows to the PCA statistics (the moments' products), since the bank was made or cleared. */
  get accumulateSeconds(): number {
    return this.#accumulateSeconds;
  }

  /** Rows collected so far. */
  get samples(): number {
    return this.#statistics?.nSamples ?? 0;
  }

  /** `[h, w, c]` of the collected features, once a batch with a shape was added. */
  get featureShape(): FeatureShape | null {
    return this.#featureShape;
  }

  /**
   * Adds a batch of feature rows (read into the bank; the tensor is not disposed).
   *
   * @param features `[B, D]` float32 from `DFMModel.getFeatures`.
   * @param featureShape `[h, w, c]` with h·w·c = D.
   * @throws InvalidArgumentError (`E_NON_FINITE`) for NaN/Infinity; ShapeMismatchError when D or the shape changes.
   */
  async add(features: tf.Tensor2D, featureShape: FeatureShape, where = 'FeatureBank.add()'): Promise<void> {
    if (!(features instanceof tf.Tensor) || features.rank !== 2) {
      throw new ShapeMismatchError(
        `${where}: features must be rank 2 [nSamples, nFeatures] — got ${features instanceof tf.Tensor ? formatShape(features.shape) : typeof features}. Use getFeatures().`,
      );
    }
    const [rows, nFeatures] = features.shape;
    this.#batches += 1;
    const expected = this.#statistics?.nFeatures ?? null;
    if (expected !== null && nFeatures !== expected) {
      throw new ShapeMismatchError(
        `${where}: batch ${this.#batches} has ${nFeatures} features per sample — earlier batches had ${expected}. Use one image size, backbone, layer and pooling for the whole fit.`,
      );
    }
    if (this.#featureShape !== null && formatShape(featureShape) !== formatShape(this.#featureShape)) {
      throw new ShapeMismatchError(
        `${where}: batch ${this.#batches} has features of shape ${formatShape(featureShape)} — earlier batches had ${formatShape(this.#featureShape)}. Use one backbone, layer and pooling for the whole fit.`,
      );
    }
    if (featureShape[0] * featureShape[1] * featureShape[2] !== nFeatures) {
      throw new ShapeMismatchError(
        `${where}: featureShape ${formatShape(featureShape)} has ${featureShape[0] * featureShape[1] * featureShape[2]} elements — the batch has ${nFeatures} features per sample. Pass the featureShape getFeatures() returned.`,
      );
    }
    const data = await features.data();
    const values = data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>);
    for (let i = 0; i < values.length; i += 1) {
      if (!Number.isFinite(values[i] as number)) {
        throw new InvalidArgumentError(
          `${where}: batch ${this.#batches} gives non-finite features (at sample ${this.samples + Math.floor(i / nFeatures)}). Check that its images are valid and normalised.`,
          { code: 'E_NON_FINITE' },
        );
      }
    }
    if (this.#statistics === null) {
      const products = await this.#products?.();
      this.#statistics = new PCAStatistics({
        nFeatures,
        featureShape,
        ...(this.#label === undefined ? {} : { label: this.#label }),
        ...(products === undefined ? {} : { products }),
      });
    }
    const started = performance.now();
    await this.#statistics.updateAsync(values, [rows, nFeatures]);
    this.#accumulateSeconds += (performance.now() - started) / 1000;
    this.#featureShape = featureShape;
  }

  /**
   * The bank's statistics (owned by the caller; they hold no tensors), emptying the bank. Fit them with
   * `DFMModel.fit(statistics)`, merge them with another shard's, or send them elsewhere with `toBytes()`.
   *
   * @throws InvalidArgumentError when no row was added.
   */
  takeStatistics(where = 'FeatureBank.takeStatistics()'): PCAStatistics {
    const statistics = this.#statistics;
    if (statistics === null || statistics.nSamples === 0) {
      throw new InvalidArgumentError(
        `${where}: the memory bank is empty — got 0 training images. Point the data at a folder with normal training images.`,
      );
    }
    this.clear();
    return statistics;
  }

  /** Drops every collected row. */
  clear(): void {
    this.#statistics = null;
    this.#featureShape = null;
    this.#accumulateSeconds = 0;
    this.#batches = 0;
  }
}
