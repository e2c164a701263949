import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setBackend } from '@dfm/backbone';
import { Folder } from '@dfm/data';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeSyntheticDataset, type SyntheticDataset, syntheticFolder } from '../test/synthetic-dataset';
import { Dfm } from './dfm';
import { Engine } from './engine';
import { PreProcessor } from './pre-processor';
import { NotFittedError } from '@dfm/errors';

const work = mkdtempSync(join(tmpdir(), 'dfm-engine-'));
let data: SyntheticDataset;
const small = () =>
  new Dfm({ backbone: 'resnet18', layer: 'layer2', preTrained: false, seed: 3, preProcessor: new PreProcessor({ imageSize: [64, 64] }) });
const dataset = (extra: object = {}) => syntheticFolder(data, extra);

beforeAll(async () => {
  await setBackend('wasm');
  data = await makeSyntheticDataset(join(work, 'blobs'), { nTrain: 24, nTestNormal: 12, nTestAnomalous: 12 });
});

describe('Dfm', () => {
  it("has the seed's defaults and trainer arguments", () => {
    const model = new Dfm();
    expect(model.model.config).toMatchObject({ backbone: 'resnet50', layer: 'layer3', preTrained: true, poolingKernelSize: 4, nComps: 0.97, scoreType: 'fre' });
    expect(model.learningType).toBe('one_class');
    expect(model.configureOptimizers()).toBeNull();
    expect(model.trainerArguments).toEqual({ gradientClipVal: 0, maxEpochs: 1, numSanityValSteps: 0 });
    model.dispose();
  });

  it('fromConfig takes anomalib-style snake_case init_args and rejects unknown keys', () => {
    const model = Dfm.fromConfig({ model: { class_path: 'Dfm', init_args: { backbone: 'resnet18', layer: 'layer2', pca_level: 0.9, score_type: 'nll', pre_trained: false } } });
    expect(model.model.config).toMatchObject({ backbone: 'resnet18', layer: 'layer2', nComps: 0.9, scoreType: 'nll', preTrained: false });
    expect(() => Dfm.fromConfig({ backbone: 'resnet18', pca: 3 })).toThrow(/unknown option pca — expected backbone, layer/);
    model.dispose();
  });

  it('names the class and the fix when used before fit', async () => {
    const model = small();
    const engine = new Engine({ defaultRootDir: join(work, 'unfitted'), checkpoint: false });
    await expect(engine.test(model, dataset())).rejects.toThrow(NotFittedError);
    await expect(engine.test(model, dataset())).rejects.toThrow(/Dfm\.fitMemoryBank\(\): the memory bank is empty|Dfm\.validationStep\(\): the memory bank is not fitted/);
    model.dispose();
  });
});

describe('Engine on a synthetic dataset (random-init resnet18, 64 px)', () => {
  it('fits once, reports a trainer-argument conflict, tests, and writes the results directory', async () => {
    const warnings: string[] = [];
    const model = small();
    const phases: string[] = [];
    const engine = new Engine({
      defaultRootDir: join(work, 'results'),
      maxEpochs: 2,
      batchSize: 8,
      callbacks: [{ onWarning: (m) => warnings.push(m), onFitProgress: (p) => phases.push(p.phase) }],
    });
    const fit = await engine.fit(model, dataset());
    expect(model.fitCount).toBe(1);
    // 24 rows < D: the PCA forms their Gram matrix ('accumulating'), then solves; the hook is unset after fit.
    expect([phases[0], phases.at(-1)]).toEqual(['accumulating', 'solving']);
    expect(model.onFitProgress).toBeNull();
    expect(warnings.some((w) => /trainer argument maxEpochs: the model asks for 1, you set 2; using yours \(2\)/.test(w))).toBe(true);
    expect(warnings.some((w) => /epoch 2: the memory bank is already fitted/.test(w))).toBe(true);
    expect(fit.trainSamples).toBe(24);
    expect(fit.thresholdSplit).toBe('val');
    expect(fit.checkpointPath && existsSync(fit.checkpointPath)).toBe(true);
    expect(model.postProcessor?.isFitted).toBe(true);

    const tested = await engine.test(model, dataset());
    const dir = tested.resultsDir;
    // fit and test of one Engine share one run folder
    expect(dir).toBe(join(work, 'results', 'dfm', 'folder', 'blobs', 'v1'));
    expect(fit.resultsDir).toBe(dir);
    for (const file of ['model.dfm', 'metrics.json', 'predictions.csv', 'roc.png', 'score-histogram.png']) {
      expect(existsSync(join(dir, file)), file).toBe(true);
    }
    const metrics = JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8'));
    expect(Object.keys(metrics.metrics).sort()).toEqual(['image_AUROC', 'image_F1Score', 'pixel_AUPRO', 'pixel_AUROC', 'pixel_F1Score']);
    expect(metrics.dataset.split.thresholdSplit).toBe('val');
    process.stdout.write(`[synthetic] ${JSON.stringify(tested.metrics)}\n`);
    expect(tested.metrics.image_AUROC).toBeGreaterThan(0.9);
    expect(tested.metrics.pixel_AUROC).toBeGreaterThan(0.9);
    const csv = readFileSync(join(dir, 'predictions.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe('path,label,defect_type,score,normalized_score,pred_label');
    expect(csv).toHaveLength(1 + tested.predictions.length);
    const png = join(dir, 'images', 'blob', `${tested.predictions.find((p) => p.label === 1)!.path.split('/').pop()!}.png`);
    const meta = await sharp(png).metadata();
    expect(meta.width).toBe(4 * 64 + 3 * 4);

    // A restored model gives the same scores and labels.
    const restored = await Dfm.load(fit.checkpointPath as string, { visualizer: false });
    const again = await new Engine({ defaultRootDir: join(work, 'results-restored'), checkpoint: false }).test(restored, dataset());
    expect(again.predictions.map((p) => [p.predScore, p.predLabel])).toEqual(tested.predictions.map((p) => [p.predScore, p.predLabel]));
    model.dispose();
    restored.dispose();
  }, 240_000);

  it('with validation = test (same_as_test), the test pass reuses the validation outputs: each test image scored once, results unchanged', async () => {
    const model = small();
    const ds = dataset({ valSplitMode: 'same_as_test' });
    let scored = 0;
    const step = model.validationStep.bind(model);
    model.validationStep = async (batch) => {
      scored += batch.images.shape[0];
      return step(batch);
    };
    const engine = new Engine({ defaultRootDir: join(work, 'scored-once'), checkpoint: false, batchSize: 8 });
    await engine.fit(model, ds);
    expect(scored).toBe(ds.test.length);
    const once = await engine.test(model, ds);
    expect(scored).toBe(ds.test.length);
    // Another Engine has no kept outputs: it scores the test images again, to the same results, metrics and pictures.
    const twice = await new Engine({ defaultRootDir: join(work, 'scored-twice'), checkpoint: false, batchSize: 8 }).test(model, ds);
    expect(scored).toBe(2 * ds.test.length);
    expect(once.predictions).toEqual(twice.predictions);
    expect(once.metrics).toEqual(twice.metrics);
    const pictures = (dir: string) => readdirSync(join(dir, 'images'), { recursive: true }).map(String).sort();
    expect(pictures(once.resultsDir)).toEqual(pictures(twice.resultsDir));
    for (const file of pictures(once.resultsDir).filter((f) => f.endsWith('.png'))) {
      expect(readFileSync(join(once.resultsDir, 'images', file)).equals(readFileSync(join(twice.resultsDir, 'images', file))), file).toBe(true);
    }
    // The kept outputs are used once: a second test on the same Engine scores again.
    await engine.test(model, ds);
    expect(scored).toBe(3 * ds.test.length);
    model.dispose();
  });

  it('without masks, infers pixel labels from image labels so the pixel threshold is on the map scale', async () => {
    const warnings: string[] = [];
    const model = small();
    const engine = new Engine({ defaultRootDir: join(work, 'no-masks'), checkpoint: false, callbacks: [{ onWarning: (m) => warnings.push(m) }] });
    const noMasks = dataset({ maskDir: undefined });
    expect(noMasks.hasMasks).toBe(false);
    await engine.fit(model, noMasks);
    expect(warnings.some((w) => w.includes('no ground-truth masks; the pixel threshold is the best-F1 threshold'))).toBe(true);
    const stats = model.postProcessor?.stats;
    expect(stats?.pixelThreshold).not.toBeNull();
    // FRE image scores sum the map over h·w cells: a pixel threshold on the map's scale is far below the image one.
    expect(stats?.pixelThreshold as number).toBeLessThan((stats?.imageThreshold as number) / 2);
    expect(stats?.pixelThreshold as number).toBeGreaterThan(stats?.pixelMin as number);
    const tested = await engine.test(model, noMasks);
    expect(tested.metrics.pixel_AUROC).toBeUndefined();
    expect(tested.notes.some((n) => n.startsWith('pixel metrics: not computed'))).toBe(true);
    model.dispose();
  }, 240_000);

  it('NLL on a dataset with masks: image thresholds and image metrics only', async () => {
    const model = new Dfm({ backbone: 'resnet18', layer: 'layer2', preTrained: false, seed: 3, scoreType: 'nll', preProcessor: new PreProcessor({ imageSize: [64, 64] }) });
    const engine = new Engine({ defaultRootDir: join(work, 'nll'), checkpoint: false });
    await engine.fit(model, dataset());
    expect(model.postProcessor?.stats?.pixelThreshold).toBeNull();
    const tested = await engine.test(model, dataset());
    expect(Object.keys(tested.metrics).sort()).toEqual(['image_AUROC', 'image_F1Score']);
    expect(tested.notes.some((n) => /pixel metrics: not computed — the model gives no anomaly maps/.test(n))).toBe(true);
    model.dispose();
  }, 240_000);

  it('leaks no tensors across a fit and a test', async () => {
    const model = small();
    const engine = new Engine({ defaultRootDir: join(work, 'leak'), checkpoint: false, batchSize: 8 });
    await engine.fit(model, dataset());
    await engine.test(model, dataset());
    const before = tf.memory().numTensors;
    await engine.test(model, dataset());
    await engine.predict(model, [join(data.abnormalDir, '000.png')]);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  }, 240_000);

  it('stops at a bad training file naming it, or skips and lists it with onBadImage: skip', async () => {
    const root = join(work, 'bad');
    const bad = await makeSyntheticDataset(root, { nTrain: 10, nTestNormal: 4, nTestAnomalous: 4, seed: 9 });
    writeFileSync(join(bad.normalDir, 'zz-broken.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]));
    const folder = () => new Folder({ normalDir: bad.normalDir, normalTestDir: bad.normalTestDir, abnormalDir: bad.abnormalDir, maskDir: bad.maskDir, valSplitMode: 'none' });
    const model = small();
    await expect(new Engine({ defaultRootDir: join(work, 'bad-results'), checkpoint: false }).fit(model, folder())).rejects.toThrow(/zz-broken\.png/);
    model.dispose();
    const warnings: string[] = [];
    const skipping = small();
    const summary = await new Engine({ defaultRootDir: join(work, 'bad-results'), checkpoint: false, onBadImage: 'skip', callbacks: [{ onWarning: (m) => warnings.push(m) }] }).fit(skipping, folder());
    expect(summary.skipped.map((s) => s.path)).toEqual([join(bad.normalDir, 'zz-broken.png')]);
    expect(summary.trainSamples).toBe(10);
    expect(warnings.some((w) => w.includes('skipped 1 bad file') && w.includes('zz-broken.png'))).toBe(true);
    expect(warnings.some((w) => w.startsWith('thresholds: not fitted'))).toBe(true);
    skipping.dispose();
    rmSync(root, { recursive: true, force: true });
  }, 240_000);
});

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('Engine results: one versioned run folder per Engine, nothing replaced', () => {
  it('a second Engine writes v2 and moves latest; the first run (its model.dfm too) is left byte-identical', async () => {
    const root = join(work, 'versions');
    const first = small();
    const one = new Engine({ defaultRootDir: root, batchSize: 8 });
    const fit1 = await one.fit(first, dataset());
    const test1 = await one.test(first, dataset());
    const runs = join(root, 'dfm', 'folder', 'blobs');
    expect(fit1.checkpointPath).toBe(join(runs, 'v1', 'model.dfm'));
    expect(test1.resultsDir).toBe(join(runs, 'v1'));
    expect(readlinkSync(join(runs, 'latest'))).toBe('v1');
    const before = Object.fromEntries(['model.dfm', 'metrics.json', 'predictions.csv'].map((f) => [f, sha256(join(runs, 'v1', f))]));

    const second = small();
    const two = new Engine({ defaultRootDir: root, batchSize: 8 });
    const fit2 = await two.fit(second, dataset());
    const test2 = await two.test(second, dataset());
    expect(fit2.checkpointPath).toBe(join(runs, 'v2', 'model.dfm'));
    expect(test2.resultsDir).toBe(join(runs, 'v2'));
    expect(readlinkSync(join(runs, 'latest'))).toBe('v2');
    expect(existsSync(join(runs, 'latest', 'metrics.json'))).toBe(true);
    for (const [file, hash] of Object.entries(before)) expect(sha256(join(runs, 'v1', file)), file).toBe(hash);
    // no temporary link is left behind
    expect(readdirSync(runs).sort()).toEqual(['latest', 'v1', 'v2']);

    // N = 1 + the highest existing v<N>, whatever else is there
    mkdirSync(join(runs, 'v9'));
    mkdirSync(join(runs, 'v10x'));
    const three = new Engine({ defaultRootDir: root, checkpoint: false, batchSize: 8 });
    expect(three.resultsDir(second, dataset())).toBe(join(runs, 'v10'));
    expect(three.resultsDir(second, dataset())).toBe(join(runs, 'v10'));
    expect(readlinkSync(join(runs, 'latest'))).toBe('v10');
    // versioned: false writes into the category folder itself
    expect(new Engine({ defaultRootDir: root, versioned: false }).resultsDir(second, dataset())).toBe(runs);
    first.dispose();
    second.dispose();
  }, 240_000);

  it('a latest that is not a link is left alone, with a warning', () => {
    const root = join(work, 'latest-dir');
    const runs = join(root, 'dfm', 'folder', 'blobs');
    mkdirSync(join(runs, 'latest'), { recursive: true });
    writeFileSync(join(runs, 'latest', 'keep.txt'), 'mine');
    const warnings: string[] = [];
    const model = small();
    const dir = new Engine({ defaultRootDir: root, callbacks: [{ onWarning: (m) => warnings.push(m) }] }).resultsDir(model, dataset());
    expect(dir).toBe(join(runs, 'v1'));
    expect(readFileSync(join(runs, 'latest', 'keep.txt'), 'utf8')).toBe('mine');
    expect(warnings.some((w) => /^results: .*latest still points at an older run \(.*\); this run's results are in .*v1\.$/.test(w))).toBe(true);
    expect(readdirSync(runs).sort()).toEqual(['latest', 'v1']);
    model.dispose();
  });

  it('fit without a test or validation set writes the model without thresholds and warns with the note', async () => {
    const warnings: string[] = [];
    const model = small();
    const goodOnly = new Folder({ normalDir: data.normalDir, name: 'good-only' });
    expect(goodOnly.splitInfo).toMatchObject({ testSplitMode: 'none', valSplitMode: 'none', thresholdSplit: 'none' });
    const engine = new Engine({ defaultRootDir: join(work, 'good-only'), batchSize: 8, callbacks: [{ onWarning: (m) => warnings.push(m) }] });
    const fit = await engine.fit(model, goodOnly);
    expect(fit.thresholdSplit).toBe('none');
    expect(fit.checkpointPath && existsSync(fit.checkpointPath)).toBe(true);
    expect(model.postProcessor?.isFitted).toBe(false);
    expect(warnings.some((w) => /^thresholds: not fitted — No validation images: .*Thresholds need anomalous validation images/.test(w))).toBe(true);
    await expect(engine.test(model, goodOnly)).rejects.toThrow(/^Engine\.test\(\): needs test images — the dataset folder\/good-only has none \(testSplitMode 'none'\)\./);
    const restored = await Dfm.load(fit.checkpointPath as string, { visualizer: false });
    const [prediction] = await engine.predict(restored, [join(data.abnormalDir, '000.png')]);
    expect(prediction).toMatchObject({ normalizedScore: null, predLabel: null });
    model.dispose();
    restored.dispose();
  }, 240_000);

  it('predict: heatmaps mirror the input folders with relativeTo; inputs that would share a heatmap are refused', async () => {
    const model = small();
    const engine = new Engine({ defaultRootDir: join(work, 'predict-fit'), checkpoint: false, batchSize: 8 });
    await engine.fit(model, dataset({ valSplitMode: 'none' }));
    const inputs = join(work, 'predict-in');
    mkdirSync(join(inputs, 'line-1', 'cam-a'), { recursive: true });
    cpSync(join(data.abnormalDir, '000.png'), join(inputs, 'top.png'));
    cpSync(join(data.abnormalDir, '001.png'), join(inputs, 'line-1', 'cam-a', 'top.png'));
    const paths = [join(inputs, 'top.png'), join(inputs, 'line-1', 'cam-a', 'top.png')];
    const out = join(work, 'predict-out');
    const predictions = await engine.predict(model, paths, { outputDir: out, relativeTo: inputs });
    expect(predictions.map((p) => p.path)).toEqual(paths);
    expect(existsSync(join(out, 'top.png.png'))).toBe(true);
    expect(existsSync(join(out, 'line-1', 'cam-a', 'top.png.png'))).toBe(true);
    await expect(engine.predict(model, paths, { outputDir: join(work, 'predict-flat') })).rejects.toThrow(
      /^Engine\.predict\(\): every input needs its own heatmap file — .*top\.png and .*cam-a\/top\.png would both write .*predict-flat\/top\.png\.png\. Pass relativeTo/,
    );
    expect(existsSync(join(work, 'predict-flat'))).toBe(false);
    await expect(engine.predict(model, paths, { outputDir: out, relativeTo: join(inputs, 'line-1') })).rejects.toThrow(/relativeTo must hold every input — .*top\.png is outside/);
    model.dispose();
  }, 240_000);
});
