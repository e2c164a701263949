import { mkdtempSync } from 'node:fs';
import Module from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { compareWithFixture, expectParity, fixtureInput, readFixture } from '../../test/fixture-comparison';
import { createBackbone } from '../create-backbone';
import { selectRuntime } from '../select-runtime';
import { setBackend } from '../set-backend';
import { describeWithAssets } from '../testing';
import { architectureOf, networkPlan } from '../architectures';
import { randomResnetWeights } from '../random-weights';
import { loadOnnxruntime } from './load-onnxruntime';
import { encodeOnnxModel } from './onnx-model';
import { ONNX_INPUT_NAME, resnetOnnxModel } from './resnet-onnx';

const EMPTY = mkdtempSync(join(tmpdir(), 'dfm-no-ort-'));
const available = typeof (await loadOnnxruntime()) !== 'string';
if (!available) process.stdout.write('[onnxruntime] SKIPPED the onnxruntime runtime suites: onnxruntime-node is not installed\n');

describe.runIf(available)('onnxruntime runtime matches torchvision (fixtures from scripts/make_fixtures.py)', () => {
  beforeAll(async () => {
    await setBackend('wasm');
  });
  for (const name of ['resnet34-random-64', 'resnet50-random-bn-64', 'resnet18-random-bn-65x47']) {
    it(`${name}: every layer within 1e-4 × max|feature|`, async () => {
      const { testCase } = readFixture(name);
      const backbone = await createBackbone(testCase.architecture, {
        weights: null,
        seed: testCase.seed,
        randomBatchNorm: testCase.batch_norm,
        layers: testCase.layers,
        runtime: 'onnxruntime',
      });
      expect(backbone.runtime).toBe('onnxruntime');
      const input = fixtureInput(testCase.input.seed, testCase.input.shape);
      const before = tf.memory().numTensors;
      const outputs = await backbone.extractAsync(input);
      expect(tf.memory().numTensors).toBe(before + testCase.layers.length);
      const results = await compareWithFixture(name, outputs);
      expectParity(`${name} (onnxruntime)`, results);
      tf.dispose([input, ...Object.values(outputs)]);
      backbone.dispose();
    });
  }

  it('in the calling thread (onnxThread: main) it gives the worker thread\'s features exactly', async () => {
    const options = { weights: null, layers: ['layer2' as const], runtime: 'onnxruntime' as const, randomBatchNorm: 'random' as const };
    const inWorker = await createBackbone('resnet18', options);
    const inMain = await createBackbone('resnet18', { ...options, onnxThread: 'main' });
    expect(inWorker.runtimeDetail).toMatch(/in a worker thread$/);
    expect(inMain.runtimeDetail).not.toMatch(/worker/);
    const input = tf.randomNormal([2, 48, 40, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
    const a = await inWorker.extractAsync(input);
    const b = await inMain.extractAsync(input);
    expect(Array.from(await a.layer2.data())).toEqual(Array.from(await b.layer2.data()));
    expect(input.isDisposed).toBe(false);
    tf.dispose([input, a.layer2, b.layer2]);
    inWorker.dispose();
    inMain.dispose();
  });


  it('reused input buffers never mix batches: concurrent and repeated calls give each batch its own features', async () => {
    for (const onnxThread of ['worker', 'main'] as const) {
      const backbone = await createBackbone('resnet18', { weights: null, layers: ['layer2'], runtime: 'onnxruntime', onnxThread });
      const inputs = [1, 2, 3].map((seed) => tf.randomNormal([2, 40, 40, 3], 0, 1, 'float32', seed) as tf.Tensor4D);
      const alone: number[][] = [];
      for (const input of inputs) {
        const { layer2 } = await backbone.extractAsync(input);
        alone.push(Array.from(await layer2.data()));
        layer2.dispose();
      }
      // Three at once (each takes its own buffer), then again one by one (the buffers come back from the pool).
      for (const round of [0, 1]) {
        const outputs = round === 0 ? await Promise.all(inputs.map((x) => backbone.extractAsync(x))) : [];
        if (round === 1) for (const x of inputs) outputs.push(await backbone.extractAsync(x));
        for (const [i, { layer2 }] of outputs.entries()) {
          expect(Array.from(await layer2.data())).toEqual(alone[i]);
          layer2.dispose();
        }
      }
      expect(alone[0]).not.toEqual(alone[1]);
      for (const input of inputs) expect(input.isDisposed).toBe(false);
      tf.dispose(inputs);
      backbone.dispose();
    }
  });
  it('the public NHWC graph (resnetOnnxModel) run directly matches the tfjs runtime', async () => {
    const loaded = await loadOnnxruntime();
    if (typeof loaded === 'string') throw new Error(loaded);
    const weights = randomResnetWeights('resnet18', { seed: 3, stages: 2, batchNorm: 'random' });
    const lookup = (name: string) => (weights.get(name) as { data: Float32Array }).data;
    const model = resnetOnnxModel(networkPlan(architectureOf('resnet18'), 2), lookup, { layers: ['layer2'], stages: 2 });
    const session = await loaded.ort.InferenceSession.create(model);
    const input = tf.randomNormal([2, 40, 36, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    const data = (await input.data()) as Float32Array;
    const result = await session.run({ [ONNX_INPUT_NAME]: new loaded.ort.Tensor('float32', data, input.shape) });
    const tfjs = await createBackbone('resnet18', { weights: null, seed: 3, randomBatchNorm: 'random', layers: ['layer2'] });
    const { layer2 } = tfjs.extract(input);
    expect(result.layer2?.dims).toEqual(layer2.shape);
    const expected = (await layer2.data()) as Float32Array;
    const got = result.layer2?.data as Float32Array;
    const scale = Math.max(...expected.map(Math.abs));
    const error = Math.max(...expected.map((v, i) => Math.abs(v - (got[i] as number))));
    expect(error / scale).toBeLessThanOrEqual(1e-5);
    await session.release();
    tf.dispose([input, layer2]);
    tfjs.dispose();
  });

  it('extract() is refused with the fix; extractAsync checks the batch and the disposal', async () => {
    const backbone = await createBackbone('resnet18', { weights: null, layers: ['layer1'], runtime: 'onnxruntime' });
    const input = tf.zeros([1, 32, 32, 3]) as tf.Tensor4D;
    expect(() => backbone.extract(input)).toThrow(
      /Backbone\.extract\(\): the onnxruntime runtime runs asynchronously — resnet18 was created with it\. Use await backbone\.extractAsync\(batch\)/,
    );
    const bad = tf.zeros([1, 32, 32, 4]) as tf.Tensor4D;
    await expect(backbone.extractAsync(bad)).rejects.toThrow(/Backbone\.extractAsync\(\): batch must be a float32 tensor \[B, H, W, 3\].*got \[1,32,32,4\]/);
    backbone.dispose();
    await expect(backbone.extractAsync(input)).rejects.toThrow(/the backbone must not be disposed/);
    tf.dispose([input, bad]);
  });
});

/**
 * Runs `body` with Node's global module folders emptied: pnpm's bin shims (how `pnpm test` starts
 * vitest) put the whole store on NODE_PATH, so a folder without node_modules would still find
 * onnxruntime-node; a fresh install has no such path.
 */
async function withoutNodePath<T>(body: () => Promise<T>): Promise<T> {
  const internal = Module as unknown as { _initPaths(): void };
  const saved = process.env.NODE_PATH;
  delete process.env.NODE_PATH;
  internal._initPaths();
  try {
    return await body();
  } finally {
    if (saved !== undefined) process.env.NODE_PATH = saved;
    internal._initPaths();
  }
}

describe('runtime selection', () => {
  it('auto falls back to tfjs without onnxruntime-node, and says so', async () => {
    const result = await withoutNodePath(() => selectRuntime('auto', { resolveFrom: EMPTY }));
    expect(result.runtime).toBe('tfjs');
    expect(result.reason).toMatch(/^auto: tfjs \(onnxruntime-node not installed; tfjs-node-gpu not installed\)$/);
    const backbone = await withoutNodePath(() =>
      createBackbone('resnet18', { weights: null, layers: ['layer1'], runtime: 'auto', resolveFrom: EMPTY, workers: 0 }),
    );
    expect(backbone.runtime).toBe('tfjs');
    expect(backbone.runtimeDetail).toMatch(/^auto: tfjs \(onnxruntime-node not installed.*\): tfjs (wasm|cpu)/);
    const input = tf.zeros([1, 32, 32, 3]) as tf.Tensor4D;
    const { layer1 } = await backbone.extractAsync(input);
    expect(layer1.shape).toEqual([1, 8, 8, 64]);
    tf.dispose([input, layer1]);
    backbone.dispose();
  });

  it('onnxruntime without the package names it and the fix', async () => {
    await expect(withoutNodePath(() => selectRuntime('onnxruntime', { resolveFrom: EMPTY }))).rejects.toThrow(
      /runtime 'onnxruntime' needs onnxruntime — onnxruntime-node not installed\. Install it next to @dfm\/backbone \(npm install onnxruntime-node/,
    );
  });

  it('an unknown runtime lists the choices', async () => {
    await expect(selectRuntime('torch')).rejects.toThrow(/selectRuntime\(\): runtime must be one of auto, tfjs, onnxruntime — got "torch"/);
  });

  it.runIf(available)('auto picks onnxruntime when installed', async () => {
    const result = await selectRuntime('auto');
    expect(result.runtime).toBe('onnxruntime');
    expect(result.reason).toMatch(/^auto: onnxruntime \(onnxruntime-node \d+\.\d+\.\d+; tfjs-node-gpu not installed\)$/);
  });
});

const WEIGHTS = 'weights/resnet18-imagenet-layer1-3.safetensors';

describeWithAssets('onnxruntime runtime: resnet18 with ImageNet weights matches torchvision', [WEIGHTS], (asset) => {
  it.runIf(available)('resnet18-imagenet-256: layer1..layer3 within 1e-4 × max|feature|', async () => {
    await setBackend('wasm');
    const fixture = 'resnet18-imagenet-256';
    const { testCase } = readFixture(fixture);
    const backbone = await createBackbone('resnet18', { weights: asset(WEIGHTS), layers: testCase.layers, runtime: 'onnxruntime' });
    const input = fixtureInput(testCase.input.seed, testCase.input.shape);
    const outputs = await backbone.extractAsync(input);
    const results = await compareWithFixture(fixture, outputs);
    expect(results.map((r) => r.layer)).toEqual(['layer1', 'layer2', 'layer3']);
    expectParity(`${fixture} (onnxruntime)`, results);
    tf.dispose([input, ...Object.values(outputs)]);
    backbone.dispose();
  });
});

describe.runIf(available)('Backbone.onnxGraph: the NCHW graph for whole-model exports', () => {
  it('run by onnxruntime, gives the torchvision fixture’s features (NCHW, 1e-4 × max|feature|); refuses a layer not computed and a disposed backbone', async () => {
    await setBackend('wasm');
    const name = 'resnet18-random-bn-65x47';
    const { testCase } = readFixture(name);
    const backbone = await createBackbone(testCase.architecture, {
      weights: null,
      seed: testCase.seed,
      randomBatchNorm: testCase.batch_norm,
      layers: ['layer2', 'layer3'],
      runtime: 'tfjs',
      workers: 0,
    });
    const layer = 'layer3';
    const graph = backbone.onnxGraph({ layer, inputName: 'pixels' });
    expect(graph.inputs.map((i) => [i.name, i.dims])).toEqual([['pixels', ['batch', 3, 'height', 'width']]]);
    const ort = ((await loadOnnxruntime()) as Exclude<Awaited<ReturnType<typeof loadOnnxruntime>>, string>).ort;
    const session = await ort.InferenceSession.create(encodeOnnxModel(graph));
    const input = fixtureInput(testCase.input.seed, testCase.input.shape); // NHWC
    const nchw = tf.transpose(input, [0, 3, 1, 2]);
    const out = await session.run({ pixels: new ort.Tensor('float32', (await nchw.data()) as Float32Array, nchw.shape) });
    const features = out[layer] as { data: Float32Array; dims: readonly number[] };
    // Back to NHWC for the fixture comparison.
    const nhwc = tf.transpose(tf.tensor4d(features.data, features.dims as [number, number, number, number]), [0, 2, 3, 1]);
    const results = await compareWithFixture(name, { [layer]: nhwc }, [layer]);
    expect(results).toHaveLength(1);
    expectParity(`${name} onnxGraph NCHW`, results);
    expect(() => backbone.onnxGraph({ layer: 'layer4', inputName: 'x' })).toThrow(/^Backbone\.onnxGraph\(\): layer must be one the backbone computes/);
    backbone.dispose();
    expect(() => backbone.onnxGraph({ layer, inputName: 'x' })).toThrow(/must not be disposed/);
    tf.dispose([input, nchw, nhwc]);
    await session.release();
  });
});
