import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, expectSolvingReports, loadFixture, lowRankData, maxAbsDiff, useBackend } from '../test/helpers';
import { PCA, type PCAJSON, type PCAProgress } from './pca';
import { PCAStatistics } from './pca-statistics';
import { InvalidArgumentError, NotFittedError, ShapeMismatchError } from '@dfm/errors';

type LevelCase = {
  name: string;
  rows: number;
  cols: number;
  data: number[];
  k: Record<string, number>;
  singularValues: number[];
  explainedVarianceRatio: number[];
  components5: number[];
};
const fixture = loadFixture<{ levels: number[]; cases: LevelCase[] }>('pca-levels.json');

describe.each(BACKENDS)('PCA on the %s backend', (backend) => {
  beforeAll(() => useBackend(backend));

  describe.each(fixture.cases.map((c) => [c.name, c] as const))('against sklearn: %s', (_, c) => {
    it.each(fixture.levels)('keeps sklearn’s k at level %s', (level) => {
      const x = tf.tensor2d(c.data, [c.rows, c.cols]);
      // The fixture's level 1.0 is the rank of the centred data: our named choice 'all'.
      const pca = new PCA({ nComponents: level === 1 ? 'all' : level }).fit(x);
      expect(pca.numComponents).toBe(c.k[level === 1 ? '1.0' : String(level)]);
      pca.dispose();
      x.dispose();
    });

    it("nComponents: 1 keeps exactly sklearn's first component (n_components=1)", () => {
      const x = tf.tensor2d(c.data, [c.rows, c.cols]);
      const pca = new PCA({ nComponents: 1 }).fit(x);
      expect(pca.numComponents).toBe(1);
      const component = pca.components.arraySync();
      let cosine = 0;
      for (let i = 0; i < c.cols; i++) cosine += component[i]![0]! * c.components5[i * 5]!;
      const unique = (c.singularValues[0]! - (c.singularValues[1] ?? 0)) / c.singularValues[0]! >= 1e-3;
      if (unique) expect(Math.abs(cosine)).toBeGreaterThan(1 - 1e-6);
      pca.dispose();
      x.dispose();
    });

    it('matches singular values, variance ratios and the leading components (up to sign)', () => {
      const x = tf.tensor2d(c.data, [c.rows, c.cols]);
      const pca = new PCA({ nComponents: 5 }).fit(x);
      const largest = c.singularValues[0]!;
      // float32 products: eigenvalues (s²) carry an absolute error ~1e-7 of the largest.
      const squares = (values: ArrayLike<number>) => Array.from(values, (value) => value * value);
      expect(maxAbsDiff(squares(pca.singularValues), squares(c.singularValues.slice(0, 5)))).toBeLessThan(1e-6 * largest ** 2);
      expect(maxAbsDiff(pca.explainedVarianceRatio, c.explainedVarianceRatio.slice(0, 5))).toBeLessThan(1e-6);
      const components = pca.components.arraySync();
      const gaps = c.singularValues.map((s, i) => (i + 1 < c.singularValues.length ? (s - c.singularValues[i + 1]!) / largest : 1));
      for (let j = 0; j < 5; j++) {
        if (gaps[j]! < 1e-3 || (j > 0 && gaps[j - 1]! < 1e-3)) continue; // direction not unique
        let cosine = 0;
        for (let i = 0; i < c.cols; i++) cosine += components[i]![j]! * c.components5[i * 5 + j]!;
        expect(Math.abs(cosine)).toBeGreaterThan(1 - 1e-6);
      }
      pca.dispose();
      x.dispose();
    });
  });

  it('transform, inverseTransform and residual agree: x = inverseTransform(transform(x)) + residual(x)', () => {
    for (const [n, d] of [
      [12, 40],
      [50, 9],
    ] as const) {
      const x = tf.tensor2d(lowRankData(n, d, 6), [n, d]);
      const before = x.dataSync().slice();
      const pca = new PCA({ nComponents: 0.99 });
      const z = pca.fitTransform(x);
      expect(x.dataSync()).toEqual(before); // never mutated
      expect(z.shape).toEqual([n, pca.numComponents]);
      expect(pca.components.shape).toEqual([d, pca.numComponents]);
      expect(pca.mean.shape).toEqual([d]);
      const sum = tf.tidy(() => tf.add(pca.inverseTransform(z), pca.residual(x)));
      expect(maxAbsDiff(sum.dataSync(), before)).toBeLessThan(1e-5);
      // The components are orthonormal.
      const gram = tf.tidy(() => tf.matMul(pca.components, pca.components, true, false));
      expect(maxAbsDiff(gram.dataSync(), tf.tidy(() => tf.eye(pca.numComponents).dataSync()))).toBeLessThan(1e-5);
      tf.dispose([x, z, sum, gram]);
      pca.dispose();
    }
  });

  it('keeps exactly k components for an integer nComponents, up to min(N, D)', () => {
    const x = tf.tensor2d(lowRankData(6, 20, 3), [6, 20]);
    const three = new PCA({ nComponents: 3 }).fit(x);
    expect(three.numComponents).toBe(3);
    // 6 components of 6 centred samples: the last direction has no variance and is completed orthonormally.
    const six = new PCA({ nComponents: 6 }).fit(x);
    expect(six.numComponents).toBe(6);
    expect(six.singularValues[5]).toBe(0);
    const gram = tf.tidy(() => tf.matMul(six.components, six.components, true, false));
    expect(maxAbsDiff(gram.dataSync(), tf.tidy(() => tf.eye(6).dataSync()))).toBeLessThan(1e-5);
    expect(() => new PCA({ nComponents: 7 }).fit(x)).toThrow(
      /^PCA\.fit\(\): nComponents must be at most min\(nSamples, nFeatures\) = 6 — got 7 for features \[6,20\]/,
    );
    tf.dispose([x, gram]);
    three.dispose();
    six.dispose();
  });

  it('round-trips through toJSON/fromJSON and getState/fromState', () => {
    const x = tf.tensor2d(lowRankData(30, 16, 5), [30, 16]);
    const pca = new PCA({ nComponents: 0.9 }).fit(x);
    const json = JSON.parse(JSON.stringify(pca.toJSON())) as PCAJSON;
    const fromJson = PCA.fromJSON(json);
    const fromState = PCA.fromState(pca.getState());
    const expected = pca.residual(x);
    for (const copy of [fromJson, fromState]) {
      expect(copy.numComponents).toBe(pca.numComponents);
      expect(copy.nComponentsOption).toBe(0.9);
      expect(Array.from(copy.singularValues)).toEqual(Array.from(pca.singularValues));
      expect(Array.from(copy.explainedVarianceRatio)).toEqual(Array.from(pca.explainedVarianceRatio));
      const residual = copy.residual(x);
      expect(maxAbsDiff(residual.dataSync(), expected.dataSync())).toBe(0);
      residual.dispose();
      copy.dispose();
    }
    const state = pca.getState();
    expect(state.components).toBeInstanceOf(Float32Array);
    expect(state.components.length).toBe(16 * pca.numComponents);
    expect(state.nSamples).toBe(30);
    expect(() => PCA.fromState({ ...state, mean: state.mean.subarray(1) })).toThrow(ShapeMismatchError);
    // fromState copies: changing the arrays passed in afterwards changes nothing of the model's.
    const restored = PCA.fromState(state);
    const before = restored.getState().components[0];
    state.components[0] = 12345;
    state.singularValues[0] = -1;
    expect(restored.getState().components[0]).toBe(before);
    expect(restored.singularValues[0]).toBe(pca.singularValues[0]);
    restored.dispose();
    expect(() => PCA.fromJSON({ ...json, format: 'other' } as unknown as PCAJSON)).toThrow(/format 'dfm-linalg\/pca'/);
    tf.dispose([x, expected]);
    pca.dispose();
  });

  it('validates its inputs with messages that say what to do', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 'most']) {
      expect(() => new PCA({ nComponents: bad as number })).toThrow(InvalidArgumentError);
    }
    expect(() => new PCA({ nComponents: 1.5 })).toThrow(
      /^new PCA\(\): nComponents must be a variance ratio in \(0, 1\), an integer count ≥ 1 \(1 = one component\) or 'all' — got 1\.5\. Pass e\.g\. 0\.97, 16 or 'all'\.$/,
    );
    const pca = new PCA({ nComponents: 0.9 });
    const rank3 = tf.zeros([2, 3, 4]);
    expect(() => pca.fit(rank3 as unknown as tf.Tensor2D)).toThrow(
      /^PCA\.fit\(\): features must be rank 2 \[nSamples, nFeatures\] — got \[2,3,4\]\. Flatten first/,
    );
    const empty = tf.zeros([0, 4]) as tf.Tensor2D;
    expect(() => pca.fit(empty)).toThrow(/must not be empty — got \[0,4\]/);
    const one = tf.ones([1, 4]) as tf.Tensor2D;
    expect(() => pca.fit(one)).toThrow(/at least 2 samples are needed to estimate a variance — got \[1,4\]/);
    const nan = tf.tensor2d([1, 2, Number.NaN, 4], [2, 2]);
    expect(() => pca.fit(nan)).toThrow(/features must be finite — got NaN at sample 1, feature 0/);
    const constant = tf.ones([3, 4]) as tf.Tensor2D;
    expect(() => pca.fit(constant)).toThrow(/zero total variance/);
    expect(() => pca.transform(one)).toThrow(NotFittedError);
    expect(() => pca.numComponents).toThrow(/^PCA\.numComponents: the PCA must be fitted first/);
    const x = tf.tensor2d(lowRankData(5, 4, 2), [5, 4]);
    pca.fit(x);
    const wrong = tf.ones([2, 5]) as tf.Tensor2D;
    expect(() => pca.transform(wrong)).toThrow(/must have 4 columns \(the fitted nFeatures\) — got \[2,5\]/);
    expect(() => pca.inverseTransform(wrong)).toThrow(ShapeMismatchError);
    tf.dispose([rank3, empty, one, nan, constant, x, wrong]);
    pca.dispose();
    expect(pca.isFitted).toBe(false);
  });

  it('leaks no tensors over 100 repeated calls', () => {
    const x = tf.tensor2d(lowRankData(10, 24, 4), [10, 24]);
    const pca = new PCA({ nComponents: 0.95 });
    pca.fit(x);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 100; i++) {
      pca.fit(x);
      const z = pca.transform(x);
      tf.dispose([z, pca.inverseTransform(z), pca.residual(x), pca.fitTransform(x)]);
      pca.toJSON();
    }
    expect(tf.memory().numTensors).toBe(before);
    pca.dispose();
    x.dispose();
    expect(tf.memory().numTensors).toBe(before - 4);
  });

  describe('onProgress', () => {
    it.each([
      ['the Gram route (N < D): the dense solver reports fractions', 80, 160, 'fraction'],
      ['the covariance route (N ≥ D): the subspace iteration reports iterations', 300, 64, 'iteration'],
    ] as const)('PCA.fit reports accumulating fractions up to 1, then solving, on %s', (_, n, d, solving) => {
      const x = tf.tensor2d(lowRankData(n, d, 6), [n, d]);
      const reports: PCAProgress[] = [];
      const pca = new PCA({ nComponents: 0.9 }).fit(x, { onProgress: (progress) => reports.push(progress) });
      const phases = reports.map((r) => r.phase);
      const firstSolving = phases.indexOf('solving');
      expect(firstSolving).toBeGreaterThan(0);
      expect(phases.slice(0, firstSolving).every((phase) => phase === 'accumulating')).toBe(true);
      expect(phases.slice(firstSolving).every((phase) => phase === 'solving')).toBe(true);
      const fractions = reports.slice(0, firstSolving).map((r) => r.fraction!);
      expect(fractions.at(-1)).toBe(1);
      for (let i = 1; i < fractions.length; i++) expect(fractions[i]!).toBeGreaterThan(fractions[i - 1]!);
      expectSolvingReports(reports, firstSolving, solving);
      pca.dispose();
      x.dispose();
    });

    it('PCAStatistics.toPCA reports solving; a non-function onProgress is refused with the fix', () => {
      const rows = lowRankData(40, 16, 4);
      const statistics = new PCAStatistics().update(rows, [40, 16]);
      const reports: PCAProgress[] = [];
      statistics.toPCA({ nComponents: 0.9, onProgress: (progress) => reports.push(progress) }).dispose();
      expect(reports[0]).toEqual({ phase: 'solving' });
      const x = tf.tensor2d(rows, [40, 16]);
      const bad = { onProgress: 'yes' } as unknown as { onProgress: () => void };
      expect(() => new PCA({ nComponents: 2 }).fit(x, bad)).toThrow(InvalidArgumentError);
      expect(() => new PCA({ nComponents: 2 }).fit(x, bad)).toThrow(/PCA\.fit\(\): options\.onProgress must be a function \(progress\) => void — got string\. Pass a function or omit it\./);
      expect(() => statistics.toPCA({ nComponents: 2, ...bad })).toThrow(/PCAStatistics\.toPCA\(\): options\.onProgress must be a function/);
      x.dispose();
    });
  });
});
