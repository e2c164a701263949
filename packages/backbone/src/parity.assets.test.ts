import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { compareWithFixture, expectParity, fixtureInput, readFixture } from '../test/fixture-comparison';
import { createBackbone } from './create-backbone';
import { setBackend } from './set-backend';
import { describeWithAssets } from './testing';

const WEIGHTS = 'weights/resnet18-imagenet-layer1-3.safetensors';

// Acceptance 1: the real ImageNet resnet18 (layers 1-3) against torchvision loaded with the same
// file; wasm at 256×256, cpu at 64×64 (the cpu backend takes ~7 s per 256×256 image).
describeWithAssets('resnet18 with ImageNet weights matches torchvision', [WEIGHTS], (asset) => {
  for (const [backend, fixture] of [
    ['wasm', 'resnet18-imagenet-256'],
    ['cpu', 'resnet18-imagenet-64'],
  ] as const) {
    it(`${fixture} on ${backend}: layer1..layer3 within 1e-4 × max|feature|`, async () => {
      await setBackend(backend);
      const { testCase } = readFixture(fixture);
      const backbone = await createBackbone('resnet18', { weights: asset(WEIGHTS), layers: testCase.layers });
      expect(backbone.weightsId).toBe('resnet18-imagenet-layer1-3.safetensors');
      expect(backbone.weightsSha256).toBe('7c27e7491f3832cc1d426e20d4fd72aadee2074b8d9a0252bc90db408dfc54cd');
      const input = fixtureInput(testCase.input.seed, testCase.input.shape);
      const outputs = backbone.extract(input);
      const results = await compareWithFixture(fixture, outputs);
      expect(results.map((r) => r.layer)).toEqual(['layer1', 'layer2', 'layer3']);
      expectParity(`${fixture} (${backend})`, results);
      tf.dispose([input, ...Object.values(outputs)]);
      backbone.dispose();
    });
  }

  it('a request for layer4 from this file names the missing tensors', async () => {
    await setBackend('wasm');
    await expect(createBackbone('resnet18', { weights: asset(WEIGHTS), layers: ['layer4'] })).rejects.toThrow(
      /createBackbone\('resnet18'\): layers layer4 need conv1\.\.layer4 — .*resnet18-imagenet-layer1-3\.safetensors lacks 25 tensors: layer4\.0\.conv1\.weight, layer4\.0\.bn1\.weight/,
    );
  });
});
