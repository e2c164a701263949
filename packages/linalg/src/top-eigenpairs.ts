import { inverseCholeskyWasm } from './wasm-kernels';
import { eighSymmetricInPlace } from './eigh';
import type { ProductPrecision, ProductRequest, ProductWork } from './products';

/**
 * The leading eigenpairs of a large symmetric positive semi-definite matrix (internal; PCA's solver for the
 * D×D scatter and the N×N Gram matrix, see `pca-solver.ts`).
 *
 * Algorithm: randomized subspace iteration, Chebyshev-filtered, with Rayleigh–Ritz steps (Halko, Martinsson and Tropp
 * 2011, §4.5; Saad, *Numerical Methods for Large Eigenvalue Problems*, §5.2), built so that the O(n²·b) work
 * is float32 products yielded to the driver (the tfjs backend, or a {@link MatrixProducts} such as
 * onnxruntime's BLAS; see `products.ts`) and only O(n·b + b³) work runs in float64 JavaScript. A full eigendecomposition costs ~(8/3)n³ of mostly matrix–vector work, which plain
 * JavaScript runs 30–60× slower than LAPACK; the PCA needs only the k components that reach the variance
 * ratio (typically 100–400 of 4096 or 16384), and subspace iteration spends nearly all its time in products.
 *
 * 1. The matrix, divided by a power of two (exact) so float32 holds it, is written once as a float32 `[n, n]`
 *    array (the driver may keep it uploaded: `reuseA`).
 * 2. A block Q `[n, b]` with orthonormal columns starts from a seeded Gaussian draw (reproducible).
 * 3. Each cycle: W = A Q (backend), T = Qᵀ W `[b, b]` (backend, read into float64 and symmetrised),
 *    T = Y Θ Yᵀ by the float64 QL solver ({@link eighSymmetricInPlace}); the Ritz values Θ estimate the
 *    top eigenvalues from below, U = Q Y the eigenvectors, and ‖A uᵢ − θᵢ uᵢ‖ = ‖(W Y)ᵢ − θᵢ uᵢ‖ their error.
 *    The next block is p(A) U with a degree-2 Chebyshev filter that damps [0, θ_b] (see {@link Filter}; one
 *    more product, as A² would cost, for up to 3× A²'s progress), made orthonormal by CholeskyQR2 (R from the
 *    float64 Cholesky factor of the backend's XᵀX, X ← X R⁻¹; the second pass only when the first left the
 *    columns off orthonormal), in float64 when float32 cannot (cond > 1e4), and by float64 Householder QR when
 *    XᵀX is numerically singular (a matrix of rank below b). Once the block stops growing, the measured
 *    convergence rate decides how many filter steps (at most {@link MAX_SKIP}) run before the next
 *    Rayleigh–Ritz step: the span does not depend on those steps, only the convergence test does.
 * 4. The rule says how many pairs are needed: a count k, or, for a variance ratio, the smallest k whose
 *    Ritz values sum to more than `level × trace` with the EXACT trace (passed in, computed in float64 from
 *    the matrix): sklearn's rule, which reads only the leading eigenvalues and the total. The block keeps at
 *    least max(16, ⌈k/4⌉) columns beyond k; when it holds fewer it grows to k + max(16, ⌈k/2⌉) (or, while
 *    the block cannot reach the level yet, to a lower bound on k from the missing variance, at most twice
 *    the block), keeping the current Ritz vectors and adding random columns.
 * 5. Stop when every needed pair's residual is below max(1e-7, 2⁻²⁵·√n) × θ₁ (the second term: where float32
 *    products stop the residual from shrinking), or when the residuals, below 1e-5 × θ₁, shrink by less than
 *    5% in a cycle (stalled at the float32 floor), or after {@link MAX_ITERATIONS} cycles. A Ritz value's
 *    error is then about residual² / gap: far below what decides k.
 *
 * 6. Precision: all of the above in float32 products (the tfjs backend), or, with `precision: 'float64'` (a
 *    driver with a float64 BLAS: onnxruntime), float32 products until the residuals reach 1e-5 × θ₁ (2.5×
 *    faster there) and float64 ones from then on, which converge to {@link RESIDUAL_TOLERANCE_64} (see
 *    {@link TopEigenOptions.precision}).
 *
 * Returns `null` — the caller then uses the full solver — when the block would have to exceed `maxBlock`
 * (a full eigendecomposition is cheaper than a subspace iteration over most of the space).
 */

/** How many eigenpairs are needed: exactly `count`, or enough for a cumulative share of the trace above `level`. */
export type TopEigenRule = { kind: 'count'; count: number } | { kind: 'ratio'; level: number };

/**
 * Writes rows `[i0, i1)` of the symmetric `[n, n]` matrix, divided by `scale`, into `out` (row-major; float32
 * for the iteration, float64 for the final step). A generator: it may yield products (pending rows).
 */
export type RowWriter = (i0: number, i1: number, scale: number, out: Float32Array | Float64Array) => ProductWork<void>;

export type TopEigenOptions = {
  rule: TopEigenRule;
  /** The matrix's trace in float64 (the sum of all its eigenvalues). */
  trace: number;
  /** The largest diagonal entry (for the power-of-two scaling). */
  largestDiagonal: number;
  /** Above this block size the iteration gives up and returns `null`. */
  maxBlock: number;
  /**
   * The products' precision (default `'float32'`): `'float64'` where the driver has a float64 BLAS
   * (onnxruntime). float32 products stop the residuals at ~2⁻²⁴·√n·θ₁, and the eigenvectors near the cut
   * at k are then only accurate to residual / gap: on 4000 × 4096 synthetic features (λ_k ≈ 2e-4 λ₁) an angle
   * of ~1e-2, FRE within 2.3e-4 of numpy. float64 products converge to {@link RESIDUAL_TOLERANCE_64}.
   */
  precision?: ProductPrecision;
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
/** Rows of the matrix written at a time. */
const ROW_BLOCK = 1024;
/**
 * Converged (float32 products): every needed pair's residual ‖A uᵢ − θᵢ uᵢ‖ ≤ max(this, RESIDUAL_FLOOR·√n) × θ₁.
 * The second term is where float32 products stop the residuals measured here (about 0.2·√n·2⁻²⁴: 1.2e-7 at
 * n = 256, 8e-7 at 4000).
 */
const RESIDUAL_TOLERANCE = 1e-7;
const RESIDUAL_FLOOR = 0.25 * 2 ** -24;
/**
 * Converged (float64 products): residuals ≤ this × θ₁. An eigenvector's angle to the computed subspace is
 * about residual / (λᵢ − λ_{b+1}); near the cut that gap is ~1e-4 θ₁ on DFM-like spectra, so 1e-9 leaves
 * angles ~1e-5 and FRE differences ~1e-7 relative.
 */
const RESIDUAL_TOLERANCE_64 = 1e-9;
/** A float64 iteration runs its products in float32 until the residuals are below this × θ₁ (or stall). */
const SWITCH_TO_FLOAT64 = 1e-5;
/** …or the residuals stalled at the floating-point floor: below this × θ₁ and no longer shrinking by 5% per iteration. */
const STAGNATION_CEILING = 1e-5;
const STAGNATION_RATIO = 0.95;
const INITIAL_RATIO_BLOCK = 256;
/** Grow the block once the captured variance Σθ changes by less than this share per iteration… */
const SETTLED = 1e-2;
/** …or after this many iterations at one block size. */
const GROW_AFTER_ITERATIONS = 2;
/** At most this many cycles run between two Rayleigh–Ritz steps once the block is settled. */
const MAX_SKIP = 6;

export type Vector = Float32Array | Float64Array;

/** A product request of the given precision (no transposes unless given). */
export function productOf(
  precision: ProductPrecision,
  a: Vector,
  b: Vector,
  m: number,
  k: number,
  n: number,
  flags: Partial<ProductRequest> = {},
): ProductRequest {
  return { a, b, m, k, n, transposeA: false, transposeB: false, precision, ...flags };
}


/** A new array of the precision's type. */
function vectorOf(precision: ProductPrecision, length: number): Vector {
  return precision === 'float64' ? new Float64Array(length) : new Float32Array(length);
}

/** `values` as the precision's type (a copy when the type differs, else the same array). */
function asPrecision(precision: ProductPrecision, values: Vector): Vector {
  if (precision === 'float64') return values instanceof Float64Array ? values : Float64Array.from(values);
  return values instanceof Float32Array ? values : Float32Array.from(values);
}

/**
 * `A · q` for a `[n, b]` block `q` (row-major, the precision's type), divided by `scale`: for matrices that are
 * never formed densely (the moments' packed triangle; see `pca-solver.ts`). Returns a new array of q's type.
 */
export type MatrixOperator = (q: Vector, b: number, scale: number, precision: ProductPrecision) => ProductWork<Vector>;

/** The matrix of {@link topEigenpairs}: rows written once into a dense `[n, n]` array, or an operator. */
export type TopEigenMatrix = { writeRows: RowWriter } | { multiply: MatrixOperator };

/** See the module description. `n` is the matrix size; `matrix` supplies it. */
export function* topEigenpairs(n: number, matrix: TopEigenMatrix, options: TopEigenOptions): ProductWork<TopEigenResult | null> {
  const { rule, trace, largestDiagonal, maxBlock, onIteration, precision = 'float32' } = options;
  // A zero matrix (identical samples) has nothing to iterate on: the full solver returns its zero eigenvalues,
  // and the PCA reports the zero variance.
  if (!(trace > 0)) return null;
  const scale = powerOfTwoNear(largestDiagonal);
  let multiply: (q: Vector, b: number, stage: ProductPrecision) => ProductWork<Vector>;
  if ('multiply' in matrix) {
    multiply = (q, b, stage) => matrix.multiply(q, b, scale, stage);
  } else {
    const dense = vectorOf(precision, n * n);
    for (let i0 = 0; i0 < n; i0 += ROW_BLOCK) {
      const i1 = Math.min(n, i0 + ROW_BLOCK);
      yield* matrix.writeRows(i0, i1, scale, dense.subarray(i0 * n, i1 * n));
    }
    // The float32 cycles before a float64 finish multiply by a float32 copy, dropped once they end.
    let dense32: Float32Array | null = null;
    multiply = function* (q, b, stage) {
      if (stage === 'float64' || dense instanceof Float32Array) {
        dense32 = null;
        return yield productOf(stage, dense, q, n, n, b, { reuseA: true });
      }
      dense32 ??= Float32Array.from(dense);
      return yield productOf(stage, dense32, q, n, n, b, { reuseA: true });
    };
  }
  const result = yield* iterate(n, multiply, rule, trace / scale, maxBlock, precision, onIteration);
  if (result === null) return null;
  for (let i = 0; i < result.values.length; i++) result.values[i] = result.values[i]! * scale;
  return result;
}

function* iterate(
  n: number,
  multiply: (q: Vector, b: number, stage: ProductPrecision) => ProductWork<Vector>,
  rule: TopEigenRule,
  trace: number,
  maxBlock: number,
  precision: ProductPrecision,
  onIteration: ((iteration: number, block: number) => void) | undefined,
): ProductWork<TopEigenResult | null> {
  // A float64 iteration starts with float32 products (2.5× the speed on onnxruntime) and switches once the
  // residuals reach float32's floor: the early cycles only need the span to approach, not to be exact.
  let stage: ProductPrecision = 'float32';
  const product = (a: Vector, b: Vector, m: number, k: number, cols: number, flags: Partial<ProductRequest> = {}) =>
    productOf(stage, asPrecision(stage, a), asPrecision(stage, b), m, k, cols, flags);
  const tolerance = precision === 'float64' ? RESIDUAL_TOLERANCE_64 : Math.max(RESIDUAL_TOLERANCE, RESIDUAL_FLOOR * Math.sqrt(n));
  const random = gaussianSource(0x5eed);
  let block = Math.min(n, rule.kind === 'count' ? rule.count + oversampling(rule.count) : Math.min(INITIAL_RATIO_BLOCK, maxBlock));
  if (block > maxBlock) return null;
  let q = yield* orthonormalise(asPrecision(stage, randomColumns(random, n, block)), n, block, stage);
  let previousResidual: number | null = null;
  let previousCaptured: number | null = null;
  let atThisBlock = 0;
  /** Cycles left to run without a Rayleigh–Ritz step, and how many ran since the last one. */
  let skip = 0;
  let sinceRitz = 1;
  /** The filter of the last Rayleigh–Ritz step (none before the first: plain A², columns unweighted). */
  let filter: Filter = { cut: 0, weights: new Float64Array(block).fill(1) };
  /** `p(A) u` for the `[n, block]` u and its product au = A u, column j divided by the filter's weight. */
  const filtered = function* (u: Vector, au: Vector): ProductWork<Vector> {
    const y = vectorOf(stage, n * block);
    firstFilterStep(u, au, y, filter.cut);
    const ay = yield* multiply(y, block, stage);
    secondFilterStep(u, y, ay, n, block, filter);
    return ay;
  };
  for (let iteration = 1; ; iteration++) {
    const w = yield* multiply(q, block, stage);
    if (skip > 0) {
      // A filter step without Rayleigh–Ritz: the span is the same as with it (Rayleigh–Ritz only rotates within
      // the span), and q's columns stay near the last Ritz vectors, so the last weights still balance them.
      skip--;
      sinceRitz++;
      onIteration?.(iteration, block);
      q = yield* orthonormalise(yield* filtered(q, w), n, block, stage);
      continue;
    }
    const t = symmetric(yield product(q, w, block, n, block, { transposeA: true }), block);
    const { values: theta, vectors: y } = rayleighRitz(t, block, decouplingThreshold(stage, precision, tolerance));
    const needed = neededPairs(rule, theta, trace);
    onIteration?.(iteration, block);
    const yVector = asPrecision(stage, y.data);
    let captured = 0;
    for (let i = 0; i < block; i++) captured += Math.max(0, theta[i]!);
    // The Ritz values grow towards the eigenvalues, so `needed` only shrinks: grow the block only once the
    // captured variance has settled (or after a few iterations), not on the first rough estimate.
    const settled = atThisBlock >= GROW_AFTER_ITERATIONS || (previousCaptured !== null && captured - previousCaptured <= SETTLED * captured);
    previousCaptured = captured;
    atThisBlock++;
    // Grow when the block holds fewer than k + k/4 columns (to k + k/2: one growth, not a second for a few columns).
    const growing = needed + minimumOversampling(needed) > block && block < n;
    if (growing && settled) {
      // Grow: keep the current Ritz vectors, add random columns.
      let grown = Math.min(n, grownBlock(needed, block, theta, captured, rule, trace));
      if (grown > maxBlock) {
        // Beyond maxBlock the full solver is cheaper — but only give up on a known k, not on an estimate.
        if (Number.isFinite(needed) || block >= maxBlock) return null;
        grown = maxBlock;
      }
      const ritz = yield product(q, yVector, n, block, block);
      const extra = randomColumns(random, n, grown - block);
      const next = vectorOf(stage, n * grown);
      for (let i = 0; i < n; i++) {
        next.set(ritz.subarray(i * block, (i + 1) * block), i * grown);
        next.set(extra.subarray(i * (grown - block), (i + 1) * (grown - block)), i * grown + block);
      }
      q = yield* orthonormalise(next, n, grown, stage);
      block = grown;
      filter = { cut: 0, weights: new Float64Array(block).fill(1) };
      previousResidual = null;
      previousCaptured = null;
      atThisBlock = 0;
      sinceRitz = 1;
      continue;
    }
    const kept = Math.min(needed, block - 1);
    const ritz = yield product(q, yVector, n, block, block);
    const image = yield product(w, yVector, n, block, block);
    const residual = residualNorms(ritz, image, theta, n, block, kept);
    const top = Math.max(theta[0]!, Number.MIN_VALUE);
    let largestResidual = 0;
    for (let i = 0; i < kept; i++) largestResidual = Math.max(largestResidual, residual[i]! / top);
    const shrinking = previousResidual === null || largestResidual <= STAGNATION_RATIO * previousResidual;
    const stalled = !shrinking && largestResidual <= STAGNATION_CEILING;
    let switched = false;
    if (stage !== precision && (largestResidual <= SWITCH_TO_FLOAT64 || !shrinking)) {
      // float32 has done what it can (its floor grows with √n: 1.3e-5 × θ₁ at n = 16384): the remaining
      // cycles, and the convergence test, in float64.
      stage = precision;
      switched = true;
    }
    const converged = !switched && stage === precision && (largestResidual <= tolerance || stalled);
    if (converged || iteration >= MAX_ITERATIONS) {
      return { values: theta, vectors: ritz instanceof Float64Array ? ritz : Float64Array.from(ritz), block, needed: kept, iterations: iteration };
    }
    // Rayleigh–Ritz (a b×b eigenproblem in JavaScript, and two products) is needed only to measure
    // convergence: once the block no longer grows, skip it for the cycles the measured rate says are still
    // needed (at most MAX_SKIP), then measure again.
    if (!growing && previousResidual !== null && largestResidual < previousResidual) {
      const rate = (largestResidual / previousResidual) ** (1 / sinceRitz);
      const target = stage === precision ? tolerance : SWITCH_TO_FLOAT64;
      const cycles = Math.ceil(Math.log(target / largestResidual) / Math.log(rate));
      skip = Math.max(0, Math.min(MAX_SKIP, cycles - 1));
    }
    sinceRitz = 1;
    previousResidual = largestResidual;
    // Next block: p(A) U with the Chebyshev filter of this step (see filterOf; the product A U is `image`,
    // so the filter costs one more product): the convergence of two power steps or better, for the cost of
    // one product, and half the number of (JavaScript) eigen solves and orthonormalisations.
    filter = filterOf(theta, top);
    q = yield* orthonormalise(yield* filtered(asPrecision(stage, ritz), asPrecision(stage, image)), n, block, stage);
  }
}

/**
 * The polynomial applied between two orthonormalisations, p(x) = T₂(2x/c − 1) = 2(2x/c − 1)² − 1 (Chebyshev,
 * degree 2): |p| ≤ 1 on [0, c], the part of the spectrum to damp, and p grows fastest outside it (Saad,
 * *Numerical Methods for Large Eigenvalue Problems*, §7.4; Zhou & Saad 2007). With c = the block's smallest
 * Ritz value θ_b ≈ λ_b, a pair's error shrinks per step by p(λ_{b+1}) / p(λᵢ) ≤ 1 / T₂(2λᵢ/λ_b − 1), against
 * (λ_{b+1}/λᵢ)² for A²: for λᵢ = 1.1 λ_b, 0.53 against 0.83 (3.3× the progress per step); for λᵢ = 2 λ_b, 0.059
 * against 0.25. Column j is divided by p(θⱼ) (≥ 1) so the columns keep comparable norms. `cut` 0 stands for
 * p(x) = x² with weights θ⁻² (before the first Rayleigh–Ritz step, or when θ_b is not usefully positive).
 */
type Filter = { cut: number; weights: Float64Array };

function filterOf(theta: Float64Array, top: number): Filter {
  if (!(top > 0)) return { cut: 0, weights: new Float64Array(theta.length).fill(1) };
  const cut = theta[theta.length - 1]!;
  if (!(cut > top * 1e-12)) {
    const floor = top * 1e-6;
    return { cut: 0, weights: Float64Array.from(theta, (value) => 1 / Math.max(value, floor) ** 2) };
  }
  return { cut, weights: Float64Array.from(theta, (value) => 1 / chebyshev2(2 * value / cut - 1)) };
}

function chebyshev2(x: number): number {
  return 2 * x * x - 1;
}

/** y = (2/c) A u − u (the first term of the recurrence), or A u when c = 0 (plain powers). */
function firstFilterStep(u: Vector, au: Vector, y: Vector, cut: number): void {
  if (cut === 0) {
    y.set(au);
    return;
  }
  const factor = 2 / cut;
  for (let i = 0; i < y.length; i++) y[i] = factor * au[i]! - u[i]!;
}

/** ay ← (2 ((2/c) A y − y) − u) / p(θⱼ) column by column, or A y / θⱼ² when c = 0; in place. */
function secondFilterStep(u: Vector, y: Vector, ay: Vector, n: number, b: number, filter: Filter): void {
  const { cut, weights } = filter;
  if (cut === 0) {
    scaleColumns(ay, n, b, weights);
    return;
  }
  const factor = 2 / cut;
  for (let i = 0; i < n; i++) {
    const offset = i * b;
    for (let j = 0; j < b; j++) {
      const index = offset + j;
      ay[index] = (2 * (factor * ay[index]! - y[index]!) - u[index]!) * weights[j]!;
    }
  }
}

/**
 * `x` `[n, b]` float64 made orthonormal in float64 (in place, returned): Cholesky QR twice (B ← B R⁻¹,
 * BᵀB = RᵀR), triangular, so column j keeps the span of columns 0…j; Householder QR when the columns are
 * not independent enough for Cholesky.
 */
export function* orthonormalise64(x: Float64Array, n: number, b: number): ProductWork<Float64Array> {
  return (yield* orthonormalise(x, n, b, 'float64')) as Float64Array;
}

/**
 * Columns whose coupling to the rest of T (the norm of their off-diagonal row) is below this × T's largest
 * diagonal entry are taken as converged by {@link rayleighRitz}: in a float64 iteration's float32 stage, a
 * tenth of the switch level (it only steers the iteration); in its float64 stage, the residual target
 * (1e-9 lies far below what FRE needs: FRE within 3.2e-6 of numpy either way on 20000 × 4096 DFM features).
 * A float32 iteration's target sits at float32's floor, with no room to spare: there every Rayleigh–Ritz
 * step is complete (measured: keeping columns coupled below a tenth of it moved FRE by 1e-5 against 5e-7).
 */
function decouplingThreshold(stage: ProductPrecision, precision: ProductPrecision, tolerance: number): number {
  if (stage !== precision) return 0.1 * SWITCH_TO_FLOAT64;
  return precision === 'float64' ? tolerance : 0;
}

/**
 * The eigendecomposition of the projected `[b, b]` T = QᵀAQ (consumed), values descending, vectors `[b, b]`
 * row-major: columns of Q that have converged — their row of T off the diagonal is below
 * `relativeThreshold` × the largest diagonal entry — are kept as they are (θ = Tᵢᵢ, the vector eᵢ; a Ritz
 * value error ~ threshold² / gap, and the measured residuals still say how far each pair is), and only the
 * rest of T is solved. Late in the iteration most of the block has converged: the JavaScript eigensolver,
 * O(b³), then runs on a fraction of it.
 */
function rayleighRitz(t: Float64Array, b: number, relativeThreshold: number): { values: Float64Array; vectors: { data: Float64Array } } {
  if (!(relativeThreshold > 0)) return eighSymmetricInPlace(t, b);
  let largestDiagonal = 0;
  for (let i = 0; i < b; i++) largestDiagonal = Math.max(largestDiagonal, Math.abs(t[i * b + i]!));
  const limit = (relativeThreshold * largestDiagonal) ** 2;
  const active: number[] = [];
  const kept: number[] = [];
  for (let i = 0; i < b; i++) {
    let coupling = 0;
    const row = i * b;
    for (let j = 0; j < b; j++) if (j !== i) coupling += t[row + j]! ** 2;
    (coupling <= limit ? kept : active).push(i);
  }
  if (kept.length < 16) return eighSymmetricInPlace(t, b);
  const m = active.length;
  const sub = new Float64Array(m * m);
  for (let r = 0; r < m; r++) for (let c = 0; c < m; c++) sub[r * m + c] = t[active[r]! * b + active[c]!]!;
  const solved = m > 0 ? eighSymmetricInPlace(sub, m) : { values: new Float64Array(0), vectors: { data: new Float64Array(0) } };
  // Merge the kept diagonal values with the solved ones, descending; column o of the result is eᵢ for a kept i,
  // or solved column s spread over the active rows.
  const order = [...kept.map((i) => ({ value: t[i * b + i]!, kept: i, solved: -1 })), ...Array.from(solved.values, (value, s) => ({ value, kept: -1, solved: s }))];
  order.sort((x, y) => y.value - x.value);
  const values = new Float64Array(b);
  const vectors = new Float64Array(b * b);
  order.forEach((entry, o) => {
    values[o] = entry.value;
    if (entry.kept >= 0) {
      vectors[entry.kept * b + o] = 1;
    } else {
      for (let r = 0; r < m; r++) vectors[active[r]! * b + o] = solved.vectors.data[r * m + entry.solved]!;
    }
  });
  return { values, vectors: { data: vectors } };
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

/** The fewest extra columns a block keeps beyond k before it grows (convergence factor λ_b / λ_k stays well below 1). */
function minimumOversampling(k: number): number {
  return Number.isFinite(k) ? Math.max(16, Math.ceil(k / 4)) : 0;
}

/**
 * The block to grow to: k + oversampling when the block already reaches the rule's level; else from a
 * lower bound on k — the variance still missing, (level·trace − Σθ), spread over eigenvalues no larger than
 * the last Ritz value θ_b — plus oversampling, at most twice the block (Ritz values of a young block are rough).
 */
function grownBlock(needed: number, block: number, theta: Float64Array, captured: number, rule: TopEigenRule, trace: number): number {
  if (Number.isFinite(needed)) return needed + oversampling(needed);
  const last = theta[block - 1]!;
  if (rule.kind !== 'ratio' || !(last > 0)) return 2 * block;
  const estimate = block + Math.ceil((rule.level * trace - captured) / last);
  return Math.max(block + 16, Math.min(2 * block, estimate + oversampling(estimate)));
}

/** ‖A uᵢ − θᵢ uᵢ‖ for the first `count` columns (in float64 from the products). */
function residualNorms(u: Vector, au: Vector, theta: Float64Array, n: number, block: number, count: number): Float64Array {
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

/** Multiplies column j of the `[n, b]` row-major `x` by `factors[j]`, in place. */
function scaleColumns(x: Vector, n: number, b: number, factors: Float64Array): void {
  for (let i = 0; i < n; i++) {
    const offset = i * b;
    for (let j = 0; j < b; j++) x[offset + j] = x[offset + j]! * factors[j]!;
  }
}

/**
 * Orthonormal columns spanning those of `x` `[n, b]` (consumed): CholeskyQR2 — R from the Cholesky factor of
 * XᵀX (a product, factored in float64), X ← X R⁻¹, twice (the second pass only when the first left the
 * columns further from orthonormal than {@link ORTHONORMAL_ENOUGH}). When XᵀX is not numerically positive
 * definite (cond(X) beyond 1e4 for float32 products), the same in float64 products; beyond 1e7 (dependent
 * columns: the matrix has rank below b), Householder QR in float64, whose Q is orthonormal whatever the rank.
 */
function* orthonormalise(x: Vector, n: number, b: number, precision: ProductPrecision): ProductWork<Vector> {
  let current = x;
  for (let pass = 0; pass < 2; pass++) {
    const gram = symmetric(yield productOf(precision, current, current, b, n, b, { transposeA: true }), b);
    // Before the second pass: one Cholesky QR already leaves the columns orthonormal to ~ε·cond(X)², which
    // after a filter step is usually all float64 can show (measured: 1e-16 … 4e-15; float32: 2e-8 … 8e-4).
    if (pass === 1 && orthonormalityError(gram, b) <= ORTHONORMAL_ENOUGH[precision]) break;
    const inverse = inverseCholeskyFactor(gram, b, precision === 'float64' ? PIVOT_FLOOR_64 : PIVOT_FLOOR_32);
    if (inverse === null) {
      // float32 cannot orthonormalise columns this close to dependent; float64 products can (CholeskyQR2
      // works up to cond ≈ 1e7), and cost far less than the JavaScript Householder QR.
      if (precision === 'float32') return asPrecision('float32', yield* orthonormalise(asPrecision('float64', current), n, b, 'float64'));
      return householderQ(current, n, b);
    }
    current = yield productOf(precision, current, asPrecision(precision, inverse), n, b, b);
  }
  return current;
}

/**
 * {@link orthonormalise64} for columns of float32 values: `x` `[n, b]` float64 holds exactly the values of
 * `parts`, consecutive float32 row blocks of `blockRows` rows (the last may hold more rows than are left).
 * One Cholesky QR step, V R⁻¹ = V + V (R⁻¹ − I), with the correction as float32 products of the parts:
 * R⁻¹ − I is small when the columns are near orthonormal (PCA's components from float32 products), so their
 * rounding, ~ε32·‖R⁻¹ − I‖, lies below float32's own resolution of the result, and the float32 product costs
 * a fraction of a float64 one (no [n, b] float64 operand or output). Checked: columns not orthonormal to
 * {@link NEAR_FLOAT32} afterwards go through {@link orthonormalise64}. Modifies and returns `x`.
 */
export function* orthonormaliseFloat32Columns(x: Float64Array, parts: readonly Float32Array[], blockRows: number, n: number, b: number): ProductWork<Float64Array> {
  const gram = symmetric(yield productOf('float64', x, x, b, n, b, { transposeA: true }), b);
  const inverse = inverseCholeskyFactor(gram, b, PIVOT_FLOOR_64);
  if (inverse === null) return yield* orthonormalise64(x, n, b);
  const correction = new Float32Array(b * b);
  for (let i = 0; i < b; i++) lessIdentityRow(inverse, correction, i, b);
  for (let p = 0; p * blockRows < n; p++) {
    const rows = Math.min(blockRows, n - p * blockRows);
    const delta = yield productOf('float32', parts[p]!.subarray(0, rows * b), correction, rows, b, b);
    addTo(x, delta, p * blockRows * b, b);
  }
  const check = symmetric(yield productOf('float64', x, x, b, n, b, { transposeA: true }), b);
  return orthonormalityError(check, b) <= NEAR_FLOAT32 ? x : yield* orthonormalise64(x, n, b);
}

/**
 * How orthonormal {@link orthonormaliseFloat32Columns} leaves columns before it settles (largest |Gᵢⱼ − δᵢⱼ|):
 * rounding unit vectors of 4096 entries to float32 alone moves their Gram matrix by ~1e-9.
 */
const NEAR_FLOAT32 = 1e-9;

// The loops below run row by row through small functions: a fit calls them once or twice, and V8 optimises a
// small function after a few calls, where it ran one long loop unoptimised, boxing every double it computed.

/** x[offset + i] += delta[i] for the `[·, b]` row-major delta, a row at a time. */
export function addTo(x: Float64Array, delta: Float32Array | Float64Array, offset: number, b: number): void {
  for (let from = 0; from < delta.length; from += b) addRow(x, delta, offset + from, from, Math.min(b, delta.length - from));
}

function addRow(x: Float64Array, delta: Float32Array | Float64Array, to: number, from: number, count: number): void {
  for (let i = 0; i < count; i++) x[to + i]! += delta[from + i]!;
}

/** Row i of `[b, b]` `out` = row i of `inverse` less the identity's (the correction R⁻¹ − I, in float32). */
function lessIdentityRow(inverse: Float64Array, out: Float32Array, i: number, b: number): void {
  const row = i * b;
  for (let j = 0; j < b; j++) out[row + j] = inverse[row + j]! - (i === j ? 1 : 0);
}

/** Columns this close to orthonormal (largest |Gᵢⱼ − δᵢⱼ| of their Gram matrix) need no further pass. */
const ORTHONORMAL_ENOUGH: Record<ProductPrecision, number> = { float32: 1e-6, float64: 1e-12 };

/** The largest |Gᵢⱼ − δᵢⱼ| of a `[b, b]` Gram matrix. */
function orthonormalityError(gram: Float64Array, b: number): number {
  let largest = 0;
  for (let i = 0; i < b; i++) largest = Math.max(largest, rowError(gram, i, b));
  return largest;
}

/** The largest |Gᵢⱼ − δᵢⱼ| of row i, j ≤ i. */
function rowError(gram: Float64Array, i: number, b: number): number {
  const row = i * b;
  let largest = 0;
  for (let j = 0; j <= i; j++) largest = Math.max(largest, Math.abs(gram[row + j]! - (i === j ? 1 : 0)));
  return largest;
}

/**
 * The smallest Cholesky pivot of XᵀX, relative to its largest diagonal entry, that CholeskyQR accepts: cond(X)
 * up to 1e4 with float32 products (their XᵀX is accurate to ~1e-7), 1e7 with float64 ones (CholeskyQR2's
 * bound, about u^(−1/2)); below it, the columns are treated as dependent.
 */
const PIVOT_FLOOR_32 = 1e-8;
const PIVOT_FLOOR_64 = 1e-14;

/**
 * The thin Q `[n, b]` (float64) of the Householder QR of `x` `[n, b]` row-major, computed in float64:
 * orthonormal columns whose first j span the first j of x whenever those are independent.
 */
function householderQ(x: ArrayLike<number>, n: number, b: number): Float64Array {
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
  const out = new Float64Array(n * b);
  for (let i = 0; i < n; i++) for (let j = 0; j < b; j++) out[i * b + j] = q[j * n + i]!;
  return out;
}

/**
 * R⁻¹ (upper triangular, float64) with RᵀR = G, or null when G is not numerically positive definite
 * (a pivot below `pivotFloor` times the largest diagonal entry).
 */
function inverseCholeskyFactor(gram: Float64Array, b: number, pivotFloor: number): Float64Array | null {
  // The same operations in WebAssembly where it runs: a fit calls this once or twice, and V8 runs a
  // function it has not yet optimised ~8× slower (25 ms against 3 at b = 159).
  const compiled = b >= 32 ? inverseCholeskyWasm(gram, b, pivotFloor) : undefined;
  if (compiled !== undefined) return compiled;
  let largest = 0;
  for (let i = 0; i < b; i++) largest = Math.max(largest, gram[i * b + i]!);
  // L lower triangular, row-major, G = L Lᵀ (= Rᵀ R with R = Lᵀ): the inner sums run along rows (contiguous).
  const l = new Float64Array(b * b);
  for (let i = 0; i < b; i++) {
    const rowI = i * b;
    for (let j = 0; j <= i; j++) {
      const rowJ = j * b;
      let sum = gram[rowI + j]!;
      for (let p = 0; p < j; p++) sum -= l[rowI + p]! * l[rowJ + p]!;
      if (i === j) {
        if (!(sum > pivotFloor * largest)) return null;
        l[rowI + i] = Math.sqrt(sum);
      } else {
        l[rowI + j] = sum / l[rowJ + j]!;
      }
    }
  }
  // R⁻¹ = (L⁻¹)ᵀ: column j of L⁻¹ solves L x = e_j (x_i = 0 for i < j), and is row j of R⁻¹.
  const inverse = new Float64Array(b * b);
  for (let j = 0; j < b; j++) {
    const x = inverse.subarray(j * b, (j + 1) * b);
    x[j] = 1 / l[j * b + j]!;
    for (let i = j + 1; i < b; i++) {
      const rowI = i * b;
      let sum = 0;
      for (let p = j; p < i; p++) sum += l[rowI + p]! * x[p]!;
      x[i] = -sum / l[rowI + i]!;
    }
  }
  for (const value of inverse) if (!Number.isFinite(value)) return null;
  return inverse;
}

/** A `[b, b]` product as float64, averaging the two triangles (a new array). */
function symmetric(values: Float32Array | Float64Array, b: number): Float64Array {
  const out = new Float64Array(b * b);
  for (let i = 0; i < b; i++) symmetricRow(values, out, i, b);
  return out;
}

/** Row i of {@link symmetric} left of the diagonal, mirrored, and its diagonal entry. */
function symmetricRow(values: Float32Array | Float64Array, out: Float64Array, i: number, b: number): void {
  out[i * b + i] = values[i * b + i]!;
  for (let j = 0; j < i; j++) {
    const average = 0.5 * (values[i * b + j]! + values[j * b + i]!);
    out[i * b + j] = average;
    out[j * b + i] = average;
  }
}

/** A power of two near `value` (1 for 0): dividing by it is exact and keeps float32 in range. */
export function powerOfTwoNear(value: number): number {
  return value > 0 && Number.isFinite(value) ? 2 ** Math.round(Math.log2(value)) : 1;
}

/** A seeded source of uniform numbers in (0, 1) (xorshift32): the same draw every run. */
export function uniformSource(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return (state + 0.5) / 4294967296;
  };
}

/** A seeded source of standard normal numbers (xorshift32 + Box–Muller): the same draw every run. */
function gaussianSource(seed: number): () => number {
  const uniform = uniformSource(seed);
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

function randomColumns(random: () => number, n: number, b: number): Float32Array {
  const out = new Float32Array(n * b);
  for (let i = 0; i < out.length; i++) out[i] = random();
  return out;
}
