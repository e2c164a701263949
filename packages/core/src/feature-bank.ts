import * as tf from '@tensorflow/tfjs-core';
import { InvalidArgumentError, ShapeMismatchError, formatShape } from '@dfm/errors';
import type { FeatureShape } from './feature-pooling';

/**
 * The memory bank of a one-pass fit (anomalib's `MemoryBankMixin` embeddings): feature rows
 * `[n, D]` collected batch by batch as float32 on the CPU side (not as backend tensors), checked
 * finite on the way in, and handed to the fit as one `[N, D]` tensor. The single implementation
 * used by {@link DFMModel.fit} and the lightning-like `Dfm` module.
 */
export class FeatureBank {
  #chunks: Float32Array[] = [];
  #samples = 0;
  #nFeatures: number | null = null;
  #featureShape: FeatureShape | null = null;
  #batches = 0;

  /** Rows collected so far. */
  get samples(): number {
    return this.#samples;
  }

  /** `[h, w, c]` of the collected features, once a batch with a shape was added. */
  get featureShape(): FeatureShape | null {
    return this.#featureShape;
  }

  /**
   * Adds a batch of feature rows (copied to the bank; the tensor is not disposed).
   *
   * @param features `[B, D]` float32 from `DFMModel.getFeatures`.
   * @param featureShape `[h, w, c]` with h·w·c = D.
   * @throws InvalidArgumentError (`E_NON_FINITE`) for NaN/Infinity; ShapeMismatchError when D changes.
   */
  async add(features: tf.Tensor2D, featureShape: FeatureShape, where = 'FeatureBank.add()'): Promise<void> {
    if (!(features instanceof tf.Tensor) || features.rank !== 2) {
      throw new ShapeMismatchError(
        `${where}: features must be rank 2 [nSamples, nFeatures] — got ${features instanceof tf.Tensor ? formatShape(features.shape) : typeof features}. Use getFeatures().`,
      );
    }
    const [rows, nFeatures] = features.shape;
    this.#batches += 1;
    if (this.#nFeatures !== null && nFeatures !== this.#nFeatures) {
      throw new ShapeMismatchError(
        `${where}: batch ${this.#batches} has ${nFeatures} features per sample — earlier batches had ${this.#nFeatures}. Use one image size, backbone, layer and pooling for the whole fit.`,
      );
    }
    const values = (await features.data()) as Float32Array;
    for (let i = 0; i < values.length; i += 1) {
      if (!Number.isFinite(values[i] as number)) {
        throw new InvalidArgumentError(
          `${where}: batch ${this.#batches} gives non-finite features (at sample ${this.#samples + Math.floor(i / nFeatures)}). Check that its images are valid and normalised.`,
          { code: 'E_NON_FINITE' },
        );
      }
    }
    this.#chunks.push(values);
    this.#samples += rows;
    this.#nFeatures = nFeatures;
    this.#featureShape = featureShape;
  }

  /**
   * The bank as one `[N, D]` tensor (owned by the caller), emptying the bank.
   *
   * @throws InvalidArgumentError when no row was added.
   */
  take(where = 'FeatureBank.take()'): tf.Tensor2D {
    if (this.#samples === 0 || this.#nFeatures === null) {
      throw new InvalidArgumentError(
        `${where}: the memory bank is empty — got 0 training images. Point the data at a folder with normal training images.`,
      );
    }
    const data = new Float32Array(this.#samples * this.#nFeatures);
    let offset = 0;
    for (const chunk of this.#chunks) {
      data.set(chunk, offset);
      offset += chunk.length;
    }
    const bank = tf.tensor2d(data, [this.#samples, this.#nFeatures]);
    this.clear();
    return bank;
  }

  /** Drops every collected row. */
  clear(): void {
    this.#chunks = [];
    this.#samples = 0;
    this.#nFeatures = null;
    this.#batches = 0;
  }
}
