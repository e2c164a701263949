import * as tf from '@tensorflow/tfjs-core';
import type { LayerName } from './architectures';
import type { ResNetGraph } from './resnet';

/**
 * Runs a tfjs ResNet graph on a batch and keeps the requested layers (avgpool = mean of layer4 over
 * H, W). Intermediates are freed; the outputs belong to the caller. Imports tfjs-core only, so the
 * worker threads can use it too.
 */
export function runResnet(
  graph: ResNetGraph,
  batch: tf.Tensor4D,
  stages: number,
  layers: readonly LayerName[],
): Record<LayerName, tf.Tensor4D | tf.Tensor2D> {
  return tf.tidy(() => {
    const out: Partial<Record<LayerName, tf.Tensor4D | tf.Tensor2D>> = {};
    graph.run(batch, stages, (stage, output) => {
      const layer = `layer${stage}` as LayerName;
      if (layers.includes(layer)) out[layer] = output;
      if (stage === 4 && layers.includes('avgpool')) out.avgpool = tf.mean(output, [1, 2]) as tf.Tensor2D;
    });
    return out as Record<LayerName, tf.Tensor4D | tf.Tensor2D>;
  });
}
