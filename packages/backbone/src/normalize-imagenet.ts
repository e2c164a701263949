import { ShapeMismatchError } from '@dfm/linalg';
import * as tf from '@tensorflow/tfjs-core';

/** ImageNet channel means (RGB), as used by torchvision and timm. */
export const IMAGENET_MEAN: readonly [number, number, number] = [0.485, 0.456, 0.406];
/** ImageNet channel standard deviations (RGB). */
export const IMAGENET_STD: readonly [number, number, number] = [0.229, 0.224, 0.225];

/**
 * Normalises RGB images in [0, 1] with the ImageNet mean and std: `(x − mean) / std` per channel,
 * in float32. Returns a new tensor; the input is not changed.
 *
 * @param images `[B, H, W, 3]` float32 in [0, 1]
 * @returns `[B, H, W, 3]` float32, ready for `Backbone.extract`
 *
 * @example
 * const batch = normalizeImageNet(tf.ones([1, 256, 256, 3]));
 */
export function normalizeImageNet(images: tf.Tensor4D): tf.Tensor4D {
  if (!(images instanceof tf.Tensor) || images.rank !== 4 || images.shape[3] !== 3) {
    const shape = images instanceof tf.Tensor ? `[${images.shape.join(',')}]` : typeof images;
    throw new ShapeMismatchError(
      `normalizeImageNet(): images must be [B, H, W, 3] (NHWC RGB) — got ${shape}. Convert grey or RGBA images to RGB first.`,
    );
  }
  return tf.tidy(() => {
    const x = images.dtype === 'float32' ? images : tf.cast(images, 'float32');
    const mean = tf.tensor1d(IMAGENET_MEAN as unknown as number[], 'float32');
    const std = tf.tensor1d(IMAGENET_STD as unknown as number[], 'float32');
    return tf.div(tf.sub(x, mean), std) as tf.Tensor4D;
  });
}
