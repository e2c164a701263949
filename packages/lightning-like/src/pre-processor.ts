import { IMAGENET_MEAN, IMAGENET_STD, normalizeImages } from '@dfm/backbone';
import { DEFAULT_RESIZE_KERNEL, type PreProcessing } from '@dfm/core';
import { type Batch, RESIZE_KERNELS, type ResizeKernel } from '@dfm/data';
import { InvalidArgumentError } from '@dfm/errors';
import * as tf from '@tensorflow/tfjs-core';

/** Options of {@link PreProcessor}. */
export interface PreProcessorOptions {
  /** `[height, width]` the loader resizes every image to. Default `[256, 256]`; `null` = no resizing. */
  imageSize?: [number, number] | null;
  /** Resampling kernel of the resize. Default `'bilinear-antialiased'` (PIL's antialiased bilinear). */
  resizeKernel?: ResizeKernel;
  /** Per-channel mean subtracted after scaling to [0, 1]. Default ImageNet's; `null` (with `std: null`) = no normalisation. */
  mean?: readonly [number, number, number] | null;
  /** Per-channel standard deviation divided by. Default ImageNet's; `null` (with `mean: null`) = no normalisation. */
  std?: readonly [number, number, number] | null;
}

/**
 * Pre-processing (anomalib's `PreProcessor`): resize to `imageSize` (antialiased) and normalise
 * with `mean`/`std`, both done while decoding by the data loader ({@link PreProcessor.batchOptions});
 * {@link PreProcessor.transform} normalises here, on tensors, only batches the loader did not
 * normalise. Everything it does is recorded in the model file ({@link PreProcessor.toPreProcessing})
 * and restored by `Dfm.load`, so a model scores anywhere exactly as it was trained.
 *
 * `Dfm({ preProcessor: false })` uses {@link PreProcessor.identity}: no resizing, no normalisation.
 */
export class PreProcessor {
  readonly imageSize: [number, number] | null;
  readonly resizeKernel: ResizeKernel;
  readonly mean: readonly [number, number, number] | null;
  readonly std: readonly [number, number, number] | null;

  constructor(options: PreProcessorOptions = {}) {
    const { imageSize = [256, 256], resizeKernel = DEFAULT_RESIZE_KERNEL as ResizeKernel } = options;
    const mean = options.mean === undefined ? IMAGENET_MEAN : options.mean;
    const std = options.std === undefined ? IMAGENET_STD : options.std;
    if (
      imageSize !== null &&
      !(Array.isArray(imageSize) && imageSize.length === 2 && imageSize.every((v) => Number.isInteger(v) && v >= 32))
    ) {
      throw new InvalidArgumentError(
        `new PreProcessor(): imageSize must be [height, width] with integers ≥ 32, or null for no resizing — got ${JSON.stringify(imageSize)}. Use [256, 256].`,
      );
    }
    if (!RESIZE_KERNELS.includes(resizeKernel)) {
      throw new InvalidArgumentError(
        `new PreProcessor(): resizeKernel must be one of ${RESIZE_KERNELS.join(', ')} — got ${JSON.stringify(resizeKernel)}.`,
      );
    }
    if ((mean === null) !== (std === null)) {
      throw new InvalidArgumentError(
        `new PreProcessor(): mean and std must both be given or both be null (no normalisation) — got mean ${JSON.stringify(mean)}, std ${JSON.stringify(std)}.`,
      );
    }
    const triple = (v: unknown) => Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number' && Number.isFinite(x));
    if (mean !== null && (!triple(mean) || !triple(std) || (std as readonly number[]).some((v) => !(v > 0)))) {
      throw new InvalidArgumentError(
        `new PreProcessor(): mean and std must be three finite numbers each, std > 0 — got mean ${JSON.stringify(mean)}, std ${JSON.stringify(std)}.`,
      );
    }
    this.imageSize = imageSize === null ? null : [imageSize[0], imageSize[1]];
    this.resizeKernel = resizeKernel;
    this.mean = mean === null ? null : [mean[0], mean[1], mean[2]];
    this.std = std === null ? null : [std![0], std![1], std![2]];
  }

  /** A pre-processor that does nothing: images keep their size (all must share one) and their [0, 1] values. */
  static identity(): PreProcessor {
    return new PreProcessor({ imageSize: null, mean: null, std: null });
  }

  /** Restores a pre-processor from a model file's {@link PreProcessing}. */
  static fromPreProcessing(record: PreProcessing): PreProcessor {
    return new PreProcessor({
      imageSize: record.imageSize,
      resizeKernel: record.resizeKernel as ResizeKernel,
      mean: record.normalization?.mean ?? null,
      std: record.normalization?.std ?? null,
    });
  }

  /** What the model file records (see `@dfm/core`'s {@link PreProcessing}). */
  toPreProcessing(): PreProcessing {
    return {
      imageSize: this.imageSize === null ? null : [this.imageSize[0], this.imageSize[1]],
      resizeKernel: this.resizeKernel,
      normalization: this.mean === null || this.std === null ? null : { mean: [...this.mean], std: [...this.std] },
    };
  }

  /** What the data loader should do while decoding: resize to `imageSize` with `resizeKernel` and normalise with `mean`/`std`. */
  batchOptions(): {
    imageSize: [number, number] | null;
    kernel: ResizeKernel;
    normalize?: { mean: [number, number, number]; std: [number, number, number] };
  } {
    const options: ReturnType<PreProcessor['batchOptions']> = {
      imageSize: this.imageSize === null ? null : [...this.imageSize],
      kernel: this.resizeKernel,
    };
    if (this.mean !== null && this.std !== null) options.normalize = { mean: [...this.mean], std: [...this.std] };
    return options;
  }

  /** The `[B, H, W, 3]` tensor of a decoded batch, normalised (owned by the caller). */
  transform(batch: Batch): tf.Tensor4D {
    const { batchSize, height, width } = batch;
    if (batch.images.length !== batchSize * height * width * 3) {
      throw new InvalidArgumentError(
        `PreProcessor.transform(): a batch of ${batchSize} ${height}×${width} RGB images needs ${batchSize * height * width * 3} values — got ${batch.images.length}.`,
      );
    }
    const done = batch.normalization ?? null;
    const same = (a: readonly number[] | null, b: readonly number[] | null) =>
      a === null ? b === null : b !== null && a.every((v, c) => v === b[c]);
    if (done !== null) {
      if (same(done.mean, this.mean) && same(done.std, this.std)) return tf.tensor4d(batch.images, [batchSize, height, width, 3]);
      throw new InvalidArgumentError(
        `PreProcessor.transform(): the batch was normalised with mean ${JSON.stringify(done.mean)}, std ${JSON.stringify(done.std)} — this pre-processor uses mean ${JSON.stringify(this.mean)}, std ${JSON.stringify(this.std)}. Decode with batchOptions() of this pre-processor.`,
      );
    }
    if (this.mean === null || this.std === null) return tf.tensor4d(batch.images, [batchSize, height, width, 3]);
    return tf.tidy(() => normalizeImages(tf.tensor4d(batch.images, [batchSize, height, width, 3]), { mean: this.mean!, std: this.std! }));
  }

  toJSON(): Required<PreProcessorOptions> {
    return { imageSize: this.imageSize, resizeKernel: this.resizeKernel, mean: this.mean, std: this.std };
  }
}
