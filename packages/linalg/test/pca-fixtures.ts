import * as tf from '@tensorflow/tfjs-core';
import type { PCA } from '../src/pca';
import { dfmFeatures } from './dfm-features';
import { exactMean, fre64 } from './fre64';
import { loadFixture, maxRelDiff } from './helpers';

/** The numpy/sklearn PCA fixtures shared by the products tests (products.test.ts, pca-onnx.test.ts). */
export type Generator = { seed: number; nTrain: number; nTest: number; nFeatures: number; rank: number; decay: number };
export type LevelReference = { k: number; freTrain: number[]; freTest: number[] };
export type LevelCase = { name: string; rows: number; cols: number; data: number[]; k: Record<string, number>; singularValues: number[] };

export const levelsFixture = loadFixture<{ levels: number[]; cases: LevelCase[] }>('pca-levels.json');
export const gramFixture = loadFixture<{ generator: Generator; levels: Record<string, LevelReference> }>('dfm-features.json');
export const covarianceFixture = loadFixture<{
  generator: Generator;
  checksum: { sum: number };
  cases: Record<string, { offset: number; levels: Record<string, LevelReference> }>;
}>('pca-statistics.json');

/** The fixture's float32 features `[nTrain + nTest, D]` (with its offset), rebuilt bit for bit (test/dfm-features.ts). */
export function fixtureFeatures(generator: Generator, offset = 0): Float32Array {
  const { seed, nTrain, nTest, nFeatures, rank, decay } = generator;
  const base = dfmFeatures(seed, nTrain + nTest, nFeatures, rank, decay);
  return offset === 0 ? base : base.map((value) => Math.fround(value + offset));
}

/** The FRE as the other tests score it: tfjs float32 `residual(x).square().sum(1)` on the active backend. */
export const freOf = (pca: PCA, x: tf.Tensor2D) => tf.tidy(() => tf.sum(tf.square(pca.residual(x)), 1).dataSync() as Float32Array);

/** FRE errors (max relative, over the fixture's rows) of a fitted PCA against the fixture's float64 FRE. */
export type FreErrors = {
  /** float64 FRE through the rows' exact mean: the fitted subspace alone (test rows, first 24 training rows). */
  subspaceTest: number;
  subspaceTrain: number;
  /** float64 FRE through the state's float32 mean: the model as it scores. */
  storedTest: number;
  storedTrain: number;
  /** tfjs float32 `residual(x).square().sum(1)` on the test rows (cpu backend), as the other tests score. */
  tfjsTest: number;
};

export function freErrors(pca: PCA, features: Float32Array, generator: Generator, reference: LevelReference): FreErrors {
  const { nTrain, nTest, nFeatures: d } = generator;
  const train = features.subarray(0, nTrain * d);
  const test = features.subarray(nTrain * d, (nTrain + nTest) * d);
  const state = pca.getState();
  const mean = exactMean(train, nTrain, d);
  const nTrainRows = reference.freTrain.length;
  const testTensor = tf.tensor2d(test, [nTest, d]);
  const errors = {
    subspaceTest: maxRelDiff(fre64(state, mean, test, nTest), reference.freTest),
    subspaceTrain: maxRelDiff(fre64(state, mean, train, nTrainRows), reference.freTrain),
    storedTest: maxRelDiff(fre64(state, state.mean, test, nTest), reference.freTest),
    storedTrain: maxRelDiff(fre64(state, state.mean, train, nTrainRows), reference.freTrain),
    tfjsTest: maxRelDiff(freOf(pca, testTensor), reference.freTest),
  };
  testTensor.dispose();
  return errors;
}
