import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeSafetensors, randomResnetWeights } from '@dfm/backbone';
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
  expect(Object.keys(result.metrics)).toEqual(expect.arrayContaining(['image_AUROC', 'pixel_AUROC']));
  expect(result.resultsDir).toBe(join(work, 'results', 'dfm', 'folder', 'my-parts'));
  expect(result.predictions).toHaveLength(1);
  expect(result.predictions[0]?.predLabel === 0 || result.predictions[0]?.predLabel === 1).toBe(true);
});
