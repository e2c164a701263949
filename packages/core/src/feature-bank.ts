import * as tf from '@tensorflow/tfjs-core';
import { type MatrixProducts, PCAStatistics } from '@dfm/linalg';
import { InvalidArgumentError, ShapeMismatchError, formatShape } from '@dfm/errors';
import type { FeatureShape } from './feature-pooling';

/**
 * The memory bank of a one-pass fit (anomalib's `MemoryBankMixin` embeddings), kept as
 * {@link PCAStatistics}: feature rows `[n, D]` collected batch by batch on the CPU side (not as
 * backend tensors), checked finite on the way in. While fewer than D rows have arrived the bank holds
 * the rows themselves; from D rows on it holds their float64 moments (O(D²) memory, flat in N) and no
 * `[N, D]` matrix exists. {@link takeStatistics} hands them to `DFMModel.fit` (or to another process, for
 * a sharded fit); {@link addStatistics} merges a shard's statistics in. The single implementation
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
    // `values` is ours alone when we made it, or when tfjs-wasm read it out of its memory (a fresh copy; the cpu
    // backend would hand back the tensor's own storage): then the statistics keep it instead of a copy.
    const owned = values !== data || tf.getBackend() === 'wasm';
    await this.#statistics.updateAsync(values, [rows, nFeatures], { transfer: owned });
    this.#accumulateSeconds += (performance.now() - started) / 1000;
    this.#featureShape = featureShape;
  }

  /**
   * Merges statistics collected elsewhere into the bank — a shard's, e.g. `PCAStatistics.fromBytes(bytes)`
   * from another process — as if their rows had been added here (see `PCAStatistics.merge` for how exact).
   * An empty bank adopts them.
   *
   * Ownership: the bank takes `statistics` over, as {@link takeStatistics} hands them out. An empty bank
   * keeps that very object (no O(D²) copy) and later {@link add} calls update it in place, on the tfjs
   * backend (adopted statistics keep the `products` they were made with, usually none; the fit's solve
   * runs where `DFMModel.pcaProducts` says either way); a bank that holds rows merges them and leaves the
   * object as it was. Do not use, merge or send `statistics` after this call.
   *
   * @param statistics Rows of this bank's features: the bank's `label`, and the D and featureShape of
   * the rows it holds.
   * @param featureShape `[h, w, c]` of the features, h·w·c = D (the shard's `featureShape`).
   * @throws InvalidArgumentError when `statistics` is not a PCAStatistics, holds no row or has another label;
   * ShapeMismatchError when D or the featureShape differ from the statistics' own or from the bank's rows.
   */
  addStatistics(statistics: PCAStatistics, featureShape: FeatureShape, where = 'FeatureBank.addStatistics()'): void {
    if (!(statistics instanceof PCAStatistics)) {
      throw new InvalidArgumentError(
        `${where}: statistics must be a PCAStatistics — got ${statistics === null ? 'null' : typeof statistics}. Rebuild bytes from another process with PCAStatistics.fromBytes().`,
      );
    }
    if (!isFeatureShape(featureShape)) {
      throw new InvalidArgumentError(
        `${where}: featureShape must be [h, w, c] with positive integers — got ${JSON.stringify(featureShape)}. Pass the featureShape the statistics' features had.`,
      );
    }
    const nFeatures = statistics.nFeatures;
    if (statistics.nSamples === 0 || nFeatures === null) {
      throw new InvalidArgumentError(
        `${where}: statistics must hold at least one row — got statistics of 0 samples. Leave out a shard that saw no training image.`,
      );
    }
    if (this.#label !== undefined && statistics.label !== this.#label) {
      throw new InvalidArgumentError(
        `${where}: statistics must describe this bank's features, label ${JSON.stringify(this.#label)} — got ${statistics.label === null ? 'statistics without a label' : `label ${JSON.stringify(statistics.label)}`}. Collect every shard with the same backbone, layer and pooling.`,
      );
    }
    const elements = featureShape[0] * featureShape[1] * featureShape[2];
    if (elements !== nFeatures) {
      throw new ShapeMismatchError(
        `${where}: featureShape ${formatShape(featureShape)} must have as many elements as the statistics have features per sample (${nFeatures}) — got ${elements}. Pass the featureShape the shard's features had.`,
      );
    }
    const recorded = statistics.featureShape;
    if (recorded !== null && formatShape(recorded) !== formatShape(featureShape)) {
      throw new ShapeMismatchError(
        `${where}: featureShape must be the one the statistics record, ${formatShape(recorded)} — got ${formatShape(featureShape)}. Pass the featureShape the shard's features had.`,
      );
    }
    const expected = this.#statistics?.nFeatures ?? null;
    if (expected !== null && nFeatures !== expected) {
      throw new ShapeMismatchError(
        `${where}: statistics must have ${expected} features per sample, like the rows in the bank — got ${nFeatures}. Use one image size, backbone, layer and pooling for every shard.`,
      );
    }
    if (this.#featureShape !== null && formatShape(featureShape) !== formatShape(this.#featureShape)) {
      throw new ShapeMismatchError(
        `${where}: statistics must have features of shape ${formatShape(this.#featureShape)}, like the rows in the bank — got ${formatShape(featureShape)}. Use one backbone, layer and pooling for every shard.`,
      );
    }
    const started = performance.now();
    if (this.#statistics === null) this.#statistics = statistics;
    else this.#statistics.merge(statistics);
    this.#accumulateSeconds += (performance.now() - started) / 1000;
    this.#featureShape = [featureShape[0], featureShape[1], featureShape[2]];
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

function isFeatureShape(value: unknown): value is FeatureShape {
  return Array.isArray(value) && value.length === 3 && value.every((v) => Number.isSafeInteger(v) && v >= 1);
}
