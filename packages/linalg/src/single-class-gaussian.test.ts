import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, lowRankData, maxRelDiff, useBackend } from '../test/helpers';
import { SingleClassGaussian, type SingleClassGaussianJSON } from './single-class-gaussian';
import { InvalidArgumentError, NotFittedError, ShapeMismatchError } from '@dfm/errors';

/** Float64 reference of the score on a diagonal Gaussian: Σ (x−m)²/σ² + 2 Σ log σ with σ² = biased variance. */
function diagonalReference(train: number[][], x: number[]): number {
  const n = train.length;
  let score = 0;
  for (let j = 0; j < x.length; j++) {
    const mean = train.reduce((sum, row) => sum + row[j]!, 0) / n;
    const variance = train.reduce((sum, row) => sum + (row[j]! - mean) ** 2, 0) / n;
    score += (x[j]! - mean) ** 2 / variance + Math.log(variance);
  }
  return score;
}

describe.each(BACKENDS)('SingleClassGaussian on the %s backend', (backend) => {
  beforeAll(() => useBackend(backend));

  it('scores ‖(x − m) U / σ‖² + 2 Σ log σ (checked on axis-aligned data in float64)', () => {
    const train = [
      [1, 10, -3],
      [3, 14, -3.5],
      [2, 12, -2],
      [2, 8, -2.5],
    ];
    const x = tf.tensor2d(train);
    const gaussian = new SingleClassGaussian().fit(x);
    const query = [
      [2, 11, -2.75],
      [5, 0, 1],
    ];
    const scores = gaussian.scoreSamples(tf.tensor2d(query)).dataSync();
    // Reference: Cholesky of the biased covariance in float64.
    const reference = query.map((q) => fullReference(train, q));
    expect(maxRelDiff(scores, reference)).toBeLessThan(1e-5);
    expect(gaussian.droppedComponents).toBe(0);
    x.dispose();
    gaussian.dispose();
  });

  it('matches the diagonal formula when features are uncorrelated', () => {
    const train = [
      [1, 1],
      [-1, 1],
      [1, -1],
      [-1, -1],
    ].map(([a, b]) => [a! * 2 + 5, b! * 0.5 - 1]);
    const x = tf.tensor2d(train);
    const gaussian = new SingleClassGaussian().fit(x);
    const scores = gaussian.scoreSamples(tf.tensor2d([[6, -1.2]])).dataSync();
    expect(scores[0]).toBeCloseTo(diagonalReference(train, [6, -1.2]), 5);
    x.dispose();
    gaussian.dispose();
  });

  it('drops zero σ (constant feature, N ≤ k) with the count reported, and stays finite', () => {
    const constantFeature = tf.tensor2d([
      [1, 7, 2],
      [2, 7, 1],
      [4, 7, 5],
    ]);
    const gaussian = new SingleClassGaussian().fit(constantFeature);
    expect(gaussian.droppedComponents).toBe(1);
    expect(gaussian.rank).toBe(2);
    const wide = tf.tensor2d(lowRankData(3, 8, 3), [3, 8]); // 3 samples, 8 features → rank 2
    const wideGaussian = new SingleClassGaussian().fit(wide);
    expect(wideGaussian.droppedComponents).toBe(1);
    for (const [model, x] of [
      [gaussian, constantFeature],
      [wideGaussian, wide],
    ] as const) {
      const scores = model.scoreSamples(x).dataSync();
      for (const score of scores) expect(Number.isFinite(score)).toBe(true);
    }
    tf.dispose([constantFeature, wide]);
    gaussian.dispose();
    wideGaussian.dispose();
  });

  it('round-trips through toJSON/fromJSON and getState/fromState', () => {
    const x = tf.tensor2d(lowRankData(20, 5, 5), [20, 5]);
    const gaussian = new SingleClassGaussian().fit(x);
    const expected = gaussian.scoreSamples(x).dataSync();
    const copies = [
      SingleClassGaussian.fromJSON(JSON.parse(JSON.stringify(gaussian.toJSON())) as SingleClassGaussianJSON),
      SingleClassGaussian.fromState(gaussian.getState()),
    ];
    for (const copy of copies) {
      expect(Array.from(copy.scoreSamples(x).dataSync())).toEqual(Array.from(expected));
      copy.dispose();
    }
    const state = gaussian.getState();
    expect(() => SingleClassGaussian.fromState({ ...state, sigma: state.sigma.subarray(1) })).toThrow(ShapeMismatchError);
    x.dispose();
    gaussian.dispose();
  });

  it('validates inputs and leaks no tensors over 100 calls', () => {
    const gaussian = new SingleClassGaussian();
    const one = tf.ones([1, 3]) as tf.Tensor2D;
    expect(() => gaussian.fit(one)).toThrow(/^SingleClassGaussian\.fit\(\): at least 2 samples are needed/);
    expect(() => gaussian.scoreSamples(one)).toThrow(NotFittedError);
    const nan = tf.tensor2d([1, Number.NaN, 3, 4], [2, 2]);
    expect(() => gaussian.fit(nan)).toThrow(/must be finite — got NaN at sample 0, feature 1/);
    const same = tf.ones([4, 3]) as tf.Tensor2D;
    expect(() => gaussian.fit(same)).toThrow(InvalidArgumentError);
    expect(() => new SingleClassGaussian({ relativeTolerance: -1 })).toThrow(/relativeTolerance must be a number in \[0, 1\)/);
    const x = tf.tensor2d(lowRankData(12, 4, 4), [12, 4]);
    gaussian.fit(x);
    const wrong = tf.ones([2, 5]) as tf.Tensor2D;
    expect(() => gaussian.scoreSamples(wrong)).toThrow(/must have 4 columns/);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 100; i++) {
      gaussian.fit(x);
      gaussian.scoreSamples(x).dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    gaussian.dispose();
    expect(tf.memory().numTensors).toBe(before - 2);
    tf.dispose([one, nan, same, x, wrong]);
  });
});

/** Float64 reference: Mahalanobis distance with the biased covariance plus log det, via Cholesky. */
function fullReference(train: number[][], x: number[]): number {
  const n = train.length;
  const k = x.length;
  const mean = Array.from({ length: k }, (_, j) => train.reduce((s, row) => s + row[j]!, 0) / n);
  const cov = Array.from({ length: k }, (_, i) =>
    Array.from({ length: k }, (_, j) => train.reduce((s, row) => s + (row[i]! - mean[i]!) * (row[j]! - mean[j]!), 0) / n),
  );
  const l = cov.map((row) => row.map(() => 0));
  for (let i = 0; i < k; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = cov[i]![j]!;
      for (let p = 0; p < j; p++) sum -= l[i]![p]! * l[j]![p]!;
      l[i]![j] = i === j ? Math.sqrt(sum) : sum / l[j]![j]!;
    }
  }
  const y: number[] = [];
  for (let i = 0; i < k; i++) {
    let sum = x[i]! - mean[i]!;
    for (let p = 0; p < i; p++) sum -= l[i]![p]! * y[p]!;
    y.push(sum / l[i]![i]!);
  }
  return y.reduce((s, v) => s + v * v, 0) + l.reduce((s, row, i) => s + 2 * Math.log(row[i]!), 0);
}
