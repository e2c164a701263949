import { type BadFile, BadImagesError, describeBadFiles, MaskMismatchError } from './errors';
import { DEFAULT_PIXEL_LIMIT, loadImage, readImageHeader } from './load-image';
import { loadMask } from './load-mask';
import type { Sample } from './sample';
import { InvalidArgumentError } from '@dfm/errors';

export interface ValidateSamplesOptions {
  /** `'header'` (default): read headers only (size, format; fast, misses damage after the header). `'full'`: decode every file. */
  check?: 'header' | 'full';
  /** Also check masks, and that each has its image's size. Default false. */
  withMasks?: boolean;
  /** `'error'` (default): throw one {@link BadImagesError} naming every bad file. `'skip'`: return them. */
  onBadImage?: 'error' | 'skip';
  pixelLimit?: number;
  /** Files checked at once. Default 8. */
  concurrency?: number;
}

export interface ValidationReport {
  /** The samples whose files are fine, in order. */
  valid: Sample[];
  /** Every bad file with its error (for a bad mask: the mask path). */
  bad: BadFile[];
}

/**
 * Checks every sample's file (and mask) before any model work, and reports all bad files at
 * once: empty, unreadable, not an image, corrupt, above the pixel limit, or a mask whose size
 * differs from its image. Decoded pixels are dropped right away, so memory stays bounded.
 *
 * @example
 * await validateSamples(dataset.test, { withMasks: dataset.hasMasks, check: 'full' }); // throws BadImagesError listing each bad file
 */
export async function validateSamples(samples: readonly Sample[], options: ValidateSamplesOptions = {}): Promise<ValidationReport> {
  const { check = 'header', withMasks = false, onBadImage = 'error', pixelLimit = DEFAULT_PIXEL_LIMIT, concurrency = 8 } = options;
  if (check !== 'header' && check !== 'full') {
    throw new InvalidArgumentError(`validateSamples(): check must be 'header' or 'full' — got ${JSON.stringify(check)}.`);
  }
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new InvalidArgumentError(`validateSamples(): concurrency must be a positive integer — got ${JSON.stringify(concurrency)}.`);
  }
  const problems: Array<BadFile | null> = new Array(samples.length).fill(null);
  const sizeOf = async (path: string, what: 'image' | 'mask'): Promise<{ width: number; height: number }> => {
    if (check === 'header') return readImageHeader(path, { pixelLimit, what });
    // Decode every pixel but keep only a thumbnail: libvips shrinks while it streams the file.
    const decoded = what === 'image' ? await loadImage(path, { pixelLimit, size: 8, kernel: 'linear' }) : await loadMask(path, { pixelLimit });
    return { width: decoded.originalWidth, height: decoded.originalHeight };
  };
  const checkOne = async (sample: Sample, index: number): Promise<void> => {
    try {
      const image = await sizeOf(sample.path, 'image');
      if (withMasks && sample.maskPath !== null) {
        const mask = await sizeOf(sample.maskPath, 'mask');
        if (mask.width !== image.width || mask.height !== image.height) {
          throw new MaskMismatchError(
            `mask ${sample.maskPath} is ${mask.width}×${mask.height} (w×h) but its image ${sample.path} is ${image.width}×${image.height}. A mask must have its image's size: re-export the mask at that size.`,
            { file: sample.maskPath, imageFile: sample.path },
          );
        }
      }
    } catch (error) {
      const err = error instanceof Error ? error : new Error(String(error));
      const file = (err as { file?: unknown }).file;
      problems[index] = { path: typeof file === 'string' ? file : sample.path, error: err };
    }
  };
  let cursor = 0;
  const worker = async (): Promise<void> => {
    while (cursor < samples.length) {
      const index = cursor++;
      await checkOne(samples[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, samples.length) }, worker));
  const bad = problems.filter((p): p is BadFile => p !== null);
  if (bad.length > 0 && onBadImage === 'error') {
    throw new BadImagesError(describeBadFiles('validateSamples()', bad), { failures: bad });
  }
  return { valid: samples.filter((_, i) => problems[i] === null), bad };
}
