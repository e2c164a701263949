/**
 * Post-training int8 quantization of the backbone's ONNX graph in the QDQ form (QuantizeLinear /
 * DequantizeLinear pairs around each convolution's activations, weights and biases), which
 * onnxruntime's CPU execution provider fuses into QLinearConv / QLinearAdd kernels (u8 activations ×
 * s8 weights: the VNNI / AMX-INT8 path on x86).
 *
 * - Weights: int8, per output channel, symmetric (scale = max |w| / 127, zero point 0).
 * - Biases: int32 at the scale input scale × weight scale (zero point 0), as QLinearConv takes them.
 * - Activations: uint8, per tensor, asymmetric, from ranges measured on calibration images
 *   ({@link Int8Calibration}); a range always includes 0, so ReLU outputs get zero point 0 and
 *   onnxruntime folds the ReLU into the quantization. A MaxPool's output keeps its input's
 *   parameters (so the pool runs on the uint8 values as they are).
 */
import { CorruptFileError, InvalidArgumentError } from '@dfm/errors';
import type { OnnxGraph, OnnxInitializer, OnnxNode } from './onnx-model';

/** How activation ranges are taken from the calibration values. */
export type CalibrationMethod = 'minmax' | 'percentile';

export const CALIBRATION_METHODS: readonly CalibrationMethod[] = ['minmax', 'percentile'];

/** Activation ranges of a backbone graph's quantized tensors, measured on calibration images. */
export interface Int8Calibration {
  /** `minmax`: the smallest and largest value seen; `percentile`: the 0.01 % and 99.99 % quantiles (outliers clipped). */
  method: CalibrationMethod;
  /** Images the ranges were measured on. */
  images: number;
  /** `[min, max]` of each quantized activation tensor, by tensor name. */
  ranges: Record<string, readonly [number, number]>;
}

/** Ops whose non-constant inputs are quantized. */
const QUANTIZED_INPUTS = new Set(['Conv', 'Add', 'MaxPool']);

/**
 * The activation tensors {@link quantizeGraph} quantizes, in graph order: every non-constant input of
 * a Conv, Add or MaxPool, and every ReLU output (so the blocks' outputs, the features, are int8 too).
 * A MaxPool's output is left out: it takes its input's parameters.
 */
export function quantizedTensors(graph: OnnxGraph): string[] {
  const constants = new Set(graph.initializers.map((i) => i.name));
  const inherited = new Set(graph.nodes.filter((n) => n.opType === 'MaxPool').map((n) => n.outputs[0] as string));
  const names: string[] = [];
  const add = (name: string) => {
    if (!constants.has(name) && !inherited.has(name) && !names.includes(name)) names.push(name);
  };
  for (const node of graph.nodes) {
    if (QUANTIZED_INPUTS.has(node.opType)) {
      // Conv: only the data input (weights and bias are initializers).
      for (const input of node.opType === 'Conv' ? node.inputs.slice(0, 1) : node.inputs) add(input);
    }
    if (node.opType === 'Relu') add(node.outputs[0] as string);
  }
  return names;
}

/**
 * The float graph with what calibration reads of each of `tensors` as outputs: `'extremes'` adds
 * `<tensor>.min` and `<tensor>.max` (ReduceMin / ReduceMax over the whole batch: scalars, so nothing
 * large leaves onnxruntime), `'values'` the tensors themselves (float32, NCHW) for histograms.
 */
export function calibrationGraph(graph: OnnxGraph, tensors: readonly string[], read: 'extremes' | 'values' = 'extremes'): OnnxGraph {
  if (read === 'values') {
    return {
      ...graph,
      name: `${graph.name}-calibration`,
      outputs: [...graph.outputs, ...tensors.map((name, i) => ({ name, dims: [`c${i}_0`, `c${i}_1`, `c${i}_2`, `c${i}_3`] }))],
    };
  }
  const nodes: OnnxNode[] = [...graph.nodes];
  const outputs: OnnxGraph['outputs'][number][] = [...graph.outputs];
  // Per-channel maxima first (GlobalMaxPool: multi-threaded, on onnxruntime's blocked layout, no
  // reordering), then the maximum of those; a minimum is the negated maximum of the negated tensor.
  // (A whole-tensor ReduceMax costs ~4× the network itself.)
  for (const name of extremesOutputs(graph, tensors)) {
    const [tensor, end] = [name.slice(0, name.lastIndexOf('.')), name.slice(name.lastIndexOf('.') + 1)];
    if (end === 'max') {
      nodes.push(
        { opType: 'GlobalMaxPool', inputs: [tensor], outputs: [`${name}.channels`] },
        { opType: 'ReduceMax', inputs: [`${name}.channels`], outputs: [name], attributes: { keepdims: 0 } },
      );
    } else {
      nodes.push(
        { opType: 'Neg', inputs: [tensor], outputs: [`${name}.negated`] },
        { opType: 'GlobalMaxPool', inputs: [`${name}.negated`], outputs: [`${name}.channels`] },
        { opType: 'ReduceMax', inputs: [`${name}.channels`], outputs: [`${name}.negated_max`], attributes: { keepdims: 0 } },
        { opType: 'Neg', inputs: [`${name}.negated_max`], outputs: [name] },
      );
    }
    outputs.push({ name, dims: [] });
  }
  return { ...graph, name: `${graph.name}-calibration`, nodes, outputs };
}

/**
 * The outputs of the `'extremes'` calibration graph of `tensors`: `<tensor>.max` of each, and
 * `<tensor>.min` of those that are not ReLU outputs (whose minimum is 0 or more, and a range
 * always includes 0: no reduction needed).
 */
export function extremesOutputs(graph: OnnxGraph, tensors: readonly string[]): string[] {
  const relu = new Set(graph.nodes.filter((n) => n.opType === 'Relu').map((n) => n.outputs[0] as string));
  return tensors.flatMap((name) => (relu.has(name) ? [`${name}.max`] : [`${name}.min`, `${name}.max`]));
}

/** uint8 affine parameters covering `[min, max]` (widened to include 0). */
export function activationParameters(min: number, max: number): { scale: number; zeroPoint: number } {
  const lo = Math.min(0, min);
  const hi = Math.max(0, max);
  if (!(hi > lo)) return { scale: 1, zeroPoint: 0 };
  const scale = Math.fround((hi - lo) / 255);
  const zeroPoint = Math.min(255, Math.max(0, Math.round(-lo / scale)));
  return { scale, zeroPoint };
}

/** int8 symmetric per-output-channel quantization of an `[O, …]` float filter. */
export function quantizeWeights(data: Float32Array, outChannels: number): { values: Int8Array; scales: Float32Array } {
  const per = data.length / outChannels;
  const values = new Int8Array(data.length);
  const scales = new Float32Array(outChannels);
  for (let o = 0; o < outChannels; o++) {
    let peak = 0;
    for (let j = o * per; j < (o + 1) * per; j++) peak = Math.max(peak, Math.abs(data[j] as number));
    const scale = Math.fround(peak > 0 ? peak / 127 : 1);
    scales[o] = scale;
    for (let j = o * per; j < (o + 1) * per; j++) values[j] = Math.max(-127, Math.min(127, roundHalfEven((data[j] as number) / scale)));
  }
  return { values, scales };
}

/** Round half to even, as ONNX QuantizeLinear rounds. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * The QDQ int8 form of a float backbone graph (from `resnetOnnxGraph`): every tensor of
 * {@link quantizedTensors} passes through QuantizeLinear → DequantizeLinear with its calibrated
 * parameters; each Conv's weights and bias become int8 / int32 initializers behind a
 * DequantizeLinear. Inputs and outputs stay float32, so the graph is a drop-in for the float one.
 *
 * @throws InvalidArgumentError when `calibration` lacks a range for one of the graph's tensors
 *   (a calibration of another network) or holds a non-finite one
 */
export function quantizeGraph(graph: OnnxGraph, calibration: Int8Calibration): OnnxGraph {
  const tensors = quantizedTensors(graph);
  const params = new Map<string, { scale: number; zeroPoint: number }>();
  for (const name of tensors) {
    const range = calibration.ranges[name];
    if (range === undefined || !Number.isFinite(range[0]) || !Number.isFinite(range[1]) || range[0] > range[1]) {
      throw new CorruptFileError(
        `quantizeGraph(): the int8 calibration must hold a finite [min, max] for each quantized tensor of this network — ${range === undefined ? `it has none for ${name}` : `${name} has [${range.join(', ')}]`} (it holds ${Object.keys(calibration.ranges).length} ranges, the network quantizes ${tensors.length}). The calibration belongs to another network or the file is damaged: fit the model again with precision 'int8'.`,
      );
    }
    params.set(name, activationParameters(range[0], range[1]));
  }
  // MaxPool outputs take their input's parameters.
  for (const node of graph.nodes) {
    if (node.opType === 'MaxPool') {
      const input = params.get(node.inputs[0] as string);
      if (input !== undefined) params.set(node.outputs[0] as string, input);
    }
  }
  // An output must be read from a float node after the last round trip (the ResNet graphs end in a Transpose or an Identity).
  const quantizedOutputs = graph.outputs.filter((o) => params.has(o.name)).map((o) => o.name);
  if (quantizedOutputs.length > 0) {
    throw new InvalidArgumentError(`quantizeGraph(): graph outputs must not be quantized tensors themselves — ${quantizedOutputs.join(', ')} are. Add an Identity or Transpose before the output.`);
  }
  const initializers = new Map<string, OnnxInitializer>(graph.initializers.map((i) => [i.name, i]));
  const extra: OnnxInitializer[] = [];
  const nodes: OnnxNode[] = [];
  /** Rewired names: a quantized tensor's consumers read its DequantizeLinear output. */
  const dq = (name: string) => (params.has(name) ? `${name}.dq` : name);
  const qdq = (name: string) => {
    const p = params.get(name);
    if (p === undefined) return;
    extra.push({ name: `${name}.scale`, dims: [], data: Float32Array.of(p.scale) }, { name: `${name}.zero_point`, dims: [], data: Uint8Array.of(p.zeroPoint) });
    nodes.push(
      { opType: 'QuantizeLinear', inputs: [name, `${name}.scale`, `${name}.zero_point`], outputs: [`${name}.q`] },
      { opType: 'DequantizeLinear', inputs: [`${name}.q`, `${name}.scale`, `${name}.zero_point`], outputs: [`${name}.dq`] },
    );
  };
  const dropped = new Set<string>();
  for (const input of graph.inputs) qdq(input.name);
  for (const node of graph.nodes) {
    if (node.opType === 'Conv') {
      const [x, w, b] = node.inputs as [string, string, string | undefined];
      const weight = initializers.get(w);
      const xp = params.get(x);
      if (weight === undefined || !(weight.data instanceof Float32Array) || xp === undefined) {
        throw new InvalidArgumentError(`quantizeGraph(): Conv ${node.name ?? ''} must read a quantized activation and float32 weights — got input ${x}${xp === undefined ? ' (not quantized)' : ''}, weights ${w}.`);
      }
      const outChannels = weight.dims[0] as number;
      const { values, scales } = quantizeWeights(weight.data, outChannels);
      extra.push(
        { name: `${w}.int8`, dims: weight.dims, data: values },
        { name: `${w}.scale`, dims: [outChannels], data: scales },
        { name: `${w}.zero_point`, dims: [outChannels], data: new Int8Array(outChannels) },
      );
      nodes.push({ opType: 'DequantizeLinear', inputs: [`${w}.int8`, `${w}.scale`, `${w}.zero_point`], outputs: [`${w}.dq`], attributes: { axis: 0 } });
      dropped.add(w);
      const inputs = [dq(x), `${w}.dq`];
      if (b !== undefined) {
        const bias = initializers.get(b);
        if (bias === undefined || !(bias.data instanceof Float32Array)) throw new InvalidArgumentError(`quantizeGraph(): Conv ${node.name ?? ''} bias ${b} must be a float32 initializer.`);
        const biasScales = scales.map((s) => Math.fround(s * xp.scale));
        const q = new Int32Array(outChannels);
        for (let o = 0; o < outChannels; o++) q[o] = roundHalfEven((bias.data[o] as number) / (biasScales[o] as number));
        extra.push(
          { name: `${b}.int32`, dims: [outChannels], data: q },
          { name: `${b}.scale`, dims: [outChannels], data: biasScales },
          { name: `${b}.zero_point`, dims: [outChannels], data: new Int32Array(outChannels) },
        );
        nodes.push({ opType: 'DequantizeLinear', inputs: [`${b}.int32`, `${b}.scale`, `${b}.zero_point`], outputs: [`${b}.dq`], attributes: { axis: 0 } });
        dropped.add(b);
        inputs.push(`${b}.dq`);
      }
      nodes.push({ ...node, inputs });
    } else {
      nodes.push({ ...node, inputs: node.inputs.map(dq) });
    }
    for (const output of node.outputs) qdq(output);
  }
  return {
    ...graph,
    name: `${graph.name}-int8`,
    nodes,
    initializers: [...graph.initializers.filter((i) => !dropped.has(i.name)), ...extra],
    metadata: { ...graph.metadata, precision: 'int8', calibration: calibration.method },
  };
}

/** Fraction of values clipped at each end by the `percentile` method (0.01 %). */
export const PERCENTILE_TAIL = 1e-4;
const BINS = 4096;

/** Runs a calibration graph on batch `i`, resolving to its outputs. */
export type CalibrationRun = (batch: number) => Promise<Record<string, { data: Float32Array | Uint8Array }>>;

/**
 * Measures the activation ranges of `tensors` over `count` calibration batches. `extremes(i)` runs
 * the `'extremes'` {@link calibrationGraph} (one pass gives `minmax`); `percentile` also runs
 * `values(i)`, the `'values'` graph, in a second pass: a histogram of each tensor between the extremes
 * of the first, whose {@link PERCENTILE_TAIL} quantiles become the range.
 */
export async function measureRanges(tensors: readonly string[], count: number, extremes: CalibrationRun, values: CalibrationRun, method: CalibrationMethod): Promise<Record<string, [number, number]>> {
  const ranges: Record<string, [number, number]> = {};
  for (const name of tensors) ranges[name] = [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
  for (let b = 0; b < count; b++) {
    const outputs = await extremes(b);
    for (const name of tensors) {
      const range = ranges[name] as [number, number];
      // No minimum output: a ReLU's, ≥ 0 (and every range includes 0).
      range[0] = Math.min(range[0], (outputs[`${name}.min`]?.data[0] as number | undefined) ?? 0);
      range[1] = Math.max(range[1], outputs[`${name}.max`]?.data[0] as number);
    }
  }
  for (const name of tensors) {
    const [lo, hi] = ranges[name] as [number, number];
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) {
      throw new InvalidArgumentError(`calibrateInt8(): activation ${name} took non-finite values on the calibration images. Check that the images are finite and normalised.`);
    }
  }
  if (method === 'minmax') return ranges;
  const histograms = new Map(tensors.map((name) => [name, new Float64Array(BINS)]));
  for (let b = 0; b < count; b++) {
    const outputs = await values(b);
    for (const name of tensors) {
      const data = outputs[name]?.data as Float32Array;
      const [lo, hi] = ranges[name] as [number, number];
      const histogram = histograms.get(name) as Float64Array;
      const step = hi > lo ? BINS / (hi - lo) : 0;
      for (let i = 0; i < data.length; i++) histogram[Math.min(BINS - 1, Math.floor(((data[i] as number) - lo) * step))]! += 1;
    }
  }
  for (const name of tensors) {
    const [lo, hi] = ranges[name] as [number, number];
    const histogram = histograms.get(name) as Float64Array;
    const total = histogram.reduce((a, v) => a + v, 0);
    const width = (hi - lo) / BINS;
    let below = 0;
    let low = 0;
    while (low < BINS - 1 && below + (histogram[low] as number) <= total * PERCENTILE_TAIL) below += histogram[low++] as number;
    let above = 0;
    let high = BINS - 1;
    while (high > low && above + (histogram[high] as number) <= total * PERCENTILE_TAIL) above += histogram[high--] as number;
    // Bin edges: the low end of the first kept bin, the high end of the last (a ReLU's 0 stays 0).
    ranges[name] = [lo + low * width, lo + (high + 1) * width];
  }
  return ranges;
}
