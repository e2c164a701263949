import { architectureOf, BATCH_NORM_PARAMETERS, type BackboneName, networkPlan, planConvs } from './architectures';
import { randomNormal, randomUniform } from './random';

/** How random BatchNorm parameters are drawn. */
export type RandomBatchNorm = 'identity' | 'random';

export interface RandomResnetWeightsOptions {
  /** Seed of every stream. Default 0. */
  seed?: number;
  /** Build stages 1..`stages` (1..4). Default 4. */
  stages?: number;
  /**
   * `identity` (default, torchvision's init): weight 1, bias 0, running_mean 0, running_var 1.
   * `random`: weight 1 + 0.1·z, bias 0.1·z, running_mean 0.1·z, running_var uniform in (0.5, 1.5),
   * to test BatchNorm folding against PyTorch's eval mode.
   */
  batchNorm?: RandomBatchNorm;
}

/** A tensor of a state dict in torchvision's layout (conv weights OIHW). */
export interface StateTensor {
  shape: number[];
  data: Float32Array;
}

/**
 * Random weights for `name` with torchvision's names and layout: conv weights He normal
 * (`kaiming_normal_`, mode fan_out, std = sqrt(2 / (out × k × k))), each tensor drawn from its own
 * stream `(seed, tensor name)` of `./random` (see there), so `scripts/make_fixtures.py` rebuilds
 * the same network in PyTorch. BatchNorm parameters per `batchNorm`.
 *
 * @example
 * const weights = randomResnetWeights('resnet18', { seed: 1, stages: 3 });
 * weights.get('conv1.weight')?.shape; // [64, 3, 7, 7]
 */
export function randomResnetWeights(
  name: BackboneName,
  options: RandomResnetWeightsOptions = {},
): Map<string, StateTensor> {
  const { seed = 0, stages = 4, batchNorm = 'identity' } = options;
  const plan = networkPlan(architectureOf(name, 'randomResnetWeights()'), stages);
  const weights = new Map<string, StateTensor>();
  for (const conv of planConvs(plan)) {
    const fanOut = conv.outChannels * conv.kernel * conv.kernel;
    const count = fanOut * conv.inChannels;
    const weightName = `${conv.conv}.weight`;
    weights.set(weightName, {
      shape: [conv.outChannels, conv.inChannels, conv.kernel, conv.kernel],
      data: randomNormal(count, seed, weightName, 0, Math.sqrt(2 / fanOut)),
    });
    const c = conv.outChannels;
    for (const parameter of BATCH_NORM_PARAMETERS) {
      const tensorName = `${conv.bn}.${parameter}`;
      let data: Float32Array;
      if (batchNorm === 'identity') {
        data = new Float32Array(c).fill(parameter === 'weight' || parameter === 'running_var' ? 1 : 0);
      } else if (parameter === 'weight') {
        data = randomNormal(c, seed, tensorName, 1, 0.1);
      } else if (parameter === 'running_var') {
        data = randomUniform(c, seed, tensorName, 0.5, 1.5);
      } else {
        data = randomNormal(c, seed, tensorName, 0, 0.1);
      }
      weights.set(tensorName, { shape: [c], data });
    }
  }
  return weights;
}
