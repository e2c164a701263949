import * as tf from '@tensorflow/tfjs-core';
import { InvalidArgumentError } from '@dfm/errors';

/**
 * Where PCA's heavy matrix products run.
 *
 * The algorithms (the Gram and scatter products, the subspace iteration, the components) are written once
 * as generators that yield {@link ProductRequest}s and receive the products back; a driver runs them:
 * {@link runSync} on the active tfjs backend (what `PCA.fit`, `PCAStatistics.update` and `toPCA` use), or
 * {@link runAsync} on any {@link MatrixProducts} (`fitAsync`, `updateAsync`, `toPCAAsync` with a
 * `products` option), e.g. `onnxMatrixProducts()` from `@dfm/backbone`, which runs them on onnxruntime-node's
 * multi-threaded BLAS (float32 and float64) — 4–8× the throughput of tfjs-wasm on one thread.
 */

/** The precision a product is asked for. */
export type ProductPrecision = 'float32' | 'float64';

/**
 * `op(a) · op(b)` with `op(x) = xᵀ` when the transpose flag is set; `a` is `[m, k]` row-major (`[k, m]` when
 * `transposeA`), `b` is `[k, n]` (`[n, k]` when `transposeB`). The result is `[m, n]` row-major: a
 * Float32Array for `'float32'`, a Float64Array for `'float64'`. Inputs are never modified and may be
 * views (`subarray`) of larger arrays.
 */
export type ProductRequest = {
  a: Float32Array | Float64Array;
  b: Float32Array | Float64Array;
  m: number;
  k: number;
  n: number;
  transposeA: boolean;
  transposeB: boolean;
  /**
   * `'float32'`: float32 inputs and accumulation. `'float64'`: float64 inputs, accumulated at least as
   * accurately as float32 chunks of 256 summed in float64 (a float64 BLAS is exact to float64).
   */
  precision: ProductPrecision;
  /**
   * Set on a matrix `a` that is multiplied many times (the subspace iteration's): a driver may keep it
   * uploaded between requests, keyed by the array's identity. The caller does not change it meanwhile.
   */
  reuseA?: boolean;
};

/** Runs {@link ProductRequest}s. Implementations return a new array each call (not a view of an input). */
export interface MatrixProducts {
  /** A short name for logs and reports, e.g. `'onnxruntime-node (2 threads)'`. */
  readonly name: string;
  matMul(request: ProductRequest): Promise<Float32Array | Float64Array>;
}

/** A computation that yields products and returns `T` (internal). */
export type ProductWork<T> = Generator<ProductRequest, T, Float32Array | Float64Array>;

/** Runs `work` synchronously, its products on the active tfjs backend (float64 requests: float32 chunks summed in float64). */
export function runSync<T>(work: ProductWork<T>): T {
  const cache = new Map<Float32Array | Float64Array, tf.Tensor2D>();
  try {
    let step = work.next();
    while (!step.done) {
      step = work.next(tfjsProduct(step.value, cache));
    }
    return step.value;
  } finally {
    tf.dispose([...cache.values()]);
  }
}

/** Runs `work` with its products on `products`. */
export async function runAsync<T>(work: ProductWork<T>, products: MatrixProducts): Promise<T> {
  let step = work.next();
  while (!step.done) {
    const request = step.value;
    let result: Float32Array | Float64Array;
    try {
      result = await products.matMul(request);
    } catch (error) {
      work.return(undefined as never);
      throw error;
    }
    const expected = request.m * request.n;
    if (result.length !== expected || !(request.precision === 'float64' ? result instanceof Float64Array : result instanceof Float32Array)) {
      const got = `${result?.constructor?.name ?? typeof result} of ${result?.length}`;
      work.return(undefined as never);
      throw new InvalidArgumentError(
        `${products.name}: matMul must return a ${request.precision === 'float64' ? 'Float64Array' : 'Float32Array'} of ${expected} values ([${request.m}, ${request.n}]) — got ${got}. Fix the MatrixProducts implementation.`,
      );
    }
    step = work.next(result);
  }
  return step.value;
}

/** Checks a `products` option: undefined, or an object with a `matMul` function. */
export function checkProducts(products: unknown, caller: string): MatrixProducts | undefined {
  if (products === undefined) return undefined;
  if (products === null || typeof products !== 'object' || typeof (products as MatrixProducts).matMul !== 'function') {
    throw new InvalidArgumentError(
      `${caller}: products must be a MatrixProducts ({ name, matMul(request) }) such as onnxMatrixProducts() from @dfm/backbone — got ${products === null ? 'null' : typeof products}. Omit it to use the tfjs backend.`,
    );
  }
  return products as MatrixProducts;
}

/** Length of the float32 chunks a float64 request is cut into along k on the tfjs backend. */
const TFJS_FLOAT64_CHUNK = 256;

function tfjsProduct(request: ProductRequest, cache: Map<Float32Array | Float64Array, tf.Tensor2D>): Float32Array | Float64Array {
  const { a, b, m, k, n, transposeA, transposeB, precision } = request;
  if (precision === 'float32' || k <= TFJS_FLOAT64_CHUNK) {
    // Transposes are materialised in JavaScript: on tfjs-wasm a transposed matMul is several times slower.
    const upload = (x: Float32Array | Float64Array, rows: number, cols: number, transpose: boolean, reuse: boolean): tf.Tensor2D => {
      const cached = reuse ? cache.get(x) : undefined;
      if (cached !== undefined) return cached;
      const values = transpose ? transposed32(x, rows, cols) : x instanceof Float32Array ? x : Float32Array.from(x);
      const tensor = transpose ? tf.tensor2d(values, [cols, rows]) : tf.tensor2d(values, [rows, cols]);
      if (reuse) cache.set(x, tensor);
      return tensor;
    };
    const left = upload(a, transposeA ? k : m, transposeA ? m : k, transposeA, request.reuseA === true);
    const right = upload(b, transposeB ? n : k, transposeB ? k : n, transposeB, false);
    const product = tf.matMul(left, right);
    const values = product.dataSync() as Float32Array;
    tf.dispose([product, right]);
    if (request.reuseA !== true) left.dispose();
    return precision === 'float64' ? Float64Array.from(values) : values;
  }
  // float64: chunks of the summed axis, each rounded to float32 and multiplied, summed in float64. (Float32
  // inputs and accumulation: float64 requests are as accurate as the old float32 chunked products here,
  // not float64; a float64 BLAS — onnxMatrixProducts — is.)
  const out = new Float64Array(m * n);
  for (let p0 = 0; p0 < k; p0 += TFJS_FLOAT64_CHUNK) {
    const p1 = Math.min(k, p0 + TFJS_FLOAT64_CHUNK);
    const width = p1 - p0;
    // left [m, width], right [width, n], both row-major float32.
    const left = transposeA ? transposed32(a.subarray(p0 * m, p1 * m), width, m) : columns32(a, m, k, p0, p1);
    const right = transposeB ? transposed32(columns32(b, n, k, p0, p1), n, width) : Float32Array.from(b.subarray(p0 * n, p1 * n));
    const product = tf.tidy(() => tf.matMul(tf.tensor2d(left, [m, width]), tf.tensor2d(right, [width, n])));
    const values = product.dataSync();
    product.dispose();
    for (let i = 0; i < out.length; i++) out[i]! += values[i]!;
  }
  return out;
}

/** The transpose of `[rows, cols]` row-major `x`, as float32 `[cols, rows]`. */
function transposed32(x: Float32Array | Float64Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const offset = i * cols;
    for (let j = 0; j < cols; j++) out[j * rows + i] = x[offset + j]!;
  }
  return out;
}

/** Columns `p0…p1` of `[rows, cols]` row-major `x`, as float32 `[rows, p1 − p0]`. */
function columns32(x: Float32Array | Float64Array, rows: number, cols: number, p0: number, p1: number): Float32Array {
  const width = p1 - p0;
  const out = new Float32Array(rows * width);
  for (let i = 0; i < rows; i++) {
    const offset = i * cols + p0;
    for (let p = 0; p < width; p++) out[i * width + p] = x[offset + p]!;
  }
  return out;
}
