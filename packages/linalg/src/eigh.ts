import { type Matrix64, type MatrixLike, toMatrix64 } from './matrix64';
import { DfmError, InvalidArgumentError, ShapeMismatchError, formatShape } from '@dfm/errors';

/** The result of {@link eigh}: `matrix = vectors · diag(values) · vectorsᵀ`. */
export type EighResult = {
  /** Eigenvalues, `[n]`, in descending order. */
  values: Float64Array;
  /** `[n, n]`; column `j` is the unit eigenvector of `values[j]`. Columns are orthonormal. */
  vectors: Matrix64;
};

/** Options of {@link eigh}. */
export type EighOptions = {
  /**
   * How far from symmetric the input may be, relative to its largest entry, before `eigh` refuses it.
   * Only the lower triangle is read, so a slightly asymmetric input behaves as its lower triangle. Default `1e-8`.
   */
  symmetryTolerance?: number;
};

const EPSILON = 2 ** -52;

/**
 * √(a² + b²): the plain formula where it cannot overflow or underflow (V8's Math.hypot is several times
 * slower, and the QL sweeps call this O(n²) times), Math.hypot elsewhere.
 */
function hypot(a: number, b: number): number {
  const sum = a * a + b * b;
  return sum > 1e-290 && sum < 1e290 ? Math.sqrt(sum) : Math.hypot(a, b);
}
const MAX_ITERATIONS_PER_VALUE = 64;

/**
 * Symmetric eigendecomposition in float64: Householder reduction to tridiagonal form, then the implicit
 * QL algorithm with Wilkinson-style shifts. Backward stable: eigenvalues are exact to a few ulps of the
 * largest, eigenvectors orthonormal to about `n · 2⁻⁵²`, repeated eigenvalues included.
 *
 * @param matrix symmetric `[n, n]` ({@link Matrix64} or rows); not modified.
 * @returns eigenvalues `[n]` descending and eigenvectors `[n, n]` as columns.
 * @throws ShapeMismatchError when not square; InvalidArgumentError when empty, not finite or not symmetric.
 *
 * @example
 * const { values, vectors } = eigh([[2, 1], [1, 2]]);
 * // values = [3, 1]; vectors' first column = ±[0.7071, 0.7071]
 */
export function eigh(matrix: MatrixLike, options: EighOptions = {}): EighResult {
  const { symmetryTolerance = 1e-8 } = options;
  const a = toMatrix64(matrix, 'eigh()');
  const n = a.rows;
  if (a.cols !== n) {
    throw new ShapeMismatchError(
      `eigh(): matrix must be square [n, n] — got ${formatShape([a.rows, a.cols])}. Pass a symmetric matrix such as XᵀX.`,
    );
  }
  if (n === 0) {
    throw new InvalidArgumentError('eigh(): matrix must not be empty — got [0,0]. Pass at least a [1,1] matrix.');
  }
  checkSymmetricFinite(a, symmetryTolerance);
  return eighSymmetricInPlace(a.data, n);
}

/**
 * Eigendecomposition of the symmetric `[n, n]` row-major `data`, which is overwritten (only its lower
 * triangle is read). Internal: callers have validated the input.
 */
export function eighSymmetricInPlace(data: Float64Array, n: number): EighResult {
  const diagonal = new Float64Array(n);
  const offDiagonal = new Float64Array(n);
  // rows of `basis` are the columns of Q, with A = Q T Qᵀ.
  const basis = tridiagonalize(data, n, diagonal, offDiagonal);
  implicitQl(diagonal, offDiagonal, basis, n);

  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => diagonal[j]! - diagonal[i]!);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  for (let col = 0; col < n; col++) {
    const source = order[col]!;
    values[col] = diagonal[source]!;
    const rowOffset = source * n;
    for (let i = 0; i < n; i++) vectors[i * n + col] = basis[rowOffset + i]!;
  }
  return { values, vectors: { rows: n, cols: n, data: vectors } };
}

function checkSymmetricFinite(a: Matrix64, tolerance: number): void {
  const { rows: n, data } = a;
  let largest = 0;
  for (let i = 0; i < data.length; i++) {
    const value = data[i]!;
    if (!Number.isFinite(value)) {
      throw new InvalidArgumentError(
        `eigh(): matrix entries must be finite — got ${value} at (${Math.floor(i / n)}, ${i % n}). Remove NaN/Infinity first.`,
      );
    }
    largest = Math.max(largest, Math.abs(value));
  }
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      const gap = Math.abs(data[i * n + j]! - data[j * n + i]!);
      if (gap > tolerance * largest) {
        throw new InvalidArgumentError(
          `eigh(): matrix must be symmetric — entries (${i}, ${j}) and (${j}, ${i}) differ by ${gap.toExponential(3)} (largest entry ${largest.toExponential(3)}). Pass (M + Mᵀ) / 2, or raise options.symmetryTolerance.`,
        );
      }
    }
  }
}

/**
 * Householder reduction of the symmetric `a` (lower triangle read, overwritten) to tridiagonal form.
 * Fills `diagonal` and `offDiagonal` (`offDiagonal[i]` couples `i` and `i + 1`) and returns Qᵀ row-major,
 * so row `r` of the result is column `r` of Q, where `A = Q T Qᵀ`.
 *
 * Only the lower triangle of the trailing block is touched, row by row (contiguous), and the rank-2
 * update of step k is fused with the product `A v` of step k + 1: half the matrix streams through
 * memory once per step.
 */
function tridiagonalize(a: Float64Array, n: number, diagonal: Float64Array, offDiagonal: Float64Array): Float64Array {
  const reflectors: Float64Array[] = [];
  const betas = new Float64Array(n);
  let p = new Float64Array(n);
  let nextP = new Float64Array(n);
  let pReady = false;

  /** Builds reflector k from column k, rows k+1…; returns β (0 when nothing to annihilate). */
  const buildReflector = (k: number): number => {
    const start = k + 1;
    const m = n - start;
    const v = new Float64Array(m);
    reflectors[k] = v;
    let scale = 0;
    for (let i = 0; i < m; i++) scale = Math.max(scale, Math.abs(a[(start + i) * n + k]!));
    if (scale === 0) {
      offDiagonal[k] = 0;
      betas[k] = 0;
      return 0;
    }
    let normSquared = 0;
    for (let i = 0; i < m; i++) {
      const value = a[(start + i) * n + k]! / scale;
      v[i] = value;
      normSquared += value * value;
    }
    const x0 = v[0]!;
    const alpha = x0 >= 0 ? -Math.sqrt(normSquared) : Math.sqrt(normSquared);
    offDiagonal[k] = alpha * scale;
    v[0] = x0 - alpha;
    const vNormSquared = normSquared - x0 * x0 + v[0]! * v[0]!;
    const beta = vNormSquared === 0 ? 0 : 2 / vNormSquared;
    betas[k] = beta;
    return beta;
  };

  for (let k = 0; k < n - 2; k++) {
    const start = k + 1;
    const m = n - start;
    if (!pReady) {
      const beta = buildReflector(k);
      if (beta !== 0) {
        // p = β A22 v from the lower triangle: row i contributes a_ij v_j to p_i and a_ij v_i to p_j.
        const v = reflectors[k]!;
        p.fill(0, 0, m);
        for (let i = 0; i < m; i++) {
          const rowOffset = (start + i) * n + start;
          const vi = v[i]!;
          let sum = 0;
          for (let j = 0; j < i; j++) {
            const aij = a[rowOffset + j]!;
            sum += aij * v[j]!;
            p[j] = p[j]! + aij * vi;
          }
          p[i] = p[i]! + sum + a[rowOffset + i]! * vi;
        }
        for (let i = 0; i < m; i++) p[i] = beta * p[i]!;
      }
    }
    pReady = false;
    const beta = betas[k]!;
    if (beta === 0) continue;
    const v = reflectors[k]!;
    // w = p − (β/2)(pᵀv) v, stored in p.
    let pv = 0;
    for (let i = 0; i < m; i++) pv += p[i]! * v[i]!;
    const half = 0.5 * beta * pv;
    for (let i = 0; i < m; i++) p[i] = p[i]! - half * v[i]!;
    // A22 ← A22 − v wᵀ − w vᵀ. Column `start` first, so reflector k+1 can be built from it.
    const v0 = v[0]!;
    const w0 = p[0]!;
    for (let i = 0; i < m; i++) {
      const index = (start + i) * n + start;
      a[index] = a[index]! - v[i]! * w0 - p[i]! * v0;
    }
    const hasNext = k + 1 < n - 2;
    const nextBeta = hasNext ? buildReflector(k + 1) : 0;
    const nextV = reflectors[k + 1];
    if (nextBeta !== 0) nextP.fill(0, 0, m - 1);
    for (let i = 1; i < m; i++) {
      const rowOffset = (start + i) * n + start;
      const vi = v[i]!;
      const wi = p[i]!;
      if (nextBeta !== 0 && nextV !== undefined) {
        // Update row i (columns 1…i) and accumulate nextP = A'' v' from the updated lower triangle.
        const vNext = nextV[i - 1]!;
        let sum = 0;
        for (let j = 1; j < i; j++) {
          const aij = a[rowOffset + j]! - vi * p[j]! - wi * v[j]!;
          a[rowOffset + j] = aij;
          sum += aij * nextV[j - 1]!;
          nextP[j - 1] = nextP[j - 1]! + aij * vNext;
        }
        const aii = a[rowOffset + i]! - 2 * vi * wi;
        a[rowOffset + i] = aii;
        nextP[i - 1] = nextP[i - 1]! + sum + aii * vNext;
      } else {
        for (let j = 1; j <= i; j++) a[rowOffset + j] = a[rowOffset + j]! - vi * p[j]! - wi * v[j]!;
      }
    }
    if (hasNext) {
      pReady = true;
      if (nextBeta !== 0) for (let i = 0; i < m - 1; i++) nextP[i] = nextBeta * nextP[i]!;
      const swap = p;
      p = nextP;
      nextP = swap;
    }
  }
  for (let i = 0; i < n; i++) diagonal[i] = a[i * n + i]!;
  if (n >= 2) offDiagonal[n - 2] = a[(n - 1) * n + (n - 2)]!;
  offDiagonal[n - 1] = 0;

  // Q = H₀ H₁ … H_{n−3}, built from the right end; each Hₖ touches indices k+1… only.
  const q = new Float64Array(n * n);
  for (let i = 0; i < n; i++) q[i * n + i] = 1;
  const t = new Float64Array(n);
  for (let k = n - 3; k >= 0; k--) {
    const beta = betas[k]!;
    if (beta === 0) continue;
    const v = reflectors[k]!;
    const start = k + 1;
    const m = n - start;
    // t = vᵀ Q[start.., start..] ; Q ← Q − β v t
    t.fill(0, 0, m);
    for (let i = 0; i < m; i++) {
      const vi = v[i]!;
      if (vi === 0) continue;
      const rowOffset = (start + i) * n + start;
      for (let j = 0; j < m; j++) t[j] = t[j]! + vi * q[rowOffset + j]!;
    }
    for (let i = 0; i < m; i++) {
      const factor = beta * v[i]!;
      if (factor === 0) continue;
      const rowOffset = (start + i) * n + start;
      for (let j = 0; j < m; j++) q[rowOffset + j] = q[rowOffset + j]! - factor * t[j]!;
    }
  }
  // Return Qᵀ so the QL rotations combine contiguous rows.
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      const upper = q[i * n + j]!;
      q[i * n + j] = q[j * n + i]!;
      q[j * n + i] = upper;
    }
  }
  return q;
}

/**
 * The eigenvalues (unsorted, in `diagonal`, which is returned) of the symmetric tridiagonal (`diagonal`,
 * `offDiagonal`; `offDiagonal[i]` couples i and i + 1, the last entry 0), both overwritten: implicit QL
 * without vectors, O(n²). Internal (the dense eigensolver, `dense-eigen.ts`).
 */
export function eigenvaluesOfTridiagonal(diagonal: Float64Array, offDiagonal: Float64Array, n: number): Float64Array {
  implicitQl(diagonal, offDiagonal, null, n);
  return diagonal;
}

/**
 * Implicit QL iteration on the symmetric tridiagonal (`diagonal`, `offDiagonal`), rotating the rows of
 * `basisT` (Qᵀ) alongside (when given). On return `diagonal` holds the eigenvalues (unsorted) and row `i` of `basisT`
 * the eigenvector of `diagonal[i]`.
 */
function implicitQl(diagonal: Float64Array, offDiagonal: Float64Array, basisT: Float64Array | null, n: number): void {
  const d = diagonal;
  const e = offDiagonal;
  const cosines = new Float64Array(n);
  const sines = new Float64Array(n);
  // An off-diagonal entry is negligible below ε × its neighbours (relative accuracy where reachable) or
  // below ε × ‖T‖ (backward stable; without it, clusters of tiny eigenvalues below a large one can stall).
  let norm = 0;
  for (let i = 0; i < n; i++) norm = Math.max(norm, Math.abs(d[i]!) + Math.abs(e[i]!) + (i > 0 ? Math.abs(e[i - 1]!) : 0));
  const globalTolerance = EPSILON * norm;
  for (let l = 0; l < n; l++) {
    let iterations = 0;
    for (;;) {
      let m = l;
      for (; m < n - 1; m++) {
        const magnitude = Math.abs(e[m]!);
        if (magnitude <= globalTolerance || magnitude <= EPSILON * (Math.abs(d[m]!) + Math.abs(d[m + 1]!))) break;
      }
      if (m === l) break;
      if (++iterations > MAX_ITERATIONS_PER_VALUE) {
        throw new DfmError(
          `eigh(): the QL iteration did not converge for eigenvalue ${l} after ${MAX_ITERATIONS_PER_VALUE} iterations — the input may hold values near overflow. Rescale the matrix.`,
          { code: 'E_NO_CONVERGENCE' },
        );
      }
      // Wilkinson-style shift from the leading 2×2 block.
      let g = (d[l + 1]! - d[l]!) / (2 * e[l]!);
      let r = hypot(g, 1);
      g = d[m]! - d[l]! + e[l]! / (g + (g >= 0 ? r : -r));
      let s = 1;
      let c = 1;
      let p = 0;
      let underflow = false;
      let lowest = m;
      for (let i = m - 1; i >= l; i--) {
        const f = s * e[i]!;
        const b = c * e[i]!;
        r = hypot(f, g);
        e[i + 1] = r;
        if (r === 0) {
          d[i + 1] = d[i + 1]! - p;
          e[m] = 0;
          underflow = true;
          break;
        }
        s = f / r;
        c = g / r;
        g = d[i + 1]! - p;
        r = (d[i]! - g) * s + 2 * c * b;
        p = s * r;
        d[i + 1] = g + p;
        g = c * r - b;
        cosines[i] = c;
        sines[i] = s;
        lowest = i;
      }
      if (basisT !== null) applyRotations(basisT, n, lowest, m - 1, cosines, sines);
      if (underflow) continue;
      d[l] = d[l]! - p;
      e[l] = g;
      e[m] = 0;
    }
  }
}

const ROTATION_BLOCK = 128;

/**
 * Applies the rotations `i = highest … lowest` (in that order) of one QL sweep to rows `i`, `i + 1` of
 * `basisT`, a block of columns at a time so each row segment stays in cache across the sweep.
 */
function applyRotations(
  basisT: Float64Array,
  n: number,
  lowest: number,
  highest: number,
  cosines: Float64Array,
  sines: Float64Array,
): void {
  if (lowest > highest) return;
  for (let k0 = 0; k0 < n; k0 += ROTATION_BLOCK) {
    const k1 = Math.min(n, k0 + ROTATION_BLOCK);
    for (let i = highest; i >= lowest; i--) {
      const c = cosines[i]!;
      const s = sines[i]!;
      const rowI = i * n;
      const rowNext = rowI + n;
      for (let k = k0; k < k1; k++) {
        const zi = basisT[rowI + k]!;
        const zNext = basisT[rowNext + k]!;
        basisT[rowNext + k] = s * zi + c * zNext;
        basisT[rowI + k] = c * zi - s * zNext;
      }
    }
  }
}
