import { mkdtempSync } from 'node:fs';
import Module from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadOnnxruntime } from './load-onnxruntime';
import { type MatrixProductRequest, onnxMatrixProducts } from './matrix-products';
import { DfmError } from '@dfm/errors';

const available = typeof (await loadOnnxruntime({ onnxruntimePackage: 'onnxruntime-node' })) !== 'string';
if (!available) process.stdout.write('[onnxruntime] SKIPPED onnxMatrixProducts: onnxruntime-node is not installed\n');

/** Seeded uniforms in [−1, 1) (a 32-bit hash of a counter). */
function randomValues(count: number, seed: number): Float64Array {
  return Float64Array.from({ length: count }, (_, i) => {
    let x = (seed + Math.imul(i, 0x9e3779b9)) >>> 0;
    x = Math.imul(x ^ (x >>> 16), 0x7feb352d) >>> 0;
    x = Math.imul(x ^ (x >>> 15), 0x846ca68b) >>> 0;
    return (((x ^ (x >>> 16)) >>> 0) / 4294967296) * 2 - 1;
  });
}

/** The transpose of `[rows, cols]` row-major `x`. */
function transposed(x: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = x[i * cols + j]!;
  return out;
}

/**
 * The float64 JavaScript triple loop `A · B` for logical `A` `[m, k]`, `B` `[k, n]`, and per entry
 * `Σ_p |A_ip B_pj|`, the scale a product's rounding error is relative to (error bounds are k·ε times it).
 */
function reference(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number): { product: Float64Array; scale: Float64Array } {
  const product = new Float64Array(m * n);
  const scale = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      let magnitude = 0;
      for (let p = 0; p < k; p++) {
        const term = a[i * k + p]! * b[p * n + j]!;
        sum += term;
        magnitude += Math.abs(term);
      }
      product[i * n + j] = sum;
      scale[i * n + j] = magnitude;
    }
  }
  return { product, scale };
}

/** `max_ij |got − expected| / Σ_p |a_ip b_pj|`. */
function scaledError(got: ArrayLike<number>, expected: ArrayLike<number>, scale: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(got[i]! - expected[i]!) / scale[i]!);
  return worst;
}

/** `x` stored at an offset inside a larger array of `type`, as a `subarray` view. */
function view(x: Float64Array, type: 'float32' | 'float64', offset: number): Float32Array | Float64Array {
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

describe.skipIf(!available)('onnxMatrixProducts (onnxruntime-node, 1 thread)', () => {
  // One instance for the file: its sessions (one per precision and transpose pair) are made when it is created.
  const products = available ? onnxMatrixProducts({ threads: 1 }) : Promise.reject(new Error('unavailable'));
  products.catch(() => {});
  afterAll(async () => (await products).release());

  it('names onnxruntime-node, its version and the thread count', async () => {
    const p = await products;
    expect(p.threads).toBe(1);
    expect(p.name).toMatch(/^onnxruntime-node \d+\.\d+\.\d+ \(1 thread\)$/);
  });

  // [m, k, n]: a 1×1×1 product, vectors, and shapes past the BLAS kernels' blocking (k = 300).
  const SHAPES = [
    [1, 1, 1],
    [1, 17, 1],
    [7, 5, 1],
    [37, 300, 29],
  ] as const;

  // float64: the error bound of a float64 dot product is k·2⁻⁵³ × Σ|a||b| (3.3e-14 at k = 300).
  describe.each(SHAPES)('[%i × %i] · [· × %i]', (m, k, n) => {
    const a = randomValues(m * k, 1 + m);
    const b = randomValues(k * n, 2 + n);
    const a32 = Float64Array.from(Float32Array.from(a)); // the float32 inputs' values, exactly
    const b32 = Float64Array.from(Float32Array.from(b));
    const exact = reference(a, b, m, k, n);
    const exact32 = reference(a32, b32, m, k, n);
    const pairs = [false, true].flatMap((transposeA) => [false, true].map((transposeB) => ({ transposeA, transposeB })));
    const request = (x: Float64Array, y: Float64Array, type: 'float32' | 'float64', flags: { transposeA: boolean; transposeB: boolean }) => ({
      a: view(flags.transposeA ? transposed(x, m, k) : x, type, 3),
      b: view(flags.transposeB ? transposed(y, k, n) : y, type, 5),
      ...{ m, k, n, ...flags },
    });

    it.each(pairs)('float64 of Float64Array inputs (views), transposeA %s / transposeB %s: within 1e-12 × Σ|a||b| of float64 JavaScript', async (flags) => {
      const p = await products;
      const input = request(a, b, 'float64', flags);
      const copies = [input.a.slice(), input.b.slice()];
      const result = await p.matMul({ ...input, precision: 'float64' });
      expect(result).toBeInstanceOf(Float64Array);
      expect(result.length).toBe(m * n);
      expect(scaledError(result, exact.product, exact.scale)).toBeLessThan(1e-12);
      expect([input.a, input.b]).toEqual(copies); // inputs untouched
      expect(result.buffer).not.toBe(input.a.buffer);
    });

    it.each(pairs)('float64 of Float32Array inputs (widened), transposeA %s / transposeB %s: within 1e-12 × Σ|a||b| of float64 JavaScript', async (flags) => {
      const p = await products;
      const result = await p.matMul({ ...request(a32, b32, 'float32', flags), precision: 'float64' });
      expect(result).toBeInstanceOf(Float64Array);
      expect(scaledError(result, exact32.product, exact32.scale)).toBeLessThan(1e-12);
    });

    it.each(pairs)('float32 of Float32Array and of Float64Array inputs, transposeA %s / transposeB %s: within 1e-5 × Σ|a||b| of float64 JavaScript', async (flags) => {
      const p = await products;
      for (const type of ['float32', 'float64'] as const) {
        const result = await p.matMul({ ...request(type === 'float32' ? a32 : a, type === 'float32' ? b32 : b, type, flags), precision: 'float32' });
        expect(result).toBeInstanceOf(Float32Array);
        expect(result.length).toBe(m * n);
        expect(scaledError(result, exact.product, exact.scale)).toBeLessThan(1e-5);
      }
    });
  });

  it('returns a new array each call: an earlier result is not overwritten by later products of the same shape', async () => {
    const p = await products;
    for (const precision of ['float32', 'float64'] as const) {
      const ones = new Float64Array(12).fill(1);
      const first = await p.matMul({ a: ones, b: ones, m: 3, k: 4, n: 3, transposeA: false, transposeB: true, precision });
      const before = Array.from(first);
      const twos = new Float64Array(12).fill(2);
      const second = await p.matMul({ a: twos, b: twos, m: 3, k: 4, n: 3, transposeA: false, transposeB: true, precision });
      expect(Array.from(first)).toEqual(before);
      expect(before).toEqual(new Array(9).fill(4));
      expect(Array.from(second)).toEqual(new Array(9).fill(16));
    }
  });

  it('runs concurrent requests of every pair and precision correctly (sessions made once, shared)', async () => {
    const p = await products;
    const [m, k, n] = [6, 9, 4];
    const a = randomValues(m * k, 40);
    const b = randomValues(k * n, 41);
    const { product, scale } = reference(a, b, m, k, n);
    const requests: MatrixProductRequest[] = [];
    for (let repeat = 0; repeat < 3; repeat++) {
      for (const precision of ['float32', 'float64'] as const) {
        for (const transposeA of [false, true]) {
          for (const transposeB of [false, true]) {
            requests.push({ a: transposeA ? transposed(a, m, k) : a, b: transposeB ? transposed(b, k, n) : b, m, k, n, transposeA, transposeB, precision });
          }
        }
      }
    }
    const results = await Promise.all(requests.map((request) => p.matMul(request)));
    for (const [i, result] of results.entries()) {
      expect(scaledError(result, product, scale)).toBeLessThan(requests[i]!.precision === 'float64' ? 1e-12 : 1e-5);
    }
  });

  it.each([
    ['m = 0', { m: 0 }, /matMul\(\): m must be a positive integer — got 0\./],
    ['k = 1.5', { k: 1.5 }, /matMul\(\): k must be a positive integer — got 1\.5\./],
    ['n = −1', { n: -1 }, /matMul\(\): n must be a positive integer — got -1\./],
    ["precision 'float16'", { precision: 'float16' }, /matMul\(\): precision must be 'float32' or 'float64' — got "float16"\./],
    ['a of the wrong length', { a: new Float64Array(5) }, /matMul\(\): a must be a Float32Array or Float64Array of 6 values — got \[object Float64Array\] of 5\./],
    ['b a plain array', { b: [1, 2, 3, 4, 5, 6] }, /matMul\(\): b must be a Float32Array or Float64Array of 6 values — got \[object Array\]\./],
    ['b an Int32Array', { b: new Int32Array(6) }, /matMul\(\): b must be a Float32Array or Float64Array of 6 values — got \[object Int32Array\] of 6\./],
  ])('refuses %s with E_INVALID_ARGUMENT, naming the products', async (_, change, message) => {
    const p = await products;
    const valid = { a: new Float64Array(6), b: new Float64Array(6), m: 2, k: 3, n: 2, transposeA: false, transposeB: false, precision: 'float64' };
    const error = await caught(() => p.matMul({ ...valid, ...change } as MatrixProductRequest));
    expect(error).toBeInstanceOf(DfmError);
    expect(error).toMatchObject({ code: 'E_INVALID_ARGUMENT' });
    expect((error as Error).message).toMatch(/^onnxruntime-node \S+ \(1 thread\): matMul\(\): /);
    expect((error as Error).message).toMatch(message);
  });

  it.each([0, -2, 1.5, Number.NaN])('refuses threads: %s with E_INVALID_ARGUMENT', async (threads) => {
    const error = await caught(() => onnxMatrixProducts({ threads }));
    expect(error).toMatchObject({ code: 'E_INVALID_ARGUMENT' });
    expect((error as Error).message).toMatch(/^onnxMatrixProducts\(\): threads must be a positive integer — got /);
  });

  it('release() frees the sessions; later products make them again and stay correct; release twice is safe', async () => {
    const p = await onnxMatrixProducts({ threads: 1 });
    const a = randomValues(20, 50);
    const b = randomValues(20, 51);
    const { product, scale } = reference(a, b, 4, 5, 4);
    const run = () => p.matMul({ a, b, m: 4, k: 5, n: 4, transposeA: false, transposeB: false, precision: 'float64' });
    expect(scaledError(await run(), product, scale)).toBeLessThan(1e-12);
    await p.release();
    expect(scaledError(await run(), product, scale)).toBeLessThan(1e-12);
    await p.release();
    await p.release();
    expect(scaledError(await run(), product, scale)).toBeLessThan(1e-12);
    await p.release();
  });
});

/** Runs `body` with NODE_PATH cleared (as onnx-runtime.test.ts does): a NODE_PATH could still find onnxruntime-node. */
async function withoutNodePath<T>(body: () => Promise<T>): Promise<T> {
  const internal = Module as unknown as { _initPaths(): void };
  const saved = process.env.NODE_PATH;
  delete process.env.NODE_PATH;
  internal._initPaths();
  try {
    return await body();
  } finally {
    if (saved !== undefined) process.env.NODE_PATH = saved;
    internal._initPaths();
  }
}

describe('onnxMatrixProducts without onnxruntime-node', () => {
  it('fails with E_RUNTIME_UNAVAILABLE naming the package and the fix when onnxruntime-node cannot be resolved', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'dfm-no-ort-'));
    const error = await caught(() => withoutNodePath(() => onnxMatrixProducts({ resolveFrom: empty })));
    expect(error).toBeInstanceOf(DfmError);
    expect(error).toMatchObject({ code: 'E_RUNTIME_UNAVAILABLE' });
    expect((error as Error).message).toMatch(/^onnxMatrixProducts\(\): needs onnxruntime-node — .*\. Install it \(npm i onnxruntime-node\) or omit the products option/);
  });
});
