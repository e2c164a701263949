/**
 * Numerical guards (reliability): degenerate memory banks either fit with finite scores or fail
 * with a message that explains why. Scores are never NaN.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, useBackend } from '../test/helpers';
import { PCA } from './pca';
import { SingleClassGaussian } from './single-class-gaussian';
import { InvalidArgumentError } from '@dfm/errors';

/** Deterministic values in [0, 1): a small LCG, so no test depends on Math.random. */
function uniform(count: number, seed: number): Float32Array {
  let state = seed >>> 0;
  return Float32Array.from({ length: count }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  });
}

const allFinite = (values: ArrayLike<number>) => Array.from(values).every(Number.isFinite);
const kept: tf.Tensor[] = [];
const track = <T extends tf.Tensor>(t: T): T => {
  kept.push(t);
  return t;
};

/** FRE and NLL scores of `x` after fitting on `x`; all tensors freed. */
function fitAndScore(x: tf.Tensor2D, nComponents = 0.97): { k: number; fre: number[]; nll: number[]; pca: PCA } {
  const pca = new PCA({ nComponents }).fit(x);
  const fre = tf.tidy(() => tf.sum(tf.square(pca.residual(x)), 1).arraySync() as number[]);
  const z = pca.transform(x);
  const gaussian = new SingleClassGaussian().fit(z);
  const nll = tf.tidy(() => gaussian.scoreSamples(z).arraySync());
  z.dispose();
  gaussian.dispose();
  return { k: pca.numComponents, fre, nll, pca };
}

afterEach(() => {
  tf.dispose(kept.splice(0));
});

describe.each(BACKENDS)('numerical guards on the %s backend', (backend) => {
  beforeAll(() => useBackend(backend));

  it('constant features (every sample identical) fail with an explanation, in PCA and the Gaussian', () => {
    const x = track(tf.tensor2d(new Float32Array(5 * 8).fill(0.25), [5, 8]));
    expect(() => new PCA({ nComponents: 0.97 }).fit(x)).toThrow(InvalidArgumentError);
    expect(() => new PCA({ nComponents: 0.97 }).fit(x)).toThrow(
      /PCA\.fit\(\): features must vary across samples — got \[5,8\] with zero total variance \(all samples identical\)\. Fit on varied samples\./,
    );
    expect(() => new SingleClassGaussian().fit(x)).toThrow(/features must vary across samples — got 5 identical samples \(all σ are zero\)/);
  });

  it('constant columns next to varying ones: fits, scores finite', () => {
    const data = uniform(6 * 10, 3);
    for (let i = 0; i < 6; i++) for (let j = 5; j < 10; j++) data[i * 10 + j] = 7; // half the features never vary
    const x = track(tf.tensor2d(data, [6, 10]));
    const { fre, nll, pca } = fitAndScore(x);
    expect(allFinite(fre) && allFinite(nll)).toBe(true);
    pca.dispose();
  });

  it('duplicated training images (a rank-1 bank) fit with k = 1 and finite, non-NaN scores', () => {
    const a = uniform(32, 5);
    const b = uniform(32, 6);
    const data = new Float32Array(8 * 32);
    for (let i = 0; i < 8; i++) data.set(i % 2 === 0 ? a : b, i * 32); // two distinct images, each 4 times
    const x = track(tf.tensor2d(data, [8, 32]));
    for (const level of [0.97, 1, 3]) {
      const { k, fre, nll, pca } = fitAndScore(x, level);
      expect(k, `level ${level}`).toBe(level === 3 ? 3 : 1); // an integer keeps exactly k; the extra axes are completed orthonormally
      expect(allFinite(fre) && allFinite(nll)).toBe(true);
      expect(Math.max(...fre)).toBeLessThan(1e-4); // the bank lies on the kept line
      const outsider = track(tf.tensor2d(uniform(32, 99), [1, 32]));
      const score = tf.tidy(() => (tf.sum(tf.square(pca.residual(outsider)), 1).arraySync() as number[])[0]!);
      expect(score).toBeGreaterThan(1e-3);
      pca.dispose();
    }
  });

  it('N = 2 (the minimum) fits with k = 1; N = 1 says at least 2 samples are needed', () => {
    const x = track(tf.tensor2d(uniform(2 * 16, 8), [2, 16]));
    const { k, fre, nll, pca } = fitAndScore(x);
    expect(k).toBe(1);
    expect(allFinite(fre) && allFinite(nll)).toBe(true);
    pca.dispose();
    const one = track(tf.tensor2d(uniform(16, 9), [1, 16]));
    expect(() => new PCA({ nComponents: 0.97 }).fit(one)).toThrow(/at least 2 samples are needed to estimate a variance — got \[1,16\]/);
  });

  for (const [label, exponent] of [
    ['huge (×2^66 ≈ 7e19)', 66],
    ['tiny (×2^-70 ≈ 8e-22)', -70],
  ] as const) {
    for (const [route, n, d] of [
      ['Gram (N < D)', 6, 40],
      ['covariance (N ≥ D)', 30, 6],
    ] as const) {
      it(`features of ${label} magnitude, ${route}: same subspace as at unit scale, scores scale by s², never NaN`, () => {
        const base = uniform(n * d, 11 + d);
        const scale = 2 ** exponent;
        const x1 = track(tf.tensor2d(base, [n, d]));
        const xs = track(tf.tensor2d(base.map((v) => v * scale), [n, d]));
        const unit = new PCA({ nComponents: 3 }).fit(x1);
        const scaled = new PCA({ nComponents: 3 }).fit(xs);
        const c1 = unit.components.dataSync();
        const cs = scaled.components.dataSync();
        for (let i = 0; i < c1.length; i++) expect(Math.abs(cs[i]! - c1[i]!)).toBeLessThan(1e-4);
        unit.singularValues.forEach((s, i) => {
          expect(scaled.singularValues[i]! / scale).toBeCloseTo(s, 4);
        });
        const fre1 = tf.tidy(() => tf.sum(tf.square(unit.residual(x1)), 1).dataSync());
        const freS = tf.tidy(() => tf.sum(tf.mul(tf.square(tf.div(scaled.residual(xs), scale)), 1), 1).dataSync());
        expect(allFinite(freS)).toBe(true);
        fre1.forEach((v, i) => {
          expect(Math.abs(freS[i]! - v)).toBeLessThan(1e-3 * Math.max(1e-3, v));
        });
        unit.dispose();
        scaled.dispose();
      });
    }
  }

  it('a dynamic range of 1e-20 … 1e20 inside one bank fits; scores are finite or +Infinity, never NaN', () => {
    const n = 8;
    const d = 12;
    const base = uniform(n * d, 21);
    const magnitudes = Array.from({ length: d }, (_, j) => 10 ** (-20 + (40 * j) / (d - 1)));
    const data = base.map((v, i) => v * magnitudes[i % d]!);
    const x = track(tf.tensor2d(data, [n, d]));
    const { fre, nll, pca } = fitAndScore(x);
    expect(fre.some(Number.isNaN) || nll.some(Number.isNaN)).toBe(false);
    expect(allFinite(nll)).toBe(true);
    expect(allFinite(pca.singularValues) && allFinite(pca.mean.dataSync())).toBe(true);
    pca.dispose();
  });

  it('non-finite features (float32 overflow gave ±Infinity) are refused naming sample and feature', () => {
    const data = uniform(4 * 6, 2);
    data[9] = Number.POSITIVE_INFINITY;
    const x = track(tf.tensor2d(data, [4, 6]));
    expect(() => new PCA({ nComponents: 0.97 }).fit(x)).toThrow(/PCA\.fit\(\): features must be finite — got Infinity at sample 1, feature 3\. Remove or impute NaN\/Infinity first\./);
    // The Gram route (4 < 6) finds them through its column sums: NaN, and +∞ beside −∞ in one column too.
    const nan = uniform(4 * 6, 3);
    nan[13] = Number.NaN;
    expect(() => new PCA({ nComponents: 2 }).fit(track(tf.tensor2d(nan, [4, 6])))).toThrow(/features must be finite — got NaN at sample 2, feature 1\./);
    const both = uniform(4 * 6, 5);
    both[2] = Number.POSITIVE_INFINITY;
    both[20] = Number.NEGATIVE_INFINITY;
    expect(() => new PCA({ nComponents: 2 }).fit(track(tf.tensor2d(both, [4, 6])))).toThrow(/features must be finite — got Infinity at sample 0, feature 2\./);
    const overflow = track(tf.square(tf.mul(tf.tensor2d(uniform(4 * 6, 4), [4, 6]), 1e30)) as tf.Tensor2D);
    expect(() => new PCA({ nComponents: 0.97 }).fit(overflow)).toThrow(/features must be finite — got Infinity/);
    expect(() => new SingleClassGaussian().fit(overflow)).toThrow(/features must be finite — got Infinity/);
  });

  it('a restored state beyond float32 range or with negative singular values is refused', () => {
    const x = track(tf.tensor2d(uniform(6 * 4, 1), [6, 4]));
    const pca = new PCA({ nComponents: 2 }).fit(x);
    const state = pca.getState();
    pca.dispose();
    expect(() => PCA.fromState({ ...state, mean: Float64Array.from([1e300, 0, 0, 0]) as never })).toThrow(
      /PCA\.fromState\(\): state\.mean must be finite — got 1e\+300, beyond float32 range .* at index 0\. The state is corrupt\./,
    );
    expect(() => PCA.fromState({ ...state, explainedVariance: Float64Array.from([Number.NaN, 1]) })).toThrow(/state\.explainedVariance must be finite — got NaN/);
    expect(() => PCA.fromState({ ...state, singularValues: Float64Array.from([-1, 1]) })).toThrow(/state\.singularValues must be ≥ 0 — got -1/);
  });
});
