import * as tf from '@tensorflow/tfjs-core';
import { InvalidArgumentError, formatShape } from '@dfm/errors';

/** Height, width and channels of a pooled feature map: `[h, w, c]`. */
export type FeatureShape = [height: number, width: number, channels: number];

/**
 * Average-pools a backbone feature map with kernel = stride = `kernelSize` (floor: trailing rows
 * and columns that do not fill a window are dropped, like PyTorch's `avg_pool2d`) and flattens it.
 *
 * @param featureMap `[B, H, W, C]` (NHWC).
 * @param kernelSize Integer ≥ 1; 1 means no pooling.
 * @returns `features` `[B, h·w·c]` (flattened in h, w, c order) and `featureShape` `[h, w, c]`.
 */
export function poolAndFlatten(
  featureMap: tf.Tensor4D,
  kernelSize: number,
): { features: tf.Tensor2D; featureShape: FeatureShape } {
  if (!Number.isInteger(kernelSize) || kernelSize < 1) {
    throw new InvalidArgumentError(
      `poolAndFlatten(): kernelSize must be an integer ≥ 1 — got ${kernelSize}. Use 1 for no pooling or e.g. 4.`,
    );
  }
  const [batch, height, width, channels] = featureMap.shape;
  if (height < kernelSize || width < kernelSize) {
    throw new InvalidArgumentError(
      `poolAndFlatten(): the feature map ${formatShape(featureMap.shape)} is smaller than the pooling kernel ${kernelSize} — use a smaller poolingKernelSize or larger images.`,
    );
  }
  return tf.tidy(() => {
    const pooled = kernelSize === 1 ? featureMap : tf.avgPool(featureMap, kernelSize, kernelSize, 'valid');
    const [, h, w] = pooled.shape;
    return {
      features: tf.reshape(pooled, [batch, h * w * channels]) as tf.Tensor2D,
      featureShape: [h, w, channels] as FeatureShape,
    };
  });
}
