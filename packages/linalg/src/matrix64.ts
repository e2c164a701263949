import { InvalidArgumentError, ShapeMismatchError, formatShape } from '@dfm/errors';

/**
 * A dense float64 matrix, row-major: element `(i, j)` is `data[i * cols + j]`.
 * The plain-object shape keeps it cheap to build, serialise and hand across packages.
 */
export type Matrix64 = { rows: number; cols: number; data: Float64Array };

/** A {@link Matrix64} or a rectangular array of rows, as accepted by {@link eigh} and {@link svd}. */
export type MatrixLike = Matrix64 | readonly (readonly number[])[];

/**
 * Creates a `[rows, cols]` {@link Matrix64}, filled with zeros or with a copy of `data`.
 *
 * @example
 * const identity = createMatrix64(2, 2, [1, 0, 0, 1]);
 */
export function createMatrix64(rows: number, cols: number, data?: ArrayLike<number>): Matrix64 {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0) {
    throw new InvalidArgumentError(
      `createMatrix64(): rows and cols must be non-negative integers — got ${rows} and ${cols}. Pass whole numbers.`,
    );
  }
  if (data !== undefined && data.length !== rows * cols) {
    throw new ShapeMismatchError(
      `createMatrix64(): data must hold rows × cols = ${rows * cols} numbers for shape ${formatShape([rows, cols])} — got ${data.length}. Pass row-major data of that length.`,
    );
  }
  const out = new Float64Array(rows * cols);
  if (data !== undefined) out.set(data);
  return { rows, cols, data: out };
}

/** `true` when `value` looks like a {@link Matrix64} (`rows`, `cols` and a `Float64Array` of matching length). */
export function isMatrix64(value: unknown): value is Matrix64 {
  if (typeof value !== 'object' || value === null) return false;
  const m = value as Partial<Matrix64>;
  return (
    typeof m.rows === 'number' &&
    typeof m.cols === 'number' &&
    m.data instanceof Float64Array &&
    m.data.length === m.rows * m.cols
  );
}

/**
 * Converts a {@link MatrixLike} to a fresh {@link Matrix64} (always a copy: the input is never shared).
 * `caller` names the public function in error messages.
 */
export function toMatrix64(matrix: MatrixLike, caller = 'toMatrix64()'): Matrix64 {
  if (isMatrix64(matrix)) return { rows: matrix.rows, cols: matrix.cols, data: matrix.data.slice() };
  if (!Array.isArray(matrix)) {
    throw new InvalidArgumentError(
      `${caller}: matrix must be a Matrix64 { rows, cols, data: Float64Array } or an array of rows — got ${describe(matrix)}. Pass one of those.`,
    );
  }
  const rows = matrix.length;
  const cols = rows === 0 ? 0 : (matrix[0]?.length ?? 0);
  const data = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const row = matrix[i];
    if (!Array.isArray(row) || row.length !== cols) {
      throw new ShapeMismatchError(
        `${caller}: matrix rows must all have ${cols} entries — row ${i} has ${Array.isArray(row) ? row.length : describe(row)}. Pass a rectangular array.`,
      );
    }
    for (let j = 0; j < cols; j++) data[i * cols + j] = row[j] as number;
  }
  return { rows, cols, data };
}

/** The transpose of `m` as a new `[cols, rows]` matrix. */
export function transposeMatrix64(m: Matrix64): Matrix64 {
  const { rows, cols, data } = m;
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const offset = i * cols;
    for (let j = 0; j < cols; j++) out[j * rows + i] = data[offset + j]!;
  }
  return { rows: cols, cols: rows, data: out };
}

/** The product `a · b` (`[a.rows, a.cols] · [b.rows, b.cols]` → `[a.rows, b.cols]`) in float64. */
export function multiplyMatrix64(a: Matrix64, b: Matrix64): Matrix64 {
  if (a.cols !== b.rows) {
    throw new ShapeMismatchError(
      `multiplyMatrix64(): a.cols must equal b.rows — got ${formatShape([a.rows, a.cols])} · ${formatShape([b.rows, b.cols])}. Transpose one operand.`,
    );
  }
  const { rows: m, cols: n } = a;
  const p = b.cols;
  const out = new Float64Array(m * p);
  const ad = a.data;
  const bd = b.data;
  for (let i = 0; i < m; i++) {
    const outOffset = i * p;
    for (let k = 0; k < n; k++) {
      const aik = ad[i * n + k]!;
      if (aik === 0) continue;
      const bOffset = k * p;
      for (let j = 0; j < p; j++) out[outOffset + j]! += aik * bd[bOffset + j]!;
    }
  }
  return { rows: m, cols: p, data: out };
}

/** Converts a {@link Matrix64} to an array of rows (handy for printing and JSON). */
export function matrix64ToArray(m: Matrix64): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < m.rows; i++) out.push(Array.from(m.data.subarray(i * m.cols, (i + 1) * m.cols)));
  return out;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  return typeof value;
}
