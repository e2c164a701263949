import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeSafetensors, setBackend } from '@dfm/backbone';
import { randomResnetWeights } from '@dfm/backbone/internal';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PCA, PCAStatistics, SingleClassGaussian } from '@dfm/linalg';
import { DFMModel } from './dfm-model';
import { FeatureBank } from './feature-bank';
import { IncompatibleModelError } from './errors';
import { CorruptFileError, InvalidArgumentError, NotFittedError, ShapeMismatchError } from '@dfm/errors';

const SIZE = 64;
const dir = mkdtempSync(join(tmpdir(), 'dfm-core-'));

/** Deterministic pseudo-images: smooth patterns with per-image variation, normalised-ish. */
function images(count: number, offset = 0, size = SIZE): tf.Tensor4D {
  return tf.tidy(() => {
    const y = tf.reshape(tf.linspace(0, 1, size), [1, size, 1, 1]);
    const x = tf.reshape(tf.linspace(0, 1, size), [1, 1, size, 1]);
    const k = tf.reshape(tf.range(offset, offset + count, 1, 'float32'), [count, 1, 1, 1]);
    const channels = [0, 1, 2].map((c) =>
      tf.sin(tf.add(tf.mul(tf.add(x, tf.mul(y, c + 1)), tf.add(3, tf.mul(k, 0.05))), tf.mul(k, 0.3 + c))),
    );
    return tf.concat(channels, 3) as tf.Tensor4D;
  });
}

async function* batches(count: number, batchSize: number, offset = 0): AsyncGenerator<tf.Tensor4D> {
  for (let start = 0; start < count; start += batchSize) {
    const batch = images(Math.min(batchSize, count - start), offset + start);
    try {
      yield batch;
    } finally {
      batch.dispose();
    }
  }
}

const options = { backbone: 'resnet18', layer: 'layer2', preTrained: false, seed: 7 } as const;

/** `max |a − b| / max |b|`: the error relative to the scale of the scores (NLL can cross zero). */
function maxScaledDiff(a: number[], b: number[]): number {
  const scale = Math.max(...b.map(Math.abs));
  return Math.max(...a.map((v, i) => Math.abs(v - (b[i] as number)))) / scale;
}

beforeAll(async () => {
  await setBackend('wasm');
});

describe('DFMModel options', () => {
  it('rejects bad options with the expected values in the message', () => {
    expect(() => new DFMModel({ ...options, layer: 'layer9' as never })).toThrow(
      /new DFMModel\(\): layer must be one of layer1, layer2, layer3, layer4, avgpool — got "layer9"/,
    );
    expect(() => new DFMModel({ ...options, poolingKernelSize: 0 })).toThrow(/poolingKernelSize must be an integer ≥ 1 — got 0/);
    expect(() => new DFMModel({ ...options, nComps: 1.5 })).toThrow(/^new DFMModel\(\): nComps must be a variance ratio in \(0, 1\), an integer count ≥ 1 \(1 = one component\) or 'all' — got 1\.5/);
    expect(() => new DFMModel({ ...options, scoreType: 'l2' as never })).toThrow(/scoreType must be 'fre' or 'nll' — got "l2"/);
    expect(() => new DFMModel({ ...options, nComps: 0 })).toThrow(InvalidArgumentError);
  });
});

describe('DFMModel with a random-init resnet18 (64×64, layer2, pool 4)', () => {
  const model = new DFMModel(options);
  afterAll(() => model.dispose());

  it('getFeatures gives [B, h·w·c] and the pooled shape', async () => {
    const batch = images(3);
    const { features, featureShape } = await model.getFeatures(batch);
    expect(featureShape).toEqual([2, 2, 128]);
    expect(features.shape).toEqual([3, 512]);
    tf.dispose([batch, features]);
  });

  it('is not usable before fit', () => {
    const features = tf.zeros([2, 512]) as tf.Tensor2D;
    expect(() => model.score(features, [2, 2, 128])).toThrow(NotFittedError);
    expect(() => model.score(features, [2, 2, 128])).toThrow(/not fitted\. Call await model\.fit/);
    features.dispose();
  });

  it('fits batch by batch (N < D) exactly like on the feature matrix', async () => {
    const progress: number[] = [];
    const fromBatches = await model.fit(batches(24, 5), { onBatch: (p) => progress.push(p.samples) });
    expect(progress).toEqual([5, 10, 15, 20, 24]);
    expect(fromBatches).toMatchObject({ nSamples: 24, nFeatures: 512, featureShape: [2, 2, 128], imageSize: [64, 64] });
    const all = images(24);
    const { features } = await model.getFeatures(all);
    const direct = new DFMModel(options);
    const fromMatrix = await direct.fit(features, { featureShape: [2, 2, 128] });
    expect(fromMatrix.nComponents).toBe(fromBatches.nComponents);
    const test = images(4, 100);
    const a = await model.predict(test);
    const b = await direct.predict(test);
    const sa = a.predScore.arraySync();
    const sb = b.predScore.arraySync();
    sa.forEach((v, i) => {
      expect(Math.abs(v - (sb[i] as number))).toBeLessThanOrEqual(1e-4 * Math.abs(v));
    });
    tf.dispose([all, features, test, a.predScore, a.anomalyMap as tf.Tensor, b.predScore, b.anomalyMap as tf.Tensor]);
    direct.dispose();
  });

  it('FRE: the feature-resolution map sums to the image score; predict upsamples to the input size', async () => {
    const test = images(3, 200);
    const { features, featureShape } = await model.getFeatures(test);
    const { predScore, anomalyMap } = model.score(features, featureShape);
    expect(anomalyMap?.shape).toEqual([3, 2, 2, 1]);
    const sums = tf.tidy(() => tf.sum(anomalyMap as tf.Tensor4D, [1, 2, 3]).arraySync() as number[]);
    predScore.arraySync().forEach((v, i) => {
      expect(sums[i]).toBeCloseTo(v, 2);
    });
    const inference = await model.predict(test);
    expect(inference.predScore.shape).toEqual([3]);
    expect(inference.anomalyMap?.shape).toEqual([3, 64, 64]);
    expect(Array.from(inference.anomalyMap?.dataSync() ?? []).every((v) => Number.isFinite(v) && v >= 0)).toBe(true);
    const noMap = model.score(features, featureShape, { map: false });
    expect(noMap.anomalyMap).toBeUndefined();
    tf.dispose([test, features, predScore, anomalyMap as tf.Tensor, inference.predScore, inference.anomalyMap as tf.Tensor, noMap.predScore]);
  });

  it('scores out-of-distribution images higher than held-out normal ones', async () => {
    const normal = images(4, 30);
    const odd = tf.tidy(() => tf.mul(tf.randomUniform([4, SIZE, SIZE, 3], -2, 2, 'float32', 3), 1) as tf.Tensor4D);
    const a = await model.predict(normal, { map: false });
    const b = await model.predict(odd, { map: false });
    expect(Math.min(...b.predScore.arraySync())).toBeGreaterThan(Math.max(...a.predScore.arraySync()));
    tf.dispose([normal, odd, a.predScore, b.predScore]);
  });

  it('rejects images of another size than the fitted ones, naming both', async () => {
    const other = images(1, 0, 96);
    await expect(model.predict(other)).rejects.toThrow(ShapeMismatchError);
    await expect(model.predict(other)).rejects.toThrow(/^DFMModel\.predict\(\): the model was fitted on 64×64 \(w×h\) images — got a batch of 96×96\. Resize/);
    await expect(model.predict(other)).rejects.toMatchObject({ code: 'E_IMAGE_SIZE_MISMATCH' });
    other.dispose();
  });

  it('leaks no tensors over 50 predict calls', async () => {
    const test = images(2, 300);
    const warm = await model.predict(test);
    tf.dispose([warm.predScore, warm.anomalyMap as tf.Tensor]);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 50; i += 1) {
      const { predScore, anomalyMap } = await model.predict(test);
      tf.dispose([predScore, anomalyMap as tf.Tensor]);
    }
    expect(tf.memory().numTensors).toBe(before);
    test.dispose();
  });
});

describe('DFMModel fit validation', () => {
  it('fails clearly on N < 2, on an empty iterable and on non-finite features naming the batch', async () => {
    const model = new DFMModel(options);
    const one = tf.ones([1, 512]) as tf.Tensor2D;
    await expect(model.fit(one)).rejects.toThrow(/needs at least 2 normal samples — got 1/);
    await expect(model.fit([])).rejects.toThrow(/the batch iterable was empty/);
    async function* withNaN() {
      yield images(2);
      yield tf.fill([2, SIZE, SIZE, 3], Number.NaN) as tf.Tensor4D;
    }
    await expect(model.fit(withNaN())).rejects.toThrow(/batch 2 holds NaN or Infinity pixel values/);
    const nan = tf.tensor2d([1, 2, Number.NaN, 4], [2, 2]);
    await expect(model.fit(nan)).rejects.toThrow(/NaN or Infinity/);
    await expect(model.fit(tf.ones([2, 3, 4]) as never)).rejects.toThrow(/rank 2 \[nSamples, nFeatures\] — got \[2,3,4\]/);
    tf.dispose([one, nan]);
    model.dispose();
  });

  it('reports PCA progress (accumulating, then solving) to onPcaProgress, and labels its statistics', async () => {
    const model = new DFMModel({ ...options, layer: 'layer3', poolingKernelSize: 4 });
    expect(model.featureLabel).toBe(`${model.config.backbone}/layer3/pool4`);
    const features = tf.randomNormal([300, 256], 0, 1, 'float32', 7) as tf.Tensor2D;
    const phases: string[] = [];
    await model.fit(features, { onPcaProgress: (progress) => phases.push(progress.phase) });
    expect(phases[0]).toBe('accumulating');
    expect(phases.at(-1)).toBe('solving');
    expect(phases.indexOf('solving')).toBe(phases.lastIndexOf('accumulating') + 1);
    await expect(model.fit(features, { onPcaProgress: 'no' as never })).rejects.toThrow(
      /DFMModel\.fit\(\): options\.onPcaProgress must be a function \(progress\) => void — got string\. Pass a function or omit it\./,
    );
    const bank = new FeatureBank({ label: model.featureLabel });
    await bank.add(features, [1, 1, 256]);
    const statistics = bank.takeStatistics();
    expect(statistics.label).toBe(model.featureLabel);
    const other = new PCAStatistics({ label: 'resnet50/layer3/pool4' }).update(new Float32Array(256 * 2), [2, 256]);
    expect(() => statistics.merge(other)).toThrow(/statistics must describe the same features — got label/);
    features.dispose();
    model.dispose();
  });

  it('fits when N ≥ D (covariance route) as well', async () => {
    const model = new DFMModel({ ...options, layer: 'layer3', poolingKernelSize: 4 }); // 64 px → layer3 4×4×256 → pool 4 → 256
    const fit = await model.fit(batches(12, 6));
    expect(fit.nFeatures).toBe(256);
    const features = tf.randomNormal([300, 256], 0, 1, 'float32', 5) as tf.Tensor2D;
    const big = await model.fit(features);
    expect(big.nSamples).toBeGreaterThan(big.nFeatures);
    expect(big.nComponents).toBeGreaterThan(0);
    features.dispose();
    model.dispose();
  });
});

describe('DFMModel.fit streams through PCA statistics', () => {
  // 64 px → layer3 4×4×256 → pool 4 → D = 256: 300 images pass N = D inside the 9th batch of 32.
  const tall = { ...options, layer: 'layer3', poolingKernelSize: 4 } as const;

  for (const scoreType of ['fre', 'nll'] as const) {
    it(`${scoreType}: batches past N ≥ D (streamed through PCA statistics) score as PCA.fit / SingleClassGaussian.fit on all the rows`, async () => {
      const model = new DFMModel({ ...tall, scoreType });
      const fit = await model.fit(batches(300, 32));
      expect(fit).toMatchObject({ nSamples: 300, nFeatures: 256, featureShape: [1, 1, 256] });
      // The previous in-memory path: the whole [N, D] matrix, PCA.fit (on the same products as the model's
      // fit: onnxruntime here, else tfjs), the Gaussian on its projection.
      const all = images(300);
      const { features } = await model.getFeatures(all);
      const products = await model.pcaProducts();
      const pca = await new PCA({ nComponents: 0.97 }).fitAsync(features, products === undefined ? {} : { products });
      expect(fit.nComponents).toBe(pca.numComponents);
      const test = images(6, 500);
      const { features: testFeatures, featureShape } = await model.getFeatures(test);
      const ours = model.score(testFeatures, featureShape, { map: false }).predScore;
      let reference: tf.Tensor1D;
      if (scoreType === 'fre') {
        reference = tf.tidy(() => tf.sum(tf.square(pca.residual(testFeatures)), 1) as tf.Tensor1D);
      } else {
        const z = pca.transform(features);
        const gaussian = new SingleClassGaussian().fit(z);
        reference = tf.tidy(() => gaussian.scoreSamples(pca.transform(testFeatures)));
        // The Gaussian from the statistics alone, against the one fitted on the model's own projected rows.
        const ownZ = model.pca.transform(features);
        const own = new SingleClassGaussian().fit(ownZ);
        const ownScores = tf.tidy(() => own.scoreSamples(model.pca.transform(testFeatures)).arraySync());
        expect(maxScaledDiff(ours.arraySync(), ownScores)).toBeLessThan(1e-5); // measured 2.7e-6 (float32 transform)
        tf.dispose([z, ownZ]);
        gaussian.dispose();
        own.dispose();
      }
      // Streamed vs one pass over the matrix: FRE 4.7e-6, NLL 2.3e-5 of the largest score (measured), less than
      // one pass differs from itself when the rows are reversed (1.0e-5, 5.1e-5): the gap at k is only 1.4 %.
      expect(maxScaledDiff(ours.arraySync(), reference.arraySync())).toBeLessThan(1e-4);
      tf.dispose([all, features, test, testFeatures, ours, reference]);
      pca.dispose();
      model.dispose();
    });
  }

  it('fits PCAStatistics merged from shards (e.g. extracted on other machines) like the batches themselves', async () => {
    const model = new DFMModel(tall);
    const shards = await Promise.all(
      [
        [0, 100],
        [100, 200],
        [300, 40],
      ].map(async ([offset, count]) => {
        const bank = new FeatureBank();
        for await (const batch of batches(count as number, 20, offset)) {
          const { features, featureShape } = await model.getFeatures(batch);
          await bank.add(features, featureShape);
          features.dispose();
        }
        return PCAStatistics.fromBytes(bank.takeStatistics().toBytes());
      }),
    );
    const merged = new PCAStatistics();
    for (const shard of shards) merged.merge(shard);
    const fromShards = await model.fit(merged, { imageSize: [SIZE, SIZE] });
    expect(fromShards).toMatchObject({ nSamples: 340, nFeatures: 256, featureShape: [1, 1, 256], imageSize: [SIZE, SIZE] });
    const direct = new DFMModel(tall);
    const fromBatches = await direct.fit(batches(340, 34));
    expect(fromShards.nComponents).toBe(fromBatches.nComponents);
    const test = images(4, 600);
    const a = (await model.predict(test, { map: false })).predScore;
    const b = (await direct.predict(test, { map: false })).predScore;
    expect(maxScaledDiff(a.arraySync(), b.arraySync())).toBeLessThan(1e-5); // measured 1.4e-6
    await expect(model.fit(new PCAStatistics().update(new Float32Array(4), [1, 4]))).rejects.toThrow(/needs at least 2 normal samples — got 1/);
    tf.dispose([test, a, b]);
    model.dispose();
    direct.dispose();
  });
});

describe('NLL', () => {
  it('has image scores only; asking for a map says to use fre', async () => {
    const model = new DFMModel({ ...options, scoreType: 'nll' });
    await model.fit(batches(16, 8));
    const test = images(2, 50);
    const result = await model.predict(test);
    expect(result.anomalyMap).toBeUndefined();
    expect(result.predScore.arraySync().every(Number.isFinite)).toBe(true);
    await expect(model.predict(test, { map: true })).rejects.toThrow(/scoreType 'nll' gives image scores only, no anomaly map\. Use scoreType: 'fre'/);
    tf.dispose([test, result.predScore]);
    model.dispose();
  });
});

describe('model file (.dfm)', () => {
  const weightsA = join(dir, 'weights-a.safetensors');
  const weightsB = join(dir, 'weights-b.safetensors');

  beforeAll(() => {
    for (const [path, seed] of [[weightsA, 1], [weightsB, 2]] as const) {
      const tensors = Object.fromEntries(randomResnetWeights('resnet18', { seed, stages: 2 }));
      writeFileSync(path, encodeSafetensors(tensors));
    }
  });

  for (const scoreType of ['fre', 'nll'] as const) {
    it(`save → load → predict gives identical ${scoreType} scores (1e-6 relative)`, async () => {
      const model = new DFMModel({ ...options, scoreType, weights: weightsA });
      await model.fit(batches(20, 10));
      model.metadata = { thresholds: { image: 1.5 } };
      const path = join(dir, `model-${scoreType}.dfm`);
      await model.save(path);
      const loaded = await DFMModel.load(path);
      expect(loaded.config).toEqual(model.config);
      expect(loaded.metadata).toEqual({ thresholds: { image: 1.5 } });
      expect(loaded.numComponents).toBe(model.numComponents);
      const test = images(4, 70);
      const a = await model.predict(test);
      const b = await loaded.predict(test);
      const sa = a.predScore.arraySync();
      b.predScore.arraySync().forEach((v, i) => {
        expect(Math.abs(v - (sa[i] as number))).toBeLessThanOrEqual(1e-6 * Math.abs(sa[i] as number));
      });
      tf.dispose([test, a.predScore, b.predScore, a.anomalyMap ?? [], b.anomalyMap ?? []].flat());
      model.dispose();
      loaded.dispose();
    });
  }

  it('records the whole pre-processing and the post-processing; load restores them (from a path or from bytes)', async () => {
    const preProcessing = {
      imageSize: [64, 64] as [number, number],
      resizeKernel: 'lanczos3',
      normalization: { mean: [0.1, 0.2, 0.3] as [number, number, number], std: [0.4, 0.5, 0.6] as [number, number, number] },
    };
    const model = new DFMModel({ ...options, weights: weightsA, nComps: 1, preProcessing });
    await model.fit(batches(12, 6));
    expect(model.numComponents).toBe(1); // nComps 1 = ONE component (an integer count, as sklearn)
    model.postProcessing = { imageThreshold: 2.5, imageMin: 1, imageMax: 4, pixelThreshold: 0.25, pixelMin: 0, pixelMax: 0.5 };
    const path = join(dir, 'custom-pre.dfm');
    await model.save(path);
    for (const source of [path, new Uint8Array(readFileSync(path))]) {
      const loaded = await DFMModel.load(source);
      expect(loaded.preProcessing).toEqual(preProcessing);
      expect(loaded.postProcessing).toEqual(model.postProcessing);
      expect(loaded.config.nComps).toBe(1);
      expect(loaded.numComponents).toBe(1);
      loaded.dispose();
    }
    model.dispose();
  });

  it('fills the pre-processing image size from the fit and refuses a file whose pre-processing disagrees with it', async () => {
    const model = new DFMModel({ ...options, weights: weightsA });
    expect(model.preProcessing.imageSize).toBeNull();
    await model.fit(batches(6, 6));
    expect(model.preProcessing).toEqual({ imageSize: [64, 64], resizeKernel: 'bilinear-antialiased', normalization: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } });
    model.preProcessing = { ...model.preProcessing, imageSize: [32, 32] };
    const path = join(dir, 'disagree.dfm');
    await model.save(path);
    await expect(DFMModel.load(path)).rejects.toThrow(/resizes to 32×32 but was fitted on 64×64 images/);
    model.dispose();
  });

  it('a failed ready() can be retried; dispose() during ready() frees the backbone when it arrives', async () => {
    const late = join(dir, 'late.safetensors');
    const model = new DFMModel({ ...options, weights: late });
    await expect(model.ready()).rejects.toMatchObject({ code: 'E_WEIGHTS_NOT_FOUND' });
    copyFileSync(weightsA, late);
    const backbone = await model.ready(); // the second call loads again instead of replaying the failure
    expect(backbone.name).toBe('resnet18');
    model.dispose();
    const before = tf.memory().numTensors;
    const racing = new DFMModel({ ...options, weights: weightsA });
    const loading = racing.ready();
    racing.dispose();
    await expect(loading).rejects.toMatchObject({ code: 'E_DISPOSED' });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a truncated file gives CorruptFileError naming it; another format version and other weights say what differs', async () => {
    const model = new DFMModel({ ...options, weights: weightsA });
    await model.fit(batches(10, 10));
    const path = join(dir, 'good.dfm');
    await model.save(path);
    const bytes = readFileSync(path);
    const truncated = join(dir, 'truncated.dfm');
    writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length * 0.7)));
    await expect(DFMModel.load(truncated)).rejects.toThrow(CorruptFileError);
    await expect(DFMModel.load(truncated)).rejects.toThrow(/truncated\.dfm/);
    await expect(DFMModel.load(path, { weights: weightsB })).rejects.toThrow(IncompatibleModelError);
    await expect(DFMModel.load(path, { weights: weightsB })).rejects.toMatchObject({ name: 'WeightsMismatchError', code: 'E_WEIGHTS_MISMATCH' });
    // Weights that cannot be had at all are not "another model": the cause's own code is kept.
    await expect(DFMModel.load(path, { weights: join(dir, 'missing.safetensors') })).rejects.not.toThrow(IncompatibleModelError);
    await expect(DFMModel.load(path, { weights: join(dir, 'missing.safetensors') })).rejects.toThrow(/needs resnet18 weights .* which could not be loaded/);
    await expect(DFMModel.load(path, { weights: weightsB })).rejects.toThrow(/was fitted with resnet18 weights .* \(sha256 [0-9a-f]{64}\) — the weights given are .* \(sha256 [0-9a-f]{64}\)/);
    const text = bytes.toString('latin1').replace('"format_version":"2"', '"format_version":"9"');
    const future = join(dir, 'future.dfm');
    writeFileSync(future, Buffer.from(text, 'latin1'));
    await expect(DFMModel.load(future)).rejects.toThrow(/model format version 9 .* reading format 2/);
    await expect(DFMModel.load(future)).rejects.toMatchObject({ code: 'E_INCOMPATIBLE_MODEL' });
    const plain = join(dir, 'plain.safetensors');
    copyFileSync(weightsA, plain);
    await expect(DFMModel.load(plain)).rejects.toThrow(/not a \.dfm model/);
    model.dispose();
  });

  it('an interrupted save (SIGKILL mid-write, 6 times) always leaves a complete, loadable model', async () => {
    const model = new DFMModel({ ...options, weights: weightsA, poolingKernelSize: 1 }); // D = 8·8·128: a larger file
    await model.fit(batches(16, 8));
    const payloadA = join(dir, 'payload-a.dfm');
    const payloadB = join(dir, 'payload-b.dfm');
    await model.save(payloadA);
    model.metadata = { generation: 'b' };
    await model.save(payloadB);
    const target = join(dir, 'target.dfm');
    copyFileSync(payloadA, target);
    const child = fileURLToPath(new URL('../test/atomic-save-child.ts', import.meta.url));
    const root = fileURLToPath(new URL('../../..', import.meta.url));
    const test = images(2, 90);
    const expected = (await model.predict(test, { map: false })).predScore;
    for (let round = 0; round < 6; round += 1) {
      const proc = spawn(process.execPath, ['--import', 'tsx', child, target, payloadA, payloadB], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve) => proc.stdout.once('data', () => resolve()));
      await new Promise((resolve) => setTimeout(resolve, 20 + round * 37));
      proc.kill('SIGKILL');
      await new Promise((resolve) => proc.once('exit', resolve));
      const loaded = await DFMModel.load(target);
      expect(['a', 'b']).toContain(loaded.metadata.generation ?? 'a');
      const got = (await loaded.predict(test, { map: false })).predScore;
      expect(got.arraySync()).toEqual(expected.arraySync());
      got.dispose();
      loaded.dispose();
    }
    tf.dispose([test, expected]);
    model.dispose();
  }, 120_000);
});
