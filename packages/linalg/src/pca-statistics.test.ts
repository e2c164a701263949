import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { dfmFeatures } from '../test/dfm-features';
import { BACKENDS, loadFixture, maxAbsDiff, maxRelDiff, seededRandom, useBackend } from '../test/helpers';
import { type NComponents, PCA } from './pca';
import { PCAStatistics } from './pca-statistics';
import { SingleClassGaussian } from './single-class-gaussian';
import { CorruptFileError, InvalidArgumentError, ShapeMismatchError } from '@dfm/errors';

/**
 * `[rows, cols]` float32: `offset + Σ_t c_it b_tj 0.7^t` over `rank` directions, plus `noise` × uniform.
 * noise = 0 gives exactly rank-`rank` centred data ('all' then keeps `rank` components on either route).
 */
function signalData(rows: number, cols: number, rank: number, noise: number, seed: number, offset = 2): Float32Array {
  const random = seededRandom(seed);
  const normal = () => random() + random() + random() - 1.5;
  const basis = Array.from({ length: rank * cols }, normal);
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const coefficients = Array.from({ length: rank }, (_, t) => normal() * 0.7 ** t);
    for (let j = 0; j < cols; j++) {
      let value = offset;
      for (let t = 0; t < rank; t++) value += coefficients[t]! * basis[t * cols + j]!;
      out[i * cols + j] = value + noise * normal();
    }
  }
  return out;
}

/** Rows `[start, start + count)` of `[n, d]` row-major data, as a copy. */
function rowsOf(data: Float32Array, d: number, start: number, count: number): Float32Array {
  return data.slice(start * d, (start + count) * d);
}

/** Statistics of `data` split into shards of the given sizes, each accumulated alone, then merged in order. */
function mergedShards(data: Float32Array, d: number, sizes: number[]): { merged: PCAStatistics; shards: PCAStatistics[] } {
  const shards: PCAStatistics[] = [];
  let start = 0;
  for (const size of sizes) {
    shards.push(new PCAStatistics().update(rowsOf(data, d, start, size), [size, d]));
    start += size;
  }
  const merged = new PCAStatistics();
  for (const shard of shards) merged.merge(shard);
  return { merged, shards };
}

/** `max |a − b| / max |b|`: the error relative to the scale of the scores. */
function maxScaledDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let scale = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]!));
  return maxAbsDiff(a, b) / scale;
}

const freOf = (pca: PCA, x: tf.Tensor2D) => tf.tidy(() => tf.sum(tf.square(pca.residual(x)), 1).dataSync() as Float32Array);

function nllOf(gaussian: SingleClassGaussian, pca: PCA, x: tf.Tensor2D): Float32Array {
  return tf.tidy(() => gaussian.scoreSamples(pca.transform(x)).dataSync() as Float32Array);
}

type Route = { name: string; d: number; sizes: number[]; storage: 'rows' | 'moments' };
const ROUTES: Route[] = [
  // 7 + 40 = 47 rows stay rows; the third shard brings N past D = 48; the fourth is moments on its own.
  { name: 'covariance route (N = 150 ≥ D = 48)', d: 48, sizes: [7, 40, 3, 100], storage: 'moments' },
  { name: 'Gram route (N = 40 < D = 64)', d: 64, sizes: [5, 17, 2, 16], storage: 'rows' },
];
const LEVELS: NComponents[] = [0.97, 3, 1, 'all'];

describe.each(BACKENDS)('PCAStatistics on the %s backend', (backend) => {
  beforeAll(() => useBackend(backend));

  describe.each(ROUTES.map((route) => [route.name, route] as const))('%s', (_, route) => {
    const { d, sizes } = route;
    const n = sizes.reduce((a, b) => a + b, 0);
    // Noisy data for the ratio and count levels; exactly rank-5 data for 'all' (noise would make it keep min(N − 1, D)).
    const noisy = signalData(n, d, 8, 0.05, 3);
    const exact = signalData(n, d, 5, 0, 4);
    const held = signalData(12, d, 8, 0.3, 5); // held-out rows, partly off the fitted subspace

    it.each(LEVELS)('4 merged shards of uneven size give one pass’s k and FRE within 1e-6 relative (nComponents %s)', (level) => {
      const data = level === 'all' ? exact : noisy;
      const { merged } = mergedShards(data, d, sizes);
      expect(merged.storage).toBe(route.storage);
      expect(merged.nSamples).toBe(n);
      expect(merged.nFeatures).toBe(d);
      const x = tf.tensor2d(data, [n, d]);
      const test = tf.tensor2d(held, [12, d]);
      const onePass = new PCA({ nComponents: level }).fit(x);
      const fromStatistics = PCA.fromStatistics(merged, { nComponents: level });
      expect(fromStatistics.numComponents).toBe(onePass.numComponents);
      if (level === 'all') expect(onePass.numComponents).toBe(5);
      expect(maxRelDiff(freOf(fromStatistics, test), freOf(onePass, test))).toBeLessThan(1e-6);
      // Training rows lie near the subspace: their FRE is a small residual of ‖x − μ‖², where the float32
      // rounding of the stored mean and components shows. One pass differs from itself by 2.9e-6 there when
      // the rows are reversed (wasm, nComponents 0.97; 1e-7 on the held-out rows): the floor, not the merge.
      if (level !== 'all') expect(maxRelDiff(freOf(fromStatistics, x), freOf(onePass, x))).toBeLessThan(1e-5); // 'all': FRE(x) ≈ 0
      expect(maxRelDiff(fromStatistics.singularValues, onePass.singularValues)).toBeLessThan(1e-6);
      if (route.storage === 'rows') {
        // The rows themselves: the very same computation as fit() on them.
        expect(fromStatistics.getState()).toEqual(onePass.getState());
      }
      tf.dispose([x, test]);
      onePass.dispose();
      fromStatistics.dispose();
    });

    it('a stream of uneven batches (crossing N = D inside one) gives the same PCA as the merged shards', () => {
      const stream = new PCAStatistics();
      let start = 0;
      for (const size of [1, ...sizes.slice(1), sizes[0]! - 1]) {
        const batch = tf.tensor2d(rowsOf(noisy, d, start, size), [size, d]);
        stream.update(batch);
        batch.dispose();
        start += size;
      }
      const { merged } = mergedShards(noisy, d, sizes);
      const test = tf.tensor2d(held, [12, d]);
      const a = stream.toPCA({ nComponents: 0.97 });
      const b = merged.toPCA({ nComponents: 0.97 });
      expect(a.numComponents).toBe(b.numComponents);
      expect(maxRelDiff(freOf(a, test), freOf(b, test))).toBeLessThan(1e-6);
      expect(maxRelDiff(stream.mean, merged.mean)).toBeLessThan(1e-12);
      test.dispose();
      a.dispose();
      b.dispose();
    });

    it('NLL from the statistics equals NLL of new SingleClassGaussian().fit(pca.transform(rows)) within 1e-6 relative', () => {
      const { merged } = mergedShards(noisy, d, sizes);
      const x = tf.tensor2d(noisy, [n, d]);
      const test = tf.tensor2d(held, [12, d]);
      for (const level of [0.97, 3] as const) {
        const pca = merged.toPCA({ nComponents: level });
        const z = pca.transform(x);
        const reference = new SingleClassGaussian().fit(z);
        const fromStatistics = SingleClassGaussian.fromStatistics(merged, pca);
        expect(fromStatistics.rank).toBe(reference.rank);
        expect(fromStatistics.droppedComponents).toBe(reference.droppedComponents);
        // Relative to the largest |NLL|: NLL = ‖w‖² + 2Σ log σ crosses zero (here down to −0.64), where a
        // per-value ratio measures float32 scoring noise (both Gaussians are 2e-6 of such a value from float64).
        expect(maxScaledDiff(nllOf(fromStatistics, pca, test), nllOf(reference, pca, test))).toBeLessThan(1e-6);
        expect(maxScaledDiff(nllOf(fromStatistics, pca, x), nllOf(reference, pca, x))).toBeLessThan(1e-6);
        tf.dispose(z);
        pca.dispose();
        reference.dispose();
        fromStatistics.dispose();
      }
      tf.dispose([x, test]);
    });

    it('round-trips through bytes: the same statistics bit for bit, the same PCA, and it keeps accumulating', () => {
      const { merged } = mergedShards(noisy, d, sizes.slice(0, 3));
      const bytes = merged.toBytes();
      const copy = PCAStatistics.fromBytes(bytes);
      expect(copy.nSamples).toBe(merged.nSamples);
      expect(copy.storage).toBe(merged.storage);
      expect(copy.toBytes()).toEqual(bytes);
      const a = merged.toPCA({ nComponents: 0.97 });
      const b = copy.toPCA({ nComponents: 0.97 });
      expect(b.getState()).toEqual(a.getState());
      // Continuing after the round trip is the same as continuing without it.
      const last = rowsOf(noisy, d, n - sizes[3]!, sizes[3]!);
      merged.update(last, [sizes[3]!, d]);
      PCAStatistics.fromBytes(copy.toBytes().buffer as ArrayBuffer); // an ArrayBuffer is accepted too
      copy.update(last, [sizes[3]!, d]);
      expect(copy.toBytes()).toEqual(merged.toBytes());
      a.dispose();
      b.dispose();
    });
  });

  it('moments with rows waiting for a chunk, an empty statistics, label and featureShape survive the bytes', () => {
    const d = 12;
    const stats = new PCAStatistics({ label: 'resnet18/layer3', featureShape: [2, 2, 3] }).update(signalData(300, d, 4, 0.1, 9), [300, d]);
    expect(stats.storage).toBe('moments'); // 300 rows: one chunk of 256 folded, 44 waiting
    const copy = PCAStatistics.fromBytes(stats.toBytes());
    expect([copy.label, copy.featureShape, copy.nFeatures, copy.nSamples]).toEqual(['resnet18/layer3', [2, 2, 3], 12, 300]);
    const a = stats.toPCA({ nComponents: 'all' });
    const b = copy.toPCA({ nComponents: 'all' });
    expect(b.getState()).toEqual(a.getState());
    a.dispose();
    b.dispose();
    const empty = PCAStatistics.fromBytes(new PCAStatistics().toBytes());
    expect([empty.nSamples, empty.nFeatures, empty.label]).toEqual([0, null, null]);
    expect(empty.merge(stats).nSamples).toBe(300);
  });

  it('refuses truncated or damaged bytes with CorruptFileError (E_CORRUPT_FILE) saying what is wrong', () => {
    const bytes = new PCAStatistics({ label: 'x' }).update(signalData(30, 8, 3, 0.1, 2), [30, 8]).toBytes();
    const fails = (input: Uint8Array, message: RegExp) => {
      let error: unknown;
      try {
        PCAStatistics.fromBytes(input);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(CorruptFileError);
      expect(error).toMatchObject({ code: 'E_CORRUPT_FILE' });
      expect((error as Error).message).toMatch(message);
    };
    fails(bytes.slice(0, 20), /^PCAStatistics\.fromBytes\(\): expected PCA statistics written by toBytes\(\) — got 20 bytes, fewer than the 40-byte header \(truncated\)\. Write the statistics again with toBytes\(\)\.$/);
    fails(bytes.slice(0, bytes.length - 4), new RegExp(`— got ${bytes.length - 4} bytes where the header promises ${bytes.length} \\(truncated\\)`));
    fails(Uint8Array.from([...bytes, 0, 0, 0, 0, 0, 0, 0, 0]), /where the header promises \d+ \(trailing bytes\)/);
    const flipped = bytes.slice();
    flipped[bytes.length - 3] = flipped[bytes.length - 3]! ^ 0x10;
    fails(flipped, /the CRC-32 checksum does not match \(damaged bytes\)/);
    const magic = bytes.slice();
    magic[0] = 0x50;
    fails(magic, /got magic "PFMPCAST" instead of "DFMPCAST" \(not PCA statistics\)/);
    const version = bytes.slice();
    new DataView(version.buffer).setUint32(8, 2, true);
    fails(version, /got format version 2, this @dfm\/linalg reads version 1/);
    const count = bytes.slice();
    new DataView(count.buffer).setFloat64(24, 1.5, true);
    fails(count, /got nSamples 1\.5/);
    expect(() => PCAStatistics.fromBytes('bytes' as never)).toThrow(InvalidArgumentError);
  });

  it('refuses to merge statistics of another D, label or featureShape, naming both', () => {
    const a = new PCAStatistics().update(signalData(10, 48, 3, 0.1, 1), [10, 48]);
    const b = new PCAStatistics().update(signalData(10, 32, 3, 0.1, 1), [10, 32]);
    expect(() => a.merge(b)).toThrow(ShapeMismatchError);
    expect(() => a.merge(b)).toThrow(
      /^PCAStatistics\.merge\(\): statistics must have the same nFeatures — got 48 here and 32 in the other\. Merge only statistics of features from one backbone, layer, pooling and image size\.$/,
    );
    expect(() => a.merge(b)).toThrow(expect.objectContaining({ code: 'E_SHAPE_MISMATCH' }));
    const layer2 = new PCAStatistics({ label: 'resnet18/layer2', featureShape: [4, 4, 3] });
    const layer3 = new PCAStatistics({ label: 'resnet18/layer3', featureShape: [2, 2, 12] });
    expect(() => layer2.merge(layer3)).toThrow(
      /^PCAStatistics\.merge\(\): statistics must describe the same features — got label "resnet18\/layer2" here and "resnet18\/layer3" in the other\. Merge only statistics of one backbone layer\.$/,
    );
    expect(() => layer2.merge(layer3)).toThrow(expect.objectContaining({ code: 'E_INVALID_ARGUMENT' }));
    expect(() => new PCAStatistics({ featureShape: [4, 4, 3] }).merge(new PCAStatistics({ featureShape: [2, 2, 12] }))).toThrow(
      /^PCAStatistics\.merge\(\): statistics must have the same featureShape — got \[4,4,3\] here and \[2,2,12\] in the other\./,
    );
    expect(() => a.update(signalData(2, 32, 1, 0, 1), [2, 32])).toThrow(
      /^PCAStatistics\.update\(\): batch must have 48 features per row \(the statistics' nFeatures\) — got \[2,32\]\. Use one backbone, layer, pooling and image size for every batch\.$/,
    );
    expect(a.nSamples).toBe(10); // refused: unchanged
  });

  it('validates its inputs; a refused batch leaves the statistics unchanged', () => {
    const stats = new PCAStatistics();
    expect(() => stats.toPCA({ nComponents: 0.9 })).toThrow(/^PCAStatistics\.toPCA\(\): at least 2 samples are needed to estimate a variance — got statistics of 0\./);
    stats.update(signalData(3, 4, 2, 0.1, 1), [3, 4]);
    const bad = signalData(2, 4, 2, 0.1, 2);
    bad[5] = Number.NaN;
    expect(() => stats.update(bad, [2, 4])).toThrow(/^PCAStatistics\.update\(\): features must be finite — got NaN at sample 1, feature 1\. Remove or impute NaN\/Infinity first\.$/);
    expect(stats.nSamples).toBe(3);
    expect(() => stats.update(bad, [3, 4])).toThrow(/needs its shape \[nSamples, nFeatures\] with nSamples × nFeatures = 8 entries — got \[3,4\]/);
    expect(() => stats.update(bad as never)).toThrow(ShapeMismatchError);
    expect(() => stats.update([1, 2, 3, 4] as never, [1, 4])).toThrow(/batch must be a tf\.Tensor2D \[nSamples, nFeatures\] or a row-major Float32Array/);
    const rank3 = tf.zeros([1, 2, 4]);
    expect(() => stats.update(rank3 as never)).toThrow(/features must be rank 2 \[nSamples, nFeatures\] — got \[1,2,4\]/);
    rank3.dispose();
    expect(() => stats.toPCA({ nComponents: 4 })).toThrow(
      /^PCAStatistics\.toPCA\(\): nComponents must be at most min\(nSamples, nFeatures\) = 3 — got 4 for statistics of 3 samples × 4 features\./,
    );
    expect(() => stats.toPCA({ nComponents: 1.5 })).toThrow(/^PCAStatistics\.toPCA\(\): nComponents must be a variance ratio/);
    expect(() => new PCAStatistics({ nFeatures: 0 })).toThrow(/nFeatures must be a positive integer — got 0/);
    expect(() => new PCAStatistics({ nFeatures: 5, featureShape: [2, 2, 1] })).toThrow(/featureShape \[2,2,1\] has 4 elements — nFeatures is 5/);
    expect(() => PCA.fromStatistics({} as never, { nComponents: 1 })).toThrow(/^PCA\.fromStatistics\(\): statistics must be a PCAStatistics/);
    const constant = new PCAStatistics().update(new Float32Array(40).fill(3), [10, 4]);
    expect(() => constant.toPCA({ nComponents: 0.9 })).toThrow(/PCAStatistics\.toPCA\(\): features must vary across samples — got \[10,4\] with zero total variance/);
  });

  it('transfer: a handed-over batch gives the same statistics bit for bit as a copied one; a copied one is independent of the caller’s array', () => {
    const d = 64;
    const batches = [signalData(20, d, 4, 0.1, 31), signalData(25, d, 4, 0.1, 32)];
    const copied = new PCAStatistics();
    const handed = new PCAStatistics();
    for (const batch of batches) {
      copied.update(batch, [batch.length / d, d]);
      handed.update(batch.slice(), [batch.length / d, d], { transfer: true });
    }
    // The copied statistics do not see a later change of the caller's arrays.
    for (const batch of batches) batch.fill(7);
    expect(Array.from(handed.toBytes())).toEqual(Array.from(copied.toBytes()));
    const a = copied.toPCA({ nComponents: 0.9 });
    const b = handed.toPCA({ nComponents: 0.9 });
    expect(b.numComponents).toBe(a.numComponents);
    expect(Array.from(b.singularValues)).toEqual(Array.from(a.singularValues));
    a.dispose();
    b.dispose();
    expect(() => copied.update(batches[0]!, [20, d], { transfer: 'yes' as never })).toThrow(/options\.transfer must be a boolean — got string/);
    const tensor = tf.zeros([2, d]) as tf.Tensor2D;
    expect(() => copied.update(tensor, undefined, { transfer: true })).toThrow(/options\.transfer is for Float32Array batches — got a tensor/);
    tensor.dispose();
    expect(copied.nSamples).toBe(45);
  });

  it('merging a statistics into itself counts its rows twice', () => {
    const d = 6;
    const data = signalData(20, d, 3, 0.1, 8);
    const twice = new PCAStatistics().update(data, [20, d]);
    twice.merge(twice);
    const reference = new PCAStatistics().update(data, [20, d]).update(data, [20, d]);
    expect(twice.nSamples).toBe(40);
    const a = twice.toPCA({ nComponents: 3 });
    const b = reference.toPCA({ nComponents: 3 });
    expect(maxRelDiff(a.singularValues, b.singularValues)).toBeLessThan(1e-6);
    a.dispose();
    b.dispose();
  });

  it('leaks no tensors: update with tensors, merge, toPCA, the Gaussian and bytes', () => {
    const d = 16;
    const x = tf.tensor2d(signalData(40, d, 4, 0.1, 6), [40, d]);
    const warm = new PCAStatistics().update(x).toPCA({ nComponents: 0.9 });
    warm.dispose();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) {
      const stats = new PCAStatistics().update(x).merge(new PCAStatistics().update(x));
      const pca = PCAStatistics.fromBytes(stats.toBytes()).toPCA({ nComponents: 0.9 });
      const gaussian = SingleClassGaussian.fromStatistics(stats, pca);
      gaussian.dispose();
      pca.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});

type LevelReference = { k: number; freTrain: number[]; freTest: number[]; nllTrain: number[]; nllTest: number[] };
type Generator = { seed: number; nTrain: number; nTest: number; nFeatures: number; rank: number; decay: number };

describe.each(BACKENDS)('PCAStatistics against float64 numpy/sklearn on the %s backend', (backend) => {
  beforeAll(() => useBackend(backend));

  /** Fits from 4 merged shards of `features`' training rows; checks k, FRE and NLL against `reference`. */
  function checkAgainstReference(features: Float32Array, generator: Generator, level: string, reference: LevelReference, sizes: number[]) {
    const { nTrain, nTest, nFeatures: d } = generator;
    const { merged } = mergedShards(features, d, sizes);
    expect(merged.nSamples).toBe(nTrain);
    const pca = merged.toPCA({ nComponents: Number(level) });
    expect(pca.numComponents).toBe(reference.k);
    const test = tf.tensor2d(features.subarray(nTrain * d, (nTrain + nTest) * d), [nTest, d]);
    const train = tf.tensor2d(features.subarray(0, reference.freTrain.length * d), [reference.freTrain.length, d]);
    expect(maxRelDiff(freOf(pca, test), reference.freTest)).toBeLessThan(1e-4);
    expect(maxRelDiff(freOf(pca, train), reference.freTrain)).toBeLessThan(1e-4);
    const gaussian = SingleClassGaussian.fromStatistics(merged, pca);
    expect(gaussian.droppedComponents).toBe(0);
    expect(maxRelDiff(nllOf(gaussian, pca, test), reference.nllTest)).toBeLessThan(1e-4);
    expect(maxRelDiff(nllOf(gaussian, pca, train), reference.nllTrain)).toBeLessThan(1e-4);
    tf.dispose([test, train]);
    pca.dispose();
    gaussian.dispose();
  }

  describe('Gram route: dfm-features.json (N = 200 < D = 4096)', () => {
    const fixture = loadFixture<{ generator: Generator; levels: Record<string, LevelReference> }>('dfm-features.json');
    const { seed, nTrain, nTest, nFeatures, rank, decay } = fixture.generator;
    const features = dfmFeatures(seed, nTrain + nTest, nFeatures, rank, decay);
    it.each(Object.keys(fixture.levels))('level %s: k, FRE and NLL within 1e-4 relative of float64', (level) => {
      checkAgainstReference(features, fixture.generator, level, fixture.levels[level]!, [13, 60, 27, 100]);
    });
  });

  describe('covariance route: pca-statistics.json (N = 600 ≥ D = 256)', () => {
    const fixture = loadFixture<{
      generator: Generator;
      checksum: { sum: number };
      cases: Record<string, { offset: number; levels: Record<string, LevelReference> }>;
    }>('pca-statistics.json');
    const { seed, nTrain, nTest, nFeatures, rank, decay } = fixture.generator;
    const base = dfmFeatures(seed, nTrain + nTest, nFeatures, rank, decay);

    it('rebuilds the fixture’s features', () => {
      let sum = 0;
      for (const value of base) sum += value;
      expect(Math.abs(sum - fixture.checksum.sum)).toBeLessThan(1e-9 * fixture.checksum.sum);
    });

    const cases = Object.entries(fixture.cases).flatMap(([name, c]) => Object.keys(c.levels).map((level) => [name, level] as const));
    it.each(cases)('%s features, level %s: k, FRE and NLL within 1e-4 relative of float64', (name, level) => {
      const { offset, levels } = fixture.cases[name]!;
      const features = offset === 0 ? base : base.map((value) => Math.fround(value + offset));
      // Shards of 100 + 150 rows (rows, then moments once merged), 50 and 300 (moments alone).
      checkAgainstReference(features, fixture.generator, level, levels[level]!, [100, 150, 50, 300]);
    });
  });
});

describe('PCAStatistics bytes', () => {
  it('are little-endian with the documented header', () => {
    const bytes = new PCAStatistics({ label: 'l' }).update(Float32Array.from([1, 2, 3, 4, 5, 7]), [2, 3]).toBytes();
    const view = new DataView(bytes.buffer);
    expect(String.fromCharCode(...bytes.subarray(0, 8))).toBe('DFMPCAST');
    expect([view.getUint32(8, true), view.getUint32(12, true), view.getUint32(16, true), view.getUint32(20, true)]).toEqual([1, 0, 3, 0]);
    expect(view.getFloat64(24, true)).toBe(2);
    const metadataLength = view.getUint32(32, true);
    expect(new TextDecoder().decode(bytes.subarray(40, 40 + metadataLength))).toBe('{"label":"l"}');
    const payload = 40 + Math.ceil(metadataLength / 8) * 8;
    expect(bytes.length).toBe(payload + 6 * 4);
    expect(Array.from(new Float32Array(bytes.slice(payload).buffer))).toEqual([1, 2, 3, 4, 5, 7]);
    expect(maxAbsDiff(new PCAStatistics().update(Float32Array.from([1, 2, 3, 4, 5, 7]), [2, 3]).mean, [2.5, 3.5, 5])).toBe(0);
  });
});
