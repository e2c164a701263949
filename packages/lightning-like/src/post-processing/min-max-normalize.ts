import { InvalidArgumentError } from '@dfm/linalg';

/** Options of {@link minMaxNormalize}: a threshold and the score range, from validation data. */
export interface MinMaxNormalizeOptions {
  /** Raw score that maps to 0.5 (the decision boundary). */
  threshold: number;
  /** Smallest raw score seen on validation. */
  min: number;
  /** Largest raw score seen on validation. */
  max: number;
}

/**
 * anomalib's min-max normalisation around a threshold: `clamp((s − threshold) / (max − min) + 0.5,
 * 0, 1)`, so the threshold lands on 0.5 and "anomalous" is `normalised > 0.5`. When `max = min`
 * (constant validation scores) the range is taken as 1 instead of dividing by zero. NaN stays NaN.
 * Typed arrays give a new array of the same type; the input is not modified.
 *
 * @example
 * minMaxNormalize(12, { threshold: 10, min: 0, max: 20 }); // 0.6
 * minMaxNormalize(new Float32Array([0, 10, 40]), { threshold: 10, min: 0, max: 20 }); // [0, 0.5, 1]
 */
export function minMaxNormalize(score: number, options: MinMaxNormalizeOptions): number;
export function minMaxNormalize<T extends Float32Array | Float64Array>(score: T, options: MinMaxNormalizeOptions): T;
export function minMaxNormalize(
  score: number | Float32Array | Float64Array,
  options: MinMaxNormalizeOptions,
): number | Float32Array | Float64Array {
  const { threshold, min, max } = options;
  if (!Number.isFinite(threshold) || !Number.isFinite(min) || !Number.isFinite(max) || max < min) {
    throw new InvalidArgumentError(
      `minMaxNormalize(): threshold, min and max must be finite with min ≤ max — got threshold ${threshold}, ` +
        `min ${min}, max ${max}. Use the stats computed on validation data (computeNormalizationStats).`,
    );
  }
  const scale = 1 / normalizationRange(min, max);
  if (typeof score === 'number') return clamp01((score - threshold) * scale + 0.5);
  const out = new (score instanceof Float32Array ? Float32Array : Float64Array)(score.length);
  for (let i = 0; i < score.length; i++) out[i] = clamp01((score[i]! - threshold) * scale + 0.5);
  return out;
}

/** `max − min`, or 1 when they are equal. @internal */
export function normalizationRange(min: number, max: number): number {
  return max > min ? max - min : 1;
}

/** Clamps to [0, 1], keeping NaN. @internal */
export function clamp01(value: number): number {
  return value < 0 ? 0 : Math.min(value, 1);
}
