import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setBackend } from '@dfm/backbone';
import type { Sample } from '@dfm/data';
import { PCAStatistics } from '@dfm/linalg';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeSyntheticDataset, type SyntheticDataset, syntheticFolder } from '../test/synthetic-dataset';
import { AnomalyModule, type StepOutput } from './anomaly-module';
import type { Callback } from './callbacks/callback';
import { Dfm } from './dfm';
import { type CollectStatisticsResult, Engine, type FitStatistics } from './engine';
import { isMemoryBankModule } from './memory-bank-mixin';
import { PreProcessor } from './pre-processor';

// 32 px through resnet18's layer2 pooled by 4 gives D = 1·1·128: 144 training images cross N ≥ D, so the
// plain fit holds moments while every shard (36 rows) holds rows and the merge folds them (the hard case).
const work = mkdtempSync(join(tmpdir(), 'dfm-sharded-'));
let data: SyntheticDataset;
const small = () =>
  new Dfm({ backbone: 'resnet18', layer: 'layer2', preTrained: false, seed: 3, preProcessor: new PreProcessor({ imageSize: [32, 32] }) });
const dataset = () => syntheticFolder(data);

/** `samples` cut into `n` consecutive shards, as even as can be. */
function shards(samples: readonly Sample[], n: number): Sample[][] {
  return Array.from({ length: n }, (_, i) => samples.slice(Math.round((i * samples.length) / n), Math.round(((i + 1) * samples.length) / n)));
}

/** Relative difference, for comparing two fits' numbers. */
const relative = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-30);

/** A module without a memory bank. */
class Plain extends AnomalyModule {
  readonly name = 'plain';
  readonly learningType = 'one_class' as const;
  readonly preProcessor = new PreProcessor({ imageSize: [32, 32] });
  readonly postProcessor = null;
  readonly evaluator = null;
  readonly visualizer = null;
  async trainingStep(): Promise<void> {}
  async validationStep(): Promise<StepOutput> {
    return { predScore: new Float32Array(0) };
  }
  async save(): Promise<void> {}
  dispose(): void {}
}

beforeAll(async () => {
  await setBackend('wasm');
  data = await makeSyntheticDataset(join(work, 'blobs'), { nTrain: 144, nTestNormal: 12, nTestAnomalous: 12, size: 32 });
});

describe('sharded fit: collectStatistics on shards, merged, then fit({ statistics })', () => {
  it('gives the k, FRE scores and thresholds of a plain fit on all samples (1e-5 relative), with the summary and model file of a fit', async () => {
    const plain = small();
    const plainFit = await new Engine({ defaultRootDir: join(work, 'plain'), checkpoint: false }).fit(plain, dataset());

    // Workers: one model collects the 4 shards in turn (its bank is emptied by each take); bytes as if sent.
    const worker = small();
    const workerEngine = new Engine({ defaultRootDir: join(work, 'worker'), checkpoint: false, batchSize: 8 });
    const parts = shards(dataset().train, 4);
    expect(parts.map((p) => p.length)).toEqual([36, 36, 36, 36]);
    const messages: { bytes: Uint8Array; result: CollectStatisticsResult }[] = [];
    for (const part of parts) {
      const result = await workerEngine.collectStatistics(worker, part);
      expect([result.samples, result.statistics.nSamples, result.statistics.storage, result.skipped]).toEqual([36, 36, 'rows', []]);
      expect([result.featureShape, result.imageSize, result.statistics.label]).toEqual([[1, 1, 128], [32, 32], 'resnet18/layer2/pool4']);
      messages.push({ bytes: result.statistics.toBytes(), result });
    }
    expect(worker.isFitted).toBe(false);

    // Coordinator: merges in order, then fits through the Engine as usual.
    const merged = PCAStatistics.fromBytes(messages[0]!.bytes);
    for (const message of messages.slice(1)) merged.merge(PCAStatistics.fromBytes(message.bytes));
    expect([merged.nSamples, merged.storage]).toEqual([144, 'moments']);
    const stages: string[] = [];
    const phases: string[] = [];
    const callback: Callback = {
      onStageEnd: (stage, info) => stages.push(`${stage}:${info.samples}`),
      onFitProgress: (progress) => phases.push(progress.phase),
    };
    let calls = 0;
    const statistics = async (): Promise<FitStatistics> => {
      calls += 1;
      const { featureShape, imageSize } = messages[0]!.result;
      return { statistics: merged, featureShape, imageSize, samples: messages.reduce((n, m) => n + m.result.samples, 0) };
    };
    const coordinator = small();
    const engine = new Engine({ defaultRootDir: join(work, 'sharded'), callbacks: [callback] });
    const fit = await engine.fit(coordinator, dataset(), { statistics });
    expect(calls).toBe(1);
    expect([fit.trainSamples, fit.thresholdSplit, fit.skipped]).toEqual([144, 'val', []]);
    expect(fit.checkpointPath !== null && existsSync(fit.checkpointPath)).toBe(true);
    expect(stages[0]).toBe('train:144');
    expect(phases.at(-1)).toBe('solving');
    expect([coordinator.fitCount, coordinator.model.imageSize, coordinator.model.featureShape]).toEqual([1, [32, 32], [1, 1, 128]]);
    expect(plainFit.trainSamples).toBe(144);

    expect(coordinator.model.numComponents).toBe(plain.model.numComponents);
    const scoring = new Engine({ defaultRootDir: join(work, 'scores'), checkpoint: false });
    const test = dataset().test.map((s) => s.path);
    const [a, b] = [await scoring.predict(coordinator, test), await scoring.predict(plain, test)];
    let worst = 0;
    for (let i = 0; i < a.length; i += 1) worst = Math.max(worst, relative(a[i]!.predScore, b[i]!.predScore));
    process.stdout.write(`[sharded fit] k = ${coordinator.model.numComponents}, FRE max relative difference ${worst.toExponential(2)}\n`);
    expect(worst).toBeLessThan(1e-5);
    const [sharded, reference] = [coordinator.postProcessor?.stats, plain.postProcessor?.stats];
    expect(reference?.pixelThreshold).not.toBeNull();
    for (const key of ['imageThreshold', 'imageMin', 'imageMax', 'pixelThreshold', 'pixelMin', 'pixelMax'] as const) {
      expect(relative(sharded?.[key] as number, reference?.[key] as number), key).toBeLessThan(1e-5);
    }
    expect(a.map((p) => p.predLabel)).toEqual(b.map((p) => p.predLabel));

    // The model file restores the sharded fit.
    const restored = await Dfm.load(fit.checkpointPath as string, { visualizer: false });
    expect((await scoring.predict(restored, test)).map((p) => p.predScore)).toEqual(a.map((p) => p.predScore));
    for (const model of [plain, worker, coordinator, restored]) model.dispose();
  }, 480_000);

  it('refuses statistics of another label, D or image size with the error classes, leaving the model unfitted', async () => {
    const model = small();
    expect(isMemoryBankModule(model)).toBe(true);
    const engine = new Engine({ defaultRootDir: join(work, 'refusals'), checkpoint: false });
    const of = (label: string, featureShape: [number, number, number], rows = 4) => {
      const d = featureShape[0] * featureShape[1] * featureShape[2];
      const statistics = new PCAStatistics({ label, featureShape });
      statistics.update(Float32Array.from({ length: rows * d }, (_, i) => Math.sin(i * 0.37)), [rows, d]);
      return statistics;
    };
    const fitWith = (shard: Omit<FitStatistics, 'samples'>) => engine.fit(model, dataset(), { statistics: async () => ({ ...shard, samples: 4 }) });
    await expect(fitWith({ statistics: of('resnet18/layer3/pool4', [1, 1, 128]), featureShape: [1, 1, 128], imageSize: [32, 32] })).rejects.toMatchObject({
      code: 'E_INVALID_ARGUMENT',
      message: expect.stringMatching(
        /^Dfm\.addStatistics\(\): statistics must describe this bank's features, label "resnet18\/layer2\/pool4" — got label "resnet18\/layer3\/pool4"\. Collect every shard with the same backbone, layer and pooling\.$/,
      ),
    });
    await expect(fitWith({ statistics: of('resnet18/layer2/pool4', [1, 1, 128]), featureShape: [1, 1, 128], imageSize: [64, 64] })).rejects.toMatchObject({
      code: 'E_IMAGE_SIZE_MISMATCH',
      message: expect.stringMatching(/^Dfm\.addStatistics\(\): statistics must come from 32×32 \(h×w\) images, like this model's — got 64×64\. Give every shard's model the same PreProcessor imageSize\.$/),
    });
    // Another D: refused against the rows the bank already holds.
    await model.addStatistics({ statistics: of('resnet18/layer2/pool4', [1, 1, 128]), featureShape: [1, 1, 128], imageSize: [32, 32] });
    await expect(model.addStatistics({ statistics: of('resnet18/layer2/pool4', [2, 2, 128]), featureShape: [2, 2, 128], imageSize: null })).rejects.toMatchObject({
      code: 'E_SHAPE_MISMATCH',
      message: expect.stringMatching(
        /^Dfm\.addStatistics\(\): statistics must have 128 features per sample, like the rows in the bank — got 512\. Use one image size, backbone, layer and pooling for every shard\.$/,
      ),
    });
    await expect(model.addStatistics({ statistics: of('resnet18/layer2/pool4', [1, 1, 128]), featureShape: [1, 2, 64], imageSize: null })).rejects.toThrow(
      /featureShape must be the one the statistics record, \[1,1,128\] — got \[1,2,64\]/,
    );
    expect(model.isFitted).toBe(false);
    expect(model.takeStatistics().statistics.nSamples).toBe(4); // only the accepted statistics
    expect(() => model.takeStatistics()).toThrow(/^Dfm\.takeStatistics\(\): the memory bank is empty — got 0 training images\./);

    // The option itself, and its result.
    await expect(engine.fit(model, dataset(), { statistics: 'merged.bin' as never })).rejects.toMatchObject({
      code: 'E_INVALID_ARGUMENT',
      message: expect.stringMatching(
        /^Engine\.fit\(\): options\.statistics must be a function resolving to \{ statistics, featureShape, imageSize, samples \} — got string\. Pass async \(\) => the merged shards \(see Engine\.collectStatistics\), or omit it\.$/,
      ),
    });
    await expect(
      engine.fit(model, dataset(), { statistics: async () => ({ statistics: of('resnet18/layer2/pool4', [1, 1, 128]), featureShape: [1, 1, 128], imageSize: null, samples: 0 }) }),
    ).rejects.toThrow(/^Engine\.fit\(\): options\.statistics\(\) must resolve to samples, the training images the statistics hold, a positive integer — got 0\./);
    await expect(engine.fit(new Plain(), dataset(), { statistics: async () => ({}) as FitStatistics })).rejects.toMatchObject({
      code: 'E_INVALID_ARGUMENT',
      message: expect.stringMatching(/^Engine\.fit\(\): options\.statistics needs a memory-bank module \(built with MemoryBankMixin, e.g\. Dfm\) — got a Plain, which has no addStatistics\(\)\./),
    });
    expect(model.isFitted).toBe(false);
    model.dispose();
  }, 240_000);

  it('collectStatistics refuses a module without a memory bank, empty samples and a fitted model', async () => {
    const engine = new Engine({ defaultRootDir: join(work, 'collect-refusals'), checkpoint: false });
    const train = dataset().train;
    expect(isMemoryBankModule(new Plain())).toBe(false);
    await expect(engine.collectStatistics(new Plain(), train)).rejects.toMatchObject({
      code: 'E_INVALID_ARGUMENT',
      message: expect.stringMatching(
        /^Engine\.collectStatistics\(\): model must be a memory-bank module \(built with MemoryBankMixin, e.g\. Dfm\) — got a Plain, which has no takeStatistics\(\)\/addStatistics\(\)\. Shard the fit of a memory-bank model only; train others with engine\.fit\(\)\.$/,
      ),
    });
    const model = small();
    await expect(engine.collectStatistics(model, [])).rejects.toMatchObject({
      code: 'E_INVALID_ARGUMENT',
      message: expect.stringMatching(/^Engine\.collectStatistics\(\): samples must hold at least one training image — got an empty list\. Give every shard part of dataset\.train, or leave the empty shard out\.$/),
    });
    model.markFitted();
    await expect(engine.collectStatistics(model, train.slice(0, 4))).rejects.toThrow(/^Engine\.collectStatistics\(\): the model must not be fitted yet — got a fitted Dfm/);
    model.dispose();
  }, 240_000);

  it('leaks no tensors across repeated collections, and a failed collection leaves the bank empty for the next shard', async () => {
    const model = small();
    const engine = new Engine({ defaultRootDir: join(work, 'leak'), checkpoint: false, batchSize: 8 });
    const train = dataset().train;
    await engine.collectStatistics(model, train.slice(0, 8)); // loads the backbone
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i += 1) {
      const { statistics, samples } = await engine.collectStatistics(model, train.slice(8 * i, 8 * i + 12));
      expect([samples, statistics.nSamples]).toEqual([12, 12]);
    }
    expect(tf.memory().numTensors).toBe(before);

    const broken = join(work, 'broken.png');
    writeFileSync(broken, Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]));
    const withBad = [...train.slice(0, 10), { path: broken, label: 0 as const, defectType: 'good', maskPath: null }];
    await expect(engine.collectStatistics(model, withBad)).rejects.toThrow(/broken\.png/);
    expect(tf.memory().numTensors).toBe(before);
    const next = await engine.collectStatistics(model, train.slice(0, 5));
    expect([next.samples, next.statistics.nSamples]).toEqual([5, 5]); // nothing left from the failed shard
    const skipping = new Engine({ defaultRootDir: join(work, 'leak'), checkpoint: false, batchSize: 8, onBadImage: 'skip' });
    const skipped = await skipping.collectStatistics(model, withBad);
    expect([skipped.samples, skipped.statistics.nSamples, skipped.skipped.map((s) => s.path)]).toEqual([10, 10, [broken]]);
    await expect(skipping.collectStatistics(model, [withBad.at(-1)!])).rejects.toThrow(
      /^Engine\.collectStatistics\(\): samples must give at least one readable training image — got 1, every one skipped as a bad file\./,
    );
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  }, 240_000);
});
