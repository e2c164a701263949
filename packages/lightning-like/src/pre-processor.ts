import { IMAGENET_MEAN, IMAGENET_STD } from '@dfm/backbone';
import type { Batch } from '@dfm/data';
import { InvalidArgumentError } from '@dfm/linalg';
import * as tf from '@tensorflow/tfjs-core';

/** Options of {@link PreProcessor}. */
export interface PreProcessorOptions {
  /** `[height, width]` the loader resizes every image to (antialiased). Default `[256, 256]`. */
  imageSize?: [number, number];
  /** Per-channel mean subtracted after scaling to [0, 1]. Default ImageNet's. */
  mean?: readonly [number, number, number];
  /** Per-channel standard deviation divided by. Default ImageNet's. */
  std?: readonly [number, number, number];
}

/**
 * Pre-processing of the reference recipe: resize to 256×256 and ImageNet normalisation, both
 * done while decoding by the data loader ({@link PreProcessor.batchOptions}); {@link PreProcessor.transform}
 * normalises here, on tensors, only batches the loader did not normalise.
 */
export class PreProcessor {
  readonly imageSize: [number, number];
  readonly mean: readonly [number, number, number];
  readonly std: readonly [number, number, number];

  constructor(options: PreProcessorOptions = {}) {
    const { imageSize = [256, 256], mean = IMAGENET_MEAN, std = IMAGENET_STD } = options;
    if (!Array.isArray(imageSize) || imageSize.length !== 2 || !imageSize.every((v) => Number.isInteger(v) && v >= 32)) {
      throw new InvalidArgumentError(
        `new PreProcessor(): imageSize must be [height, width] with integers ≥ 32 — got ${JSON.stringify(imageSize)}. Use [256, 256].`,
      );
    }
    if (std.some((v) => !(v > 0))) {
      throw new InvalidArgumentError(`new PreProcessor(): std must be positive — got ${JSON.stringify(std)}.`);
    }
    this.imageSize = [imageSize[0], imageSize[1]];
    this.mean = mean;
    this.std = std;
  }

  /** What the data loader should do while decoding: resize to `imageSize` and normalise with `mean`/`std`. */
  batchOptions(): { imageSize: [number, number]; normalize: { mean: [number, number, number]; std: [number, number, number] } } {
    return { imageSize: [...this.imageSize], normalize: { mean: [...this.mean], std: [...this.std] } };
  }

  /** Normalised `[B, H, W, 3]` tensor of a decoded batch (owned by the caller). */
  transform(batch: Batch): tf.Tensor4D {
    const { batchSize, height, width } = batch;
    if (batch.images.length !== batchSize * height * width * 3) {
      throw new InvalidArgumentError(
        `PreProcessor.transform(): a batch of ${batchSize} ${height}×${width} RGB images needs ${batchSize * height * width * 3} values — got ${batch.images.length}.`,
      );
    }
    const done = batch.normalization;
    if (done !== null && done !== undefined) {
      if (done.mean.every((v, c) => v === this.mean[c]) && done.std.every((v, c) => v === this.std[c])) {
        return tf.tensor4d(batch.images, [batchSize, height, width, 3]);
      }
      throw new InvalidArgumentError(
        `PreProcessor.transform(): the batch was normalised with mean ${JSON.stringify(done.mean)}, std ${JSON.stringify(done.std)} — this pre-processor uses mean ${JSON.stringify(this.mean)}, std ${JSON.stringify(this.std)}. Decode with batchOptions() of this pre-processor.`,
      );
    }
    return tf.tidy(() => {
      const images = tf.tensor4d(batch.images, [batchSize, height, width, 3]);
      return tf.div(tf.sub(images, tf.tensor1d([...this.mean])), tf.tensor1d([...this.std])) as tf.Tensor4D;
    });
  }

  toJSON(): Required<PreProcessorOptions> {
    return { imageSize: this.imageSize, mean: this.mean, std: this.std };
  }
}
