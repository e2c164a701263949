/**
 * DFM-like float32 features from a counter-based hash, bit-for-bit the same as `features_generator` in
 * scripts/make-fixtures.py (only integer ops, +, * and max, so both languages round identically).
 */

const SQRT3 = Math.sqrt(3);

/** Uniforms in [0, 1) with 24 random bits: `hash32(seed + i · 0x9E3779B9) >> 8 / 2²⁴`, i = start…. */
export function hashUniform(seed: number, start: number, count: number): Float64Array {
  const out = new Float64Array(count);
  for (let c = 0; c < count; c++) {
    let x = (seed + Math.imul(start + c, 0x9e3779b9)) >>> 0;
    x = (x ^ (x >>> 16)) >>> 0;
    x = Math.imul(x, 0x7feb352d) >>> 0;
    x = (x ^ (x >>> 15)) >>> 0;
    x = Math.imul(x, 0x846ca68b) >>> 0;
    x = (x ^ (x >>> 16)) >>> 0;
    out[c] = (x >>> 8) / 16777216;
  }
  return out;
}

/** Approximately standard normal: `(u1 + u2 + u3 + u4 − 2) · √3`. */
export function hashNormal(seed: number, start: number, count: number): Float64Array {
  const u = hashUniform(seed, 4 * start, 4 * count);
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    out[i] = (u[4 * i]! + u[4 * i + 1]! + u[4 * i + 2]! + u[4 * i + 3]! - 2) * SQRT3;
  }
  return out;
}

/** `[n, d]` row-major float32 features: `relu(0.5 + 0.25 · Σ_t c_it b_tj + 0.2 · noise)`. */
export function dfmFeatures(seed: number, n: number, d: number, rank = 24, decay = 0.85): Float32Array {
  const basis = hashNormal(seed, 0, rank * d);
  const coef = hashNormal(seed + 1, 0, n * rank);
  const noise = hashNormal(seed + 2, 0, n * d);
  const acc = new Float64Array(n * d);
  let scale = 1;
  for (let t = 0; t < rank; t++) {
    for (let i = 0; i < n; i++) {
      const c = coef[i * rank + t]! * scale;
      const offset = i * d;
      for (let j = 0; j < d; j++) acc[offset + j] = acc[offset + j]! + c * basis[t * d + j]!;
    }
    scale *= decay;
  }
  const out = new Float32Array(n * d);
  for (let i = 0; i < n * d; i++) out[i] = Math.max(0.5 + 0.25 * acc[i]! + 0.2 * noise[i]!, 0);
  return out;
}
