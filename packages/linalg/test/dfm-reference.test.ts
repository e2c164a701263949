/**
 * Acceptance: on DFM-like float32 features (N = 200, D = 4096, non-negative, decaying spectrum plus noise),
 * PCA's k, the FRE residuals and the Gaussian NLL on the projection match sklearn / numpy in float64.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { PCA } from '../src/pca';
import { SingleClassGaussian } from '../src/single-class-gaussian';
import { dfmFeatures } from './dfm-features';
import { BACKENDS, loadFixture, maxRelDiff, useBackend } from './helpers';

type LevelReference = {
  k: number;
  freTrain: number[];
  freTest: number[];
  residualTest0: number[];
  nllTrain: number[];
  nllTest: number[];
};
type Fixture = {
  generator: { seed: number; nTrain: number; nTest: number; nFeatures: number; rank: number; decay: number };
  checksum: { sum: number; first: number[]; last: number[] };
  levels: Record<string, LevelReference>;
};

const fixture = loadFixture<Fixture>('dfm-features.json');
const { seed, nTrain, nTest, nFeatures, rank, decay } = fixture.generator;
const features = dfmFeatures(seed, nTrain + nTest, nFeatures, rank, decay);

it('rebuilds the same float32 features as the Python generator', () => {
  let sum = 0;
  for (const value of features) sum += value;
  expect(Math.abs(sum - fixture.checksum.sum)).toBeLessThan(1e-9 * fixture.checksum.sum);
  expect(Array.from(features.subarray(0, 8))).toEqual(fixture.checksum.first);
  expect(Array.from(features.subarray(features.length - 8))).toEqual(fixture.checksum.last);
});

describe.each(BACKENDS)('DFM-like features on the %s backend', (backend) => {
  beforeAll(() => useBackend(backend));

  it.each(Object.keys(fixture.levels))('level %s: k, FRE residuals and NLL match float64 to 1e-4 relative', (level) => {
    const reference = fixture.levels[level]!;
    const train = tf.tensor2d(features.subarray(0, nTrain * nFeatures), [nTrain, nFeatures]);
    const test = tf.tensor2d(features.subarray(nTrain * nFeatures), [nTest, nFeatures]);
    const pca = new PCA({ nComponents: Number(level) }).fit(train);
    expect(pca.numComponents).toBe(reference.k);

    const freOf = (x: tf.Tensor2D) => tf.tidy(() => tf.sum(tf.square(pca.residual(x)), 1).dataSync());
    expect(maxRelDiff(freOf(test), reference.freTest)).toBeLessThan(1e-4);
    expect(maxRelDiff(freOf(train).subarray(0, reference.freTrain.length), reference.freTrain)).toBeLessThan(1e-4);
    // The residual vector itself, not only its norm.
    const residual = tf.tidy(() => pca.residual(tf.slice(test, [0, 0], [1, nFeatures])).dataSync());
    let error = 0;
    let norm = 0;
    for (let j = 0; j < nFeatures; j++) {
      error += (residual[j]! - reference.residualTest0[j]!) ** 2;
      norm += reference.residualTest0[j]! ** 2;
    }
    expect(Math.sqrt(error / norm)).toBeLessThan(1e-4);

    const zTrain = pca.transform(train);
    const zTest = pca.transform(test);
    const gaussian = new SingleClassGaussian().fit(zTrain);
    expect(gaussian.droppedComponents).toBe(0);
    const nllTrain = tf.tidy(() => gaussian.scoreSamples(zTrain).dataSync());
    const nllTest = tf.tidy(() => gaussian.scoreSamples(zTest).dataSync());
    expect(maxRelDiff(nllTest, reference.nllTest)).toBeLessThan(1e-4);
    expect(maxRelDiff(nllTrain.subarray(0, reference.nllTrain.length), reference.nllTrain)).toBeLessThan(1e-4);

    tf.dispose([train, test, zTrain, zTest]);
    pca.dispose();
    gaussian.dispose();
  });
});
