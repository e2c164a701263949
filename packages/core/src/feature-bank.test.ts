import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { PCA, PCAStatistics } from '@dfm/linalg';
import { beforeAll, describe, expect, it } from 'vitest';
import { FeatureBank } from './feature-bank';

/** `[rows, 2·2·3]` features with a spread in every direction. */
function features(rows: number, seed: number): tf.Tensor2D {
  return tf.tidy(() => tf.add(tf.randomNormal([rows, 12], 0, 1, 'float32', seed), 5) as tf.Tensor2D);
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('FeatureBank', () => {
  it('keeps rows while N < D, moments from N ≥ D, and hands over PCA statistics of every row', async () => {
    const bank = new FeatureBank();
    const batches = [features(5, 1), features(6, 2), features(20, 3)];
    await bank.add(batches[0]!, [2, 2, 3]);
    await bank.add(batches[1]!, [2, 2, 3]);
    expect(bank.samples).toBe(11);
    await bank.add(batches[2]!, [2, 2, 3]);
    expect([bank.samples, bank.featureShape]).toEqual([31, [2, 2, 3]]);
    const statistics = bank.takeStatistics();
    expect([statistics.storage, statistics.nSamples, statistics.featureShape]).toEqual(['moments', 31, [2, 2, 3]]);
    expect(bank.samples).toBe(0); // emptied
    const all = tf.concat(batches) as tf.Tensor2D;
    const a = statistics.toPCA({ nComponents: 0.9 });
    const b = new PCA({ nComponents: 0.9 }).fit(all);
    expect(a.numComponents).toBe(b.numComponents);
    tf.dispose([...batches, all]);
    a.dispose();
    b.dispose();
  });

  it('refuses a batch of another D or feature shape, non-finite features (E_NON_FINITE), and an empty take', async () => {
    const bank = new FeatureBank();
    const x = features(3, 4);
    await bank.add(x, [2, 2, 3]);
    const wide = tf.zeros([2, 16]) as tf.Tensor2D;
    await expect(bank.add(wide, [4, 4, 1], 'Dfm.trainingStep()')).rejects.toThrow(
      /^Dfm\.trainingStep\(\): batch 2 has 16 features per sample — earlier batches had 12\. Use one image size, backbone, layer and pooling for the whole fit\.$/,
    );
    await expect(bank.add(x, [1, 1, 12])).rejects.toThrow(/batch 3 has features of shape \[1,1,12\] — earlier batches had \[2,2,3\]/);
    await expect(new FeatureBank().add(x, [2, 2, 4])).rejects.toThrow(/featureShape \[2,2,4\] has 16 elements — the batch has 12 features per sample/);
    const nan = tf.tensor2d([[...Array(11).fill(1), Number.NaN]]);
    await expect(bank.add(nan, [2, 2, 3])).rejects.toMatchObject({ code: 'E_NON_FINITE', message: expect.stringMatching(/batch 4 gives non-finite features \(at sample 3\)/) });
    expect(bank.samples).toBe(3);
    bank.clear();
    expect(() => bank.takeStatistics('DFMModel.fit()')).toThrow(/^DFMModel\.fit\(\): the memory bank is empty — got 0 training images\./);
    tf.dispose([x, wide, nan]);
  });

  it('addStatistics: an empty bank adopts a shard, a later one is merged (the caller keeps it unchanged); the PCA is that of every row', async () => {
    const label = 'resnet18/layer3/pool4';
    const batches = [features(5, 11), features(9, 12), features(4, 13)];
    const shard = async (x: tf.Tensor2D) => {
      const worker = new FeatureBank({ label });
      await worker.add(x, [2, 2, 3]);
      return PCAStatistics.fromBytes(worker.takeStatistics().toBytes());
    };
    const bank = new FeatureBank({ label });
    const first = await shard(batches[0]!);
    bank.addStatistics(first, [2, 2, 3]);
    expect([bank.samples, bank.featureShape]).toEqual([5, [2, 2, 3]]);
    const second = await shard(batches[1]!);
    const bytes = second.toBytes();
    bank.addStatistics(second, [2, 2, 3]);
    expect(second.toBytes()).toEqual(bytes); // merged, not modified
    await bank.add(batches[2]!, [2, 2, 3]); // rows added here after the shards
    expect(bank.samples).toBe(18);
    const statistics = bank.takeStatistics();
    expect([statistics.storage, statistics.label, statistics.featureShape]).toEqual(['moments', label, [2, 2, 3]]);
    const all = tf.concat(batches) as tf.Tensor2D;
    const a = statistics.toPCA({ nComponents: 0.9 });
    const b = new PCA({ nComponents: 0.9 }).fit(all);
    expect(a.numComponents).toBe(b.numComponents);
    const fre = (pca: PCA) => tf.tidy(() => tf.sum(tf.square(pca.residual(all)), 1));
    const [ra, rb] = [fre(a), fre(b)];
    const [va, vb] = [await ra.data(), await rb.data()];
    for (let i = 0; i < va.length; i += 1) expect(Math.abs((va[i] as number) - (vb[i] as number))).toBeLessThanOrEqual(1e-5 * (vb[i] as number));
    tf.dispose([...batches, all, ra, rb]);
    a.dispose();
    b.dispose();
  });

  it('addStatistics refuses statistics of another label, D or feature shape, empty ones and non-statistics, leaving the bank as it was', async () => {
    const bank = new FeatureBank({ label: 'resnet18/layer3/pool4' });
    const x = features(3, 14);
    await bank.add(x, [2, 2, 3]);
    const of = (options: ConstructorParameters<typeof PCAStatistics>[0], rows = 2) => {
      const statistics = new PCAStatistics(options);
      const d = options?.nFeatures ?? 12;
      statistics.update(Float32Array.from({ length: rows * d }, (_, i) => Math.sin(i)), [rows, d]);
      return statistics;
    };
    expect(() => bank.addStatistics(of({ label: 'resnet18/layer2/pool4', nFeatures: 12 }), [2, 2, 3], 'Dfm.addStatistics()')).toThrow(
      /^Dfm\.addStatistics\(\): statistics must describe this bank's features, label "resnet18\/layer3\/pool4" — got label "resnet18\/layer2\/pool4"\. Collect every shard with the same backbone, layer and pooling\.$/,
    );
    expect(() => bank.addStatistics(of({ nFeatures: 12 }), [2, 2, 3])).toThrow(/— got statistics without a label\./);
    expect(() => bank.addStatistics(of({ label: 'resnet18/layer3/pool4', nFeatures: 16 }), [2, 2, 4])).toThrow(
      /^FeatureBank\.addStatistics\(\): statistics must have 12 features per sample, like the rows in the bank — got 16\. Use one image size, backbone, layer and pooling for every shard\.$/,
    );
    expect(() => bank.addStatistics(of({ label: 'resnet18/layer3/pool4', nFeatures: 12 }), [1, 1, 12])).toThrow(
      /statistics must have features of shape \[2,2,3\], like the rows in the bank — got \[1,1,12\]\./,
    );
    expect(() => bank.addStatistics(of({ label: 'resnet18/layer3/pool4', featureShape: [2, 3, 2] }), [2, 2, 3])).toThrow(
      /featureShape must be the one the statistics record, \[2,3,2\] — got \[2,2,3\]\./,
    );
    expect(() => bank.addStatistics(of({ label: 'resnet18/layer3/pool4', nFeatures: 12 }), [2, 2, 4])).toThrow(
      /featureShape \[2,2,4\] must have as many elements as the statistics have features per sample \(12\) — got 16\./,
    );
    expect(() => bank.addStatistics(new PCAStatistics({ label: 'resnet18/layer3/pool4' }), [2, 2, 3])).toThrow(/statistics must hold at least one row — got statistics of 0 samples\./);
    expect(() => bank.addStatistics({} as PCAStatistics, [2, 2, 3])).toThrow(/statistics must be a PCAStatistics — got object\. Rebuild bytes from another process with PCAStatistics\.fromBytes\(\)\./);
    expect(() => bank.addStatistics(of({ label: 'resnet18/layer3/pool4' }), [2, 2, 0] as never)).toThrow(/featureShape must be \[h, w, c\] with positive integers — got \[2,2,0\]/);
    for (const [statistics, shape, code] of [
      [of({ label: 'other', nFeatures: 12 }), [2, 2, 3], 'E_INVALID_ARGUMENT'],
      [of({ label: 'resnet18/layer3/pool4', nFeatures: 16 }), [2, 2, 4], 'E_SHAPE_MISMATCH'],
    ] as const) {
      expect(() => bank.addStatistics(statistics, [...shape] as [number, number, number])).toThrow(expect.objectContaining({ code }));
    }
    expect([bank.samples, bank.featureShape]).toEqual([3, [2, 2, 3]]);
    tf.dispose(x);
  });
});
