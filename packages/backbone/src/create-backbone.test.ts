import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { type BackboneName, featureSize, type LayerName, layerInfo } from './architectures';
import { createBackbone } from './create-backbone';
import { encodeSafetensors } from './encode-safetensors';
import { randomResnetWeights, type StateTensor } from './random-weights';
import { setBackend } from './set-backend';
import { CorruptFileError, InvalidArgumentError, ShapeMismatchError } from '@dfm/errors';
import { UnknownBackboneError } from './errors';

const bytesOf = (weights: Map<string, StateTensor>, metadata?: Record<string, string>) =>
  encodeSafetensors(Object.fromEntries(weights), metadata);

describe('createBackbone', () => {
  beforeAll(async () => {
    await setBackend('wasm');
  });

  it('gives the shapes of DESIGN.md at 256×256 (NHWC) and layerInfo', async () => {
    for (const [name, channels] of [
      ['resnet18', 256],
      ['resnet50', 1024],
    ] as [BackboneName, number][]) {
      const backbone = await createBackbone(name, { weights: null, layers: ['layer3'] });
      const input = tf.zeros([1, 256, 256, 3]) as tf.Tensor4D;
      const { layer3 } = backbone.extract(input);
      expect(layer3?.shape).toEqual([1, 16, 16, channels]);
      expect(backbone.layerInfo('layer3')).toEqual({ channels, stride: 16 });
      expect(backbone.layers).toEqual(['layer3']);
      expect(backbone.weightsId).toBe('random:0');
      expect(backbone.weightsSha256).toBeNull();
      tf.dispose([input, layer3 as tf.Tensor]);
      backbone.dispose();
    }
  });

  it('returns every requested layer, avgpool as [B, C] = the mean of layer4, for odd sizes too', async () => {
    const layers: LayerName[] = ['avgpool', 'layer1', 'layer2', 'layer3', 'layer4'];
    const backbone = await createBackbone('resnet18', { weights: null, layers, seed: 3 });
    const input = tf.randomUniform([2, 37, 50, 3], -2, 2, 'float32', 1) as tf.Tensor4D;
    const out = backbone.extract(input);
    expect(Object.keys(out).sort()).toEqual([...layers].sort());
    for (const layer of ['layer1', 'layer2', 'layer3', 'layer4'] as const) {
      expect(out[layer].shape).toEqual([2, featureSize(37, layer), featureSize(50, layer), layerInfo('resnet18', layer).channels]);
    }
    expect(out.avgpool.shape).toEqual([2, 512]);
    const mean = tf.mean(out.layer4, [1, 2]);
    expect(tf.max(tf.abs(tf.sub(mean, out.avgpool))).dataSync()[0]).toBeLessThan(1e-5);
    tf.dispose([input, mean, ...Object.values(out)]);
    backbone.dispose();
  });

  it('frees every intermediate, never changes its input, and frees its weights on dispose', async () => {
    const baseline = tf.memory().numTensors;
    const backbone = await createBackbone('resnet18', { weights: null, layers: ['layer1', 'layer2'] });
    const weightTensors = tf.memory().numTensors - baseline;
    const input = tf.randomNormal([1, 64, 64, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
    const before = Array.from(await input.data());
    const counts: number[] = [];
    let first: Float32Array | undefined;
    for (let i = 0; i < 3; i++) {
      const out = backbone.extract(input);
      expect(tf.memory().numTensors).toBe(baseline + weightTensors + 1 + 2);
      const values = (await out.layer2.data()) as Float32Array;
      if (first) expect(values).toEqual(first);
      first = values;
      tf.dispose(Object.values(out));
      counts.push(tf.memory().numTensors);
    }
    expect(new Set(counts).size).toBe(1);
    expect(Array.from(await input.data())).toEqual(before);
    input.dispose();
    backbone.dispose();
    expect(tf.memory().numTensors).toBe(baseline);
    expect(() => backbone.extract(input)).toThrow(/the backbone must not be disposed/);
  });

  it('builds and loads only the stages it needs; a deeper request names the missing tensors', async () => {
    const partial = bytesOf(randomResnetWeights('resnet50', { seed: 1, stages: 2 }));
    const backbone = await createBackbone('resnet50', { weights: partial, layers: ['layer2', 'layer1'] });
    expect(backbone.weightsId).toMatch(/^bytes:[0-9a-f]{16}$/);
    expect(backbone.weightsSha256).toMatch(/^[0-9a-f]{64}$/);
    backbone.dispose();
    await expect(createBackbone('resnet50', { weights: partial, layers: ['layer3'] })).rejects.toThrow(
      /^createBackbone\('resnet50'\): layers layer3 need conv1\.\.layer3 — bytes:[0-9a-f]+ lacks 95 tensors: layer3\.0\.conv1\.weight, layer3\.0\.bn1\.weight, .*\(83 more\)\. Request shallower layers or use a complete weights file\.$/,
    );
  });

  it('accepts fc and num_batches_tracked, rejects unknown tensors, wrong shapes, non-finite values and another architecture', async () => {
    const weights = randomResnetWeights('resnet18', { seed: 1, stages: 1 });
    const extra = new Map(weights);
    extra.set('fc.weight', { shape: [1000, 512], data: new Float32Array(512_000) });
    extra.set('bn1.num_batches_tracked', { shape: [], data: new Float32Array(1) });
    (await createBackbone('resnet18', { weights: bytesOf(extra), layers: ['layer1'] })).dispose();

    const unknown = new Map(weights);
    unknown.set('layer1.0.conv3.weight', { shape: [1], data: new Float32Array(1) });
    unknown.set('head.weight', { shape: [1], data: new Float32Array(1) });
    await expect(createBackbone('resnet18', { weights: bytesOf(unknown), layers: ['layer1'] })).rejects.toThrow(
      /weights must hold only resnet18 tensors — bytes:[0-9a-f]+ has 2 unknown: layer1\.0\.conv3\.weight, head\.weight\. Check that the file is for resnet18\./,
    );

    const wrongShape = new Map(weights);
    wrongShape.set('conv1.weight', { shape: [64, 3, 3, 3], data: new Float32Array(64 * 27) });
    await expect(createBackbone('resnet18', { weights: bytesOf(wrongShape), layers: ['layer1'] })).rejects.toThrow(
      ShapeMismatchError,
    );
    await expect(createBackbone('resnet18', { weights: bytesOf(wrongShape), layers: ['layer1'] })).rejects.toThrow(
      /tensor conv1\.weight must have shape \[64,3,7,7\] — bytes:[0-9a-f]+ has \[64,3,3,3\]/,
    );

    const nan = new Map(weights);
    const data = new Float32Array(64).fill(1);
    data[5] = Number.NaN;
    nan.set('bn1.running_var', { shape: [64], data });
    await expect(createBackbone('resnet18', { weights: bytesOf(nan), layers: ['layer1'] })).rejects.toThrow(CorruptFileError);

    await expect(
      createBackbone('resnet34', { weights: bytesOf(weights, { architecture: 'resnet18' }), layers: ['layer1'] }),
    ).rejects.toThrow(/weights must be for resnet34 — bytes:[0-9a-f]+ declares architecture resnet18\. Use createBackbone\('resnet18'\)/);
  });

  it('lists the valid names for an unknown backbone or layer', async () => {
    await expect(createBackbone('resnet101' as BackboneName, { weights: null, layers: ['layer1'] })).rejects.toThrow(
      UnknownBackboneError,
    );
    await expect(createBackbone('resnet101' as BackboneName, { weights: null, layers: ['layer1'] })).rejects.toThrow(
      /^createBackbone\(\): backbone must be one of resnet18, resnet34, resnet50, wide_resnet50_2 — got "resnet101"\./,
    );
    await expect(createBackbone('resnet18', { weights: null, layers: ['layer5' as LayerName] })).rejects.toThrow(
      /^createBackbone\('resnet18'\): layer must be one of layer1, layer2, layer3, layer4, avgpool — got "layer5"\./,
    );
    await expect(createBackbone('resnet18', { weights: null, layers: [] })).rejects.toThrow(InvalidArgumentError);
  });

  it('validates the batch: rank 4, 3 channels, float32, H, W ≥ 32', async () => {
    const backbone = await createBackbone('resnet18', { weights: null, layers: ['layer1'] });
    const bad: [tf.Tensor, RegExp][] = [
      [tf.zeros([32, 32, 3]), /— got \[32,32,3\]\. Convert images to NHWC RGB/],
      [tf.zeros([1, 32, 32, 1]), /— got \[1,32,32,1\]\./],
      [tf.zeros([1, 32, 32, 3], 'int32'), /— got dtype int32\. Cast to float32 and normalise/],
      [tf.zeros([1, 31, 64, 3]), /— got 31×64\. Resize the images to at least 32×32\./],
    ];
    for (const [tensor, pattern] of bad) {
      expect(() => backbone.extract(tensor as tf.Tensor4D)).toThrow(
        /^Backbone\.extract\(\): batch must be a float32 tensor \[B, H, W, 3\] \(NHWC, normalised\) with H, W ≥ 32 — /,
      );
      expect(() => backbone.extract(tensor as tf.Tensor4D)).toThrow(pattern);
      tensor.dispose();
    }
    const gone = tf.zeros([1, 32, 32, 3]) as tf.Tensor4D;
    gone.dispose();
    expect(() => backbone.extract(gone)).toThrow(/got a disposed tensor/);
    backbone.dispose();
  });

  it('random weights depend on the seed only; random BatchNorm changes the output', async () => {
    const input = tf.randomNormal([1, 32, 32, 3], 0, 1, 'float32', 4) as tf.Tensor4D;
    const run = async (seed: number, randomBatchNorm: 'identity' | 'random' = 'identity') => {
      const backbone = await createBackbone('resnet18', { weights: null, layers: ['layer1'], seed, randomBatchNorm });
      const { layer1 } = backbone.extract(input);
      const values = Array.from(await (layer1 as tf.Tensor).data());
      const id = backbone.weightsId;
      tf.dispose(layer1 as tf.Tensor);
      backbone.dispose();
      return { values, id };
    };
    const a = await run(1);
    expect(a.id).toBe('random:1');
    expect((await run(1)).values).toEqual(a.values);
    expect((await run(2)).values).not.toEqual(a.values);
    const bn = await run(1, 'random');
    expect(bn.id).toBe('random-bn:1');
    expect(bn.values).not.toEqual(a.values);
    input.dispose();
  });

  it('gives the same features without the fused kernel (conv2d + bias + relu)', async () => {
    await setBackend('cpu');
    const backbone = await createBackbone('resnet18', { weights: null, layers: ['layer2'], randomBatchNorm: 'random' });
    const input = tf.randomNormal([1, 40, 40, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    const fused = backbone.extract(input).layer2 as tf.Tensor;
    const kernel = tf.getKernel('FusedConv2D', 'cpu');
    expect(kernel).toBeDefined();
    tf.unregisterKernel('FusedConv2D', 'cpu');
    try {
      const plain = backbone.extract(input).layer2 as tf.Tensor;
      const error = tf.max(tf.abs(tf.sub(fused, plain))).dataSync()[0] as number;
      expect(error).toBeLessThan(1e-5 * (tf.max(tf.abs(fused)).dataSync()[0] as number));
      plain.dispose();
    } finally {
      tf.registerKernel(kernel as tf.KernelConfig);
    }
    tf.dispose([fused, input]);
    backbone.dispose();
    await setBackend('wasm');
  });
});
