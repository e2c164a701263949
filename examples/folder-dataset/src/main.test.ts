import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeSafetensors } from '@dfm/backbone';
import { randomResnetWeights } from '@dfm/backbone/internal';
import { expect, it } from 'vitest';
import { makeSyntheticDataset } from '../../../packages/lightning-like/test/synthetic-dataset';
import { runFolder } from './main';

it('examples/folder-dataset fits on good images, evaluates with masks, and scores new images', async () => {
  const work = mkdtempSync(join(tmpdir(), 'example-folder-'));
  const data = await makeSyntheticDataset(join(work, 'images'), { nTrain: 30, nTestNormal: 0, nTestAnomalous: 10, size: 64 });
  const weights = join(work, 'random.safetensors');
  writeFileSync(weights, encodeSafetensors(Object.fromEntries(randomResnetWeights('resnet18', { seed: 1, stages: 3 }))));
  const fresh = join(data.abnormalDir, '000.png');
  const result = await runFolder({
    normalDir: data.normalDir,
    abnormalDir: data.abnormalDir,
    maskDir: data.maskDir,
    weights,
    imageSize: 64,
    resultsDir: join(work, 'results'),
    predict: [fresh],
  });
  process.stdout.write(`[example folder-dataset, synthetic] ${JSON.stringify(result.metrics)}\n`);
  // Seeded data and weights; evaluated on half of (6 held-out good + 10 blob) images, the other half
  // fits the thresholds. Measured image AUROC 1.000, pixel AUROC 0.726, AUPRO 0.25; chance is 0.5.
  expect(result.metrics.image_AUROC).toBeGreaterThanOrEqual(0.9);
  expect(result.metrics.pixel_AUROC).toBeGreaterThanOrEqual(0.65);
  expect(result.metrics.pixel_AUPRO).toBeGreaterThanOrEqual(0.2);
  expect(result.resultsDir).toBe(join(work, 'results', 'dfm', 'folder', 'my-parts', 'v1'));
  expect(result.modelPath).toBe(join(result.resultsDir, 'model.dfm'));
  expect(result.predictions).toHaveLength(1);
  // The new image has a blob: the fitted thresholds call it anomalous (measured normalised score 0.63).
  expect(result.predictions[0]?.predLabel).toBe(1);
});

it('examples/folder-dataset with good images only: fits, writes the model, scores new images without labels', async () => {
  const work = mkdtempSync(join(tmpdir(), 'example-folder-good-'));
  const data = await makeSyntheticDataset(join(work, 'images'), { nTrain: 20, nTestNormal: 0, nTestAnomalous: 2, size: 64 });
  const weights = join(work, 'random.safetensors');
  writeFileSync(weights, encodeSafetensors(Object.fromEntries(randomResnetWeights('resnet18', { seed: 1, stages: 3 }))));
  const options = { normalDir: data.normalDir, weights, imageSize: 64, resultsDir: join(work, 'results'), predict: [join(data.abnormalDir, '000.png')] };
  const result = await runFolder(options);
  expect(result.metrics).toEqual({});
  expect(result.modelPath !== null && existsSync(result.modelPath)).toBe(true);
  expect(result.predictions[0]).toMatchObject({ normalizedScore: null, predLabel: null });
  // a second run gets its own folder: the first model is not replaced
  expect((await runFolder(options)).resultsDir).toBe(join(work, 'results', 'dfm', 'folder', 'my-parts', 'v2'));
  expect(existsSync(join(result.resultsDir, 'model.dfm'))).toBe(true);
});
