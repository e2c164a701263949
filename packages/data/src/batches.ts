import { type BadFile, BadImagesError, describeBadFiles, MaskMismatchError } from './errors';
import { DEFAULT_PIXEL_LIMIT, type ImageSize, loadImage, normalizeSize, type ResizeKernel } from './load-image';
import { loadMask } from './load-mask';
import { type Normalization, normalizationAffine, normalizeInPlace } from './normalization';
import type { Sample } from './sample';
import { createSyntheticAnomaly } from './synthetic-anomaly';
import { InvalidArgumentError, ShapeMismatchError } from '@dfm/errors';

/** A batch of decoded images, NHWC. */
export interface Batch {
  /** [batchSize, height, width, 3] RGB in [0, 1], or normalised when {@link Batch.normalization} is set. */
  images: Float32Array;
  /**
   * The normalisation applied to `images` (`BatchOptions.normalize`); null or absent: values in
   * [0, 1]. `batches()` always sets it; optional so hand-made batches need not.
   */
  normalization?: Normalization | null;
  /** [batchSize, height, width] 0/1, or null when `withMasks` is false. */
  masks: Uint8Array | null;
  /** The samples in this batch, in order (skipped files are not here). */
  samples: Sample[];
  /** Images in this batch (the last batch may be smaller). */
  batchSize: number;
  height: number;
  width: number;
}

export interface BatchOptions {
  /** Images per batch (the last one may hold fewer). */
  batchSize: number;
  /**
   * Every image is resized to this (`number` = square). `null`: no resizing — every image keeps its
   * own size, which must be the size of the first image of the pass (a different one is a bad file,
   * code `E_IMAGE_SIZE_MISMATCH`); for a model whose pre-processor is switched off.
   */
  imageSize: ImageSize | null;
  /** Batches decoded ahead of the consumer, at most. Default 2; 0 = decode on demand. */
  prefetch?: number;
  /** `'error'` (default): a bad file stops the iteration with an error naming it. `'skip'`: it is left out, reported to `onSkip` and listed in `skipped`. */
  onBadImage?: 'error' | 'skip';
  /** Called once per skipped file (`onBadImage: 'skip'`). */
  onSkip?: (path: string, error: Error) => void;
  /** See {@link loadImage}. */
  pixelLimit?: number;
  /** Load masks (normal images: zeros; synthetic anomalies: generated). Default false. */
  withMasks?: boolean;
  /** Resampling kernel for images. Default `'bilinear-antialiased'`. */
  kernel?: ResizeKernel;
  /**
   * Normalise images while decoding (`(v − mean[c]) / std[c]`, e.g. ImageNet's), so the batch is
   * ready for a backbone without another pass over its pixels. Masks are unaffected.
   */
  normalize?: Normalization;
}

/** Counters of a pass, for tests and monitoring. */
export interface BatchStats {
  /** Batches built (including the one being built). */
  batchesStarted: number;
  /** Samples whose decoding has started. */
  samplesStarted: number;
  /** Most batches alive at once: held by the consumer + decoded ahead + being decoded. At most `prefetch + 1`. */
  maxBatchesAlive: number;
}

/** The result of {@link batches}: an async iterable that also lists what it skipped. */
export interface BatchStream extends AsyncIterable<Batch> {
  /** Files left out in the current/last pass (`onBadImage: 'skip'`), in order. */
  readonly skipped: BadFile[];
  readonly stats: BatchStats;
}

interface Decoded {
  sample: Sample;
  image: Float32Array;
  mask: Uint8Array | null;
  height: number;
  width: number;
}

/** Decodes one sample at `size`, or at its own size when `size` is null. */
async function decodeSample(
  sample: Sample,
  size: [number, number] | null,
  options: {
    pixelLimit: number;
    withMasks: boolean;
    kernel: ResizeKernel;
    normalize: Normalization | undefined;
    affine: ReturnType<typeof normalizationAffine> | undefined;
  },
): Promise<Decoded> {
  const synthetic = options.withMasks && sample.synthetic !== undefined ? sample.synthetic : undefined;
  // Synthetic anomalies are drawn on [0, 1] images: those are normalised afterwards.
  const imagePromise = loadImage(sample.path, {
    ...(size === null ? {} : { size }),
    pixelLimit: options.pixelLimit,
    kernel: options.kernel,
    normalize: synthetic === undefined ? options.normalize : undefined,
  });
  const decoded = (image: { data: Float32Array; height: number; width: number }, mask: Uint8Array | null): Decoded => ({
    sample,
    image: image.data,
    mask,
    height: image.height,
    width: image.width,
  });
  if (!options.withMasks) return decoded(await imagePromise, null);
  if (synthetic !== undefined) {
    const loaded = await imagePromise;
    const made = createSyntheticAnomaly(loaded.data, loaded.height, loaded.width, synthetic.seed);
    const image = options.affine === undefined ? made.image : normalizeInPlace(made.image, options.affine);
    return decoded({ data: image, height: loaded.height, width: loaded.width }, made.mask);
  }
  if (sample.maskPath === null) {
    const loaded = await imagePromise;
    return decoded(loaded, new Uint8Array(loaded.height * loaded.width));
  }
  const maskPath = sample.maskPath;
  const [image, mask] = await Promise.all([
    imagePromise,
    loadMask(maskPath, { ...(size === null ? {} : { size }), pixelLimit: options.pixelLimit }),
  ]);
  if (mask.originalHeight !== image.originalHeight || mask.originalWidth !== image.originalWidth) {
    throw new MaskMismatchError(
      `mask ${maskPath} is ${mask.originalWidth}×${mask.originalHeight} (w×h) but its image ${sample.path} is ${image.originalWidth}×${image.originalHeight}. A mask must have its image's size: re-export the mask at that size.`,
      { file: maskPath, imageFile: sample.path },
    );
  }
  return decoded(image, mask.data);
}

/** The path a bad-file report names: the mask for mask errors, else the image. */
function pathOf(sample: Sample, error: unknown): string {
  const file = (error as { file?: unknown }).file;
  return typeof file === 'string' ? file : sample.path;
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * Streams `samples` as NHWC batches with bounded memory: a producer decodes at most `prefetch`
 * batches ahead of the consumer (the images of a batch are decoded concurrently; sharp decodes
 * on its own thread pool), so at most `prefetch + 1` batches exist at once, whatever the dataset
 * size. Every `for await` starts a new pass. Breaking out of the loop stops decoding.
 *
 * With `onBadImage: 'error'` the first batch holding bad files throws: the file's own error
 * ({@link ImageDecodeError}, {@link ImageTooLargeError}, {@link MaskMismatchError}) when one,
 * a {@link BadImagesError} naming each when several. With `'skip'` they are left out (later
 * images fill the batch), reported to `onSkip` and listed in `skipped`.
 *
 * @example
 * const stream = batches(dataset.test, { batchSize: 16, imageSize: 256, withMasks: dataset.hasMasks });
 * for await (const batch of stream) model.predict(tf.tensor4d(batch.images, [batch.batchSize, 256, 256, 3]));
 */
export function batches(samples: readonly Sample[], options: BatchOptions): BatchStream {
  const where = 'batches()';
  const { batchSize, prefetch = 2, onBadImage = 'error', onSkip, withMasks = false } = options;
  const kernel = options.kernel ?? 'bilinear-antialiased';
  const pixelLimit = options.pixelLimit ?? DEFAULT_PIXEL_LIMIT;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new InvalidArgumentError(`${where}: batchSize must be a positive integer — got ${JSON.stringify(batchSize)}.`);
  }
  if (!Number.isInteger(prefetch) || prefetch < 0) {
    throw new InvalidArgumentError(`${where}: prefetch must be an integer ≥ 0 — got ${JSON.stringify(prefetch)}.`);
  }
  if (onBadImage !== 'error' && onBadImage !== 'skip') {
    throw new InvalidArgumentError(`${where}: onBadImage must be 'error' or 'skip' — got ${JSON.stringify(onBadImage)}.`);
  }
  if (options.imageSize === undefined) {
    throw new InvalidArgumentError(
      `${where}: imageSize is required (every image is resized to it), e.g. 256 or [256, 256] — got undefined. Pass null to keep every image's own size.`,
    );
  }
  const fixedSize = options.imageSize === null ? null : normalizeSize(options.imageSize, where);
  if (withMasks) {
    const unmasked = samples.filter((s) => s.label === 1 && s.maskPath === null && s.synthetic === undefined);
    if (unmasked.length > 0) {
      throw new InvalidArgumentError(
        `${where}: withMasks is true but ${unmasked.length} anomalous sample(s) have no mask, e.g. ${unmasked[0]!.path}. Pass withMasks: dataset.hasMasks.`,
      );
    }
  }
  const list = samples.slice();
  const skipped: BadFile[] = [];
  const stats: BatchStats = { batchesStarted: 0, samplesStarted: 0, maxBatchesAlive: 0 };
  const normalize = options.normalize;
  const affine = normalize === undefined ? undefined : normalizationAffine(normalize, where);
  const normalization: Normalization | null =
    normalize === undefined ? null : { mean: [...normalize.mean] as Normalization['mean'], std: [...normalize.std] as Normalization['std'] };
  const decodeOptions = { pixelLimit, withMasks, kernel, normalize, affine };

  return {
    skipped,
    stats,
    [Symbol.asyncIterator](): AsyncIterator<Batch> {
      skipped.length = 0;
      Object.assign(stats, { batchesStarted: 0, samplesStarted: 0, maxBatchesAlive: 0 });
      let next = 0; // next sample index to decode
      // The size of this pass: fixed, or (imageSize null) the size of the first image decoded.
      let size: [number, number] | null = fixedSize;
      let closed = false;
      let producing = false;
      let finished = false; // the producer has delivered its last item
      let held = 0; // batches handed to the consumer and not yet released (0 or 1)
      let building = 0;
      const ready: Array<{ batch: Batch } | { error: unknown }> = [];
      let wake: (() => void) | null = null;
      let consumerWaiting = false;

      const alive = (): number => held + ready.length + building;
      const notify = (): void => {
        const resolve = wake;
        wake = null;
        resolve?.();
      };

      const buildBatch = async (): Promise<Batch | null> => {
        const items: Decoded[] = [];
        while (items.length < batchSize && next < list.length && !closed) {
          const chunk = list.slice(next, next + batchSize - items.length);
          next += chunk.length;
          stats.samplesStarted += chunk.length;
          const settled = await Promise.allSettled(chunk.map((sample) => decodeSample(sample, size, decodeOptions)));
          const failures: BadFile[] = [];
          settled.forEach((result, i) => {
            if (result.status === 'rejected') {
              failures.push({ path: pathOf(chunk[i]!, result.reason), error: asError(result.reason) });
              return;
            }
            const item = result.value;
            size ??= [item.height, item.width];
            if (item.height !== size[0] || item.width !== size[1]) {
              const error = new ShapeMismatchError(
                `${where}: with imageSize null (no resizing) every image must be ${size[1]}×${size[0]} (w×h), the size of the first one — got ${item.width}×${item.height} for ${item.sample.path}. Resize the images to one size, or give the pre-processor an imageSize.`,
                { code: 'E_IMAGE_SIZE_MISMATCH' },
              );
              failures.push({ path: item.sample.path, error });
            } else items.push(item);
          });
          if (failures.length > 0) {
            if (onBadImage === 'error') {
              if (failures.length === 1) throw failures[0]!.error;
              throw new BadImagesError(describeBadFiles(where, failures), { failures });
            }
            for (const failure of failures) {
              skipped.push(failure);
              onSkip?.(failure.path, failure.error);
            }
          }
        }
        if (items.length === 0 || size === null) return null;
        const [height, width] = size;
        const imageLength = height * width * 3;
        const maskLength = height * width;
        const count = items.length;
        const images = new Float32Array(count * imageLength);
        const masks = withMasks ? new Uint8Array(count * maskLength) : null;
        items.forEach((item, i) => {
          images.set(item.image, i * imageLength);
          if (masks !== null && item.mask !== null) masks.set(item.mask, i * maskLength);
        });
        return { images, normalization, masks, samples: items.map((item) => item.sample), batchSize: count, height, width };
      };

      const produce = async (): Promise<void> => {
        if (producing) return;
        producing = true;
        try {
          while (!closed && !finished && (ready.length < prefetch || (consumerWaiting && ready.length === 0))) {
            building = 1;
            stats.batchesStarted++;
            stats.maxBatchesAlive = Math.max(stats.maxBatchesAlive, alive());
            let batch: Batch | null;
            try {
              batch = await buildBatch();
            } catch (error) {
              building = 0;
              ready.push({ error });
              finished = true;
              break;
            }
            building = 0;
            if (batch === null) {
              stats.batchesStarted--;
              finished = true;
              break;
            }
            if (!closed) ready.push({ batch });
            notify();
          }
        } finally {
          producing = false;
          notify();
        }
      };

      return {
        async next(): Promise<IteratorResult<Batch>> {
          held = 0; // the previous batch is released when the next one is asked for
          for (;;) {
            if (closed) return { done: true, value: undefined };
            const item = ready.shift();
            if (item !== undefined) {
              if ('error' in item) {
                closed = true;
                throw item.error;
              }
              held = 1;
              void produce(); // refill the queue behind the consumer
              return { done: false, value: item.batch };
            }
            if (finished) {
              closed = true;
              return { done: true, value: undefined };
            }
            consumerWaiting = true;
            const woken = new Promise<void>((resolve) => {
              wake = resolve;
            });
            void produce();
            await woken;
            consumerWaiting = false;
          }
        },
        async return(): Promise<IteratorResult<Batch>> {
          closed = true;
          held = 0;
          ready.length = 0;
          notify();
          return { done: true, value: undefined };
        },
      };
    },
  };
}
