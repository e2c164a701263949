import { readFileSync } from 'node:fs';
import { type Backbone, createBackbone, setBackend } from '@dfm/backbone';
import { describeWithAssets } from '@dfm/backbone/testing';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, expect, it } from 'vitest';
import { auroc, imageBatches, listSplit, spearman } from '../test/helpers';
import { DFMModel } from './dfm-model';

const WEIGHTS = 'weights/resnet18-imagenet-layer1-3.safetensors';
const SIZE = 256;

interface Reference {
  nComponents: number;
  auroc: { fre: number; nll: number };
  test: { path: string; label: number; fre: number; nll: number }[];
}
const reference = (category: string): Reference =>
  JSON.parse(readFileSync(new URL(`../test/fixtures/${category}-reference-scores.json`, import.meta.url), 'utf8'));

/** Features of every train and test image of a category, computed once with the real weights. */
async function categoryFeatures(backbone: Backbone, root: string) {
  const extractor = new DFMModel({ backbone: 'resnet18', layer: 'layer3', backboneInstance: backbone });
  const collect = async (paths: string[]) => {
    const parts: tf.Tensor2D[] = [];
    let featureShape: [number, number, number] = [0, 0, 0];
    for await (const batch of imageBatches(paths, SIZE, 16)) {
      const result = await extractor.getFeatures(batch);
      parts.push(result.features);
      featureShape = result.featureShape;
    }
    const all = tf.concat(parts) as tf.Tensor2D;
    tf.dispose(parts);
    return { features: all, featureShape };
  };
  const train = listSplit(root, 'train');
  const test = listSplit(root, 'test');
  return { train: await collect(train.map((s) => s.path)), test: await collect(test.map((s) => s.path)), testList: test };
}

describeWithAssets('DFMModel on MVTec AD bottle (real weights and data)', [WEIGHTS, 'data/mvtec-bottle'], (asset) => {
  let backbone: Backbone;
  let data: Awaited<ReturnType<typeof categoryFeatures>>;
  const ref = reference('mvtec-bottle');

  beforeAll(async () => {
    await setBackend('wasm');
    backbone = await createBackbone('resnet18', { weights: asset(WEIGHTS), layers: ['layer3'] });
    data = await categoryFeatures(backbone, asset('data/mvtec-bottle'));
  });

  it('lists the images in the reference order', () => {
    expect(data.testList.map((s) => s.relative.replace(/^test\//, 'test/'))).toEqual(ref.test.map((t) => t.path));
  });

  it('FRE: image AUROC ≥ 0.99 and Spearman ≥ 0.999 with the PyTorch run of the same recipe', async () => {
    const model = new DFMModel({ backbone: 'resnet18', layer: 'layer3', backboneInstance: backbone });
    const fit = await model.fit(data.train.features, { featureShape: data.train.featureShape });
    const { predScore, anomalyMap } = model.score(data.test.features, data.test.featureShape);
    const scores = Array.from(await predScore.data());
    const labels = data.testList.map((s) => s.label);
    const rho = spearman(scores, ref.test.map((t) => t.fre));
    const value = auroc(scores, labels);
    process.stdout.write(`[bottle FRE] k=${fit.nComponents} (PyTorch ${ref.nComponents}) AUROC=${value.toFixed(4)} Spearman=${rho.toFixed(5)}\n`);
    expect(value).toBeGreaterThanOrEqual(0.99);
    expect(rho).toBeGreaterThanOrEqual(0.999);
    expect(anomalyMap?.shape).toEqual([83, 4, 4, 1]);
    tf.dispose([predScore, anomalyMap as tf.Tensor]);
    model.dispose();
  });

  it('NLL: image AUROC ≥ 0.98', async () => {
    const model = new DFMModel({ backbone: 'resnet18', layer: 'layer3', scoreType: 'nll', backboneInstance: backbone });
    await model.fit(data.train.features, { featureShape: data.train.featureShape });
    const { predScore, anomalyMap } = model.score(data.test.features, data.test.featureShape);
    expect(anomalyMap).toBeUndefined();
    const scores = Array.from(await predScore.data());
    expect(scores.every(Number.isFinite)).toBe(true);
    const value = auroc(scores, data.testList.map((s) => s.label));
    process.stdout.write(`[bottle NLL] AUROC=${value.toFixed(4)} (PyTorch ${ref.auroc.nll.toFixed(4)})\n`);
    expect(value).toBeGreaterThanOrEqual(0.98);
    predScore.dispose();
    model.dispose();
  });
});

describeWithAssets('DFMModel on Magnetic Tile Defects (real weights and data)', [WEIGHTS, 'data/magnetic-tile'], (asset) => {
  it('FRE: image AUROC ≥ 0.975', async () => {
    await setBackend('wasm');
    const backbone = await createBackbone('resnet18', { weights: asset(WEIGHTS), layers: ['layer3'] });
    const data = await categoryFeatures(backbone, asset('data/magnetic-tile'));
    const model = new DFMModel({ backbone: 'resnet18', layer: 'layer3', backboneInstance: backbone });
    const fit = await model.fit(data.train.features);
    const { predScore } = model.score(data.test.features, data.test.featureShape, { map: false });
    const value = auroc(Array.from(await predScore.data()), data.testList.map((s) => s.label));
    const ref = reference('magnetic-tile');
    process.stdout.write(`[magnetic-tile FRE] k=${fit.nComponents} (PyTorch ${ref.nComponents}) AUROC=${value.toFixed(4)} (PyTorch ${ref.auroc.fre.toFixed(4)})\n`);
    expect(value).toBeGreaterThanOrEqual(0.975);
    predScore.dispose();
    model.dispose();
    backbone.dispose();
  }, 900_000);
});
