/** Inputs of the real-browser test, made the same way in the page (app.ts) and in Node (chromium.e2e.ts). */
import { uniform, withSpectrum } from '../spectra';

/** The solver's case: {@link withSpectrum} of λ_j = (j + 1)^−1.5, a symmetric matrix whose eigenvalues are known. */
export function knownSpectrumMatrix(n: number, seed: number): { matrix: Float64Array; values: number[] } {
  const values = Array.from({ length: n }, (_, j) => (j + 1) ** -1.5);
  return { matrix: withSpectrum(values, seed), values };
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
