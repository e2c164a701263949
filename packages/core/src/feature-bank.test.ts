import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { PCA } from '@dfm/linalg';
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
});
