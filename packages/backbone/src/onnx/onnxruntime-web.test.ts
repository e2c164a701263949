import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { compareOutputs, compareWithFixture, expectParity, fixtureInput, readFixture } from '../../test/fixture-comparison';
import type { LayerName } from '../architectures';
import { type CreateBackboneOptions, createBackbone } from '../create-backbone';
import { setBackend } from '../set-backend';
import { describeWithAssets } from '../testing';
import { loadOnnxruntime } from './load-onnxruntime';

// onnxruntime-web's `node` export (dist/ort.node.min.mjs): the same WebAssembly build and wasm EP
// as in a browser, loaded through the browser's code path (loadOnnxruntime → import by name).
const web = await loadOnnxruntime({ onnxruntimePackage: 'onnxruntime-web' });
const native = await loadOnnxruntime({ onnxruntimePackage: 'onnxruntime-node' });
const webAvailable = typeof web !== 'string';
const nativeAvailable = typeof native !== 'string';
if (!webAvailable) process.stdout.write(`[onnxruntime-web] SKIPPED the onnxruntime-web suites: ${web}\n`);
if (!nativeAvailable) process.stdout.write(`[onnxruntime-web] the comparisons with onnxruntime-node are SKIPPED: ${native}\n`);

/**
 * Runs `input` through onnxruntime-web and (when installed) onnxruntime-node built with the same
 * options; checks the web run against the fixture and against onnxruntime-node at the fixtures'
 * tolerance, and that repeated calls leave no tensor behind.
 */
async function checkWebEngine(fixture: string, options: CreateBackboneOptions, label: string): Promise<void> {
  const { testCase } = readFixture(fixture);
  const input = fixtureInput(testCase.input.seed, testCase.input.shape);
  const backbone = await createBackbone(testCase.architecture, { ...options, runtime: 'onnxruntime', onnxruntimePackage: 'onnxruntime-web' });
  expect(backbone.runtime).toBe('onnxruntime');
  expect(backbone.runtimeDetail).toMatch(/^onnxruntime: requested: onnxruntime-web 1\.30\.0, wasm EP, \d+ threads?$/);
  const before = tf.memory().numTensors;
  const outputs = await backbone.extractAsync(input);
  expect(tf.memory().numTensors).toBe(before + testCase.layers.length);
  expectParity(`${label} (onnxruntime-web vs torch)`, await compareWithFixture(fixture, outputs));
  for (let i = 0; i < 2; i++) tf.dispose(Object.values(await backbone.extractAsync(input)));
  expect(tf.memory().numTensors).toBe(before + testCase.layers.length);
  if (nativeAvailable) {
    const reference = await createBackbone(testCase.architecture, { ...options, runtime: 'onnxruntime', onnxruntimePackage: 'onnxruntime-node' });
    expect(reference.runtimeDetail).toMatch(/onnxruntime-node 1\.30\.0, CPU EP/);
    const expected = await reference.extractAsync(input);
    expectParity(`${label} (onnxruntime-web vs onnxruntime-node)`, await compareOutputs(expected, outputs, testCase.layers));
    tf.dispose(Object.values(expected));
    reference.dispose();
  }
  expect(input.isDisposed).toBe(false);
  tf.dispose([input, ...Object.values(outputs)]);
  backbone.dispose();
  expect(tf.memory().numTensors).toBe(before - 1);
}

describe.runIf(webAvailable)('onnxruntime-web (wasm EP) in Node matches torchvision and onnxruntime-node', () => {
  beforeAll(async () => {
    await setBackend('wasm');
  });

  it('loads by name through the browser code path, and reports its package and version', () => {
    if (typeof web === 'string') throw new Error(web);
    expect(web.packageName).toBe('onnxruntime-web');
    expect(web.version).toBe('1.30.0');
    expect(web.source).toBe('imported');
    expect(web.modulePath).toBeUndefined();
  });

  for (const fixture of ['resnet34-random-64', 'resnet18-random-bn-65x47']) {
    it(`${fixture}: every layer within 1e-4 × max|feature| of torch and of onnxruntime-node; no tensor left`, async () => {
      const { testCase } = readFixture(fixture);
      await checkWebEngine(fixture, { weights: null, seed: testCase.seed, randomBatchNorm: testCase.batch_norm, layers: testCase.layers }, fixture);
    });
  }

  it('a module passed as onnxruntimeModule is used as it is (what a browser bundle does)', async () => {
    const ort = await import('onnxruntime-web');
    const options = { weights: null, layers: ['layer2'] as LayerName[], runtime: 'onnxruntime' as const, randomBatchNorm: 'random' as const };
    const given = await createBackbone('resnet18', { ...options, onnxruntimeModule: ort });
    const byName = await createBackbone('resnet18', { ...options, onnxruntimePackage: 'onnxruntime-web' });
    expect(given.runtimeDetail).toMatch(/^onnxruntime: requested: onnxruntime-web 1\.30\.0, wasm EP/);
    const input = tf.randomNormal([2, 40, 36, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
    const a = await given.extractAsync(input);
    const b = await byName.extractAsync(input);
    expect(Array.from(await a.layer2.data())).toEqual(Array.from(await b.layer2.data()));
    tf.dispose([input, a.layer2, b.layer2]);
    given.dispose();
    byName.dispose();
  });
});

describe('onnxruntime package options are checked', () => {
  const base = { weights: null, layers: ['layer1'] as LayerName[], runtime: 'onnxruntime' as const };

  it('an unknown onnxruntimePackage lists the two and the default', async () => {
    await expect(createBackbone('resnet18', { ...base, onnxruntimePackage: 'onnxruntime' as never })).rejects.toThrow(
      /^createBackbone\('resnet18'\): onnxruntimePackage must be 'onnxruntime-node' or 'onnxruntime-web' — got "onnxruntime"\. Omit it for the default \(onnxruntime-node in Node, onnxruntime-web in a browser\)\.$/,
    );
    await expect(loadOnnxruntime({ onnxruntimePackage: 'web' as never })).rejects.toThrow(/^loadOnnxruntime\(\): onnxruntimePackage must be/);
  });

  it('an onnxruntimeModule that is not one says what to pass', async () => {
    await expect(createBackbone('resnet18', { ...base, onnxruntimeModule: { Tensor: 1 } })).rejects.toThrow(
      /^createBackbone\('resnet18'\): onnxruntimeModule must be an onnxruntime module with InferenceSession, Tensor and env — got an object with keys Tensor\. Pass the module itself: import \* as ort from 'onnxruntime-web'/,
    );
  });

  it.runIf(webAvailable)('onnxruntimePackage must agree with onnxruntimeModule; onnxThread worker needs onnxruntime-node', async () => {
    const ort = await import('onnxruntime-web');
    await expect(createBackbone('resnet18', { ...base, onnxruntimeModule: ort, onnxruntimePackage: 'onnxruntime-node' })).rejects.toThrow(
      /onnxruntimePackage must name the package of onnxruntimeModule — got onnxruntimePackage 'onnxruntime-node' with a module of onnxruntime-web\./,
    );
    await expect(createBackbone('resnet18', { ...base, onnxruntimePackage: 'onnxruntime-web', onnxThread: 'worker' })).rejects.toThrow(
      /^createBackbone\(\): onnxThread 'worker' needs onnxruntime-node loaded by name in Node — got onnxruntime-web\. Use onnxThread: 'main'/,
    );
  });
});

const WEIGHTS = 'weights/resnet18-imagenet-layer1-3.safetensors';

describeWithAssets('onnxruntime-web: resnet18 with ImageNet weights matches torchvision and onnxruntime-node', [WEIGHTS], (asset) => {
  it.runIf(webAvailable)('resnet18-imagenet-256: layer1..layer3 within 1e-4 × max|feature|; no tensor left', async () => {
    await setBackend('wasm');
    const fixture = 'resnet18-imagenet-256';
    const { testCase } = readFixture(fixture);
    await checkWebEngine(fixture, { weights: asset(WEIGHTS), layers: testCase.layers }, fixture);
  });
});
