import type { PCAState } from '../src/pca';

/** Column means of the first `n` rows of `[·, d]` row-major `rows`, in float64. */
export function exactMean(rows: Float32Array, n: number, d: number): Float64Array {
  const mean = new Float64Array(d);
  for (let r = 0; r < n; r++) for (let j = 0; j < d; j++) mean[j]! += rows[r * d + j]!;
  return mean.map((value) => value / n);
}

/**
 * The FRE `‖(x − μ) − ((x − μ)V)Vᵀ‖²` of the first `count` rows in float64 arithmetic, with the fitted
 * components `V` (float32 as stored) and the given mean: the fitted state's float32 mean (the model as it
 * scores), or the rows' exact float64 mean (the fitted subspace alone). No tfjs involved.
 */
export function fre64(state: PCAState, mean: ArrayLike<number>, rows: Float32Array, count: number): Float64Array {
  const { nFeatures: d, k, components } = state;
  const out = new Float64Array(count);
  const centred = new Float64Array(d);
  const z = new Float64Array(k);
  for (let r = 0; r < count; r++) {
    for (let i = 0; i < d; i++) centred[i] = rows[r * d + i]! - mean[i]!;
    z.fill(0);
    for (let i = 0; i < d; i++) for (let j = 0; j < k; j++) z[j]! += centred[i]! * components[i * k + j]!;
    let sum = 0;
    for (let i = 0; i < d; i++) {
      let projected = 0;
      for (let j = 0; j < k; j++) projected += z[j]! * components[i * k + j]!;
      sum += (centred[i]! - projected) ** 2;
    }
    out[r] = sum;
  }
  return out;
}
