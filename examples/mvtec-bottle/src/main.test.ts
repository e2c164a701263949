import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeSafetensors, randomResnetWeights } from '@dfm/backbone';
import { describeWithAssets } from '@dfm/backbone/testing';
import { describe, expect, it } from 'vitest';
import { makeSyntheticDataset } from '../../../packages/lightning-like/test/synthetic-dataset';
import { runBottle } from './main';

const work = mkdtempSync(join(tmpdir(), 'example-bottle-'));

describe('examples/mvtec-bottle', () => {
  it('runs end to end on a small MVTec-layout folder (random weights, 64 px)', async () => {
    await makeSyntheticDataset(join(work, 'data', 'parts'), { nTrain: 16, nTestNormal: 6, nTestAnomalous: 6, size: 64 });
    const weights = join(work, 'random.safetensors');
    writeFileSync(weights, encodeSafetensors(Object.fromEntries(randomResnetWeights('resnet18', { seed: 1, stages: 3 }))));
    const { metrics, resultsDir } = await runBottle({ root: join(work, 'data'), category: 'parts', weights, imageSize: 64, resultsDir: join(work, 'results') });
    expect(metrics.image_AUROC).toBeGreaterThan(0);
    expect(resultsDir).toBe(join(work, 'results', 'dfm', 'mvtec', 'parts'));
  });
});

describeWithAssets('examples/mvtec-bottle on the real bottle', ['weights/resnet18-imagenet-layer1-3.safetensors', 'data/mvtec-bottle'], (asset) => {
  it('reaches image AUROC ≥ 0.98 at 128 px', async () => {
    const { metrics } = await runBottle({
      root: asset('data'),
      category: 'mvtec-bottle',
      weights: asset('weights/resnet18-imagenet-layer1-3.safetensors'),
      imageSize: 128,
      resultsDir: join(work, 'bottle'),
    });
    process.stdout.write(`[example mvtec-bottle, 128 px] ${JSON.stringify(metrics)}\n`);
    expect(metrics.image_AUROC).toBeGreaterThanOrEqual(0.98);
  }, 600_000);
});
