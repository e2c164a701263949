import { describe, expect, it } from 'vitest';
import { uniform } from '../test/spectra';
import { inverseCholeskyWasm } from './wasm-kernels';

describe('inverseCholeskyWasm (the Cholesky QR step of PCA, in WebAssembly)', () => {
  it('gives R⁻¹ with R⁻ᵀ G R⁻¹ = I and R⁻¹ upper triangular, for a Gram matrix near the identity and a far one', () => {
    for (const [b, spread] of [
      [159, 1e-5],
      [64, 0.3],
    ] as const) {
      const random = uniform(b);
      // G = XᵀX for X [3b, b] = [I; spread · noise]: symmetric positive definite.
      const rows = 3 * b;
      const x = Float64Array.from({ length: rows * b }, (_, index) => (Math.floor(index / b) === index % b ? 1 : 0) + spread * random());
      const g = new Float64Array(b * b);
      for (let i = 0; i < b; i++) for (let j = 0; j < b; j++) for (let r = 0; r < rows; r++) g[i * b + j]! += x[r * b + i]! * x[r * b + j]!;
      const inverse = inverseCholeskyWasm(g, b, 1e-14);
      expect(inverse).toBeInstanceOf(Float64Array);
      const r = inverse as Float64Array;
      let triangular = 0;
      for (let i = 0; i < b; i++) for (let j = 0; j < i; j++) triangular = Math.max(triangular, Math.abs(r[i * b + j]!));
      expect(triangular).toBe(0);
      // (R⁻ᵀ G R⁻¹)ᵢⱼ = Σ R⁻¹[p][i] G[p][q] R⁻¹[q][j].
      let error = 0;
      for (let i = 0; i < b; i++) {
        for (let j = 0; j <= i; j++) {
          let sum = 0;
          for (let p = 0; p < b; p++) for (let q = 0; q < b; q++) sum += r[p * b + i]! * g[p * b + q]! * r[q * b + j]!;
          error = Math.max(error, Math.abs(sum - (i === j ? 1 : 0)));
        }
      }
      expect(error).toBeLessThan(1e-12);
    }
  });

  it('returns null for a matrix that is not positive definite to the floor', () => {
    const b = 40;
    const g = new Float64Array(b * b);
    for (let i = 0; i < b; i++) g[i * b + i] = i === 17 ? -1 : 1;
    expect(inverseCholeskyWasm(g, b, 1e-14)).toBeNull();
    g[17 * b + 17] = 1e-16; // positive, below 1e-14 × the largest diagonal entry
    expect(inverseCholeskyWasm(g, b, 1e-14)).toBeNull();
  });
});
