import { accumulateScatter, addColumnSums, CHUNK, columnMeans, concatenateRows, gramProducts, packedLength, packedRow, type RowBlocks } from './centred-products';
import { type DenseEigen, DenseSymmetricSolver, denseKernelsAvailable } from './dense-eigen';
import { eighSymmetricInPlace } from './eigh';
import type { NComponents, PCAState } from './pca';
import type { ProductPrecision, ProductWork } from './products';
import { addTo, type MatrixOperator, orthonormalise64, orthonormaliseFloat32Columns, productOf, type RowWriter, type TopEigenResult, type TopEigenRule, topEigenpairs } from './top-eigenpairs';
import { InvalidArgumentError, formatShape } from '@dfm/errors';

/**
 * The one implementation of PCA's solve (internal): {@link PCA.fit} and {@link PCAStatistics.toPCA} both
 * end here. Rows with N < D go through the N×N Gram matrix ({@link solveRows}); N ≥ D rows, and
 * accumulated statistics, through the D×D scatter matrix ({@link solveMoments}). The k selection, the
 * eigenvalue clamps and the sign convention are shared ({@link finishPCA}).
 */

/**
 * Eigenvalues at or below this fraction of the largest count as zero (for `nComponents: 'all'`). The products
 * run in float32 on the backend, so an exactly rank-deficient input shows eigenvalues up to ~3e-7 of the
 * largest where it has none; this threshold sits above that noise floor. In singular values: directions
 * below 1e-3 × the largest are treated as absent by `'all'` (an integer nComponents still keeps them).
 */
export const ZERO_EIGENVALUE_TOLERANCE = 1e-6;


/** Whether `nComponents` is a component count (an integer ≥ 1) rather than a ratio or `'all'`. */
export function isCount(nComponents: NComponents): nComponents is number {
  return typeof nComponents === 'number' && Number.isInteger(nComponents) && nComponents >= 1;
}

/** Throws unless an integer `level` fits `min(nSamples, nFeatures)`; `what` names the data in the message. */
export function checkCountFits(level: NComponents, n: number, d: number, caller: string, what: string): void {
  const largest = Math.min(n, d);
  if (isCount(level) && level > largest) {
    throw new InvalidArgumentError(
      `${caller}: nComponents must be at most min(nSamples, nFeatures) = ${largest} — got ${level} for ${what}. Lower nComponents, or pass a variance ratio in (0, 1) or 'all'.`,
    );
  }
}

/** Progress of a PCA fit: `phase` and, where the amount of work is known, the `fraction` of it done (0…1). */
export type PCAProgress = {
  /** `'accumulating'`: the second-moment products; `'solving'`: the eigenproblem. */
  phase: 'accumulating' | 'solving';
  /** Share of the phase done, when known: the products while accumulating, the dense solver's reduction while solving; absent for the subspace iteration. */
  fraction?: number;
  /** For `'solving'` by subspace iteration: the iteration just finished (from 1). */
  iteration?: number;
};

/** Receives {@link PCAProgress} reports (synchronously, from inside the fit). */
export type PCAProgressCallback = (progress: PCAProgress) => void;

/**
 * Rows `[r0, r1)` of an `[n, d]` matrix as row-major float32 (finite, checked by the source), read on demand:
 * PCA's fits read their tensor a block at a time so the scatter route never holds a second [n, d] copy.
 * `transient`: the caller reads the rows at once and drops them before anything else runs (it reads them
 * again when it needs them later), so the source may return a view of its own memory instead of a copy, and
 * leaves the finiteness check to the caller (the Gram route checks through its column sums).
 */
export type RowSource = (r0: number, r1: number, transient?: boolean) => Float32Array;

/**
 * PCA of `[n, d]` row-major float32 rows (finite, n ≥ 2, an integer level ≤ min(n, d) checked by the
 * caller), given whole, as consecutive row blocks, or as a {@link RowSource}: the Gram route when n < d (all rows at once), else the
 * scatter route (the rows' moments about their own mean), which reads a source twice — the float64 column
 * means, then the moments — a block of rows at a time.
 */
export function* solveRows(
  rows: Float32Array | readonly Float32Array[] | RowSource,
  n: number,
  d: number,
  level: NComponents,
  caller: string,
  onProgress?: PCAProgressCallback,
  precision: ProductPrecision = 'float32',
): ProductWork<PCAState> {
  // Consecutive row blocks (PCAStatistics' batches) go to the Gram route as they are (no concatenated copy).
  if (Array.isArray(rows) && n < d) return yield* solveGram(() => rows as readonly Float32Array[], n, d, level, caller, onProgress, precision);
  const whole = Array.isArray(rows) ? concatenateRows(rows as readonly Float32Array[], n * d) : (rows as Float32Array | RowSource);
  const read: RowSource = typeof whole === 'function' ? whole : (r0, r1) => whole.subarray(r0 * d, r1 * d);
  // The Gram route reads the rows once, before its first product (transient: a view may do, no copy).
  if (n < d) return yield* solveGram(() => [read(0, n, true)], n, d, level, caller, onProgress, precision);
  const step = Math.max(CHUNK, Math.ceil(n / 20 / CHUNK) * CHUNK);
  let shift: Float64Array;
  if (typeof whole === 'function') {
    shift = new Float64Array(d);
    for (let r0 = 0; r0 < n; r0 += step) addColumnSums(read(r0, Math.min(n, r0 + step)), d, shift);
    for (let j = 0; j < d; j++) shift[j] = shift[j]! / n;
  } else {
    shift = columnMeans(whole, n, d);
  }
  const sum = new Float64Array(d);
  const scatter = new Float64Array(packedLength(d));
  const target = { layout: 'packed' as const, scatter, sum, scratch: new Float32Array(CHUNK * d) };
  for (let r0 = 0; r0 < n; r0 += step) {
    const r1 = Math.min(n, r0 + step);
    yield* accumulateScatter(target, read(r0, r1), r1 - r0, d, shift);
    onProgress?.({ phase: 'accumulating', fraction: r1 / n });
  }
  return yield* solveMoments({ nSamples: n, nFeatures: d, shift, sum, scatter }, level, caller, onProgress, precision);
}

/** Moments about a shift c, as {@link solveMoments} takes them. */
export type ShiftedMoments = {
  nSamples: number;
  nFeatures: number;
  /** `[D]` the shift c. */
  shift: Float64Array;
  /** `[D]` `Σ (x − c)` over every row, the pending ones included. */
  sum: Float64Array;
  /** Packed lower triangle (row i holds columns 0…i) of `Σ (x − c)(x − c)ᵀ` over the folded rows. Not modified. */
  scatter: Float64Array;
  /** Rows not folded into `scatter` yet (`[count, D]` float32, as given); their products are added here. */
  pending?: { rows: Float32Array; count: number };
};

/**
 * PCA from the moments of N ≥ D rows about a shift c: mean `μ = c + s/N` and centred scatter
 * `S = Σ (x − μ)(x − μ)ᵀ = Σ (x − c)(x − c)ᵀ − s sᵀ / N` (with `s = Σ (x − c)`), all in float64; then the
 * eigenproblem of S. The subtraction cancels digits in proportion to `N (μ − c)² / S_jj`, the squared
 * distance of the shift from the mean in units of the spread: with c = the mean of the first ≥ D rows
 * (what {@link PCAStatistics} uses) that is ~1/D for stationary data, so nothing is lost; with c = 0 (plain
 * `XᵀX − N μμᵀ`) it is (mean / std)², which for features of mean 1e3 and std 1 wipes out 6 of float64's 16
 * digits, and nearly all of float32's 7 in the backend products.
 *
 * The eigenproblem: the leading eigenpairs by subspace iteration on the backend ({@link topEigenpairs})
 * when the rule needs at most about D/4 of them; the full float64 solver ({@link eighSymmetricInPlace})
 * for `'all'`, for large counts, and when the variance ratio needs more than about D/4 components.
 */
export function* solveMoments(
  moments: ShiftedMoments,
  level: NComponents,
  caller: string,
  onProgress?: PCAProgressCallback,
  precision: ProductPrecision = 'float32',
): ProductWork<PCAState> {
  const { nSamples: n, nFeatures: d, shift, sum, scatter } = moments;
  const mean = new Float64Array(d);
  for (let j = 0; j < d; j++) mean[j] = shift[j]! + sum[j]! / n;
  const pending = moments.pending !== undefined && moments.pending.count > 0 ? moments.pending : undefined;
  onProgress?.({ phase: 'solving' });
  const rule = topRule(level, d);
  if (rule !== null) {
    const pendingCentred = pending === undefined ? undefined : centredRows(pending.rows, pending.count, d, shift);
    // Diagonal of S (float64) for the exact trace and the scaling.
    let trace = 0;
    let largestDiagonal = 0;
    for (let i = 0; i < d; i++) {
      let value = scatter[packedRow(i) + i]! - (sum[i]! * sum[i]!) / n;
      if (pendingCentred !== undefined) for (let r = 0; r < pending!.count; r++) value += pendingCentred.values64[r * d + i]! ** 2;
      trace += value;
      largestDiagonal = Math.max(largestDiagonal, value);
    }
    const pendingColumns =
      pendingCentred === undefined ? undefined : { columns: transpose32(pendingCentred.values32, pending!.count, d), count: pending!.count };
    // A dense copy of S for the iteration while it is small (≤ 512 MiB: D ≤ 8192 in float64, faster); beyond, the
    // operator on the packed triangle (no second D² array: at D = 16384 a dense float64 copy is 2 GiB).
    const dense = d * d * (precision === 'float64' ? 8 : 4) <= DENSE_SCATTER_BYTES;
    const matrix = dense ? { writeRows: scatterRowWriter(moments, pendingColumns) } : { multiply: scatterOperator(moments, pendingColumns) };
    const result: TopEigenResult | null = yield* topEigenpairs(d, matrix, {
      rule,
      trace,
      largestDiagonal,
      maxBlock: Math.floor(d / 2),
      precision,
      onIteration: (iteration) => onProgress?.({ phase: 'solving', iteration }),
    });
    if (result !== null) {
      const top = result;
      return yield* finishPCA({
        n,
        d,
        level,
        caller,
        eigenvalues: top.values,
        size: top.block,
        total: trace,
        scale: 1,
        mean,
        components: (k) => noProducts({ components: selectColumns(top.vectors, d, top.block, k), computed: k }),
      });
    }
  }
  const full = new Float64Array(d * d);
  for (let i = 0; i < d; i++) full.set(scatter.subarray(packedRow(i), packedRow(i) + i + 1), i * d);
  if (pending !== undefined) {
    yield* accumulateScatter({ layout: 'lower', scatter: full, sum: new Float64Array(d) }, pending.rows, pending.count, d, shift);
  }
  for (let i = 0; i < d; i++) {
    const offset = i * d;
    const correction = sum[i]! / n;
    if (correction === 0) continue;
    for (let j = 0; j <= i; j++) full[offset + j] = full[offset + j]! - correction * sum[j]!;
  }
  const { values: eigenvalues, vectors } = eighSymmetricInPlace(full, d);
  return yield* finishPCA({
    n,
    d,
    level,
    caller,
    eigenvalues,
    size: d,
    scale: 1,
    mean,
    components: (k) => noProducts({ components: selectColumns(vectors.data, d, d, k), computed: k }),
  });
}

/**
 * The subspace-iteration rule for `level` on a `size × size` problem, or null when the full solver is the
 * better choice (`'all'`, or a count whose block would pass size / 2).
 */
function topRule(level: NComponents, size: number): TopEigenRule | null {
  if (level === 'all') return null;
  if (isCount(level)) return level + Math.max(16, Math.ceil(level / 2)) <= size / 2 ? { kind: 'count', count: level } : null;
  return { kind: 'ratio', level };
}

/** The first k columns of a `[rows, cols]` row-major matrix, as `[rows, k]`. */
function selectColumns(values: Float64Array, rows: number, cols: number, k: number): Float64Array {
  const out = new Float64Array(rows * k);
  for (let i = 0; i < rows; i++) for (let j = 0; j < k; j++) out[i * k + j] = values[i * cols + j]!;
  return out;
}

/** `rows − shift` in float64 and rounded to float32 (as {@link accumulateScatter} rounds its chunks). */
function centredRows(rows: Float32Array, count: number, d: number, shift: Float64Array): { values64: Float64Array; values32: Float32Array } {
  const values64 = new Float64Array(count * d);
  for (let r = 0; r < count; r++) for (let j = 0; j < d; j++) values64[r * d + j] = rows[r * d + j]! - shift[j]!;
  return { values64, values32: Float32Array.from(values64) };
}

function transpose32(values: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = values[i * cols + j]!;
  return out;
}

/** Largest dense copy of the scatter the eigensolver makes (bytes); see {@link solveMoments}. */
const DENSE_SCATTER_BYTES = 512 * 2 ** 20;

/**
 * Rows of the centred scatter `S = P − s sᵀ / N (+ the pending rows' products)` from the packed lower
 * triangle P, read row-wise (the upper part of a row block comes from the later packed rows, contiguously).
 * `pending.columns` is the pending rows' centred values transposed, `[D, count]` float32.
 */
function scatterRowWriter(moments: ShiftedMoments, pending: { columns: Float32Array; count: number } | undefined): RowWriter {
  const { nFeatures: d } = moments;
  return function* (i0, i1, scale, out) {
    // The pending rows' products for rows [i0, i1): Cᵀ[i0:i1] · Cᵀᵀ, float32 (fewer than CHUNK rows: a chunk's accuracy).
    const extra =
      pending === undefined
        ? undefined
        : yield productOf('float32', pending.columns.subarray(i0 * pending.count, i1 * pending.count), pending.columns, i1 - i0, pending.count, d, {
            transposeB: true,
          });
    writeScatterRows(moments, i0, i1, scale, out, extra);
  };
}

/** The loops of {@link scatterRowWriter} (a plain function: V8 optimises it better than a generator). */
function writeScatterRows(
  moments: ShiftedMoments,
  i0: number,
  i1: number,
  scale: number,
  out: Float32Array | Float64Array,
  extra: Float32Array | Float64Array | undefined,
): void {
  const { nSamples: n, nFeatures: d, sum, scatter } = moments;
  const inverse = 1 / scale;
  for (let i = i0; i < i1; i++) {
    const row = packedRow(i);
    const offset = (i - i0) * d;
    const si = sum[i]! / n;
    for (let j = 0; j <= i; j++) {
      const value = scatter[row + j]! - si * sum[j]! + (extra === undefined ? 0 : extra[offset + j]!);
      out[offset + j] = value * inverse;
    }
  }
  // Upper part of the block: S_ij for j > i, i in [i0, i1), from packed row j (columns i0 … min(i1, j) − 1);
  // 16 packed rows at a time, so the block's rows are written 16 contiguous entries at a time (measured 2.7× the
  // speed of one column of the block at a time: 43 ms against 116 for D = 4096).
  const TILE = 16;
  for (let j0 = i0 + 1; j0 < d; j0 += TILE) {
    const j1 = Math.min(d, j0 + TILE);
    const end = Math.min(i1, j1 - 1);
    for (let i = i0; i < end; i++) {
      const offset = (i - i0) * d;
      const si = sum[i]!;
      for (let j = Math.max(j0, i + 1); j < j1; j++) {
        // The same expression as row j's entry i above (an exactly symmetric matrix).
        const value = scatter[packedRow(j) + i]! - (sum[j]! / n) * si + (extra === undefined ? 0 : extra[offset + j]!);
        out[offset + j] = value * inverse;
      }
    }
  }
}

/**
 * `S · q` for the centred scatter `S = P − s sᵀ / N + Cᵀ C` without forming S: P is the packed lower triangle,
 * s the sum about the shift, C the pending rows (centred, `pending.columns` = Cᵀ `[D, count]` float32). P is
 * multiplied a block of {@link OPERATOR_ROW_BLOCK} rows at a time — the block's lower part copied out of the
 * packed triangle (contiguous row segments), then `W[i0:i1] += B · q[0:i1]` and, by symmetry,
 * `W[0:i1] += Bᵀ · q[i0:i1]` less the block's diagonal counted twice — so memory is O(D · block) beside P,
 * not a dense D×D copy (2 GiB in float64 at D = 16384), for the same flops as a dense product.
 */
export function scatterOperator(moments: ShiftedMoments, pending: { columns: Float32Array; count: number } | undefined): MatrixOperator {
  const { nSamples: n, nFeatures: d, sum, scatter } = moments;
  // The block buffer is kept across products (134 MB in float64 at D = 16384: allocated per product, its page
  // faults cost more than the copy into it).
  let buffer64: Float64Array | null = null;
  let buffer32: Float32Array | null = null;
  return function* (q, b, scale, precision) {
    const w = new Float64Array(d * b);
    const length = Math.min(d, OPERATOR_ROW_BLOCK) * d;
    let buffer: Float32Array | Float64Array;
    if (precision === 'float64') {
      buffer32 = null;
      buffer = buffer64 ??= new Float64Array(length);
    } else {
      buffer = buffer32 ??= new Float32Array(length);
    }
    for (let i0 = 0; i0 < d; i0 += OPERATOR_ROW_BLOCK) {
      const i1 = Math.min(d, i0 + OPERATOR_ROW_BLOCK);
      const rows = i1 - i0;
      const block = buffer.subarray(0, rows * i1);
      copyLowerBlock(scatter, i0, i1, block);
      addTo(w, yield productOf(precision, block, q.subarray(0, i1 * b), rows, i1, b), i0 * b, b);
      // (Bᵀ q[i0:i1])ᵀ = q[i0:i1]ᵀ B: a [b, i1] product (a BLAS runs Aᵀ with A of b rows at full speed, not
      // with A of i1 rows: onnxruntime's float64 Gemm took 2× longer that way), transposed into W.
      addTransposedInto(w, yield productOf(precision, q.subarray(i0 * b, i1 * b), block, b, rows, i1, { transposeA: true }), b, i1);
      subtractDiagonal(w, scatter, q, i0, i1, b);
    }
    // − s (sᵀ q) / N, and + Cᵀ (C q) for the pending rows.
    rankOneCorrection(w, sum, q, n, d, b);
    if (pending !== undefined) {
      const cq = yield productOf(precision, pending.columns, q, pending.count, d, b, { transposeA: true });
      addTo(w, yield productOf(precision, pending.columns, cq, d, pending.count, b), 0, b);
    }
    const inverse = 1 / scale;
    if (precision === 'float64') {
      for (let i = 0; i < w.length; i++) w[i] = w[i]! * inverse;
      return w;
    }
    return Float32Array.from(w, (value) => value * inverse);
  };
}

/** Rows of S's packed product P multiplied per block by {@link scatterOperator}. */
const OPERATOR_ROW_BLOCK = 1024;

// Plain functions (outside the generator) for the loops: V8 optimises them better.

/** `block` `[i1 − i0, i1]` = rows i0…i1 of the packed lower triangle, columns 0…i (zero past the diagonal). */
function copyLowerBlock(packed: Float64Array, i0: number, i1: number, block: Float32Array | Float64Array): void {
  block.fill(0);
  for (let i = i0; i < i1; i++) block.set(packed.subarray(packedRow(i), packedRow(i) + i + 1), (i - i0) * i1);
}

/** `w[j, c] += values[c, j]` for the `[b, cols]` row-major `values` (j < cols). */
function addTransposedInto(w: Float64Array, values: Float32Array | Float64Array, b: number, cols: number): void {
  // 16 × 16 tiles: both arrays are read and written 16 contiguous entries at a time.
  const TILE = 16;
  for (let c0 = 0; c0 < b; c0 += TILE) {
    const c1 = Math.min(b, c0 + TILE);
    for (let j0 = 0; j0 < cols; j0 += TILE) {
      const j1 = Math.min(cols, j0 + TILE);
      for (let j = j0; j < j1; j++) {
        const row = j * b;
        for (let c = c0; c < c1; c++) w[row + c]! += values[c * cols + j]!;
      }
    }
  }
}

/** `w[i] −= P_ii q[i]` for i in [i0, i1): the diagonal both products of a block added. */
function subtractDiagonal(w: Float64Array, packed: Float64Array, q: Float32Array | Float64Array, i0: number, i1: number, b: number): void {
  for (let i = i0; i < i1; i++) {
    const diagonal = packed[packedRow(i) + i]!;
    const offset = i * b;
    for (let j = 0; j < b; j++) w[offset + j]! -= diagonal * q[offset + j]!;
  }
}

/** `w −= s (sᵀ q) / N` (the centring correction of the scatter about the shift). */
function rankOneCorrection(w: Float64Array, sum: Float64Array, q: Float32Array | Float64Array, n: number, d: number, b: number): void {
  const g = new Float64Array(b);
  for (let i = 0; i < d; i++) {
    const si = sum[i]!;
    if (si === 0) continue;
    const offset = i * b;
    for (let j = 0; j < b; j++) g[j]! += si * q[offset + j]!;
  }
  for (let i = 0; i < d; i++) {
    const factor = sum[i]! / n;
    if (factor === 0) continue;
    const offset = i * b;
    for (let j = 0; j < b; j++) w[offset + j]! -= factor * g[j]!;
  }
}

/**
 * Gram matrices up to this size go to the dense solver ({@link DenseSymmetricSolver}); larger ones to the
 * subspace iteration. Measured on 2000 / 3000 / 4000 × 4096 synthetic features (fresh processes, 2 cores, the
 * dense reduction on 2 threads): dense 1.44–1.55 / 3.82 / 9.39 s, subspace iteration ~2.9 / 3.38 / ~6.3 s —
 * the dense solver's 4/3·n³ runs from memory once the matrix outgrows the caches, the iteration's cost grows
 * about as n²; they cross near 2800 rows.
 */
export const DENSE_GRAM_LIMIT = 2600;

/** PCA of n < d rows through the n×n Gram matrix of the centred rows. */
function* solveGram(
  rows: RowBlocks,
  n: number,
  d: number,
  level: NComponents,
  caller: string,
  onProgress: PCAProgressCallback | undefined,
  precision: ProductPrecision,
): ProductWork<PCAState> {
  // Up to a few thousand rows the dense solver (4/3·n³ flops in WebAssembly) beats the subspace iteration,
  // whose cycle count grows as the spectrum near the cut flattens; the Gram matrix goes straight into its memory.
  const solver = n <= DENSE_GRAM_LIMIT && denseKernelsAvailable() ? new DenseSymmetricSolver(n) : null;
  const products = yield* gramProducts(rows, n, d, caller, {
    onChunk: (fraction) => onProgress?.({ phase: 'accumulating', fraction }),
    ...(solver === null ? {} : { target: solver.matrix, upperOnly: true }),
  });
  // The data may come divided by a power of two (see gramProducts): finishPCA unscales the results.
  const scale = products.scale;
  onProgress?.({ phase: 'solving' });
  const gram = products.product;
  let eigenvalues: Float64Array;
  /** `[n, count]` row-major eigenvectors of the leading `count` eigenvalues. */
  let leadingVectors: (count: number) => Float64Array;
  let size = n;
  let total: number | undefined;
  const rule = topRule(level, n);
  let top: TopEigenResult | null = null;
  let dense: DenseEigen | null = null;
  if (solver !== null) {
    // Only the leading eigenvalues the level needs (bisection), and the trace for the rest.
    dense = solver.solve((fraction) => onProgress?.({ phase: 'solving', fraction }), rule ?? undefined);
    eigenvalues = dense.values;
    if (rule !== null) {
      size = eigenvalues.length;
      total = dense.total;
    }
    leadingVectors = dense.vectors;
  } else {
    if (rule !== null) {
      let trace = 0;
      let largestDiagonal = 0;
      for (let i = 0; i < n; i++) {
        trace += gram[i * n + i]!;
        largestDiagonal = Math.max(largestDiagonal, gram[i * n + i]!);
      }
      total = trace;
      top = yield* topEigenpairs(
        n,
        { writeRows: (i0, i1, factor, out) => noProducts(copyScaled(gram.subarray(i0 * n, i1 * n), factor, out)) },
        {
          rule,
          trace,
          largestDiagonal,
          maxBlock: Math.floor(n / 2),
          precision,
          onIteration: (iteration) => onProgress?.({ phase: 'solving', iteration }),
        },
      );
    }
    let vectors: Float64Array;
    if (top !== null) {
      eigenvalues = top.values;
      vectors = top.vectors;
      size = top.block;
    } else {
      total = undefined;
      const full = eighSymmetricInPlace(gram, n);
      eigenvalues = full.values;
      vectors = full.vectors.data;
    }
    const stride = size;
    leadingVectors = (count) => selectColumns(vectors, n, stride, count);
  }
  try {
    return yield* finishPCA({
      n,
      d,
      level,
      caller,
      eigenvalues,
      size,
      ...(total === undefined ? {} : { total }),
      scale,
      mean: products.mean,
      *components(k, nonZero, lambda) {
        // V = Xcᵀ U Λ^(−1/2) as float32 products, a feature chunk at a time (the error they leave lies mostly along
        // the leading components, which the float64 re-orthonormalisation below removes); zero-variance columns
        // are completed by finishPCA.
        const computed = Math.min(k, nonZero);
        const vectors = leadingVectors(computed);
        // The weights and the components where the dense solver's matrix was, when that memory can be had:
        // its pages are mapped already (new arrays of 5 MB cost ~20 ms of page faults on a VM).
        const spent = dense?.spent() ?? null;
        const weightsBytes = Math.ceil((n * k * 4) / 8) * 8;
        const reuse = spent !== null && weightsBytes + d * k * 8 <= spent.byteLength;
        const weights = reuse ? new Float32Array(spent.buffer, spent.byteOffset, n * k).fill(0) : new Float32Array(n * k);
        scaleColumns(vectors, n, computed, lambda, weights, k);
        const { chunkCount, chunkLength } = products;
        let components: Float64Array = reuse ? new Float64Array(spent.buffer, spent.byteOffset + weightsBytes, d * k) : new Float64Array(d * k);
        const parts: Float32Array[] = [];
        for (let c = 0; c < chunkCount; c++) {
          const part = (yield productOf('float32', products.chunk(c), weights, chunkLength, n, k, { transposeA: true })) as Float32Array;
          const rows = Math.min(chunkLength, d - c * chunkLength);
          components.set(part.subarray(0, rows * k), c * chunkLength * k);
          parts.push(part);
        }
        // Xcᵀ U Λ^(−1/2) amplifies the error of U by √(λ₁/λⱼ): restore orthonormality (triangular: leading
        // directions are unchanged), through float32 corrections of the float32 parts when every column is computed.
        if (computed > 1 && computed === k) {
          components = yield* orthonormaliseFloat32Columns(components, parts, chunkLength, d, k);
        } else if (computed > 1) {
          const orthonormal = yield* orthonormalise64(selectColumns(components, d, k, computed), d, computed);
          for (let i = 0; i < d; i++) components.set(orthonormal.subarray(i * computed, (i + 1) * computed), i * k);
        }
        return { components, computed };
      },
    });
  } finally {
    // The solver's worker threads wait for the eigenvectors; stopped here when they are never asked for.
    dense?.release();
  }
}

type FinishInput = {
  n: number;
  d: number;
  level: NComponents;
  caller: string;
  /** Descending eigenvalues of the (scaled) centred product, `size` of them. */
  eigenvalues: Float64Array;
  size: number;
  /**
   * The sum of ALL eigenvalues (the trace) when `eigenvalues` holds only the leading ones (subspace
   * iteration); omitted: the sum of the clamped `eigenvalues`.
   */
  total?: number;
  /** The power of two the data was divided by before the product (1 = none). */
  scale: number;
  /** `[d]` float64 mean (scaled like the data). */
  mean: Float64Array;
  /** The first k components `[d, k]` row-major, and how many of them are computed (the rest are completed). */
  components: (k: number, nonZero: number, lambda: Float64Array) => ProductWork<{ components: Float64Array; computed: number }>;
};

/** Clamps the eigenvalues, picks k, builds unit components with the sign convention, and the state. */
function* finishPCA(input: FinishInput): ProductWork<PCAState> {
  const { n, d, level, caller, eigenvalues, size, scale } = input;
  // Centred data has rank ≤ N − 1: eigenvalues past that are rounding noise.
  const rank = Math.min(n - 1, d);
  const lambda = new Float64Array(size);
  for (let j = 0; j < size; j++) lambda[j] = j < rank ? Math.max(0, eigenvalues[j]!) : 0;
  let total = 0;
  for (let j = 0; j < size; j++) total += lambda[j]!;
  if (input.total !== undefined) total = Math.max(total, input.total);
  if (!(total > 0)) {
    throw new InvalidArgumentError(
      `${caller}: features must vary across samples — got ${formatShape([n, d])} with zero total variance (all samples identical). Fit on varied samples.`,
    );
  }
  let nonZero = 0;
  while (nonZero < size && lambda[nonZero]! > ZERO_EIGENVALUE_TOLERANCE * lambda[0]!) nonZero++;
  const k = chooseK(level, lambda, total, nonZero);
  const { components, computed } = yield* input.components(k, nonZero, lambda);
  completeOrthonormal(components, d, k, computed);
  const signed = withSignConvention(components, d, k);
  return {
    nComponents: level,
    nFeatures: d,
    k,
    mean: Float32Array.from(input.mean, (value) => value * scale),
    components: signed,
    singularValues: lambda.slice(0, k).map((value) => Math.sqrt(value) * scale),
    explainedVarianceRatio: lambda.slice(0, k).map((value) => value / total),
    explainedVariance: lambda.slice(0, k).map((value) => (value * scale * scale) / (n - 1)),
    nSamples: n,
  };
}

/** The number of components for `level` given the descending eigenvalues (sklearn's rule, see {@link PCAOptions}). */
function chooseK(level: NComponents, lambda: Float64Array, total: number, nonZero: number): number {
  if (isCount(level)) return level;
  if (level === 'all') return Math.max(1, nonZero);
  let cumulative = 0;
  let below = 0;
  for (let j = 0; j < lambda.length; j++) {
    cumulative += lambda[j]! / total;
    if (cumulative <= level) below++;
    else break;
  }
  return Math.max(1, Math.min(below + 1, nonZero));
}

/**
 * Makes columns `from…k−1` of the `[d, k]` row-major float64 `basis` orthonormal to the previous ones
 * (classical Gram–Schmidt, twice), starting from canonical unit vectors. Columns `< from` are kept.
 */
function completeOrthonormal(basis: Float64Array, d: number, k: number, from: number): void {
  const column = new Float64Array(d);
  const best = new Float64Array(d);
  for (let j = from; j < k; j++) {
    // The first canonical vector with a large part outside the span so far, else the largest one.
    let bestNorm = 0;
    for (let candidate = 0; candidate < d && bestNorm <= 0.5; candidate++) {
      column.fill(0);
      column[candidate] = 1;
      for (let pass = 0; pass < 2; pass++) {
        for (let q = 0; q < j; q++) {
          let dot = 0;
          for (let i = 0; i < d; i++) dot += basis[i * k + q]! * column[i]!;
          for (let i = 0; i < d; i++) column[i] = column[i]! - dot * basis[i * k + q]!;
        }
      }
      let norm = 0;
      for (let i = 0; i < d; i++) norm += column[i]! * column[i]!;
      norm = Math.sqrt(norm);
      if (norm > bestNorm) {
        bestNorm = norm;
        best.set(column);
      }
    }
    for (let i = 0; i < d; i++) basis[i * k + j] = best[i]! / bestNorm;
  }
}

/**
 * `weights[i, j] = vectors[i, j] / √λⱼ` for the `[n, computed]` vectors into the `[n, k]` weights (row by row
 * through a small function: V8 optimises it after a few calls, where one loop inside the generator ran slowly).
 */
function scaleColumns(vectors: Float64Array, n: number, computed: number, lambda: Float64Array, weights: Float32Array, k: number): void {
  const roots = lambda.subarray(0, computed).map((value) => Math.sqrt(value));
  for (let i = 0; i < n; i++) divideRow(vectors, i * computed, computed, roots, weights, i * k);
}

/** `out[to + j] = values[from + j] / divisors[j]` for j < count, rounded to float32. */
function divideRow(values: Float64Array, from: number, count: number, divisors: Float64Array, out: Float32Array, to: number): void {
  for (let j = 0; j < count; j++) out[to + j] = values[from + j]! / divisors[j]!;
}

/** Work that needs no product: returns `value` at once. */
// biome-ignore lint/correctness/useYield: the ProductWork protocol for a result that needs no product.
function* noProducts<T>(value: T): ProductWork<T> {
  return value;
}

/** `out[i] = source[i] / factor` (outside the generators: V8 optimises plain loops better). */
function copyScaled(source: Float64Array, factor: number, out: Float32Array | Float64Array): void {
  if (factor === 1) {
    out.set(source);
    return;
  }
  for (let i = 0; i < source.length; i++) out[i] = source[i]! / factor;
}

/**
 * The `[d, k]` basis in float32 with each column's sign flipped so its largest-magnitude entry is positive (the
 * first of equal magnitudes decides). Row by row through two small functions, which V8 optimises after a few
 * calls; one pass finds the signs, one writes the float32 copy with them (no separate flip of the float64 basis).
 */
function withSignConvention(basis: Float64Array, d: number, k: number): Float32Array {
  const largest = new Float64Array(k);
  for (let i = 0; i < d; i++) largestOfRow(basis, i * k, k, largest);
  const signs = largest.map((value) => (value < 0 ? -1 : 1));
  const out = new Float32Array(d * k);
  for (let i = 0; i < d; i++) writeSignedRow(basis, i * k, k, signs, out);
  return out;
}

/** `largest[j]` = the entry of largest magnitude so far of column j, given row `offset…offset + k` of the basis. */
function largestOfRow(basis: Float64Array, offset: number, k: number, largest: Float64Array): void {
  for (let j = 0; j < k; j++) {
    const value = basis[offset + j]!;
    if (Math.abs(value) > Math.abs(largest[j]!)) largest[j] = value;
  }
}

/** `out[offset + j] = basis[offset + j] · signs[j]` for one row, rounded to float32. */
function writeSignedRow(basis: Float64Array, offset: number, k: number, signs: Float64Array, out: Float32Array): void {
  for (let j = 0; j < k; j++) out[offset + j] = basis[offset + j]! * signs[j]!;
}
