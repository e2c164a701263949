/**
 * Matrices of known spectrum and the quality of computed eigenpairs, for the eigensolver's tests in Node
 * (src/dense-eigen.test.ts) and in a page (test/browser/): plain TypeScript, no Node built-in.
 */

/** A seeded uniform source in [−0.5, 0.5). */
export function uniform(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 16807) % 2147483647;
    return state / 2147483647 - 0.5;
  };
}

/**
 * Q diag(values) Qᵀ with Q a product of 3 random Householder reflectors (orthogonal to rounding): a
 * symmetric matrix whose eigenvalues are known without any eigensolver.
 */
export function withSpectrum(values: number[], seed: number): Float64Array {
  const n = values.length;
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) a[i * n + i] = values[i]!;
  const random = uniform(seed);
  for (let r = 0; r < 3; r++) {
    const v = Float64Array.from({ length: n }, random);
    let norm = 0;
    for (const x of v) norm += x * x;
    const beta = 2 / norm;
    // A ← H A H with H = I − β v vᵀ: rows, then columns.
    for (const pass of [0, 1]) {
      for (let c = 0; c < n; c++) {
        let dot = 0;
        for (let i = 0; i < n; i++) dot += v[i]! * (pass === 0 ? a[i * n + c]! : a[c * n + i]!);
        for (let i = 0; i < n; i++) {
          const index = pass === 0 ? i * n + c : c * n + i;
          a[index] = a[index]! - beta * v[i]! * dot;
        }
      }
    }
  }
  // Exactly symmetric.
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) a[j * n + i] = a[i * n + j]!;
  return a;
}

/**
 * max_j ‖A v_j − λ_j v_j‖ and max |VᵀV − I| over the first `count` columns of the row-major V, `stride` values
 * per row (`count` unless V holds more columns).
 */
export function eigenQuality(
  a: Float64Array,
  n: number,
  values: Float64Array,
  vectors: Float64Array,
  count: number,
  stride = count,
): { residual: number; orthogonality: number } {
  let residual = 0;
  let orthogonality = 0;
  for (let j = 0; j < count; j++) {
    let sum = 0;
    for (let i = 0; i < n; i++) {
      let av = 0;
      for (let k = 0; k < n; k++) av += a[i * n + k]! * vectors[k * stride + j]!;
      sum += (av - values[j]! * vectors[i * stride + j]!) ** 2;
    }
    residual = Math.max(residual, Math.sqrt(sum));
    for (let q = 0; q <= j; q++) {
      let dot = 0;
      for (let i = 0; i < n; i++) dot += vectors[i * stride + j]! * vectors[i * stride + q]!;
      orthogonality = Math.max(orthogonality, Math.abs(dot - (q === j ? 1 : 0)));
    }
  }
  return { residual, orthogonality };
}
