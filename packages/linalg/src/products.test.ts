import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { dfmFeatures } from '../test/dfm-features';
import { covarianceFixture, fixtureFeatures, freErrors, freOf, gramFixture, levelsFixture } from '../test/pca-fixtures';
import { BACKENDS, expectSolvingReports, lowRankData, maxRelDiff, seededRandom, useBackend } from '../test/helpers';
import { eigenQuality } from '../test/spectra';
import { PCA, type PCAProgress } from './pca';
import { PCAStatistics } from './pca-statistics';
import { checkProducts, type MatrixProducts, type ProductRequest, type ProductWork, runAsync, runSync } from './products';
import { topEigenpairs } from './top-eigenpairs';
import { DfmError } from '@dfm/errors';

// ---------------------------------------------------------------------------------------------------------
// Test doubles and float64 references
// ---------------------------------------------------------------------------------------------------------

/**
 * `op(a) · op(b)` as a plain float64 JavaScript triple loop (the test's independent reference for every
 * product): 'float32' requests round the inputs to float32 and the result to a Float32Array (but accumulate
 * in float64: more accurate than a float32 BLAS, so the fits below measure the algorithm rather than a GEMM's
 * rounding; pca-onnx.test.ts has a real one); 'float64' requests keep the inputs and return a Float64Array.
 */
function jsMatMul(request: ProductRequest): Float32Array | Float64Array {
  const { a, b, m, k, n, transposeA, transposeB, precision } = request;
  const round = precision === 'float32' ? Math.fround : (value: number) => value;
  // Logical op(a) [m, k] and op(b) [k, n] in float64, then out_ij = Σ_p left_ip · right_pj in order of p.
  const left = new Float64Array(m * k);
  for (let i = 0; i < m; i++) for (let p = 0; p < k; p++) left[i * k + p] = round(transposeA ? a[p * m + i]! : a[i * k + p]!);
  const right = new Float64Array(k * n);
  for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) right[p * n + j] = round(transposeB ? b[j * k + p]! : b[p * n + j]!);
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    const row = i * n;
    for (let p = 0; p < k; p++) {
      const value = left[i * k + p]!;
      const offset = p * n;
      for (let j = 0; j < n; j++) out[row + j]! += value * right[offset + j]!;
    }
  }
  return precision === 'float32' ? Float32Array.from(out) : out;
}

/** A {@link MatrixProducts} on {@link jsMatMul} that counts its calls and the precisions asked for. */
function jsProducts(name = 'js-triple-loop'): MatrixProducts & { calls: number; precisions: Set<string> } {
  const products = {
    name,
    calls: 0,
    precisions: new Set<string>(),
    async matMul(request: ProductRequest) {
      products.calls++;
      products.precisions.add(request.precision);
      return jsMatMul(request);
    },
  };
  return products;
}

/** Logical `[rows, cols]` float64 matrix of seeded uniforms in [−1, 1). */
function randomMatrix(rows: number, cols: number, seed: number): Float64Array {
  const random = seededRandom(seed);
  return Float64Array.from({ length: rows * cols }, () => 2 * random() - 1);
}

/** The transpose of `[rows, cols]` row-major `x`. */
function transposed(x: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = x[i * cols + j]!;
  return out;
}

/**
 * `A · B` for logical `A` `[m, k]` and `B` `[k, n]` in float64 (no transposes: a second, plainer reference),
 * and `Σ_p |A_ip| |B_pj|`, the scale a float32 product's rounding error is proportional to.
 */
function reference(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number): { product: Float64Array; scale: Float64Array } {
  const product = new Float64Array(m * n);
  const scale = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      for (let p = 0; p < k; p++) {
        product[i * n + j]! += a[i * k + p]! * b[p * n + j]!;
        scale[i * n + j]! += Math.abs(a[i * k + p]! * b[p * n + j]!);
      }
    }
  }
  return { product, scale };
}

/** `max_ij |got − expected| / scale_ij`: the error in units of the entry's `Σ |a||b|`. */
function maxScaledError(got: ArrayLike<number>, expected: ArrayLike<number>, scale: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(got[i]! - expected[i]!) / scale[i]!);
  return worst;
}

/** Yields `requests` in order and returns the products (a ProductWork for the drivers). */
function* yieldAll(requests: ProductRequest[]): ProductWork<(Float32Array | Float64Array)[]> {
  const results: (Float32Array | Float64Array)[] = [];
  for (const request of requests) results.push(yield request);
  return results;
}

/** `x` stored inside a larger array at an offset, as a `subarray` view (requests may be views). */
function asView(x: Float64Array, type: 'float32' | 'float64', offset: number): Float32Array | Float64Array {
  const Type = type === 'float32' ? Float32Array : Float64Array;
  const big = new Type(x.length + 2 * offset).fill(Number.NaN);
  big.set(x, offset);
  return big.subarray(offset, offset + x.length);
}




/** Calls and awaits `run`; returns what it threw or rejected with (throws when it did neither). */
async function caught(run: () => unknown): Promise<unknown> {
  try {
    await run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection, got none');
}

// ---------------------------------------------------------------------------------------------------------

const gram = gramFixture.generator;
const covariance = covarianceFixture.generator;
const gramFeatures = fixtureFeatures(gram);
const covarianceBase = fixtureFeatures(covariance);

describe('the test double jsMatMul', () => {
  it('agrees with the plain float64 reference for every transpose pair to 1e-15 × Σ|a||b|', () => {
    const [m, k, n] = [4, 6, 5];
    const a = randomMatrix(m, k, 1);
    const b = randomMatrix(k, n, 2);
    const { product, scale } = reference(a, b, m, k, n);
    for (const transposeA of [false, true]) {
      for (const transposeB of [false, true]) {
        const request: ProductRequest = {
          a: transposeA ? transposed(a, m, k) : a,
          b: transposeB ? transposed(b, k, n) : b,
          ...{ m, k, n, transposeA, transposeB },
          precision: 'float64',
        };
        const result = jsMatMul(request);
        expect(result).toBeInstanceOf(Float64Array);
        expect(maxScaledError(result, product, scale)).toBeLessThan(1e-15);
      }
    }
  });
});

describe.each(BACKENDS)('runSync on the %s backend', (backend) => {
  beforeAll(() => useBackend(backend));

  // k = 7: one tfjs product; k = 300 > 256: float64 requests are cut into float32 chunks of 256 summed in float64.
  // Measured worst: 6.1e-8 (cpu), 7.5e-8 (wasm) × Σ|a||b| — float32 accuracy for either precision.
  it.each([
    [5, 7, 3],
    [9, 300, 4],
  ])('[%i × %i] · [%i wide]: every transpose pair, both precisions, views as inputs, within 2e-7 × Σ|a||b| of float64', (m, k, n) => {
    const a = randomMatrix(m, k, 10 + k);
    const b = randomMatrix(k, n, 20 + k);
    const { product, scale } = reference(a, b, m, k, n);
    const requests: ProductRequest[] = [];
    for (const precision of ['float32', 'float64'] as const) {
      for (const transposeA of [false, true]) {
        for (const transposeB of [false, true]) {
          requests.push({
            a: asView(transposeA ? transposed(a, m, k) : a, precision, 3),
            b: asView(transposeB ? transposed(b, k, n) : b, precision, 5),
            ...{ m, k, n, transposeA, transposeB, precision },
          });
        }
      }
    }
    const copies = requests.map((request) => [request.a.slice(), request.b.slice()]);
    const before = tf.memory().numTensors;
    const results = runSync(yieldAll(requests));
    expect(tf.memory().numTensors).toBe(before);
    let worst = 0;
    for (const [i, request] of requests.entries()) {
      const result = results[i]!;
      expect(result).toBeInstanceOf(request.precision === 'float64' ? Float64Array : Float32Array);
      expect(result.length).toBe(m * n);
      // Inputs are never modified.
      expect(request.a).toEqual(copies[i]![0]);
      expect(request.b).toEqual(copies[i]![1]);
      worst = Math.max(worst, maxScaledError(result, product, scale));
    }
    expect(worst).toBeLessThan(2e-7);
  });

  it('reuseA keeps a repeated left operand uploaded: correct products for new right operands and between other requests, no tensor left after', () => {
    const [m, k, n] = [6, 6, 3];
    const a = Float32Array.from(randomMatrix(m, k, 31));
    const aT = Float32Array.from(transposed(Float64Array.from(a), m, k)); // the same logical matrix, stored transposed
    const other = Float32Array.from(randomMatrix(m, k, 35));
    const rights = [32, 33, 34].map((seed) => randomMatrix(k, n, seed));
    for (const precision of ['float32', 'float64'] as const) {
      const right = (i: number) => (precision === 'float32' ? Float32Array.from(rights[i]!) : rights[i]!);
      const cases: { request: ProductRequest; left: Float32Array; right: number }[] = [
        { request: { a, b: right(0), m, k, n, transposeA: false, transposeB: false, precision, reuseA: true }, left: a, right: 0 },
        { request: { a: aT, b: right(1), m, k, n, transposeA: true, transposeB: false, precision, reuseA: true }, left: a, right: 1 },
        { request: { a: other, b: right(2), m, k, n, transposeA: false, transposeB: false, precision }, left: other, right: 2 },
        { request: { a, b: right(1), m, k, n, transposeA: false, transposeB: false, precision, reuseA: true }, left: a, right: 1 },
        { request: { a: aT, b: right(2), m, k, n, transposeA: true, transposeB: false, precision, reuseA: true }, left: a, right: 2 },
        { request: { a, b: right(2), m, k, n, transposeA: false, transposeB: false, precision, reuseA: true }, left: a, right: 2 },
      ];
      const before = tf.memory().numTensors;
      const results = runSync(yieldAll(cases.map((c) => c.request)));
      expect(tf.memory().numTensors).toBe(before);
      for (const [i, result] of results.entries()) {
        const { product, scale } = reference(cases[i]!.left, rights[cases[i]!.right]!, m, k, n);
        expect(result).toBeInstanceOf(precision === 'float64' ? Float64Array : Float32Array);
        expect(maxScaledError(result, product, scale)).toBeLessThan(2e-7);
      }
    }
  });

  it('leaks no tensors over 50 runs, nor when the work throws half-way (the reused operands are freed)', () => {
    const [m, k, n] = [8, 300, 8];
    const a = Float32Array.from(randomMatrix(m, k, 41));
    const b = Float32Array.from(randomMatrix(k, n, 42));
    const request = (precision: 'float32' | 'float64'): ProductRequest => ({ a, b, m, k, n, transposeA: false, transposeB: false, precision, reuseA: true });
    runSync(yieldAll([request('float32')]));
    const before = tf.memory().numTensors;
    for (let i = 0; i < 50; i++) runSync(yieldAll([request('float32'), request('float64'), request('float32')]));
    expect(tf.memory().numTensors).toBe(before);
    function* failing(): ProductWork<void> {
      yield request('float32');
      throw new Error('work failed');
    }
    expect(() => runSync(failing())).toThrow('work failed');
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('runAsync and checkProducts', () => {
  const request: ProductRequest = {
    a: new Float64Array(6).fill(1),
    b: new Float64Array(6).fill(2),
    ...{ m: 2, k: 3, n: 2, transposeA: false, transposeB: false },
    precision: 'float64',
  };

  it('runs the work on the products and returns its value', async () => {
    const products = jsProducts();
    const results = await runAsync(yieldAll([request, { ...request, precision: 'float32', a: new Float32Array(6).fill(1), b: new Float32Array(6).fill(2) }]), products);
    expect(products.calls).toBe(2);
    expect(Array.from(results[0]!)).toEqual([6, 6, 6, 6]);
    expect(results[1]).toBeInstanceOf(Float32Array);
  });

  it.each([
    ['too few values', () => new Float64Array(3), /— got Float64Array of 3\./],
    ['a Float32Array for a float64 request', () => new Float32Array(4), /— got Float32Array of 4\./],
    ['a plain array', () => [6, 6, 6, 6], /— got Array of 4\./],
  ])('rejects a MatrixProducts returning %s with E_INVALID_ARGUMENT naming the products, and closes the work', async (_, result, got) => {
    let closed = false;
    function* work(): ProductWork<void> {
      try {
        yield request;
        yield request;
      } finally {
        closed = true;
      }
    }
    const products: MatrixProducts = { name: 'broken-products v1', matMul: async () => result() as Float64Array };
    const error = await caught(() => runAsync(work(), products));
    expect(error).toBeInstanceOf(DfmError);
    expect(error).toMatchObject({ code: 'E_INVALID_ARGUMENT' });
    expect((error as Error).message).toMatch(/^broken-products v1: matMul must return a Float64Array of 4 values \(\[2, 2\]\)/);
    expect((error as Error).message).toMatch(got);
    expect(closed).toBe(true);
  });

  it('checkProducts refuses null, non-objects and objects without matMul with E_INVALID_ARGUMENT; passes undefined and a MatrixProducts', () => {
    for (const bad of [null, 'onnx', 42, {}, { name: 'x', matMul: 'no' }]) {
      let error: unknown;
      try {
        checkProducts(bad, 'caller()');
      } catch (thrown) {
        error = thrown;
      }
      expect(error).toMatchObject({ code: 'E_INVALID_ARGUMENT' });
      expect((error as Error).message).toMatch(/^caller\(\): products must be a MatrixProducts \(\{ name, matMul\(request\) \}\)/);
    }
    expect(() => checkProducts(null, 'caller()')).toThrow(/— got null\./);
    expect(checkProducts(undefined, 'caller()')).toBeUndefined();
    const products = jsProducts();
    expect(checkProducts(products, 'caller()')).toBe(products);
  });

  it('the public entry points refuse a bad products option with E_INVALID_ARGUMENT before any work', async () => {
    const x = tf.tensor2d(Float32Array.from(randomMatrix(6, 4, 5)), [6, 4]);
    const fit = await caught(() => new PCA({ nComponents: 2 }).fitAsync(x, { products: null as never }));
    expect(fit).toMatchObject({ code: 'E_INVALID_ARGUMENT', message: expect.stringMatching(/^PCA\.fitAsync\(\): products must be a MatrixProducts/) });
    expect(() => new PCAStatistics({ products: {} as never })).toThrow(expect.objectContaining({ code: 'E_INVALID_ARGUMENT' }));
    const statistics = new PCAStatistics().update(x);
    const toPCA = await caught(() => statistics.toPCAAsync({ nComponents: 2, products: { matMul: 1 } as never }));
    expect(toPCA).toMatchObject({ code: 'E_INVALID_ARGUMENT', message: expect.stringMatching(/^PCAStatistics\.toPCAAsync\(\): products must be/) });
    x.dispose();
  });
});

// ---------------------------------------------------------------------------------------------------------
// PCA.fitAsync with products, against the float64 numpy/sklearn fixtures
// ---------------------------------------------------------------------------------------------------------


/** `max |a² − b²| / b₀²` over the leading values: eigenvalue error relative to the largest eigenvalue. */
function eigenvalueError(singularValues: ArrayLike<number>, reference: number[]): number {
  let worst = 0;
  for (let i = 0; i < singularValues.length; i++) worst = Math.max(worst, Math.abs(singularValues[i]! ** 2 - reference[i]! ** 2));
  return worst / reference[0]! ** 2;
}

/**
 * Relative tolerance of the covariance route's FRE (through the exact mean) against float64 sklearn with the JS
 * products: a count (16 leading components, well separated) or a variance ratio (whose cut lies in the noise tail).
 */
function covarianceTolerance(level: string): number {
  return Number.isInteger(Number(level)) ? 1e-7 : 2e-6;
}

describe('PCA.fitAsync with a float64 JavaScript MatrixProducts, against float64 numpy/sklearn', () => {
  beforeAll(() => useBackend('cpu'));

  describe.each(levelsFixture.cases.map((c) => [c.name, c] as const))('pca-levels.json %s', (_, c) => {
    // Measured: ≤ 8.3e-9 × s₁² (what is left: the float32 rounding of the centred data; the sync fit: 3.5e-9…6.0e-8).
    it.each(levelsFixture.levels)('keeps sklearn’s k at level %s (1 = all); eigenvalues s² within 2e-8 × s₁² of sklearn', async (level) => {
      const x = tf.tensor2d(c.data, [c.rows, c.cols]);
      const products = jsProducts();
      const pca = await new PCA({ nComponents: level === 1 ? 'all' : level }).fitAsync(x, { products });
      expect(products.calls).toBeGreaterThan(0);
      expect(pca.numComponents).toBe(c.k[level === 1 ? '1.0' : String(level)]);
      const error = eigenvalueError(pca.singularValues, c.singularValues);
      expect(error).toBeLessThan(2e-8);
      pca.dispose();
      x.dispose();
    });
  });

  // Measured (JS float64 products): subspace test 1.9e-8, train 9.3e-7 (level 0.97: k = 156 > N/2, the full
  // float64 eigh of the float32-chunked Gram matrix; the sync fit's train error there is 7.8e-6); as stored the
  // same; tfjs scoring 5.3e-8.
  it.each(Object.keys(gramFixture.levels))(
    'Gram route, dfm-features.json (N = 200 < D = 4096), level %s: sklearn’s k; FRE within 1e-7 (held-out rows) and 2e-6 (training rows) relative of float64',
    async (level) => {
      const reference = gramFixture.levels[level]!;
      const x = tf.tensor2d(gramFeatures.subarray(0, gram.nTrain * gram.nFeatures), [gram.nTrain, gram.nFeatures]);
      const products = jsProducts();
      const pca = await new PCA({ nComponents: Number(level) }).fitAsync(x, { products });
      expect(pca.numComponents).toBe(reference.k);
      const errors = freErrors(pca, gramFeatures, gram, reference);
      expect(errors.subspaceTest).toBeLessThan(1e-7);
      expect(errors.storedTest).toBeLessThan(1e-7);
      expect(errors.subspaceTrain).toBeLessThan(2e-6);
      expect(errors.storedTrain).toBeLessThan(2e-6);
      expect(errors.tfjsTest).toBeLessThan(2e-7);
      x.dispose();
      pca.dispose();
    },
  );

  // Measured (JS products), through the exact mean, held-out / training rows: count 16: ≤ 3.5e-8 / 3.1e-8 (the sync
  // fit: 1.1e-6 / 3.4e-6); ratios 0.9 and 0.97 (k = 68, 155 of 256: the cut lies in the noise tail, where the float32
  // rounding of the centred rows before the scatter products moves the components): ≤ 7.1e-7 / 1.1e-6 (sync:
  // 1.5e-6 / 3.6e-6). As stored, plain features: the same; tfjs scoring ≤ 8.3e-8 (count) / 6.9e-7 (ratios).
  // Large-mean features (x + 1000) as stored: 2.6e-5 held-out, 5.7e-5 training — the float32 mean (ulp(1000) =
  // 6.1e-5) shifts every centred value by up to 3e-5, for fitAsync and fit alike.
  const covarianceCases = Object.entries(covarianceFixture.cases).flatMap(([name, c]) => Object.keys(c.levels).map((level) => [name, level] as const));
  it.each(covarianceCases)(
    'covariance route, pca-statistics.json (N = 600 ≥ D = 256), %s features, level %s: sklearn’s k; FRE of the fitted subspace within 1e-7 (a count) or 2e-6 (a ratio) relative of float64',
    async (name, level) => {
      const { offset, levels } = covarianceFixture.cases[name]!;
      const reference = levels[level]!;
      const features = offset === 0 ? covarianceBase : covarianceBase.map((value) => Math.fround(value + offset));
      const x = tf.tensor2d(features.subarray(0, covariance.nTrain * covariance.nFeatures), [covariance.nTrain, covariance.nFeatures]);
      const products = jsProducts();
      const pca = await new PCA({ nComponents: Number(level) }).fitAsync(x, { products });
      expect(pca.numComponents).toBe(reference.k);
      // The scatter in float32 products (chunks summed in float64).
      // The subspace iteration (float32 products, then float64 ones) runs when k + max(16, k/4) columns fit in
      // D/2; beyond, the full JavaScript eigensolver does (no float64 products).
      const iterated = reference.k + Math.max(16, Math.ceil(reference.k / 4)) <= covariance.nFeatures / 2;
      expect([...products.precisions].sort()).toEqual(iterated ? ['float32', 'float64'] : ['float32']);
      const errors = freErrors(pca, features, covariance, reference);
      const tolerance = covarianceTolerance(level);
      expect(errors.subspaceTest).toBeLessThan(tolerance);
      expect(errors.subspaceTrain).toBeLessThan(tolerance);
      const stored = offset === 0 ? tolerance : 1e-4; // large mean: the float32 mean's rounding (see above)
      expect(errors.storedTest).toBeLessThan(stored);
      expect(errors.storedTrain).toBeLessThan(stored);
      expect(errors.tfjsTest).toBeLessThan(Math.max(stored, 2e-7));
      x.dispose();
      pca.dispose();
    },
  );
});

describe('PCA.fitAsync (cpu backend)', () => {
  beforeAll(() => useBackend('cpu'));

  it('without products runs fit on the tfjs backend: the very same state', async () => {
    const x = tf.tensor2d(lowRankData(40, 24, 5), [40, 24]);
    const sync = new PCA({ nComponents: 0.95 }).fit(x);
    const async = await new PCA({ nComponents: 0.95 }).fitAsync(x);
    expect(async.getState()).toEqual(sync.getState());
    tf.dispose([x]);
    sync.dispose();
    async.dispose();
  });

  it('leaks no tensors over 20 fits with products, on both routes', async () => {
    const products = jsProducts();
    const wide = tf.tensor2d(lowRankData(12, 40, 4), [12, 40]);
    const tall = tf.tensor2d(lowRankData(60, 10, 4), [60, 10]);
    const pca = new PCA({ nComponents: 0.9 });
    await pca.fitAsync(wide, { products });
    const before = tf.memory().numTensors;
    for (let i = 0; i < 10; i++) {
      await pca.fitAsync(wide, { products });
      await pca.fitAsync(tall, { products });
    }
    expect(tf.memory().numTensors).toBe(before);
    pca.dispose();
    expect(tf.memory().numTensors).toBe(before - 3); // mean, components and their transpose
    tf.dispose([wide, tall]);
  });

  it.each([
    ['the Gram route (N < D): the dense solver reports fractions', 80, 160, 'fraction'],
    ['the covariance route (N ≥ D): the subspace iteration reports iterations', 300, 64, 'iteration'],
  ] as const)('onProgress: fitAsync with products reports accumulating fractions up to 1, then solving, on %s', async (_, n, d, solving) => {
    const x = tf.tensor2d(lowRankData(n, d, 6), [n, d]);
    const reports: PCAProgress[] = [];
    const pca = await new PCA({ nComponents: 0.9 }).fitAsync(x, { products: jsProducts(), onProgress: (progress) => reports.push(progress) });
    const phases = reports.map((r) => r.phase);
    const firstSolving = phases.indexOf('solving');
    expect(firstSolving).toBeGreaterThan(0);
    expect(phases.slice(0, firstSolving).every((phase) => phase === 'accumulating')).toBe(true);
    expect(phases.slice(firstSolving).every((phase) => phase === 'solving')).toBe(true);
    const fractions = reports.slice(0, firstSolving).map((r) => r.fraction!);
    expect(fractions.at(-1)).toBe(1);
    for (let i = 1; i < fractions.length; i++) expect(fractions[i]!).toBeGreaterThan(fractions[i - 1]!);
    expect(reports[firstSolving]).toEqual({ phase: 'solving' });
    expectSolvingReports(reports, firstSolving, solving);
    pca.dispose();
    x.dispose();
  });
});

// ---------------------------------------------------------------------------------------------------------
// PCAStatistics with products
// ---------------------------------------------------------------------------------------------------------

/** Rows `[start, start + count)` of `[n, d]` row-major data, as a copy. */
function rowsOf(data: Float32Array, d: number, start: number, count: number): Float32Array {
  return data.slice(start * d, (start + count) * d);
}

/** Statistics of `data`'s first rows fed in batches of `sizes`, with `updateAsync`. */
async function accumulateAsync(statistics: PCAStatistics, data: Float32Array, d: number, sizes: number[], start = 0): Promise<PCAStatistics> {
  for (const size of sizes) {
    await statistics.updateAsync(rowsOf(data, d, start, size), [size, d]);
    start += size;
  }
  return statistics;
}

/** Statistics of `data`'s first rows fed in batches of `sizes`, with `update`. */
function accumulateSync(data: Float32Array, d: number, sizes: number[]): PCAStatistics {
  const statistics = new PCAStatistics();
  let start = 0;
  for (const size of sizes) {
    statistics.update(rowsOf(data, d, start, size), [size, d]);
    start += size;
  }
  return statistics;
}

/** `[n, 8]` rows: `n` ≥ CHUNK (1024) rows in moments storage make updateAsync run products. */
function smallRows(n: number, seed: number): Float32Array {
  return lowRankData(n, 8, 3, seed);
}

/** A MatrixProducts whose products wait until `release()` is called. */
function gatedProducts(): MatrixProducts & { release(): void; waiting(): number } {
  const inner = jsProducts('gated');
  const waiters: (() => void)[] = [];
  let open = false;
  return {
    name: 'gated',
    async matMul(request) {
      if (!open) await new Promise<void>((resolve) => waiters.push(resolve));
      return inner.matMul(request);
    },
    release() {
      open = true;
      for (const resolve of waiters.splice(0)) resolve();
    },
    waiting: () => waiters.length,
  };
}

// A stream long enough for updateAsync to run products (chunks of 1024 rows once N ≥ D): 2600 training
// rows of the pca-statistics.json generator at D = 256 (its first 624 rows are the fixture's), 24 held out.
const STREAM = { n: 2600, held: 24, d: 256 };
const streamFeatures = dfmFeatures(covarianceFixture.generator.seed, STREAM.n + STREAM.held, STREAM.d);
const streamHeld = streamFeatures.subarray(STREAM.n * STREAM.d);

describe('PCAStatistics with a float64 JavaScript MatrixProducts (cpu backend)', () => {
  beforeAll(() => useBackend('cpu'));

  it('the first 624 rows of the stream generator are the fixture’s (checksum)', () => {
    let sum = 0;
    for (const value of streamFeatures.subarray(0, 624 * STREAM.d)) sum += value;
    expect(Math.abs(sum - covarianceFixture.checksum.sum)).toBeLessThan(1e-9 * covarianceFixture.checksum.sum);
  });

  // Measured: k equal; FRE ≤ 5.0e-7 relative (0.9: 5.0e-7, 16: 2.7e-7, Gram 0.9: 1.0e-7). The async solve is the
  // more accurate one (float64 subspace iteration), so this bounds the sync path's error as much as the async one's.
  it.each([
    ['covariance route, 2600 × 256 (products run in updateAsync)', 'stream', [100, 1100, 37, 1363], [0.9, 16]],
    ['Gram route, dfm-features.json 200 × 4096', 'gram', [13, 60, 27, 100], [0.9]],
  ] as const)('%s: updateAsync batches then toPCAAsync give sync update + toPCA’s k and held-out FRE within 1e-5 relative', async (_, which, sizes, levels) => {
    const d = which === 'stream' ? STREAM.d : gram.nFeatures;
    const data = which === 'stream' ? streamFeatures : gramFeatures;
    const held = which === 'stream' ? streamHeld : gramFeatures.subarray(gram.nTrain * d);
    const products = jsProducts();
    const statistics = await accumulateAsync(new PCAStatistics({ products }), data, d, [...sizes]);
    if (which === 'stream') {
      expect(statistics.storage).toBe('moments');
      expect(products.calls).toBeGreaterThan(0); // the scatter ran on the products during updateAsync
    }
    const sync = accumulateSync(data, d, [...sizes]);
    expect(statistics.nSamples).toBe(sync.nSamples);
    expect(maxRelDiff(statistics.mean, sync.mean)).toBeLessThan(1e-12);
    const test = tf.tensor2d(held, [held.length / d, d]);
    for (const level of levels) {
      const a = await statistics.toPCAAsync({ nComponents: level });
      const b = sync.toPCA({ nComponents: level });
      expect(a.numComponents).toBe(b.numComponents);
      const error = maxRelDiff(freOf(a, test), freOf(b, test));
      expect(error).toBeLessThan(1e-5);
      a.dispose();
      b.dispose();
    }
    test.dispose();
  });

  // Measured: count 16: 2.4e-8 / 1.9e-8 (held-out / training rows); ratios: 8.2e-7 / 1.2e-6.
  it('pca-statistics.json (N = 600 ≥ D = 256) through updateAsync + toPCAAsync: sklearn’s k; FRE of the subspace within 1e-7 (a count) or 2e-6 (a ratio) relative of float64', async () => {
    const d = covariance.nFeatures;
    const statistics = await accumulateAsync(new PCAStatistics({ products: jsProducts() }), covarianceBase, d, [100, 150, 50, 300]);
    expect(statistics.storage).toBe('moments');
    for (const [level, reference] of Object.entries(covarianceFixture.cases.plain!.levels)) {
      const pca = await statistics.toPCAAsync({ nComponents: Number(level) });
      expect(pca.numComponents).toBe(reference.k);
      const errors = freErrors(pca, covarianceBase, covariance, reference);
      expect(errors.subspaceTest).toBeLessThan(covarianceTolerance(level));
      expect(errors.subspaceTrain).toBeLessThan(covarianceTolerance(level));
      pca.dispose();
    }
  });

  // Measured: 5.1e-7 (0.9), 9.8e-8 (16): the shards' chunks and shifts differ from the one pass's.
  it('covariance route: 4 shards accumulated with updateAsync, then merged, give one fitAsync pass’s k and held-out FRE within 1e-6 relative', async () => {
    const d = STREAM.d;
    const sizes = [700, 1100, 300, 500];
    const products = jsProducts();
    const merged = new PCAStatistics({ products });
    let start = 0;
    for (const size of sizes) {
      merged.merge(await accumulateAsync(new PCAStatistics({ products }), streamFeatures, d, [size], start));
      start += size;
    }
    expect(merged.nSamples).toBe(STREAM.n);
    const x = tf.tensor2d(streamFeatures.subarray(0, STREAM.n * d), [STREAM.n, d]);
    const test = tf.tensor2d(streamHeld, [STREAM.held, d]);
    for (const level of [0.9, 16]) {
      const onePass = await new PCA({ nComponents: level }).fitAsync(x, { products });
      const fromShards = await merged.toPCAAsync({ nComponents: level });
      expect(fromShards.numComponents).toBe(onePass.numComponents);
      const error = maxRelDiff(freOf(fromShards, test), freOf(onePass, test));
      expect(error).toBeLessThan(1e-6);
      onePass.dispose();
      fromShards.dispose();
    }
    tf.dispose([x, test]);
  });

  it('Gram route: 4 shards of dfm-features.json accumulated with updateAsync, then merged, give exactly fitAsync’s state (the same rows, the same products)', async () => {
    const d = gram.nFeatures;
    const sizes = [13, 60, 27, 100];
    const products = jsProducts();
    const merged = new PCAStatistics();
    let start = 0;
    for (const size of sizes) {
      merged.merge(await accumulateAsync(new PCAStatistics({ products }), gramFeatures, d, [size], start));
      start += size;
    }
    expect(merged.storage).toBe('rows');
    const x = tf.tensor2d(gramFeatures.subarray(0, gram.nTrain * d), [gram.nTrain, d]);
    const onePass = await new PCA({ nComponents: 0.9 }).fitAsync(x, { products });
    const fromShards = await merged.toPCAAsync({ nComponents: 0.9, products });
    expect(fromShards.numComponents).toBe(gramFixture.levels['0.9']!.k);
    expect(fromShards.getState()).toEqual(onePass.getState());
    x.dispose();
    onePass.dispose();
    fromShards.dispose();
  });

  it('refuses a second call while updateAsync awaits its products (E_BUSY), then completes and accepts calls again', async () => {
    const products = gatedProducts();
    const statistics = new PCAStatistics({ products });
    const first = statistics.updateAsync(smallRows(1100, 1), [1100, 8]);
    expect(products.waiting()).toBe(1); // the first chunk's product is pending
    const second = await caught(() => statistics.updateAsync(smallRows(5, 2), [5, 8]));
    expect(second).toBeInstanceOf(DfmError);
    expect(second).toMatchObject({ code: 'E_BUSY' });
    expect((second as Error).message).toMatch(
      /^PCAStatistics\.updateAsync\(\): PCAStatistics\.updateAsync\(\) is still running on these statistics — got a second call meanwhile\. Await it first\.$/,
    );
    for (const call of [
      () => statistics.update(smallRows(5, 2), [5, 8]),
      () => statistics.toPCA({ nComponents: 2 }),
      () => statistics.toPCAAsync({ nComponents: 2 }),
      () => statistics.merge(new PCAStatistics()),
      () => new PCAStatistics().merge(statistics),
      // Copies and reads of a half-added batch would be wrong (a PCA of the rows folded so far): refused too.
      () => statistics.clone(),
      () => statistics.toBytes(),
      () => statistics.mean,
    ]) {
      expect(await caught(call)).toMatchObject({ code: 'E_BUSY' });
    }
    products.release();
    await first;
    expect(statistics.nSamples).toBe(1100); // the refused batches were not added
    await statistics.updateAsync(smallRows(5, 2), [5, 8]);
    expect(statistics.nSamples).toBe(1105);
    const pca = await statistics.toPCAAsync({ nComponents: 2 });
    expect(pca.numComponents).toBe(2);
    pca.dispose();
  });

  it('toPCAAsync is exclusive too: update during it is refused with E_BUSY', async () => {
    const products = gatedProducts();
    const statistics = new PCAStatistics().update(smallRows(40, 3), [40, 8]);
    const solving = statistics.toPCAAsync({ nComponents: 2, products });
    expect(await caught(() => statistics.update(smallRows(5, 2), [5, 8]))).toMatchObject({ code: 'E_BUSY' });
    expect(await caught(() => statistics.toPCAAsync({ nComponents: 2 }))).toMatchObject({ code: 'E_BUSY' });
    products.release();
    (await solving).dispose();
    statistics.update(smallRows(5, 2), [5, 8]);
    expect(statistics.nSamples).toBe(45);
  });

  it('products failing half-way through updateAsync leave the statistics refusing every later call with E_INVALID_STATE', async () => {
    const inner = jsProducts();
    const failing: MatrixProducts = {
      name: 'fails-second',
      async matMul(request) {
        if (inner.calls === 1) throw new Error('device lost');
        return inner.matMul(request);
      },
    };
    const statistics = new PCAStatistics({ products: failing });
    // 2100 rows: two chunks of 1024 folded (two products), 52 pending; the second product fails.
    const error = await caught(() => statistics.updateAsync(smallRows(2100, 4), [2100, 8]));
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe('device lost');
    expect(inner.calls).toBe(1);
    const later = [
      () => statistics.update(smallRows(5, 2), [5, 8]),
      () => statistics.updateAsync(smallRows(5, 2), [5, 8]),
      () => statistics.toPCA({ nComponents: 2 }),
      () => statistics.toPCAAsync({ nComponents: 2, products: jsProducts() }),
      () => statistics.merge(new PCAStatistics().update(smallRows(5, 2), [5, 8])),
      () => new PCAStatistics().merge(statistics),
      () => statistics.clone(),
      () => statistics.toBytes(),
      () => statistics.mean,
    ];
    for (const call of later) {
      const refused = await caught(call);
      expect(refused).toBeInstanceOf(DfmError);
      expect(refused).toMatchObject({ code: 'E_INVALID_STATE' });
      expect((refused as Error).message).toMatch(
        /: the statistics are incomplete: PCAStatistics\.updateAsync\(\) failed half-way \(device lost\)\. Rebuild them from the data\.$/,
      );
    }
  });

  it('a MatrixProducts returning a wrong-length result fails updateAsync with E_INVALID_ARGUMENT and breaks the statistics (E_INVALID_STATE)', async () => {
    const statistics = new PCAStatistics({ products: { name: 'short-products', matMul: async () => new Float32Array(1) } });
    const error = await caught(() => statistics.updateAsync(smallRows(1100, 5), [1100, 8]));
    expect(error).toMatchObject({ code: 'E_INVALID_ARGUMENT', message: expect.stringMatching(/^short-products: matMul must return a Float32Array of 64 values/) });
    expect(() => statistics.toPCA({ nComponents: 2 })).toThrow(expect.objectContaining({ code: 'E_INVALID_STATE' }));
  });

  it('products failing in toPCAAsync reject it but leave the statistics usable (nothing was changed)', async () => {
    const statistics = new PCAStatistics().update(smallRows(40, 6), [40, 8]);
    const broken: MatrixProducts = { name: 'broken', matMul: async () => Promise.reject(new Error('no device')) };
    expect(await caught(() => statistics.toPCAAsync({ nComponents: 2, products: broken }))).toMatchObject({ message: 'no device' });
    const reference = statistics.toPCA({ nComponents: 2 });
    statistics.update(smallRows(5, 7), [5, 8]);
    expect(statistics.nSamples).toBe(45);
    reference.dispose();
  });

  it('toPCAAsync({ products }) overrides the constructor’s products; without it the constructor’s run', async () => {
    const own = jsProducts('own');
    const given = jsProducts('given');
    const statistics = new PCAStatistics({ products: own }).update(smallRows(300, 8), [300, 8]);
    expect(own.calls).toBe(0); // update is synchronous: the tfjs backend
    const a = await statistics.toPCAAsync({ nComponents: 2, products: given });
    expect([own.calls, given.calls > 0]).toEqual([0, true]);
    const givenCalls = given.calls;
    const b = await statistics.toPCAAsync({ nComponents: 2 });
    expect(own.calls).toBe(givenCalls);
    expect(given.calls).toBe(givenCalls);
    expect(b.getState()).toEqual(a.getState()); // the same arithmetic either way
    a.dispose();
    b.dispose();
  });

  it('toPCAAsync reports solving first, then iterations', async () => {
    const statistics = new PCAStatistics({ products: jsProducts() }).update(lowRankData(300, 64, 6), [300, 64]);
    const reports: PCAProgress[] = [];
    const pca = await statistics.toPCAAsync({ nComponents: 0.9, onProgress: (progress) => reports.push(progress) });
    expect(reports[0]).toEqual({ phase: 'solving' });
    expect(reports.every((r) => r.phase === 'solving')).toBe(true);
    expect(reports.some((r) => r.iteration === 1)).toBe(true);
    pca.dispose();
  });

  it('leaks no tensors over repeated updateAsync, merge and toPCAAsync with products', async () => {
    const products = jsProducts();
    const rows = smallRows(1100, 9);
    const warm = await (await new PCAStatistics({ products }).updateAsync(rows, [1100, 8])).toPCAAsync({ nComponents: 3 });
    warm.dispose();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) {
      const statistics = await new PCAStatistics({ products }).updateAsync(rows, [1100, 8]);
      statistics.merge(await new PCAStatistics({ products }).updateAsync(rows.subarray(0, 80), [10, 8]));
      const x = tf.tensor2d(rows.subarray(0, 160), [20, 8]);
      await statistics.updateAsync(x);
      x.dispose();
      (await statistics.toPCAAsync({ nComponents: 3 })).dispose();
      (await statistics.toPCAAsync({ nComponents: 0.9 })).dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('topEigenpairs in float64 when float32 products stall above the switch level', () => {
  // A float64 iteration runs float32 products until its residuals reach 1e-5 × λ₁ — or stop shrinking: at
  // D = 16384 float32's floor (1.3e-5 × λ₁) lies above that level, and the iteration once stayed in float32
  // until its cycle cap. Here float32 products carry a relative error of 1e-4 (far above the level).
  it('switches to float64 products and converges to 1e-9 × λ₁ (residuals measured in float64 against A)', async () => {
    const n = 96;
    const rows = 300;
    const x = lowRankData(rows, n, 12, 7);
    const a = new Float64Array(n * n);
    for (let r = 0; r < rows; r++) {
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j]! += (x[r * n + i]! * x[r * n + j]!) / rows;
    }
    let trace = 0;
    let largestDiagonal = 0;
    for (let i = 0; i < n; i++) {
      trace += a[i * n + i]!;
      largestDiagonal = Math.max(largestDiagonal, a[i * n + i]!);
    }
    const random = seededRandom(3);
    const precisions = new Set<string>();
    const noisy: MatrixProducts = {
      name: 'float32 products with 1e-4 relative noise',
      async matMul(request) {
        precisions.add(request.precision);
        const out = jsMatMul(request);
        if (request.precision === 'float32') for (let i = 0; i < out.length; i++) out[i] = out[i]! * (1 + 1e-4 * (2 * random() - 1));
        return out;
      },
    };
    const count = 6;
    const result = await runAsync(
      topEigenpairs(
        n,
        {
          *writeRows(i0, i1, scale, out) {
            for (let i = 0; i < (i1 - i0) * n; i++) out[i] = a[i0 * n + i]! / scale;
            yield* [];
          },
        },
        { rule: { kind: 'count', count }, trace, largestDiagonal, maxBlock: n, precision: 'float64' },
      ),
      noisy,
    );
    expect([...precisions].sort()).toEqual(['float32', 'float64']);
    expect(result).not.toBeNull();
    const { values, vectors, block } = result!;
    // The largest of the k residuals, each ‖A v_j − λ_j v_j‖.
    expect(eigenQuality(a, n, values, vectors, count, block).residual).toBeLessThan(1e-8 * values[0]!);
  });
});
