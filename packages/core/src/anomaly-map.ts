import * as tf from '@tensorflow/tfjs-core';
import type { FeatureShape } from './feature-pooling';

/**
 * The FRE anomaly map at feature resolution: the squared reconstruction residual summed over
 * channels.
 *
 * @param residual `[B, h·w·c]`, flattened in h, w, c order (as {@link poolAndFlatten} does).
 * @returns `[B, h, w, 1]`.
 */
export function residualToMap(residual: tf.Tensor2D, featureShape: FeatureShape): tf.Tensor4D {
  const [h, w, c] = featureShape;
  return tf.tidy(() => {
    const squared = tf.square(tf.reshape(residual, [residual.shape[0], h, w, c]));
    return tf.sum(squared, 3, true) as tf.Tensor4D;
  });
}

/**
 * Upsamples `[B, h, w, 1]` maps bilinearly with half-pixel centres (PyTorch
 * `F.interpolate(mode='bilinear', align_corners=False)`) to `[B, height, width]`.
 */
export function upsampleMap(map: tf.Tensor4D, height: number, width: number): tf.Tensor3D {
  return tf.tidy(() => {
    const resized = tf.image.resizeBilinear(map, [height, width], false, true);
    return tf.squeeze(resized, [3]) as tf.Tensor3D;
  });
}
