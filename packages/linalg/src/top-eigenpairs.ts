import * as tf from '@tensorflow/tfjs-core';
import { eighSymmetricInPlace } from './eigh';

/**
 * The leading eigenpairs of a large symmetric positive semi-definite matrix (internal; PCA's solver for the
 * D×D scatter and the N×N Gram matrix, see `pca-solver.ts`).
 *
 * Algorithm: randomized subspace iteration with a Rayleigh–Ritz step per cycle (Halko, Martinsson and Tropp
 * 2011, §4.5; Saad, *Numerical Methods for Large Eigenvalue Problems*, §5.2), built so that the O(n²·b) work
 * is float32 `tf.matMul` on the active tfjs backend (wasm: XNNPACK SIMD) and only O(n·b + b³) work runs in
 * float64 JavaScript. A full eigendecomposition costs ~(8/3)n³ of mostly matrix–vector work, which plain
 * JavaScript runs 30–60× slower than LAPACK; the PCA needs only the k components that reach the variance
 * ratio (typically 100–400 of 4096 or 16384), and subspace iteration spends nearly all its time in products.
 *
 * 1. The matrix, divided by a power of two (exact) so float32 holds it, is uploaded once as float32 row
 *    blocks (`[≤ 2048, n]` tensors: no single huge allocation, and the float64 source is never copied whole).
 * 2. A block Q `[n, b]` with orthonormal columns starts from a seeded Gaussian draw (reproducible).
 * 3. Each cycle: W = A Q (backend), T = Qᵀ W `[b, b]` (backend, read into float64 and symmetrised),
 *    T = Y Θ Yᵀ by the float64 QL solver ({@link eighSymmetricInPlace}); the Ritz values Θ estimate the
 *    top eigenvalues from below, U = Q Y the eigenvectors, and ‖A uᵢ − θᵢ uᵢ‖ = ‖(W Y)ᵢ − θᵢ uᵢ‖ their error.
 *    The next block is A (W Y Θ⁻¹) Θ⁻¹ — two products per cycle, so each Rayleigh–Ritz step sees the
 *    convergence factor (λ_{b+1}/λᵢ)² — made orthonormal by CholeskyQR2 (R from the float64 Cholesky factor
 *    of the backend's XᵀX, X ← X R⁻¹, twice; once when the columns are already orthogonal to 1e-3), or by
 *    float64 Householder QR when XᵀX is numerically singular (a matrix of rank below b).
 * 4. The rule says how many pairs are needed: a count k, or, for a variance ratio, the smallest k whose
 *    Ritz values sum to more than `level × trace` with the EXACT trace (passed in, computed in float64 from
 *    the matrix): sklearn's rule, which reads only the leading eigenvalues and the total. The block keeps
 *    `p = max(16, ⌈k/2⌉)` columns beyond k (oversampling); when k + p exceeds b the block grows to k + p
 *    once the captured variance Σθ has settled (the current Ritz vectors are kept, random columns added).
 * 5. Stop when every needed pair's residual is below max(1e-7, 2⁻²⁵·√n) × θ₁ (the second term: where float32
 *    products stop the residual from shrinking), or when the residuals, below 1e-5 × θ₁, shrink by less than
 *    20% in a cycle (stalled at the float32 floor), or after {@link MAX_ITERATIONS} cycles. A Ritz value's
 *    error is then about residual² / gap: far below what decides k.
 *
 * Returns `null` — the caller then uses the full solver — when the block would have to exceed `maxBlock`
 * (a full eigendecomposition is cheaper than a subspace iteration over most of the space).
 */

/** How many eigenpairs are needed: exactly `count`, or enough for a cumulative share of the trace above `level`. */
export type TopEigenRule = { kind: 'count'; count: number } | { kind: 'ratio'; level: number };

/** Writes rows `[i0, i1)` of the symmetric `[n, n]` matrix, divided by `scale`, into `out` (row-major, float32). */
export type RowWriter = (i0: number, i1: number, scale: number, out: Float32Array) => void;

export type TopEigenOptions = {
  rule: TopEigenRule;
  /** The matrix's trace in float64 (the sum of all its eigenvalues). */
  trace: number;
  /** The largest diagonal entry (for the power-of-two scaling). */
  largestDiagonal: number;
  /** Above this block size the iteration gives up and returns `null`. */
  maxBlock: number;
  /** Called after each iteration with the iteration number (from 1) and the block size. */
  onIteration?: (iteration: number, block: number) => void;
};

export type TopEigenResult = {
  /** `[b]` Ritz values, descending (the first `needed` are the converged ones). */
  values: Float64Array;
  /** `[n, b]` row-major float64 Ritz vectors (unit columns). */
  vectors: Float64Array;
  /** b, the number of columns of `vectors`. */
  block: number;
  /** How many pairs the rule needs (k). */
  needed: number;
  iterations: number;
};

/** Cycle cap; the pairs reached by then are returned (accurate to about their residual). */
export const MAX_ITERATIONS = 60;
const ROW_BLOCK = 2048;
/**
 * Converged: every needed pair's residual ‖A uᵢ − θᵢ uᵢ‖ ≤ max(this, RESIDUAL_FLOOR·√n) × θ₁. The second term
 * is where float32 products stop the residuals measured here (about 0.2·√n·2⁻²⁴: 1.2e-7 at n = 256, 8e-7 at 4000).
 */
const RESIDUAL_TOLERANCE = 1e-7;
const RESIDUAL_FLOOR = 0.25 * 2 ** -24;
/** …or the residuals stalled at the float32 floor: below this × θ₁ and no longer shrinking by 5% per iteration (0.95: the stricter rule, FRE within 1e-4 of numpy). */
const STAGNATION_CEILING = 1e-5;
const STAGNATION_RATIO = 0.95;
const INITIAL_RATIO_BLOCK = 256;
/** Grow the block once the captured variance Σθ changes by less than this share per iteration… */
const SETTLED = 1e-2;
/** …or after this many iterations at one block size. */
const GROW_AFTER_ITERATIONS = 2;

/** See the module description. `n` is the matrix size; `writeRows` supplies the matrix. */
export function topEigenpairs(n: number, writeRows: RowWriter, options: TopEigenOptions): TopEigenResult | null {
  const { rule, trace, largestDiagonal, maxBlock, onIteration } = options;
  const scale = powerOfTwoNear(largestDiagonal);
  const scaledTrace = trace / scale;
  const blocks: tf.Tensor2D[] = [];
  try {
    for (let i0 = 0; i0 < n; i0 += ROW_BLOCK) {
      const i1 = Math.min(n, i0 + ROW_BLOCK);
      const buffer = new Float32Array((i1 - i0) * n);
      writeRows(i0, i1, scale, buffer);
      blocks.push(tf.tensor2d(buffer, [i1 - i0, n]));
    }
    const multiply = (q: tf.Tensor2D): tf.Tensor2D =>
      tf.tidy(() => (blocks.length === 1 ? tf.matMul(blocks[0]!, q) : tf.concat(blocks.map((block) => tf.matMul(block, q)), 0)) as tf.Tensor2D);
    const result = iterate(n, multiply, rule, scaledTrace, maxBlock, onIteration);
    if (result === null) return null;
    for (let i = 0; i < result.values.length; i++) result.values[i] = result.values[i]! * scale;
    return result;
  } finally {
    tf.dispose(blocks);
  }
}

function iterate(
  n: number,
  multiply: (q: tf.Tensor2D) => tf.Tensor2D,
  rule: TopEigenRule,
  trace: number,
  maxBlock: number,
  onIteration: ((iteration: number, block: number) => void) | undefined,
): TopEigenResult | null {
  const random = gaussianSource(0x5eed);
  let block = Math.min(n, rule.kind === 'count' ? rule.count + oversampling(rule.count) : Math.min(INITIAL_RATIO_BLOCK, maxBlock));
  if (block > maxBlock) return null;
  let q = orthonormalise(tf.tensor2d(randomColumns(random, n, block), [n, block]), n, block);
  let previousResidual: number | null = null;
  let previousCaptured: number | null = null;
  let atThisBlock = 0;
  try {
    for (let iteration = 1; ; iteration++) {
      const w = multiply(q);
      const t = readSymmetric(tf.tidy(() => tf.matMul(transposed(q), w) as tf.Tensor2D), block);
      const { values: theta, vectors: y } = eighSymmetricInPlace(t, block);
      const needed = neededPairs(rule, theta, trace);
      onIteration?.(iteration, block);
      const yTensor = tf.tensor2d(Float32Array.from(y.data), [block, block]);
      let captured = 0;
      for (let i = 0; i < block; i++) captured += Math.max(0, theta[i]!);
      // The Ritz values grow towards the eigenvalues, so `needed` only shrinks: grow the block only once the
      // captured variance has settled (or after a few iterations), not on the first rough estimate.
      const settled = atThisBlock >= GROW_AFTER_ITERATIONS || (previousCaptured !== null && captured - previousCaptured <= SETTLED * captured);
      previousCaptured = captured;
      atThisBlock++;
      if (needed + oversampling(needed) > block && block < n && settled) {
        // Grow: keep the current Ritz vectors, add random columns.
        const grown = Math.min(n, Number.isFinite(needed) ? needed + oversampling(needed) : 2 * block);
        if (grown > maxBlock) {
          tf.dispose([w, yTensor]);
          return null;
        }
        const next = tf.tidy(() =>
          tf.concat([tf.matMul(q, yTensor), tf.tensor2d(randomColumns(random, n, grown - block), [n, grown - block])], 1),
        ) as tf.Tensor2D;
        tf.dispose([w, yTensor, q]);
        q = orthonormalise(next, n, grown);
        block = grown;
        previousResidual = null;
        previousCaptured = null;
        atThisBlock = 0;
        continue;
      }
      const kept = Math.min(needed, block - 1);
      const ritz = tf.tidy(() => tf.matMul(q, yTensor) as tf.Tensor2D);
      const image = tf.tidy(() => tf.matMul(w, yTensor) as tf.Tensor2D);
      tf.dispose([w, yTensor]);
      const residual = residualNorms(ritz, image, theta, n, block, kept);
      const top = Math.max(theta[0]!, Number.MIN_VALUE);
      let largestResidual = 0;
      for (let i = 0; i < kept; i++) largestResidual = Math.max(largestResidual, residual[i]! / top);
      const converged =
        largestResidual <= Math.max(RESIDUAL_TOLERANCE, RESIDUAL_FLOOR * Math.sqrt(n)) ||
        (previousResidual !== null && largestResidual <= STAGNATION_CEILING && largestResidual > STAGNATION_RATIO * previousResidual);
      if (converged || iteration >= MAX_ITERATIONS) {
        image.dispose();
        const vectors = Float64Array.from(ritz.dataSync());
        ritz.dispose();
        return { values: theta, vectors, block, needed: kept, iterations: iteration };
      }
      ritz.dispose();
      previousResidual = largestResidual;
      // Next block: A U Θ⁻¹ (columns of comparable norm; floors keep near-zero Ritz values from blowing up).
      const floor = top * 1e-6;
      const inverse = Float32Array.from(theta, (value) => 1 / Math.max(value, floor));
      const scaling = tf.tensor1d(inverse);
      // One more product before the next Rayleigh–Ritz step: A² per cycle squares the convergence factor
      // for the cost of one product, and halves the number of (JavaScript) eigen solves and orthonormalisations.
      const next = tf.tidy(() => tf.mul(multiply(tf.mul(image, scaling) as tf.Tensor2D), scaling) as tf.Tensor2D);
      tf.dispose([image, scaling]);
      tf.dispose(q);
      q = orthonormalise(next, n, block);
    }
  } finally {
    q.dispose();
  }
}

/** Pairs needed by the rule given the current Ritz values (Infinity when the block cannot reach the level yet). */
function neededPairs(rule: TopEigenRule, theta: Float64Array, trace: number): number {
  if (rule.kind === 'count') return rule.count;
  let cumulative = 0;
  for (let j = 0; j < theta.length; j++) {
    cumulative += Math.max(0, theta[j]!) / trace;
    if (cumulative > rule.level) return j + 1;
  }
  return Number.POSITIVE_INFINITY;
}

function oversampling(k: number): number {
  return Number.isFinite(k) ? Math.max(16, Math.ceil(k / 2)) : 0;
}

/** ‖A uᵢ − θᵢ uᵢ‖ for the first `count` columns (float64 from the float32 products). */
function residualNorms(ritz: tf.Tensor2D, image: tf.Tensor2D, theta: Float64Array, n: number, block: number, count: number): Float64Array {
  const u = ritz.dataSync();
  const au = image.dataSync();
  const norms = new Float64Array(count);
  for (let i = 0; i < n; i++) {
    const offset = i * block;
    for (let j = 0; j < count; j++) {
      const r = au[offset + j]! - theta[j]! * u[offset + j]!;
      norms[j]! += r * r;
    }
  }
  for (let j = 0; j < count; j++) norms[j] = Math.sqrt(norms[j]!);
  return norms;
}

/**
 * Orthonormal columns spanning those of `x` `[n, b]` (consumed): CholeskyQR2 — R from the Cholesky factor of
 * XᵀX (formed on the backend, factored in float64), X ← X R⁻¹, twice (once when the columns are already
 * orthogonal to 1e-3). When XᵀX is not numerically positive definite (dependent columns: the matrix has rank
 * below b), Householder QR in float64 instead, whose Q is orthonormal whatever the rank.
 */
function orthonormalise(x: tf.Tensor2D, n: number, b: number): tf.Tensor2D {
  let current = x;
  let passes = 2;
  for (let pass = 0; pass < passes; pass++) {
    const gram = readSymmetric(tf.tidy(() => tf.matMul(transposed(current), current) as tf.Tensor2D), b);
    // Columns already orthogonal to 1e-3 (cosines): one Cholesky QR leaves an error ~ 2⁻²⁴ · cond², enough.
    if (pass === 0 && largestCosine(gram, b) <= 1e-3) passes = 1;
    const inverse = inverseCholeskyFactor(gram, b);
    if (inverse === null) {
      const q = householderQ(current.dataSync(), n, b);
      current.dispose();
      return tf.tensor2d(q, [n, b]);
    }
    const next = tf.tidy(() => tf.matMul(current, tf.tensor2d(inverse, [b, b])) as tf.Tensor2D);
    current.dispose();
    current = next;
  }
  return current;
}

/**
 * The thin Q `[n, b]` (float32) of the Householder QR of `x` `[n, b]` row-major, computed in float64:
 * orthonormal columns whose first j span the first j of x whenever those are independent.
 */
function householderQ(x: ArrayLike<number>, n: number, b: number): Float32Array {
  // Work column-major: column j of a is a[j * n …].
  const a = new Float64Array(n * b);
  for (let i = 0; i < n; i++) for (let j = 0; j < b; j++) a[j * n + i] = x[i * b + j]!;
  const betas = new Float64Array(b);
  for (let j = 0; j < b; j++) {
    const column = j * n;
    let norm = 0;
    for (let i = j; i < n; i++) norm += a[column + i]! ** 2;
    norm = Math.sqrt(norm);
    if (norm === 0) continue;
    const alpha = a[column + j]! >= 0 ? -norm : norm;
    a[column + j] = a[column + j]! - alpha;
    let vNorm = 0;
    for (let i = j; i < n; i++) vNorm += a[column + i]! ** 2;
    const beta = 2 / vNorm;
    betas[j] = beta;
    for (let c = j + 1; c < b; c++) {
      const other = c * n;
      let dot = 0;
      for (let i = j; i < n; i++) dot += a[column + i]! * a[other + i]!;
      const factor = beta * dot;
      for (let i = j; i < n; i++) a[other + i] = a[other + i]! - factor * a[column + i]!;
    }
  }
  // Q = H₀ … H_{b−1} applied to the first b columns of the identity, from the last reflector back.
  const q = new Float64Array(n * b);
  for (let j = 0; j < b; j++) q[j * n + j] = 1;
  for (let j = b - 1; j >= 0; j--) {
    const beta = betas[j]!;
    if (beta === 0) continue;
    const column = j * n;
    for (let c = j; c < b; c++) {
      const target = c * n;
      let dot = 0;
      for (let i = j; i < n; i++) dot += a[column + i]! * q[target + i]!;
      const factor = beta * dot;
      for (let i = j; i < n; i++) q[target + i] = q[target + i]! - factor * a[column + i]!;
    }
  }
  const out = new Float32Array(n * b);
  for (let i = 0; i < n; i++) for (let j = 0; j < b; j++) out[i * b + j] = q[j * n + i]!;
  return out;
}

/** The largest |Gᵢⱼ| / √(Gᵢᵢ Gⱼⱼ), i ≠ j: how far from orthogonal the columns are. */
function largestCosine(gram: Float64Array, b: number): number {
  let largest = 0;
  for (let i = 0; i < b; i++) {
    for (let j = 0; j < i; j++) {
      largest = Math.max(largest, Math.abs(gram[i * b + j]!) / Math.sqrt(gram[i * b + i]! * gram[j * b + j]!));
    }
  }
  return largest;
}

/**
 * `xᵀ` as a new tensor, transposed in JavaScript: on the wasm backend `tf.transpose` of a tall `[n, b]` block
 * takes longer than the product it feeds (and a transposed matMul is slower still).
 */
function transposed(x: tf.Tensor2D): tf.Tensor2D {
  const [rows, cols] = x.shape;
  const values = x.dataSync();
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const offset = i * cols;
    for (let j = 0; j < cols; j++) out[j * rows + i] = values[offset + j]!;
  }
  return tf.tensor2d(out, [cols, rows]);
}

/**
 * R⁻¹ (upper triangular, float32) with RᵀR = G, or null when G is not numerically positive definite
 * (a pivot below 1e-8 of the largest diagonal: a condition number above 1e4, too much for float32 CholeskyQR2).
 */
function inverseCholeskyFactor(gram: Float64Array, b: number): Float32Array | null {
  let largest = 0;
  for (let i = 0; i < b; i++) largest = Math.max(largest, gram[i * b + i]!);
  const r = new Float64Array(b * b);
  for (let j = 0; j < b; j++) {
    for (let i = 0; i <= j; i++) {
      let sum = gram[i * b + j]!;
      for (let p = 0; p < i; p++) sum -= r[p * b + i]! * r[p * b + j]!;
      if (i === j) {
        if (!(sum > 1e-8 * largest)) return null;
        r[i * b + i] = Math.sqrt(sum);
      } else {
        r[i * b + j] = sum / r[i * b + i]!;
      }
    }
  }
  const inverse = new Float64Array(b * b);
  for (let j = 0; j < b; j++) {
    inverse[j * b + j] = 1 / r[j * b + j]!;
    for (let i = j - 1; i >= 0; i--) {
      let sum = 0;
      for (let p = i + 1; p <= j; p++) sum += r[i * b + p]! * inverse[p * b + j]!;
      inverse[i * b + j] = -sum / r[i * b + i]!;
    }
  }
  const out = Float32Array.from(inverse);
  for (const value of out) if (!Number.isFinite(value)) return null;
  return out;
}

/** Reads a `[b, b]` tensor (disposed) into float64, averaging the two triangles. */
function readSymmetric(tensor: tf.Tensor2D, b: number): Float64Array {
  const values = tensor.dataSync();
  tensor.dispose();
  const out = new Float64Array(b * b);
  for (let i = 0; i < b; i++) {
    out[i * b + i] = values[i * b + i]!;
    for (let j = 0; j < i; j++) {
      const average = 0.5 * (values[i * b + j]! + values[j * b + i]!);
      out[i * b + j] = average;
      out[j * b + i] = average;
    }
  }
  return out;
}

/** A power of two near `value` (1 for 0): dividing by it is exact and keeps float32 in range. */
function powerOfTwoNear(value: number): number {
  return value > 0 && Number.isFinite(value) ? 2 ** Math.round(Math.log2(value)) : 1;
}

/** A seeded source of standard normal numbers (xorshift32 + Box–Muller): the same draw every run. */
function gaussianSource(seed: number): () => number {
  let state = seed >>> 0 || 1;
  const uniform = () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return (state + 0.5) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

function randomColumns(random: () => number, n: number, b: number): Float32Array {
  const out = new Float32Array(n * b);
  for (let i = 0; i < out.length; i++) out[i] = random();
  return out;
}
