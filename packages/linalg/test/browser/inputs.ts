/** Inputs of the real-browser test, made the same way in the page (app.ts) and in Node (chromium.e2e.ts). */

/** A seeded uniform source in [−0.5, 0.5). */
function uniform(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 16807) % 2147483647;
    return state / 2147483647 - 0.5;
  };
}

/**
 * Q diag(λ) Qᵀ `[n, n]` row-major with Q a product of 3 seeded Householder reflectors and λ_j = (j + 1)^−1.5:
 * a symmetric matrix whose eigenvalues are known without any eigensolver.
 */
export function knownSpectrumMatrix(n: number, seed: number): { matrix: Float64Array; values: number[] } {
  const values = Array.from({ length: n }, (_, j) => (j + 1) ** -1.5);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) a[i * n + i] = values[i]!;
  const random = uniform(seed);
  const column = new Float64Array(n);
  for (let r = 0; r < 3; r++) {
    const v = Float64Array.from({ length: n }, random);
    let norm = 0;
    for (const x of v) norm += x * x;
    const beta = 2 / norm;
    // A ← H A H with H = I − β v vᵀ (A symmetric): rows, then columns.
    for (let c = 0; c < n; c++) {
      let dot = 0;
      for (let i = 0; i < n; i++) dot += v[i]! * a[i * n + c]!;
      column[c] = dot;
    }
    for (let i = 0; i < n; i++) for (let c = 0; c < n; c++) a[i * n + c] = a[i * n + c]! - beta * v[i]! * column[c]!;
    for (let i = 0; i < n; i++) {
      let dot = 0;
      for (let c = 0; c < n; c++) dot += a[i * n + c]! * v[c]!;
      column[i] = dot;
    }
    for (let i = 0; i < n; i++) for (let c = 0; c < n; c++) a[i * n + c] = a[i * n + c]! - beta * column[i]! * v[c]!;
  }
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) a[j * n + i] = a[i * n + j]!;
  return { matrix: a, values };
}

/** `[n, d]` float32 rows with a decaying spectrum (ReLU-like features: a positive mean, 40 strong directions). */
export function pcaLikeRows(n: number, d: number, seed: number): Float32Array {
  const random = uniform(seed);
  const directions = 40;
  const basis = Float32Array.from({ length: directions * d }, random);
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) out[i * d + j] = 1 + 0.05 * random();
    for (let p = 0; p < directions; p++) {
      const weight = random() / (p + 1);
      for (let j = 0; j < d; j++) out[i * d + j] = out[i * d + j]! + weight * basis[p * d + j]!;
    }
  }
  return out;
}
