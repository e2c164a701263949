import { UnknownBackboneError } from './errors';

/** The supported architectures (torchvision/timm topology and tensor names). */
export type BackboneName = 'resnet18' | 'resnet34' | 'resnet50' | 'wide_resnet50_2';

/** Feature layers: the outputs of the four stages, and the global average pool ([B, C]). */
export type LayerName = 'layer1' | 'layer2' | 'layer3' | 'layer4' | 'avgpool';

export const BACKBONE_NAMES: readonly BackboneName[] = ['resnet18', 'resnet34', 'resnet50', 'wide_resnet50_2'];
export const LAYER_NAMES: readonly LayerName[] = ['layer1', 'layer2', 'layer3', 'layer4', 'avgpool'];

/** Smallest input height and width accepted (layer4 is then 1×1). */
export const MIN_INPUT_SIZE = 32;

/** The shape of one ResNet: block type, blocks per stage and bottleneck width multiplier. */
export interface ArchitectureSpec {
  readonly name: BackboneName;
  readonly block: 'basic' | 'bottleneck';
  /** Residual blocks in layer1..layer4. */
  readonly blocks: readonly [number, number, number, number];
  /** Bottleneck inner width = planes × widthFactor (2 for wide_resnet50_2). */
  readonly widthFactor: number;
}

export const ARCHITECTURES: Readonly<Record<BackboneName, ArchitectureSpec>> = {
  resnet18: { name: 'resnet18', block: 'basic', blocks: [2, 2, 2, 2], widthFactor: 1 },
  resnet34: { name: 'resnet34', block: 'basic', blocks: [3, 4, 6, 3], widthFactor: 1 },
  resnet50: { name: 'resnet50', block: 'bottleneck', blocks: [3, 4, 6, 3], widthFactor: 1 },
  wide_resnet50_2: { name: 'wide_resnet50_2', block: 'bottleneck', blocks: [3, 4, 6, 3], widthFactor: 2 },
};

/** Channels and stride (relative to the input) of a layer's output. */
export interface LayerInfo {
  channels: number;
  stride: number;
}

const STAGE_PLANES = [64, 128, 256, 512] as const;

/** Throws UnknownBackboneError listing the valid names. */
export function architectureOf(name: string, caller = 'createBackbone()'): ArchitectureSpec {
  if (!Object.hasOwn(ARCHITECTURES, name)) {
    throw new UnknownBackboneError(
      `${caller}: backbone must be one of ${BACKBONE_NAMES.join(', ')} — got ${JSON.stringify(name)}. Use one of the listed names.`,
    );
  }
  return ARCHITECTURES[name as BackboneName];
}

/** Throws UnknownBackboneError listing the valid layers. */
export function checkLayerName(layer: string, caller = 'createBackbone()'): LayerName {
  if (!(LAYER_NAMES as readonly string[]).includes(layer)) {
    throw new UnknownBackboneError(
      `${caller}: layer must be one of ${LAYER_NAMES.join(', ')} — got ${JSON.stringify(layer)}. Use one of the listed layers.`,
    );
  }
  return layer as LayerName;
}

/** Output channels of stage `stage` (1..4). */
export function stageChannels(spec: ArchitectureSpec, stage: number): number {
  const planes = STAGE_PLANES[stage - 1] as number;
  return spec.block === 'basic' ? planes : planes * 4;
}

/**
 * Channels and stride of `layer` for the architecture `name`.
 *
 * @example
 * layerInfo('resnet18', 'layer3'); // { channels: 256, stride: 16 }
 */
export function layerInfo(name: BackboneName, layer: LayerName): LayerInfo {
  const spec = architectureOf(name, 'layerInfo()');
  checkLayerName(layer, 'layerInfo()');
  if (layer === 'avgpool') return { channels: stageChannels(spec, 4), stride: 0 };
  const stage = stageOf(layer);
  return { channels: stageChannels(spec, stage), stride: 2 ** (stage + 1) };
}

/** The stage (1..4) a layer needs: avgpool needs layer4. */
export function stageOf(layer: LayerName): number {
  return layer === 'avgpool' ? 4 : Number(layer.slice(5));
}

/**
 * Spatial size of a layer's output for an input side of `size` pixels (PyTorch's rule: every
 * stride-2 step maps n to ceil(n / 2)). For avgpool it is 1.
 *
 * @example
 * featureSize(256, 'layer3'); // 16
 * featureSize(65, 'layer1');  // 17
 */
export function featureSize(size: number, layer: LayerName): number {
  if (layer === 'avgpool') return 1;
  let n = size;
  for (let i = 0; i < stageOf(layer) + 1; i++) n = Math.ceil(n / 2);
  return n;
}

/** One conv (+ its BatchNorm) of the network, by torchvision names. */
export interface ConvSpec {
  /** Prefix of the conv weight, e.g. `layer1.0.conv1` (weight is `${conv}.weight`). */
  readonly conv: string;
  /** Prefix of the BatchNorm, e.g. `layer1.0.bn1` or `layer2.0.downsample.1`. */
  readonly bn: string;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernel: number;
  readonly stride: number;
  readonly pad: number;
}

/** One residual block: its convs in order, and the optional downsample of the shortcut. */
export interface BlockSpec {
  readonly prefix: string;
  readonly convs: readonly ConvSpec[];
  readonly downsample: ConvSpec | undefined;
}

/** The network up to a stage: the stem conv and the blocks of stages 1..`stages`. */
export interface NetworkPlan {
  readonly stem: ConvSpec;
  /** blocks[s] holds the blocks of stage s + 1. */
  readonly stages: readonly (readonly BlockSpec[])[];
}

function conv(
  conv: string,
  bn: string,
  inChannels: number,
  outChannels: number,
  kernel: number,
  stride: number,
): ConvSpec {
  return { conv, bn, inChannels, outChannels, kernel, stride, pad: (kernel - 1) / 2 };
}

/**
 * The convs of `spec` up to and including stage `stages` (1..4), with torchvision's names,
 * in torchvision's module order. torchvision v1.5 bottleneck: stride on the 3×3 conv.
 */
export function networkPlan(spec: ArchitectureSpec, stages = 4): NetworkPlan {
  const stem = { ...conv('conv1', 'bn1', 3, 64, 7, 2), pad: 3 };
  const result: BlockSpec[][] = [];
  let inChannels = 64;
  for (let s = 1; s <= stages; s++) {
    const planes = STAGE_PLANES[s - 1] as number;
    const out = stageChannels(spec, s);
    const blocks: BlockSpec[] = [];
    const count = spec.blocks[s - 1] as number;
    for (let b = 0; b < count; b++) {
      const prefix = `layer${s}.${b}`;
      const stride = b === 0 && s > 1 ? 2 : 1;
      const convs: ConvSpec[] = [];
      if (spec.block === 'basic') {
        convs.push(conv(`${prefix}.conv1`, `${prefix}.bn1`, inChannels, planes, 3, stride));
        convs.push(conv(`${prefix}.conv2`, `${prefix}.bn2`, planes, planes, 3, 1));
      } else {
        const width = planes * spec.widthFactor;
        convs.push(conv(`${prefix}.conv1`, `${prefix}.bn1`, inChannels, width, 1, 1));
        convs.push(conv(`${prefix}.conv2`, `${prefix}.bn2`, width, width, 3, stride));
        convs.push(conv(`${prefix}.conv3`, `${prefix}.bn3`, width, out, 1, 1));
      }
      const downsample =
        stride !== 1 || inChannels !== out
          ? conv(`${prefix}.downsample.0`, `${prefix}.downsample.1`, inChannels, out, 1, stride)
          : undefined;
      blocks.push({ prefix, convs, downsample });
      inChannels = out;
    }
    result.push(blocks);
  }
  return { stem, stages: result };
}

/** Every conv of a plan, in module order (stem, then each block's convs, then its downsample). */
export function planConvs(plan: NetworkPlan): ConvSpec[] {
  const all: ConvSpec[] = [plan.stem];
  for (const stage of plan.stages) {
    for (const block of stage) {
      all.push(...block.convs);
      if (block.downsample) all.push(block.downsample);
    }
  }
  return all;
}

/** The BatchNorm tensor suffixes, in torchvision's state_dict order. */
export const BATCH_NORM_PARAMETERS = ['weight', 'bias', 'running_mean', 'running_var'] as const;

/**
 * Expected tensor names and shapes of a plan (conv weights OIHW, BN vectors), torchvision names.
 * `num_batches_tracked` is not listed: it is accepted and ignored when present.
 */
export function expectedTensors(plan: NetworkPlan): Map<string, number[]> {
  const expected = new Map<string, number[]>();
  for (const c of planConvs(plan)) {
    expected.set(`${c.conv}.weight`, [c.outChannels, c.inChannels, c.kernel, c.kernel]);
    for (const p of BATCH_NORM_PARAMETERS) expected.set(`${c.bn}.${p}`, [c.outChannels]);
  }
  return expected;
}

/** Every tensor name of the full network (with the fc head), for recognising unknown names. */
export function allTensorNames(spec: ArchitectureSpec): Set<string> {
  const names = new Set(expectedTensors(networkPlan(spec, 4)).keys());
  for (const c of planConvs(networkPlan(spec, 4))) names.add(`${c.bn}.num_batches_tracked`);
  names.add('fc.weight');
  names.add('fc.bias');
  return names;
}
