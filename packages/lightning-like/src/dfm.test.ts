import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setBackend } from '@dfm/backbone';
import { readModelMetadata } from '@dfm/core';
import { Folder } from '@dfm/data';
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeSyntheticDataset, type SyntheticDataset } from '../test/synthetic-dataset';
import { Dfm } from './dfm';
import { Engine } from './engine';
import { PreProcessor } from './pre-processor';

const work = mkdtempSync(join(tmpdir(), 'dfm-module-'));
let data: SyntheticDataset;
const dataset = () =>
  new Folder({
    normalDir: data.normalDir,
    normalTestDir: data.normalTestDir,
    abnormalDir: data.abnormalDir,
    name: 'blobs',
    valSplitMode: 'from_test',
    seed: 2,
  });

beforeAll(async () => {
  await setBackend('wasm');
  data = await makeSyntheticDataset(join(work, 'blobs'), { nTrain: 12, nTestNormal: 6, nTestAnomalous: 6, size: 64 });
});

/** Scores of the test split through the Engine (the model's own pre-processing decides the input). */
async function testScores(model: Dfm, dir: string): Promise<number[]> {
  const engine = new Engine({ defaultRootDir: join(work, dir), checkpoint: false, batchSize: 4 });
  const predictions = await engine.predict(model, dataset().test.map((s) => s.path));
  return predictions.map((p) => p.predScore);
}

describe('Dfm model file: the whole pre- and post-processing survive save → load', () => {
  it('custom (non-ImageNet) mean/std, size and kernel are recorded and restored; scores are identical', async () => {
    const preProcessor = new PreProcessor({ imageSize: [64, 48], resizeKernel: 'lanczos3', mean: [0.3, 0.4, 0.5], std: [0.2, 0.3, 0.1] });
    const model = new Dfm({ backbone: 'resnet18', layer: 'layer2', preTrained: false, seed: 3, preProcessor });
    const engine = new Engine({ defaultRootDir: join(work, 'custom'), checkpoint: false, batchSize: 4 });
    await engine.fit(model, dataset());
    expect(model.postProcessor?.isFitted).toBe(true);
    const path = join(work, 'custom.dfm');
    await model.save(path);
    const metadata = readModelMetadata(readFileSync(path), path);
    expect(metadata.preProcessing).toEqual({
      imageSize: [64, 48],
      resizeKernel: 'lanczos3',
      normalization: { mean: [0.3, 0.4, 0.5], std: [0.2, 0.3, 0.1] },
    });
    expect(metadata.postProcessing).toEqual(model.postProcessor?.stats);

    const loaded = await Dfm.load(path);
    expect(loaded.preProcessor.toJSON()).toEqual(preProcessor.toJSON());
    expect(loaded.postProcessor?.stats).toEqual(model.postProcessor?.stats);
    const [a, b] = [await testScores(model, 'a'), await testScores(loaded, 'b')];
    expect(b).toEqual(a);
    // The statistics matter: with ImageNet's the same file would score otherwise.
    const imagenet = new Dfm({ preProcessor: new PreProcessor({ imageSize: [64, 48], resizeKernel: 'lanczos3' }) }, loaded.model);
    imagenet.markFitted();
    const c = await testScores(imagenet, 'c');
    expect(c).not.toEqual(a);
    model.dispose();
    loaded.dispose();
  });

  it('preProcessor: false really disables it: no resize, no normalisation, recorded as such', async () => {
    const model = new Dfm({ backbone: 'resnet18', layer: 'layer2', preTrained: false, seed: 3, preProcessor: false });
    expect(model.preProcessor.toPreProcessing()).toEqual({ imageSize: null, resizeKernel: 'bilinear-antialiased', normalization: null });
    const engine = new Engine({ defaultRootDir: join(work, 'identity'), checkpoint: false, batchSize: 4 });
    await engine.fit(model, dataset());
    expect(model.model.imageSize).toEqual([64, 64]); // the images' own size
    const path = join(work, 'identity.dfm');
    await model.save(path);
    const loaded = await Dfm.load(path);
    expect(loaded.preProcessor.toPreProcessing()).toEqual({ imageSize: null, resizeKernel: 'bilinear-antialiased', normalization: null });
    // Raw [0, 1] pixels reach the backbone: the batch tensor is the decoded image itself.
    const raw = tf.ones([1, 64, 64, 3]) as tf.Tensor4D;
    const direct = await loaded.model.predict(raw, { map: false });
    expect(Number.isFinite(direct.predScore.arraySync()[0])).toBe(true);
    await expect(loaded.model.predict(tf.ones([1, 32, 32, 3]) as tf.Tensor4D)).rejects.toMatchObject({ code: 'E_IMAGE_SIZE_MISMATCH' });
    tf.dispose([raw, direct.predScore]);
    expect(await testScores(loaded, 'identity-scores')).toEqual(await testScores(model, 'identity-scores-2'));
    model.dispose();
    loaded.dispose();
  });
});
