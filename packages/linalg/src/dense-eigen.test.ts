import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadFixture } from '../test/helpers';
import { eigenQuality, withSpectrum } from '../test/spectra';
import { DenseSymmetricSolver, denseEigen, denseKernelsAvailable, THREADS_FROM } from './dense-eigen';

type EighCase = { name: string; rows: number; cols: number; data: number[]; values: number[] };
const fixture = loadFixture<{ eigh: EighCase[] }>('decompositions.json');

/** The spectra both known-spectrum tests take (n = 240). */
const SPECTRA = [
  ['a PCA-like decay λ_j = j^−1.6', (j: number) => (j + 1) ** -1.6],
  ['clusters of five equal eigenvalues', (j: number) => 10 - Math.floor(j / 5)],
  ['rank 100 of 240 (zeros)', (j: number) => (j < 100 ? 1 + j / 100 : 0)],
  ['both signs', (j: number) => (j % 2 === 0 ? 1 : -1) * (1 + j / 10)],
] as const;

describe('dense symmetric eigensolver (WebAssembly tridiagonalisation, inverse iteration)', () => {
  it('runs here (Node has WebAssembly with SIMD)', () => {
    expect(denseKernelsAvailable()).toBe(true);
  });

  it.each(fixture.eigh.map((c) => [c.name, c] as const))('matches numpy.linalg.eigvalsh on the %s case', (_, c) => {
    const n = c.rows;
    const matrix = Float64Array.from(c.data);
    const { values, vectors } = denseEigen(matrix, n);
    expect(Array.from(matrix)).toEqual(c.data); // input untouched
    const largest = Math.max(...c.values.map(Math.abs));
    const expected = [...c.values].sort((x, y) => y - x);
    for (let i = 0; i < n; i++) expect(Math.abs(values[i]! - expected[i]!)).toBeLessThanOrEqual(1e-12 * largest);
    const { residual, orthogonality } = eigenQuality(matrix, n, values, vectors(n), n);
    expect(residual).toBeLessThanOrEqual(1e-12 * largest);
    expect(orthogonality).toBeLessThan(1e-10);
  });

  it.each(SPECTRA)('recovers a known spectrum: %s', (_, spectrum) => {
    const n = 240;
    const known = Array.from({ length: n }, (_, j) => spectrum(j));
    const a = withSpectrum(known, 7);
    const { values, vectors } = denseEigen(a, n);
    const largest = Math.max(...known.map(Math.abs));
    const expected = [...known].sort((x, y) => y - x);
    for (let i = 0; i < n; i++) expect(Math.abs(values[i]! - expected[i]!)).toBeLessThanOrEqual(1e-13 * n * largest);
    const count = 60;
    const { residual, orthogonality } = eigenQuality(a, n, values, vectors(count), count);
    expect(residual).toBeLessThanOrEqual(1e-13 * n * largest);
    expect(orthogonality).toBeLessThan(1e-10);
  });

  it('is scale-free: 2^±600 times a matrix gives 2^±600 times its eigenvalues and the same vectors', () => {
    const n = 50;
    const a = withSpectrum(
      Array.from({ length: n }, (_, j) => 1 / (j + 1)),
      3,
    );
    const reference = denseEigen(a, n);
    const referenceVectors = reference.vectors(10);
    for (const factor of [2 ** -600, 2 ** 600]) {
      const { values, vectors } = denseEigen(
        a.map((x) => x * factor),
        n,
      );
      for (let i = 0; i < n; i++) expect(values[i]! / factor).toBeCloseTo(reference.values[i]!, 12);
      const scaled = vectors(10);
      for (let i = 0; i < scaled.length; i++) expect(Math.abs(scaled[i]!)).toBeCloseTo(Math.abs(referenceVectors[i]!), 10);
    }
  });

  it.each(SPECTRA)('given a count, bisects for just the leading eigenvalues of a known spectrum: %s', (_, spectrum) => {
    const n = 240;
    const known = Array.from({ length: n }, (_, j) => spectrum(j));
    const a = withSpectrum(known, 11);
    const solver = new DenseSymmetricSolver(n);
    solver.matrix.set(a);
    const { values, total, vectors } = solver.solve(undefined, { kind: 'count', count: 45 });
    expect(values.length).toBe(45);
    const largest = Math.max(...known.map(Math.abs));
    const expected = [...known].sort((x, y) => y - x);
    for (let i = 0; i < 45; i++) expect(Math.abs(values[i]! - expected[i]!)).toBeLessThanOrEqual(1e-13 * n * largest);
    expect(Math.abs(total - known.reduce((sum, value) => sum + value, 0))).toBeLessThanOrEqual(1e-12 * n * largest);
    const { residual, orthogonality } = eigenQuality(a, n, values, vectors(45), 45);
    expect(residual).toBeLessThanOrEqual(1e-13 * n * largest);
    expect(orthogonality).toBeLessThan(1e-10);
  });

  it('given a level, bisects until the leading eigenvalues pass that share of the trace, and two more', () => {
    const n = 300;
    const known = Array.from({ length: n }, (_, j) => (j + 1) ** -1.2);
    const a = withSpectrum(known, 13);
    const trace = known.reduce((sum, value) => sum + value, 0);
    let cumulative = 0;
    let passed = 0;
    while (cumulative <= 0.9) cumulative += known[passed++]! / trace;
    const solver = new DenseSymmetricSolver(n);
    solver.matrix.set(a);
    const { values, total } = solver.solve(undefined, { kind: 'ratio', level: 0.9 });
    expect(values.length).toBe(passed + 2);
    for (let i = 0; i < values.length; i++) expect(Math.abs(values[i]! - known[i]!)).toBeLessThanOrEqual(1e-13 * n);
    expect(Math.abs(total - trace)).toBeLessThanOrEqual(1e-12 * n);
  });

  it('handles 1 × 1 and 2 × 2 matrices and a zero matrix', () => {
    expect(Array.from(denseEigen(Float64Array.of(-3), 1).values)).toEqual([-3]);
    expect(Array.from(denseEigen(Float64Array.of(-3), 1).vectors(1))).toEqual([1]);
    const two = denseEigen(Float64Array.of(2, 1, 1, 2), 2);
    expect(two.values[0]).toBeCloseTo(3, 14);
    expect(two.values[1]).toBeCloseTo(1, 14);
    const v = two.vectors(1);
    expect(Math.abs(v[0]!)).toBeCloseTo(Math.SQRT1_2, 14);
    expect(v[0]! * v[1]!).toBeGreaterThan(0);
    const zero = denseEigen(new Float64Array(9), 3);
    expect(Array.from(zero.values)).toEqual([0, 0, 0]);
    const { orthogonality } = eigenQuality(new Float64Array(9), 3, zero.values, zero.vectors(3), 3);
    expect(orthogonality).toBeLessThan(1e-12);
  });

  it('fills the solver in place: the matrix view is the WebAssembly memory, solved once', () => {
    const n = 30;
    const a = withSpectrum(
      Array.from({ length: n }, (_, j) => n - j),
      11,
    );
    const solver = new DenseSymmetricSolver(n);
    solver.matrix.set(a);
    const { values } = solver.solve();
    for (let i = 0; i < n; i++) expect(values[i]).toBeCloseTo(n - i, 11);
  });

  it('shares the reduction and the back-transformation with a worker thread (Node, threads: 2): the same eigenpairs as one thread', () => {
    const n = 520;
    const known = Array.from({ length: n }, (_, j) => (j + 1) ** -1.6);
    const a = withSpectrum(known, 5);
    const runs = [2, 1].map((threads) => {
      const solver = new DenseSymmetricSolver(n, { threads });
      const started = solver.threads;
      solver.matrix.set(a);
      const result = solver.solve();
      // The workers wait for the back-transformation (31 columns: an odd count, split at an even column), then stop.
      const waiting = solver.threads;
      const vectors = result.vectors(31);
      return { threads: [started, waiting, solver.threads], values: result.values, vectors };
    });
    // Below THREADS_FROM rows the default is one thread.
    expect(new DenseSymmetricSolver(THREADS_FROM - 1).threads).toBe(1);
    expect(runs.map((run) => run.threads)).toEqual([
      [2, 2, 1],
      [1, 1, 1],
    ]);
    const expected = [...known].sort((x, y) => y - x);
    for (const run of runs) {
      for (let i = 0; i < n; i++) expect(Math.abs(run.values[i]! - expected[i]!)).toBeLessThanOrEqual(1e-13 * n);
      const { residual, orthogonality } = eigenQuality(a, n, run.values, run.vectors, 31);
      expect(residual).toBeLessThanOrEqual(1e-13 * n);
      expect(orthogonality).toBeLessThan(1e-10);
    }
    // Only the order of the sums into y differs between the two.
    for (let i = 0; i < n; i++) expect(Math.abs(runs[0]!.values[i]! - runs[1]!.values[i]!)).toBeLessThanOrEqual(1e-14 * n);
  });

  it('release() stops the worker threads when no eigenvectors are asked for', () => {
    const n = 520;
    const solver = new DenseSymmetricSolver(n, { threads: 2 });
    solver.matrix.set(withSpectrum(Array.from({ length: n }, (_, j) => 1 / (j + 1)), 9));
    const result = solver.solve();
    expect(solver.threads).toBe(2);
    result.release();
    expect(solver.threads).toBe(1);
    // The vectors are still there, from this thread alone.
    expect(result.vectors(3).length).toBe(n * 3);
  });

  it('inverse iteration returns orthogonal vectors for equal eigenvalues (the identity; a triple eigenvalue in a random basis)', () => {
    const identity = Float64Array.from({ length: 16 }, (_, i) => (i % 5 === 0 ? 1 : 0));
    for (const [n, a] of [
      [4, identity],
      [6, withSpectrum([2, 2, 2, 1, 1, 0.5], 3)],
    ] as const) {
      const solver = new DenseSymmetricSolver(n);
      solver.matrix.set(a);
      const result = solver.solve(undefined, { kind: 'count', count: n });
      const { residual, orthogonality } = eigenQuality(a, n, result.values, result.vectors(n), n);
      expect(orthogonality).toBeLessThan(1e-12);
      expect(residual).toBeLessThan(1e-12);
    }
  });

  it('ships the WebAssembly compiled from assembly/kernels.ts (scripts/build-wasm.mjs --check)', () => {
    const script = fileURLToPath(new URL('../scripts/build-wasm.mjs', import.meta.url));
    const result = spawnSync(process.execPath, [script, '--check'], { encoding: 'utf8' });
    expect(result.stdout + result.stderr).toContain('matches');
    expect(result.status).toBe(0);
  }, 60_000);
});
