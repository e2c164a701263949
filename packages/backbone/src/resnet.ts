import * as tf from '@tensorflow/tfjs-core';
import type { ConvSpec, NetworkPlan } from './architectures';

/** BatchNorm epsilon of torchvision's ResNets. */
export const BATCH_NORM_EPSILON = 1e-5;

/** A BatchNorm-folded conv in tfjs layout. */
export interface FoldedConv {
  /** HWIO. */
  filter: tf.Tensor4D;
  bias: tf.Tensor1D;
  stride: number;
  pad: number;
}

/** The state-dict view the folder reads: OIHW conv weights and BN vectors by torchvision name. */
export type TensorLookup = (name: string) => Float32Array;

/**
 * Folds an eval-mode BatchNorm into the conv before it and transposes OIHW → HWIO:
 * `w'[o] = w[o] · γ[o] / sqrt(var[o] + ε)`, `b'[o] = β[o] − mean[o] · γ[o] / sqrt(var[o] + ε)`
 * (computed in float64, stored in float32).
 */
export function foldConv(spec: ConvSpec, lookup: TensorLookup): { filter: Float32Array; bias: Float32Array } {
  const weight = lookup(`${spec.conv}.weight`);
  const gamma = lookup(`${spec.bn}.weight`);
  const beta = lookup(`${spec.bn}.bias`);
  const mean = lookup(`${spec.bn}.running_mean`);
  const variance = lookup(`${spec.bn}.running_var`);
  const { outChannels: O, inChannels: I, kernel: K } = spec;
  const filter = new Float32Array(O * I * K * K);
  const bias = new Float32Array(O);
  for (let o = 0; o < O; o++) {
    const scale = (gamma[o] as number) / Math.sqrt((variance[o] as number) + BATCH_NORM_EPSILON);
    bias[o] = (beta[o] as number) - (mean[o] as number) * scale;
    for (let i = 0; i < I; i++) {
      for (let kh = 0; kh < K; kh++) {
        for (let kw = 0; kw < K; kw++) {
          filter[((kh * K + kw) * I + i) * O + o] = (weight[((o * I + i) * K + kh) * K + kw] as number) * scale;
        }
      }
    }
  }
  return { filter, bias };
}

/** One residual block with its convs folded. */
interface FoldedBlock {
  convs: FoldedConv[];
  downsample: FoldedConv | undefined;
}

/**
 * The network as tfjs tensors: stem, max-pool and the residual stages of a plan. Owns its tensors
 * until `dispose()`.
 */
export class ResNetGraph {
  private readonly stem: FoldedConv;
  private readonly stages: FoldedBlock[][];

  constructor(plan: NetworkPlan, lookup: TensorLookup) {
    const make = (spec: ConvSpec): FoldedConv => {
      const { filter, bias } = foldConv(spec, lookup);
      return {
        filter: tf.tensor4d(filter, [spec.kernel, spec.kernel, spec.inChannels, spec.outChannels]),
        bias: tf.tensor1d(bias),
        stride: spec.stride,
        pad: spec.pad,
      };
    };
    this.stem = make(plan.stem);
    this.stages = plan.stages.map((stage) =>
      stage.map((block) => ({ convs: block.convs.map(make), downsample: block.downsample && make(block.downsample) })),
    );
  }

  /** Number of stages built. */
  get stageCount(): number {
    return this.stages.length;
  }

  /**
   * Runs the network, calling `emit(stage, output)` after each stage (1-based). Call inside
   * `tf.tidy`: intermediates are not disposed here.
   */
  run(input: tf.Tensor4D, lastStage: number, emit: (stage: number, output: tf.Tensor4D) => void): void {
    const fused = tf.getKernel('FusedConv2D', tf.getBackend()) !== undefined;
    let x = convolve(input, this.stem, true, fused);
    x = tf.maxPool(x, 3, 2, 1);
    for (let s = 0; s < lastStage; s++) {
      for (const block of this.stages[s] as FoldedBlock[]) {
        let h = x;
        block.convs.forEach((conv, i) => {
          h = convolve(h, conv, i < block.convs.length - 1, fused);
        });
        const shortcut = block.downsample ? convolve(x, block.downsample, false, fused) : x;
        x = tf.relu(tf.add(h, shortcut)) as tf.Tensor4D;
      }
      emit(s + 1, x);
    }
  }

  dispose(): void {
    const all = [this.stem, ...this.stages.flat().flatMap((b) => [...b.convs, ...(b.downsample ? [b.downsample] : [])])];
    for (const conv of all) {
      conv.filter.dispose();
      conv.bias.dispose();
    }
  }
}

function convolve(x: tf.Tensor4D, conv: FoldedConv, relu: boolean, fused: boolean): tf.Tensor4D {
  if (fused) {
    return tf.fused.conv2d({
      x,
      filter: conv.filter,
      strides: conv.stride,
      pad: conv.pad,
      bias: conv.bias,
      activation: relu ? 'relu' : 'linear',
    });
  }
  const y = tf.add(tf.conv2d(x, conv.filter, conv.stride, conv.pad), conv.bias) as tf.Tensor4D;
  return relu ? tf.relu(y) : y;
}
