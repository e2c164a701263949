import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { createBackbone } from '../create-backbone';
import { setBackend } from '../set-backend';
import { loadOnnxruntime } from './load-onnxruntime';
import { encodeOnnxModel } from './onnx-model';
import { activationParameters, calibrationGraph, type Int8Calibration, quantizedTensors, quantizeGraph, quantizeWeights, roundHalfEven } from './quantize';
import { resnetOnnxGraph } from './resnet-onnx';
import { architectureOf, networkPlan } from '../architectures';
import { randomResnetWeights } from '../random-weights';

const loaded = await loadOnnxruntime();
const available = typeof loaded !== 'string';

describe('int8 quantization arithmetic', () => {
  it('rounds half to even, as ONNX QuantizeLinear does', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4, 2.6, -2.6].map(roundHalfEven)).toEqual([0, 2, 2, -0, -2, -2, 2, 3, -3]);
  });

  it('weights: per output channel, symmetric, scale max|w| / 127, values in [-127, 127]', () => {
    // Two channels of 3 values: peaks 2.54 and 0.5 (by hand: scales 0.02 and 0.5/127).
    const { values, scales } = quantizeWeights(Float32Array.from([2.54, -1.27, 0.01, 0.5, -0.25, 0]), 2);
    expect(scales[0]).toBeCloseTo(0.02, 7);
    expect(scales[1]).toBeCloseTo(0.5 / 127, 9);
    expect(Array.from(values)).toEqual([127, -64, 0, 127, -64, 0]); // -1.27/0.02 = -63.5 → -64 (even); -0.25/(0.5/127) = -63.5 → -64
    // An all-zero channel keeps scale 1 (no division by zero).
    expect(Array.from(quantizeWeights(new Float32Array(4), 2).scales)).toEqual([1, 1]);
  });

  it('activations: uint8 with the range widened to include 0; a ReLU range gets zero point 0', () => {
    expect(activationParameters(0, 5.1)).toEqual({ scale: Math.fround(0.02), zeroPoint: 0 });
    const p = activationParameters(-2, 3);
    expect(p.scale).toBeCloseTo(5 / 255, 7);
    expect(p.zeroPoint).toBe(102); // 2 / (5/255) = 102
    expect(activationParameters(1, 2)).toEqual({ scale: Math.fround(2 / 255), zeroPoint: 0 });
    expect(activationParameters(0, 0)).toEqual({ scale: 1, zeroPoint: 0 });
  });

  it('quantizes every Conv input and ReLU output, gives MaxPool outputs their input parameters, and refuses a calibration of another network', () => {
    const plan = networkPlan(architectureOf('resnet18'), 2);
    const weights = randomResnetWeights('resnet18', { seed: 3, stages: 2 });
    const lookup = (name: string) => (weights.get(name) as { data: Float32Array }).data;
    const graph = resnetOnnxGraph(plan, lookup, { layers: ['layer2'], stages: 2 });
    const tensors = quantizedTensors(graph);
    // stem input, stem ReLU, then per block: conv1 ReLU, conv2 output, block ReLU (+ downsample output in layer2.0).
    expect(tensors[0]).toBe('stem.input');
    expect(tensors).toContain('conv1.relu');
    expect(tensors).not.toContain('maxpool');
    expect(tensors).toContain('layer2.0.downsample.0');
    expect(tensors).toHaveLength(2 + 4 * 3 + 1);
    // The same names in the NCHW form (exports) as in the NHWC form (the runtime).
    expect(quantizedTensors(resnetOnnxGraph(plan, lookup, { layers: ['layer2'], stages: 2, layout: 'nchw', inputName: 'x' }))).toEqual(tensors);
    const ranges = Object.fromEntries(tensors.map((t) => [t, [t === 'stem.input' ? -2 : 0, 4] as const]));
    const q = quantizeGraph(graph, { method: 'minmax', images: 1, ranges });
    expect(q.nodes.filter((n) => n.opType === 'QuantizeLinear')).toHaveLength(tensors.length + 1); // + the MaxPool output
    expect(q.nodes.filter((n) => n.opType === 'Conv').every((n) => n.inputs.every((i) => i.endsWith('.dq')))).toBe(true);
    expect(q.initializers.some((i) => i.data instanceof Float32Array && i.dims.length === 4)).toBe(false); // no float filters left
    const { 'layer1.1.relu': _dropped, ...partial } = ranges;
    expect(() => quantizeGraph(graph, { method: 'minmax', images: 1, ranges: partial })).toThrow(/no range for layer1\.1\.relu|has none for layer1\.1\.relu/);
    try {
      quantizeGraph(graph, { method: 'minmax', images: 1, ranges: { ...ranges, 'conv1.relu': [0, Number.NaN] } });
      expect.unreachable();
    } catch (error) {
      expect((error as { code: string }).code).toBe('E_CORRUPT_FILE');
    }
    // The extremes graph reads a minimum only where the values can be negative (not ReLU outputs).
    const extremes = calibrationGraph(graph, tensors, 'extremes');
    const names = extremes.outputs.map((o) => o.name);
    expect(names).toContain('stem.input.min');
    expect(names).toContain('conv1.relu.max');
    expect(names).not.toContain('conv1.relu.min');
  });
});

describe.runIf(available)('int8 backbone on onnxruntime', () => {
  beforeAll(async () => {
    await setBackend('wasm');
  });

  it('runs on integer kernels and matches the float reference of the same quantization (the QDQ graph run unfused) within a few steps', async () => {
    const options = { weights: null, seed: 5, randomBatchNorm: 'random' as const, layers: ['layer2' as const], runtime: 'onnxruntime' as const };
    const float = await createBackbone('resnet18', options);
    const calibrationImages = [tf.randomNormal([4, 64, 64, 3], 0, 1, 'float32', 11) as tf.Tensor4D, tf.randomNormal([4, 64, 64, 3], 0, 1, 'float32', 12) as tf.Tensor4D];
    const before = tf.memory().numTensors;
    const calibration = await float.calibrateInt8(calibrationImages);
    await float.calibrateInt8(calibrationImages);
    expect(tf.memory().numTensors).toBe(before);
    expect(calibration.method).toBe('minmax');
    expect(calibration.images).toBe(8);
    const int8 = await createBackbone('resnet18', { ...options, precision: 'int8', int8Calibration: calibration });
    expect(int8.precision).toBe('int8');
    expect(int8.runtimeDetail).toMatch(/int8 \(QDQ, minmax calibration\)/);
    expect(float.precision).toBe('fp32');

    const input = tf.randomNormal([2, 64, 64, 3], 0, 1, 'float32', 13) as tf.Tensor4D;
    const { layer2: quantized } = await int8.extractAsync(input);
    const { layer2: exact } = await float.extractAsync(input);
    // The reference: the same QDQ graph (NCHW form) with onnxruntime's graph optimisations off, so
    // QuantizeLinear, DequantizeLinear and Conv run as separate float kernels — the arithmetic the
    // ONNX spec defines — instead of the fused QLinearConv / QLinearAdd integer kernels.
    const ort = (loaded as Exclude<typeof loaded, string>).ort;
    const graph = int8.onnxGraph({ layer: 'layer2', inputName: 'x' });
    expect(graph.nodes.some((n) => n.opType === 'QuantizeLinear')).toBe(true);
    const reference = await ort.InferenceSession.create(encodeOnnxModel(graph), { graphOptimizationLevel: 'disabled', executionProviders: ['cpu'] });
    const nchw = tf.transpose(input, [0, 3, 1, 2]);
    const out = await reference.run({ x: new ort.Tensor('float32', (await nchw.data()) as Float32Array, nchw.shape) });
    const refTensor = tf.transpose(tf.tensor(out.layer2!.data as Float32Array, out.layer2!.dims as number[]), [0, 2, 3, 1]);
    const a = (await quantized.data()) as Float32Array;
    const b = (await refTensor.data()) as Float32Array;
    const c = (await exact.data()) as Float32Array;
    expect(a.length).toBe(b.length);
    const step = activationParameters(...(calibration.ranges['layer2.1.relu'] as [number, number])).scale;
    let within1 = 0;
    let maxSteps = 0;
    let errInt8 = 0;
    let errQuant = 0;
    let norm = 0;
    for (let i = 0; i < a.length; i++) {
      const steps = Math.abs((a[i] as number) - (b[i] as number)) / step;
      if (steps <= 1.0001) within1 += 1;
      maxSteps = Math.max(maxSteps, steps);
      errInt8 += ((a[i] as number) - (b[i] as number)) ** 2;
      errQuant += ((b[i] as number) - (c[i] as number)) ** 2;
      norm += (c[i] as number) ** 2;
    }
    // Integer accumulation and requantisation round differently from float, and a 1-step
    // difference early can grow by a few steps through 9 layers; most values agree to a step.
    expect(within1 / a.length).toBeGreaterThan(0.99); // measured 0.9996
    expect(maxSteps).toBeLessThanOrEqual(6); // measured 3
    // The integer kernels' own error is small against the quantisation error itself.
    expect(Math.sqrt(errInt8 / norm)).toBeLessThan(0.35 * Math.sqrt(errQuant / norm)); // measured 0.0052 vs 0.027
    // And the quantised network stays close to the float one (8-bit: a few % of the features' norm).
    expect(Math.sqrt(errQuant / norm)).toBeLessThan(0.1);
    tf.dispose([input, quantized, exact, nchw, refTensor, ...calibrationImages]);
    await reference.release();
    float.dispose();
    int8.dispose();
  });

  it('percentile calibration clips outliers: ranges inside the min–max ones', async () => {
    const float = await createBackbone('resnet18', { weights: null, seed: 2, layers: ['layer1'], runtime: 'onnxruntime' });
    const images = [tf.randomNormal([4, 48, 48, 3], 0, 1, 'float32', 21) as tf.Tensor4D];
    const minmax = await float.calibrateInt8(images, { method: 'minmax' });
    const percentile = await float.calibrateInt8(images, { method: 'percentile' });
    expect(percentile.method).toBe('percentile');
    for (const [name, [lo, hi]] of Object.entries(minmax.ranges)) {
      const [plo, phi] = percentile.ranges[name] as [number, number];
      expect(plo).toBeGreaterThanOrEqual(lo - 1e-6);
      expect(phi).toBeLessThanOrEqual(hi + 1e-6);
      expect(phi).toBeGreaterThan(0);
    }
    // The normalised-image input has Gaussian tails: 0.01 % clipped at each end narrows it.
    expect((percentile.ranges['stem.input'] as readonly number[])[1]).toBeLessThan((minmax.ranges['stem.input'] as readonly number[])[1] as number);
    tf.dispose(images);
    float.dispose();
  });

  it('refuses int8 without a calibration, on the tfjs runtime, and bad calibration inputs, saying how to fix it', async () => {
    const base = { weights: null, layers: ['layer1' as const] };
    await expect(createBackbone('resnet18', { ...base, runtime: 'onnxruntime', precision: 'int8' })).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT', message: expect.stringMatching(/needs int8Calibration.*calibrateInt8/) });
    const calibration: Int8Calibration = { method: 'minmax', images: 1, ranges: {} };
    await expect(createBackbone('resnet18', { ...base, runtime: 'tfjs', precision: 'int8', int8Calibration: calibration })).rejects.toMatchObject({ code: 'E_RUNTIME_UNAVAILABLE', message: expect.stringMatching(/onnxruntime runtime only/) });
    await expect(createBackbone('resnet18', { ...base, runtime: 'onnxruntime', precision: 'int4' as never })).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT' });
    // A calibration of another network (no ranges for this one's tensors) is refused as a damaged one.
    await expect(createBackbone('resnet18', { ...base, runtime: 'onnxruntime', precision: 'int8', int8Calibration: calibration })).rejects.toMatchObject({ code: 'E_CORRUPT_FILE' });
    const float = await createBackbone('resnet18', { ...base, runtime: 'onnxruntime' });
    await expect(float.calibrateInt8([])).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT', message: expect.stringMatching(/non-empty array/) });
    const images = tf.zeros([1, 32, 32, 3]) as tf.Tensor4D;
    await expect(float.calibrateInt8([images], { method: 'entropy' as never })).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT', message: expect.stringMatching(/'minmax' or 'percentile'/) });
    images.dispose();
    float.dispose();
  });
});
