/** Shared test helpers: backends, fixtures and float64 matrix checks. */
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import type { Matrix64 } from '../src/matrix64';

/** The backends every tfjs-facing test runs on. */
export const BACKENDS = ['cpu', 'wasm'] as const;

/** Switches tfjs to `name` and waits until it is ready. */
export async function useBackend(name: (typeof BACKENDS)[number]): Promise<void> {
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`could not initialise the ${name} backend`);
  await tf.ready();
}

/** Reads `test/fixtures/<name>` as JSON. */
export function loadFixture<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')) as T;
}

/** Frobenius norm of a matrix. */
export function frobenius(m: Matrix64): number {
  let sum = 0;
  for (const value of m.data) sum += value * value;
  return Math.sqrt(sum);
}

/** max |(MᵀM − I)_ij| for the columns of `m`. */
export function orthonormalityError(m: Matrix64): number {
  const { rows, cols, data } = m;
  let worst = 0;
  for (let i = 0; i < cols; i++) {
    for (let j = i; j < cols; j++) {
      let sum = 0;
      for (let r = 0; r < rows; r++) sum += data[r * cols + i]! * data[r * cols + j]!;
      worst = Math.max(worst, Math.abs(sum - (i === j ? 1 : 0)));
    }
  }
  return worst;
}

/** ‖A − U diag(s) Vᵀ‖_F. */
export function reconstructionError(a: Matrix64, u: Matrix64, s: Float64Array, v: Matrix64): number {
  let sum = 0;
  for (let i = 0; i < a.rows; i++) {
    for (let j = 0; j < a.cols; j++) {
      let value = 0;
      for (let c = 0; c < s.length; c++) value += u.data[i * u.cols + c]! * s[c]! * v.data[j * v.cols + c]!;
      const diff = a.data[i * a.cols + j]! - value;
      sum += diff * diff;
    }
  }
  return Math.sqrt(sum);
}

/** Largest `|a_i − b_i|` over the arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

/** Largest `|a_i − b_i| / |b_i|`. */
export function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / Math.abs(b[i]!));
  return worst;
}

/** A seeded uniform generator (mulberry-style 32-bit hash of a counter) for test data. */
export function seededRandom(seed: number): () => number {
  let counter = 0;
  return () => {
    let x = (seed + Math.imul(counter++, 0x9e3779b9)) >>> 0;
    x = Math.imul(x ^ (x >>> 16), 0x7feb352d) >>> 0;
    x = Math.imul(x ^ (x >>> 15), 0x846ca68b) >>> 0;
    return ((x ^ (x >>> 16)) >>> 0) / 4294967296;
  };
}

/** `[rows, cols]` float32 data with a decaying spectrum (rank `rank`) plus a little noise. */
export function lowRankData(rows: number, cols: number, rank: number, seed = 1): Float32Array {
  const random = seededRandom(seed);
  const normal = () => random() + random() + random() - 1.5;
  const left = Array.from({ length: rows * rank }, normal);
  const right = Array.from({ length: rank * cols }, normal);
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      let value = 2;
      for (let t = 0; t < rank; t++) value += left[i * rank + t]! * right[t * cols + j]! * 0.7 ** t;
      out[i * cols + j] = value + 0.01 * normal();
    }
  }
  return out;
}

/**
 * The solving reports of a PCA fit's progress after its first `{ phase: 'solving' }`: iterations (the subspace
 * iteration), or rising fractions of the dense solver's reduction ending at 1.
 */
export function expectSolvingReports(reports: { phase: string; fraction?: number; iteration?: number }[], firstSolving: number, solving: 'iteration' | 'fraction'): void {
  if (solving === 'iteration') {
    expect(reports.some((r) => r.iteration === 1)).toBe(true);
    return;
  }
  const shares = reports.slice(firstSolving + 1).map((r) => r.fraction!);
  expect(shares.length).toBeGreaterThan(5);
  expect(shares.at(-1)).toBe(1);
  for (let i = 1; i < shares.length; i++) expect(shares[i]!).toBeGreaterThan(shares[i - 1]!);
}
