import * as tf from '@tensorflow/tfjs-core';
import { InvalidArgumentError, ShapeMismatchError } from '@dfm/errors';

/** ImageNet channel means (RGB), as used by torchvision and timm. */
export const IMAGENET_MEAN: readonly [number, number, number] = [0.485, 0.456, 0.406];
/** ImageNet channel standard deviations (RGB). */
export const IMAGENET_STD: readonly [number, number, number] = [0.229, 0.224, 0.225];

/** Per-channel statistics of {@link normalizeImages}. */
export interface ImageNormalization {
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
}

/**
 * Normalises RGB images in [0, 1] per channel: `(x − mean[c]) / std[c]`, in float32. Returns a new
 * tensor; the input is not changed. The tensor form of pixel normalisation (the data loader does the
 * same while resizing, for free).
 *
 * @param images `[B, H, W, 3]` float32 in [0, 1]
 * @param normalization per-channel `mean` and `std` (std > 0); ImageNet's: {@link IMAGENET_MEAN}, {@link IMAGENET_STD}
 * @returns `[B, H, W, 3]` float32, ready for `Backbone.extract`
 *
 * @example
 * const batch = normalizeImages(tf.ones([1, 256, 256, 3]), { mean: IMAGENET_MEAN, std: IMAGENET_STD });
 */
export function normalizeImages(images: tf.Tensor4D, normalization: ImageNormalization): tf.Tensor4D {
  return normalizeWith(images, normalization, 'normalizeImages()');
}

/** The one implementation of {@link normalizeImages} and {@link normalizeImageNet}; `caller` names the public function in messages. */
function normalizeWith(images: tf.Tensor4D, normalization: ImageNormalization, caller: string): tf.Tensor4D {
  if (!(images instanceof tf.Tensor) || images.rank !== 4 || images.shape[3] !== 3) {
    const shape = images instanceof tf.Tensor ? `[${images.shape.join(',')}]` : typeof images;
    throw new ShapeMismatchError(
      `${caller}: images must be [B, H, W, 3] (NHWC RGB) — got ${shape}. Convert grey or RGBA images to RGB first.`,
    );
  }
  const { mean, std } = normalization ?? ({} as ImageNormalization);
  const triple = (v: unknown) => Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number' && Number.isFinite(x));
  if (!triple(mean) || !triple(std) || std.some((v) => !(v > 0))) {
    throw new InvalidArgumentError(
      `${caller}: normalization must be { mean: [r, g, b], std: [r, g, b] } with finite numbers and std > 0 — got ${JSON.stringify(normalization)}. ImageNet's is { mean: IMAGENET_MEAN, std: IMAGENET_STD }.`,
    );
  }
  return tf.tidy(() => {
    const x = images.dtype === 'float32' ? images : tf.cast(images, 'float32');
    return tf.div(tf.sub(x, tf.tensor1d([...mean], 'float32')), tf.tensor1d([...std], 'float32')) as tf.Tensor4D;
  });
}

/**
 * {@link normalizeImages} with ImageNet's statistics, what the pretrained backbones expect.
 *
 * @example
 * const batch = normalizeImageNet(tf.ones([1, 256, 256, 3]));
 */
export function normalizeImageNet(images: tf.Tensor4D): tf.Tensor4D {
  return normalizeWith(images, { mean: IMAGENET_MEAN, std: IMAGENET_STD }, 'normalizeImageNet()');
}
