/**
 * Each anomalib defect listed in DESIGN.md ("anomalib defects we do NOT copy") that concerns this package,
 * pinned as absent.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadFixture, lowRankData, maxAbsDiff, useBackend } from '../test/helpers';
import { PCA } from './pca';
import { SingleClassGaussian } from './single-class-gaussian';

type LevelCase = { name: string; rows: number; cols: number; data: number[]; k: Record<string, number> };
const levels = loadFixture<{ cases: LevelCase[] }>('pca-levels.json');

describe('anomalib defects are absent', () => {
  beforeAll(() => useBackend('cpu'));

  it('no double centring: fit leaves the input untouched and transform centres exactly once', () => {
    const data = lowRankData(40, 12, 4); // mean ≈ 2 per feature, far from 0
    const x = tf.tensor2d(data, [40, 12]);
    const pca = new PCA({ nComponents: 0.99 }).fit(x);
    expect(x.dataSync()).toEqual(data); // anomalib centres the bank in place during fit
    const z = pca.transform(x);
    // Projections of the training set have zero mean; centring twice would shift them by −μV.
    const zMean = tf.tidy(() => tf.mean(z, 0).dataSync());
    expect(Math.max(...Array.from(zMean, Math.abs))).toBeLessThan(1e-4);
    // The NLL path (PCA → Gaussian) therefore sees centred projections: the Gaussian mean is ≈ 0.
    const gaussian = new SingleClassGaussian().fit(z);
    expect(Math.max(...Array.from(gaussian.getState().mean, Math.abs))).toBeLessThan(1e-4);
    tf.dispose([x, z]);
    pca.dispose();
    gaussian.dispose();
  });

  it('k is not one fewer than sklearn’s (variance shares 0.4, 0.3, 0.2, 0.1 at level 0.5 → k = 2)', () => {
    // Four orthogonal directions with variances 4 : 3 : 2 : 1, each sample ± along one axis.
    const scales = [2, Math.sqrt(3), Math.sqrt(2), 1];
    const rows: number[][] = [];
    for (let axis = 0; axis < 4; axis++) {
      for (const sign of [1, -1]) rows.push(scales.map((scale, j) => (j === axis ? sign * scale : 0)));
    }
    const x = tf.tensor2d(rows);
    const pca = new PCA({ nComponents: 0.5 }).fit(x);
    expect(Array.from(pca.explainedVarianceRatio, (r) => Number(r.toFixed(6)))).toEqual([0.4, 0.3]);
    expect(pca.numComponents).toBe(2); // anomalib keeps 1
    for (const c of levels.cases) {
      const data = tf.tensor2d(c.data, [c.rows, c.cols]);
      for (const level of [0.5, 0.9, 0.97, 0.999]) {
        const model = new PCA({ nComponents: level }).fit(data);
        expect(model.numComponents).toBe(c.k[String(level)]);
        model.dispose();
      }
      data.dispose();
    }
    x.dispose();
    pca.dispose();
  });

  it("nComponents = 1 keeps ONE component, as sklearn's n_components=1 (anomalib reads every pca_level ≤ 1 as a variance ratio)", () => {
    for (const c of levels.cases) {
      const x = tf.tensor2d(c.data, [c.rows, c.cols]);
      const pca = new PCA({ nComponents: 1 }).fit(x);
      expect(pca.numComponents, c.name).toBe(1);
      tf.dispose(x);
      pca.dispose();
    }
  });

  it("nComponents = 'all' (named; sklearn rejects the level 1.0 that anomalib would pass) keeps every non-zero component", () => {
    const c = levels.cases.find((entry) => entry.name === 'covariance-route')!;
    const x = tf.tensor2d(c.data, [c.rows, c.cols]);
    const pca = new PCA({ nComponents: 'all' }).fit(x);
    expect(pca.numComponents).toBe(c.k['1.0']);
    const residual = pca.residual(x);
    expect(Math.max(...Array.from(residual.dataSync(), Math.abs))).toBeLessThan(1e-3);
    tf.dispose([x, residual]);
    pca.dispose();
  });

  it('one dominant direction gives k = 1, not 0', () => {
    const c = levels.cases.find((entry) => entry.name === 'one-dominant-direction')!;
    const x = tf.tensor2d(c.data, [c.rows, c.cols]);
    for (const level of [0.5, 0.9, 0.97, 0.999]) {
      const pca = new PCA({ nComponents: level }).fit(x);
      expect(pca.numComponents).toBe(1);
      pca.dispose();
    }
    x.dispose();
  });

  it('inverseTransform adds the mean back', () => {
    const data = lowRankData(20, 6, 6);
    const x = tf.tensor2d(data, [20, 6]);
    const pca = new PCA({ nComponents: 6 }).fit(x);
    const roundTrip = tf.tidy(() => pca.inverseTransform(pca.transform(x)).dataSync());
    expect(maxAbsDiff(roundTrip, data)).toBeLessThan(1e-4);
    x.dispose();
    pca.dispose();
  });

  it('a zero σ gives finite scores (no −Inf/NaN from 2 Σ log σ), and the dropped count is reported', () => {
    // z from a PCA kept at more components than the data's rank: one projection column is identically 0.
    const x = tf.tensor2d(lowRankData(10, 30, 3), [10, 30]);
    const pca = new PCA({ nComponents: 10 }).fit(x);
    const z = pca.transform(x);
    const gaussian = new SingleClassGaussian().fit(z);
    expect(gaussian.droppedComponents).toBeGreaterThanOrEqual(1);
    const scores = tf.tidy(() => gaussian.scoreSamples(z).dataSync());
    for (const score of scores) expect(Number.isFinite(score)).toBe(true);
    tf.dispose([x, z]);
    pca.dispose();
    gaussian.dispose();
  });
});
