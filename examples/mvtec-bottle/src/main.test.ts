import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeSafetensors } from '@dfm/backbone';
import { randomResnetWeights } from '@dfm/backbone/internal';
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
    process.stdout.write(`[example mvtec-bottle, synthetic] ${JSON.stringify(metrics)}\n`);
    // Seeded data and weights: measured image AUROC 1.000 (6 good, 6 with a bright blob) and pixel
    // AUROC 0.755, AUPRO 0.31. Chance is 0.5: a pipeline that stopped seeing the blobs fails these.
    expect(metrics.image_AUROC).toBeGreaterThanOrEqual(0.95);
    expect(metrics.pixel_AUROC).toBeGreaterThanOrEqual(0.7);
    expect(metrics.pixel_AUPRO).toBeGreaterThanOrEqual(0.25);
    expect(resultsDir).toBe(join(work, 'results', 'dfm', 'mvtec', 'parts', 'v1'));
  });
});

describeWithAssets('examples/mvtec-bottle on the real bottle', ['weights/resnet18-imagenet-layer1-3.safetensors', 'data/mvtec-bottle'], (asset) => {
  it('reaches the reference image AUROC (1.000 with FRE at 256 px) with its defaults', async () => {
    const { metrics } = await runBottle({
      root: asset('data'),
      category: 'mvtec-bottle',
      weights: asset('weights/resnet18-imagenet-layer1-3.safetensors'),
      resultsDir: join(work, 'bottle'),
    });
    process.stdout.write(`[example mvtec-bottle, 256 px] ${JSON.stringify(metrics)}\n`);
    // ../shared/assets/README.md: image AUROC 1.000 (PyTorch, resnet18 layer3, 256 px, PCA 0.97).
    expect(metrics.image_AUROC).toBeGreaterThanOrEqual(0.999);
    expect(metrics.image_F1Score).toBeGreaterThanOrEqual(0.98);
  }, 600_000);
});
