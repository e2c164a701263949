import { eighSymmetricInPlace } from './eigh';
import { type Matrix64, type MatrixLike, toMatrix64, transposeMatrix64 } from './matrix64';
import { DfmError, InvalidArgumentError, formatShape } from '@dfm/errors';

/** Options of {@link svd}. */
export type SvdOptions = {
  /** Only the thin SVD is implemented; `full: true` is refused. Default `false`. */
  full?: false;
};

/** The thin SVD `A = U · diag(s) · Vᵀ` of an `[m, n]` matrix, with `r = min(m, n)`. */
export type SvdResult = {
  /** `[m, r]`, orthonormal columns (left singular vectors). */
  u: Matrix64;
  /** `[r]` singular values, descending, ≥ 0. */
  s: Float64Array;
  /** `[n, r]`, orthonormal columns (right singular vectors). */
  v: Matrix64;
};

const EPSILON = 2 ** -52;
const JACOBI_TOLERANCE = 4 * EPSILON;
const MAX_SWEEPS = 40;

/**
 * Thin singular value decomposition in float64.
 *
 * Method: the eigenvectors of the smaller Gram matrix (`AᵀA` or `AAᵀ`, via {@link eigh}) give a first
 * V; one-sided Jacobi rotations on `A·V` then make its columns exactly orthogonal (usually 1–2 sweeps),
 * so singular values are accurate to a few ulps of the largest — not only to √ulp as from the Gram
 * eigenvalues alone. Columns of U for zero singular values are completed to an orthonormal set, so
 * `UᵀU = VᵀV = I` to ~1e-15 even for rank-deficient input and repeated or tiny singular values.
 * Signs are arbitrary (each pair `u_j, v_j` may be negated together).
 *
 * @param matrix `[m, n]` ({@link Matrix64} or rows), any aspect ratio; not modified.
 * @throws InvalidArgumentError when empty or not finite, or when `full: true` is asked for.
 *
 * @example
 * const { u, s, v } = svd([[3, 0], [0, -2], [0, 0]]);
 * // s = [3, 2]; u: [3, 2]; v: [2, 2]
 */
export function svd(matrix: MatrixLike, options: SvdOptions = {}): SvdResult {
  const { full = false } = options;
  if (full !== false) {
    throw new InvalidArgumentError(
      `svd(): only the thin SVD is implemented (options.full must be false) — got full: ${String(full)}. Complete U yourself if you need [m, m].`,
    );
  }
  const a = toMatrix64(matrix, 'svd()');
  if (a.rows === 0 || a.cols === 0) {
    throw new InvalidArgumentError(
      `svd(): matrix must not be empty — got ${formatShape([a.rows, a.cols])}. Pass at least a [1,1] matrix.`,
    );
  }
  for (let i = 0; i < a.data.length; i++) {
    if (!Number.isFinite(a.data[i]!)) {
      throw new InvalidArgumentError(
        `svd(): matrix entries must be finite — got ${a.data[i]} at (${Math.floor(i / a.cols)}, ${i % a.cols}). Remove NaN/Infinity first.`,
      );
    }
  }
  if (a.rows < a.cols) {
    const { u, s, v } = svdTall(transposeMatrix64(a));
    return { u: v, s, v: u };
  }
  return svdTall(a);
}

/** SVD of `[m, n]` with m ≥ n. */
function svdTall(a: Matrix64): SvdResult {
  const { rows: m, cols: n, data } = a;
  // Scale to unit max entry so squares cannot overflow or underflow; undone on s.
  let scale = 0;
  for (let i = 0; i < data.length; i++) scale = Math.max(scale, Math.abs(data[i]!));
  if (scale === 0) return zeroSvd(m, n);
  const scaled = new Float64Array(data.length);
  for (let i = 0; i < data.length; i++) scaled[i] = data[i]! / scale;

  // G = AᵀA (n × n), accumulated row by row.
  const gram = new Float64Array(n * n);
  for (let r = 0; r < m; r++) {
    const rowOffset = r * n;
    for (let i = 0; i < n; i++) {
      const ai = scaled[rowOffset + i]!;
      if (ai === 0) continue;
      const gOffset = i * n;
      for (let j = 0; j <= i; j++) gram[gOffset + j]! += ai * scaled[rowOffset + j]!;
    }
  }
  const { vectors } = eighSymmetricInPlace(gram, n);

  // Work on columns: bT rows = columns of B = A·V (length m); vT rows = columns of V (length n).
  const bT = new Float64Array(n * m);
  const vT = new Float64Array(n * n);
  for (let j = 0; j < n; j++) for (let i = 0; i < n; i++) vT[j * n + i] = vectors.data[i * n + j]!;
  for (let r = 0; r < m; r++) {
    const rowOffset = r * n;
    for (let j = 0; j < n; j++) {
      let sum = 0;
      const vOffset = j * n;
      for (let i = 0; i < n; i++) sum += scaled[rowOffset + i]! * vT[vOffset + i]!;
      bT[j * m + r] = sum;
    }
  }
  oneSidedJacobi(bT, vT, m, n);

  const norms = new Float64Array(n);
  for (let j = 0; j < n; j++) norms[j] = Math.sqrt(dot(bT, j * m, bT, j * m, m));
  const order = Array.from({ length: n }, (_, j) => j).sort((i, j) => norms[j]! - norms[i]!);
  const largest = norms[order[0]!]!;
  // Columns this small are rounding noise of a zero singular value: their direction is completed below.
  const negligible = largest * EPSILON * Math.max(m, n);

  const s = new Float64Array(n);
  const u = new Float64Array(m * n);
  const v = new Float64Array(n * n);
  const uColumns = new Float64Array(n * m); // u transposed while being built
  const needsCompletion: number[] = [];
  for (let c = 0; c < n; c++) {
    const j = order[c]!;
    const norm = norms[j]!;
    s[c] = norm * scale;
    for (let i = 0; i < n; i++) v[i * n + c] = vT[j * n + i]!;
    if (norm > negligible) {
      for (let r = 0; r < m; r++) uColumns[c * m + r] = bT[j * m + r]! / norm;
    } else {
      s[c] = 0;
      needsCompletion.push(c);
    }
  }
  completeColumns(uColumns, m, n, needsCompletion);
  for (let c = 0; c < n; c++) for (let r = 0; r < m; r++) u[r * n + c] = uColumns[c * m + r]!;
  return { u: { rows: m, cols: n, data: u }, s, v: { rows: n, cols: n, data: v } };
}

/**
 * One-sided (Hestenes) Jacobi: rotates pairs of rows of `bT` (columns of B) until all are orthogonal to
 * {@link JACOBI_TOLERANCE}, applying the same rotations to the rows of `vT`.
 */
function oneSidedJacobi(bT: Float64Array, vT: Float64Array, m: number, n: number): void {
  let total = 0;
  for (let i = 0; i < bT.length; i++) total += bT[i]! * bT[i]!;
  const tiny = (total * EPSILON * EPSILON) / 1024;
  for (let sweep = 0; sweep < MAX_SWEEPS; sweep++) {
    let rotated = false;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const alpha = dot(bT, p * m, bT, p * m, m);
        const beta = dot(bT, q * m, bT, q * m, m);
        if (alpha <= tiny || beta <= tiny) continue;
        const gamma = dot(bT, p * m, bT, q * m, m);
        if (Math.abs(gamma) <= JACOBI_TOLERANCE * Math.sqrt(alpha * beta)) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        rotate(bT, p * m, q * m, m, c, s);
        rotate(vT, p * n, q * n, n, c, s);
      }
    }
    if (!rotated) return;
  }
  throw new DfmError(
    `svd(): one-sided Jacobi did not converge in ${MAX_SWEEPS} sweeps — the input may hold values near overflow. Rescale the matrix.`,
    { code: 'E_NO_CONVERGENCE' },
  );
}

function dot(a: Float64Array, aOffset: number, b: Float64Array, bOffset: number, length: number): number {
  let sum = 0;
  for (let i = 0; i < length; i++) sum += a[aOffset + i]! * b[bOffset + i]!;
  return sum;
}

/** (x, y) ← (c·x − s·y, s·x + c·y) for the rows at `pOffset` (x) and `qOffset` (y). */
function rotate(rows: Float64Array, pOffset: number, qOffset: number, length: number, c: number, s: number): void {
  for (let i = 0; i < length; i++) {
    const x = rows[pOffset + i]!;
    const y = rows[qOffset + i]!;
    rows[pOffset + i] = c * x - s * y;
    rows[qOffset + i] = s * x + c * y;
  }
}

/**
 * Fills the rows `missing` of `columns` (`[count, m]`, each a unit vector) with unit vectors orthogonal
 * to every other row, by Gram–Schmidt (twice) on the canonical basis.
 */
function completeColumns(columns: Float64Array, m: number, count: number, missing: readonly number[]): void {
  if (missing.length === 0) return;
  const isMissing = new Set(missing);
  const filled = Array.from({ length: count }, (_, c) => c).filter((c) => !isMissing.has(c));
  const candidate = new Float64Array(m);
  for (const c of missing) {
    // Take the first canonical vector with a large enough part outside the span, else the largest one.
    let best = -1;
    let bestNorm = 0;
    const bestVector = new Float64Array(m);
    for (let r = 0; r < m && bestNorm <= 0.5; r++) {
      candidate.fill(0);
      candidate[r] = 1;
      for (let pass = 0; pass < 2; pass++) {
        for (const f of filled) {
          const projection = dot(columns, f * m, candidate, 0, m);
          for (let i = 0; i < m; i++) candidate[i] = candidate[i]! - projection * columns[f * m + i]!;
        }
      }
      const norm = Math.sqrt(dot(candidate, 0, candidate, 0, m));
      if (norm > bestNorm) {
        best = r;
        bestNorm = norm;
        bestVector.set(candidate);
      }
    }
    if (best < 0 || bestNorm < 1e-3) {
      throw new DfmError('svd(): could not complete an orthonormal basis — this is a bug. Please report it with the input.', { code: 'E_INTERNAL' });
    }
    for (let i = 0; i < m; i++) columns[c * m + i] = bestVector[i]! / bestNorm;
    filled.push(c);
  }
}

function zeroSvd(m: number, n: number): SvdResult {
  const u = new Float64Array(m * n);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    u[i * n + i] = 1;
    v[i * n + i] = 1;
  }
  return { u: { rows: m, cols: n, data: u }, s: new Float64Array(n), v: { rows: n, cols: n, data: v } };
}
