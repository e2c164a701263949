import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareWithFixture, expectParity, fixtureInput, readFixture } from '../test/fixture-comparison';
import { createBackbone } from './create-backbone';
import { setBackend } from './set-backend';

async function checkCase(name: string, backend: string) {
  const { testCase } = readFixture(name);
  expect(testCase.weights).toBe('random');
  const backbone = await createBackbone(testCase.architecture, {
    weights: null,
    seed: testCase.seed,
    randomBatchNorm: testCase.batch_norm,
    layers: testCase.layers,
  });
  const input = fixtureInput(testCase.input.seed, testCase.input.shape);
  const outputs = backbone.extract(input);
  const results = await compareWithFixture(name, outputs);
  expectParity(`${name} (${backend})`, results);
  tf.dispose([input, ...Object.values(outputs)]);
  backbone.dispose();
}

describe('random-weight networks match torchvision (fixtures from scripts/make_fixtures.py)', () => {
  describe('wasm', () => {
    beforeAll(async () => {
      await setBackend('wasm');
    });
    for (const name of [
      'resnet34-random-64',
      'resnet50-random-bn-64',
      'wide_resnet50_2-random-bn-64',
      'resnet18-random-bn-65x47',
    ]) {
      it(name, () => checkCase(name, 'wasm'));
    }
  });

  it('the comparison catches a single gross error outside the sampled elements', async () => {
    const name = 'resnet18-random-bn-65x47';
    const { testCase, layers } = readFixture(name);
    const backbone = await createBackbone('resnet18', {
      weights: null,
      seed: testCase.seed,
      randomBatchNorm: 'random',
      layers: ['layer1'],
    });
    const input = fixtureInput(testCase.input.seed, testCase.input.shape);
    const { layer1 } = backbone.extract(input);
    const values = Float32Array.from(await (layer1 as tf.Tensor).data());
    const step = layers.layer1?.step as number;
    expect(step).toBeGreaterThan(1);
    const [clean] = await compareWithFixture(name, { layer1: layer1 as tf.Tensor }, ['layer1']);
    values[step + 1] = (values[step + 1] as number) + 0.01 * (clean?.maxAbs as number);
    const spiked = tf.tensor(values, (layer1 as tf.Tensor).shape);
    const [result] = await compareWithFixture(name, { layer1: spiked }, ['layer1']);
    expect(result?.relativeError).toBeLessThanOrEqual(1e-4);
    expect(result?.sumError).toBeGreaterThan(1e-4);
    tf.dispose([input, layer1 as tf.Tensor, spiked]);
    backbone.dispose();
  });

  describe('cpu', () => {
    beforeAll(async () => {
      await setBackend('cpu');
    });
    afterAll(async () => {
      await setBackend('wasm');
    });
    it('resnet18-random-bn-65x47', () => checkCase('resnet18-random-bn-65x47', 'cpu'));
  });
});
