import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeSafetensors, setBackend } from '@dfm/backbone';
import { randomResnetWeights } from '@dfm/backbone/internal';
import { fitSmallModel } from '../../core/test/small-models';
import { redisServerAvailable, startRedis, type TestRedis } from './redis-server';

/**
 * What the queue's tests (and the CLI's queue-command tests) start from: a real Redis, and a tiny
 * random-weight resnet18 (layer2, 32 px) model fitted on generated `height × width` pictures, with
 * thresholds (image threshold 1) so labels exist, saved as `<dir>/model.dfm`.
 */
export async function queueFixture(dir: string, height: number, width: number): Promise<{ redis: TestRedis; modelPath: string }> {
  if (!redisServerAvailable()) throw new Error('these tests need redis-server on the PATH: apt-get install redis-server (.ci/run installs it)');
  const redis = await startRedis();
  await setBackend('wasm');
  const weights = join(dir, 'weights.safetensors');
  writeFileSync(weights, encodeSafetensors(Object.fromEntries(randomResnetWeights('resnet18', { seed: 11, stages: 2 }))));
  const model = await fitSmallModel({
    dir,
    weights,
    preProcessing: { imageSize: [32, 32], resizeKernel: 'bilinear-antialiased', normalization: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } },
    height,
    width,
  });
  const modelPath = join(dir, 'model.dfm');
  model.postProcessing = { imageThreshold: 1, imageMin: 0, imageMax: 2, pixelThreshold: 1, pixelMin: 0, pixelMax: 2 };
  await model.save(modelPath);
  model.dispose();
  return { redis, modelPath };
}
