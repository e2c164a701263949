import type { ConvSpec, LayerName, NetworkPlan } from '../architectures';
import { foldConv, type TensorLookup } from '../resnet';
import { encodeOnnxModel, type OnnxGraph, type OnnxInitializer, type OnnxNode } from './onnx-model';

/** Name of the stem convolution's input tensor (the normalised image, as the stem reads it) in both layouts. */
const STEM_INPUT = 'stem.input';

/** Name of the graph input: `[batch, height, width, 3]` float32 NHWC, ImageNet-normalised. */
export const ONNX_INPUT_NAME = 'images';

export interface ResnetOnnxOptions {
  /** The layers to output, each NHWC (`[B, h, w, C]`), avgpool `[B, C]`; output names are the layer names. */
  layers: readonly LayerName[];
  /** Stages built (the deepest requested layer's). */
  stages: number;
  /** Free strings stored in the model's metadata_props. */
  metadata?: Record<string, string>;
  /**
   * `'nhwc'` (default: the onnxruntime runtime's drop-in for the tfjs engine): input `[B, H, W, C]`,
   * each layer output NHWC. `'nchw'` (ONNX tools' layout, for whole-model exports): input
   * `[B, C, H, W]`, each layer output NCHW `[B, C, h, w]` as the convolutions leave it.
   */
  layout?: 'nhwc' | 'nchw';
  /** Name of the graph input (default {@link ONNX_INPUT_NAME}). */
  inputName?: string;
}

/**
 * A folded HWIO filter rearranged for ONNX `Conv`: `'oihw'` = `[O, I, K, K]`; `'rows'` (the stem
 * over an NHWC image read as one channel of `W·C` columns) = `[O, 1, K, K·C]`, holding
 * `W[o, i, kh, kw]` at column `kw·C + i`.
 */
function reorderHwio(filter: Float32Array, spec: ConvSpec, layout: 'oihw' | 'rows'): Float32Array {
  const { outChannels: O, inChannels: I, kernel: K } = spec;
  const out = new Float32Array(filter.length);
  for (let kh = 0; kh < K; kh++) {
    for (let kw = 0; kw < K; kw++) {
      for (let i = 0; i < I; i++) {
        const src = ((kh * K + kw) * I + i) * O;
        // Offset of (o = 0, i, kh, kw) and the step per output channel.
        const [base, step] = layout === 'oihw' ? [(i * K + kh) * K + kw, I * K * K] : [kh * K * I + kw * I + i, K * K * I];
        for (let o = 0; o < O; o++) out[base + o * step] = filter[src + o] as number;
      }
    }
  }
  return out;
}

/**
 * The ONNX graph of a torchvision ResNet up to `stages`, with the same BatchNorm folding as the
 * tfjs engine (`foldConv`, float64 then float32), conv weights OIHW. With `layout: 'nhwc'` (the
 * default) the graph takes NHWC images and returns NHWC features, a drop-in for the tfjs engine;
 * with `'nchw'` it is the plain torchvision graph (NCHW in and out), for whole-model exports.
 *
 * No transpose on the way in: an NHWC batch `[B, H, W, C]` is, byte for byte, a one-channel image
 * `[B, 1, H, W·C]` (two metadata-only nodes, Unsqueeze and Reshape), and the stem convolution
 * (K×K, stride s, pad p over C channels) is the same sum as a K×(K·C) convolution over it with
 * strides (s, s·C) and pads (p, p·C): the C channels of a pixel are C adjacent columns. That
 * runs as fast as the NCHW stem or faster, and saves transposing 3·H·W floats per image (in
 * JavaScript ~1 ms per 256×256 image, as an onnxruntime Transpose node ~1.4 ms). Each output
 * gets one Transpose (NCHW → NHWC), small at that depth.
 */
export function resnetOnnxGraph(plan: NetworkPlan, lookup: TensorLookup, options: ResnetOnnxOptions): OnnxGraph {
  const { layout = 'nhwc', inputName = ONNX_INPUT_NAME } = options;
  const nodes: OnnxNode[] = [];
  const initializers: OnnxInitializer[] = [];
  // Tensor names depend on the network only (not on the layout or the layers output), so that an int8
  // calibration measured on one form of the graph names the same tensors in another (see quantize.ts).
  const used = new Set<string>();
  const fresh = (name: string) => {
    if (used.has(name)) throw new Error(`resnetOnnxGraph(): tensor name ${name} used twice`);
    used.add(name);
    return name;
  };

  /** `interleaved`: the input is an NHWC image read as one channel of W·C columns (the stem). */
  const conv = (x: string, spec: ConvSpec, relu: boolean, interleaved = false): string => {
    const { filter, bias } = foldConv(spec, lookup);
    const w = `${spec.conv}.weight`;
    const b = `${spec.conv}.bias`;
    const C = spec.inChannels;
    initializers.push(
      interleaved
        ? { name: w, dims: [spec.outChannels, 1, spec.kernel, spec.kernel * C], data: reorderHwio(filter, spec, 'rows') }
        : { name: w, dims: [spec.outChannels, C, spec.kernel, spec.kernel], data: reorderHwio(filter, spec, 'oihw') },
    );
    initializers.push({ name: b, dims: [spec.outChannels], data: bias });
    const y = fresh(spec.conv);
    nodes.push({
      opType: 'Conv',
      name: spec.conv,
      inputs: [x, w, b],
      outputs: [y],
      attributes: {
        kernel_shape: interleaved ? [spec.kernel, spec.kernel * C] : [spec.kernel, spec.kernel],
        strides: interleaved ? [spec.stride, spec.stride * C] : [spec.stride, spec.stride],
        pads: interleaved ? [spec.pad, spec.pad * C, spec.pad, spec.pad * C] : [spec.pad, spec.pad, spec.pad, spec.pad],
        dilations: [1, 1],
        group: 1,
      },
    });
    if (!relu) return y;
    const r = fresh(`${spec.conv}.relu`);
    nodes.push({ opType: 'Relu', inputs: [y], outputs: [r] });
    return r;
  };

  let x: string;
  if (layout === 'nchw') {
    // The stem's input under the same name as in the NHWC form (an Identity onnxruntime removes).
    nodes.push({ opType: 'Identity', inputs: [inputName], outputs: [fresh(STEM_INPUT)] });
    x = conv(STEM_INPUT, plan.stem, true);
  } else {
    // [B, H, W, C] → [B, 1, H, W·C]: the same bytes, read as one channel.
    const unsqueezed = fresh('images.unsqueezed');
    const rows = fresh(STEM_INPUT);
    initializers.push({ name: 'images.unsqueeze_axes', dims: [1], data: { int64: [1] } });
    initializers.push({ name: 'images.rows_shape', dims: [4], data: { int64: [0, 0, 0, -1] } });
    nodes.push({ opType: 'Unsqueeze', inputs: [inputName, 'images.unsqueeze_axes'], outputs: [unsqueezed] });
    nodes.push({ opType: 'Reshape', inputs: [unsqueezed, 'images.rows_shape'], outputs: [rows] });
    x = conv(rows, plan.stem, true, true);
  }
  const pooled = fresh('maxpool');
  nodes.push({
    opType: 'MaxPool',
    inputs: [x],
    outputs: [pooled],
    attributes: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] },
  });
  x = pooled;
  const outputs: OnnxGraph['outputs'][number][] = [];
  for (let s = 0; s < options.stages; s++) {
    for (const block of plan.stages[s] ?? []) {
      let h = x;
      block.convs.forEach((spec, i) => {
        h = conv(h, spec, i < block.convs.length - 1);
      });
      const shortcut = block.downsample ? conv(x, block.downsample, false) : x;
      const sum = fresh(`${block.prefix}.add`);
      nodes.push({ opType: 'Add', inputs: [h, shortcut], outputs: [sum] });
      const out = fresh(`${block.prefix}.relu`);
      nodes.push({ opType: 'Relu', inputs: [sum], outputs: [out] });
      x = out;
    }
    const layer = `layer${s + 1}` as LayerName;
    if (options.layers.includes(layer)) {
      const channels = channelsOf(plan, s);
      if (layout === 'nchw') {
        nodes.push({ opType: 'Identity', inputs: [x], outputs: [layer] });
        outputs.push({ name: layer, dims: ['batch', channels, `${layer}_height`, `${layer}_width`] });
      } else {
        nodes.push({ opType: 'Transpose', inputs: [x], outputs: [layer], attributes: { perm: [0, 2, 3, 1] } });
        outputs.push({ name: layer, dims: ['batch', `${layer}_height`, `${layer}_width`, channels] });
      }
    }
    if (s === 3 && options.layers.includes('avgpool')) {
      const gap = fresh('avgpool.gap');
      nodes.push({ opType: 'GlobalAveragePool', inputs: [x], outputs: [gap] });
      nodes.push({ opType: 'Flatten', inputs: [gap], outputs: ['avgpool'], attributes: { axis: 1 } });
      outputs.push({ name: 'avgpool', dims: ['batch', channelsOf(plan, s)] });
    }
  }
  // Outputs in the order the layers were requested.
  outputs.sort((a, b) => options.layers.indexOf(a.name as LayerName) - options.layers.indexOf(b.name as LayerName));
  return {
    name: 'resnet',
    nodes,
    initializers,
    inputs: [
      {
        name: inputName,
        dims: layout === 'nchw' ? ['batch', plan.stem.inChannels, 'height', 'width'] : ['batch', 'height', 'width', plan.stem.inChannels],
      },
    ],
    outputs,
    metadata: options.metadata,
  };
}

function channelsOf(plan: NetworkPlan, stage: number): number {
  const blocks = plan.stages[stage] ?? [];
  const last = blocks[blocks.length - 1];
  if (last === undefined) return 0;
  return (last.convs[last.convs.length - 1] as ConvSpec).outChannels;
}

/** The `.onnx` bytes of {@link resnetOnnxGraph}. */
export function resnetOnnxModel(plan: NetworkPlan, lookup: TensorLookup, options: ResnetOnnxOptions): Uint8Array {
  return encodeOnnxModel(resnetOnnxGraph(plan, lookup, options));
}
