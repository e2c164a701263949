import { IMAGENET_MEAN, IMAGENET_STD } from '@dfm/backbone';
import { InvalidArgumentError } from '@dfm/errors';

/** Per-channel pixel normalisation `(v − mean[c]) / std[c]` of RGB values in [0, 1]. */
export interface PixelNormalization {
  mean: [number, number, number];
  std: [number, number, number];
}

/**
 * What an image goes through before the backbone, recorded in the model file so that scoring
 * anywhere (CLI, service, browser) reproduces training exactly:
 * decode to RGB in [0, 1] → resize to `imageSize` with `resizeKernel` → normalise.
 */
export interface PreProcessing {
  /** `[height, width]` every image is resized to; `null` = no resizing (images come at the fitted size). */
  imageSize: [number, number] | null;
  /** The resampling kernel of the resize (`'bilinear-antialiased'`, the reference recipe's). */
  resizeKernel: string;
  /** Pixel normalisation; `null` = none (values stay in [0, 1]). */
  normalization: PixelNormalization | null;
}

/** The resize kernel of the reference recipe (PIL's antialiased bilinear). */
export const DEFAULT_RESIZE_KERNEL = 'bilinear-antialiased';

/** The reference recipe's pre-processing at `imageSize` (default 256×256): antialiased bilinear, ImageNet. */
export function defaultPreProcessing(imageSize: [number, number] | null = [256, 256]): PreProcessing {
  return {
    imageSize: imageSize === null ? null : [imageSize[0], imageSize[1]],
    resizeKernel: DEFAULT_RESIZE_KERNEL,
    normalization: { mean: [...IMAGENET_MEAN], std: [...IMAGENET_STD] },
  };
}

const isTriple = (value: unknown, positive: boolean): value is [number, number, number] =>
  Array.isArray(value) &&
  value.length === 3 &&
  value.every((v) => typeof v === 'number' && Number.isFinite(v) && (!positive || v > 0));

/**
 * Checks a {@link PreProcessing} (from a caller or a model file) and returns a clean copy.
 *
 * @throws InvalidArgumentError naming the bad field and what it must be.
 */
export function checkPreProcessing(value: unknown, where: string): PreProcessing {
  const bad = (what: string): never => {
    throw new InvalidArgumentError(
      `${where}: preProcessing must be { imageSize: [h, w] | null, resizeKernel: string, normalization: { mean: [r, g, b], std: [r, g, b] } | null } — ${what}.`,
    );
  };
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return bad(`got ${JSON.stringify(value)}`);
  const { imageSize, resizeKernel, normalization } = value as Record<string, unknown>;
  if (
    !(imageSize === null || (Array.isArray(imageSize) && imageSize.length === 2 && imageSize.every((v) => Number.isSafeInteger(v) && v > 0)))
  ) {
    bad(`imageSize is ${JSON.stringify(imageSize)}`);
  }
  if (typeof resizeKernel !== 'string' || resizeKernel.length === 0) bad(`resizeKernel is ${JSON.stringify(resizeKernel)}`);
  if (normalization !== null) {
    if (normalization === null || typeof normalization !== 'object') bad(`normalization is ${JSON.stringify(normalization)}`);
    const { mean, std } = normalization as Record<string, unknown>;
    if (!isTriple(mean, false) || !isTriple(std, true)) bad(`normalization is ${JSON.stringify(normalization)} (std must be > 0)`);
  }
  const size = imageSize as [number, number] | null;
  const norm = normalization as PixelNormalization | null;
  return {
    imageSize: size === null ? null : [size[0], size[1]],
    resizeKernel: resizeKernel as string,
    normalization: norm === null ? null : { mean: [...norm.mean], std: [...norm.std] },
  };
}
