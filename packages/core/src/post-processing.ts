import { InvalidArgumentError } from '@dfm/errors';

/**
 * Thresholds and score ranges fitted on validation data (anomalib's post-processing): raw scores
 * are scaled by {@link minMaxScale} so the threshold lands on 0.5. Pixel fields are `null` for a
 * model without anomaly maps (NLL) or fitted without them.
 */
export interface PostProcessing {
  /** Raw image score at the decision boundary (F1-adaptive). */
  imageThreshold: number;
  /** Smallest and largest raw image score on validation. */
  imageMin: number;
  imageMax: number;
  /** Raw anomaly-map value at the decision boundary. */
  pixelThreshold: number | null;
  pixelMin: number | null;
  pixelMax: number | null;
}

/** A threshold and a range: the arguments of {@link minMaxScale}. */
export interface MinMaxScaleOptions {
  /** Raw score that maps to 0.5 (the decision boundary). */
  threshold: number;
  /** Smallest raw score seen on validation. */
  min: number;
  /** Largest raw score seen on validation. */
  max: number;
}

/** `max − min`, or 1 when they are equal (constant validation scores). */
function scaleRange(min: number, max: number): number {
  return max > min ? max - min : 1;
}

/** Clamps to [0, 1], keeping NaN. */
function clamp01(value: number): number {
  return value < 0 ? 0 : Math.min(value, 1);
}

function checkScaleOptions(options: MinMaxScaleOptions, where: string): void {
  const { threshold, min, max } = options ?? ({} as MinMaxScaleOptions);
  if (!Number.isFinite(threshold) || !Number.isFinite(min) || !Number.isFinite(max) || max < min) {
    throw new InvalidArgumentError(
      `${where}: threshold, min and max must be finite with min ≤ max — got threshold ${threshold}, min ${min}, max ${max}. Use the statistics fitted on validation data.`,
    );
  }
}

/**
 * anomalib's min-max score scaling around a threshold: `clamp((s − threshold) / (max − min) + 0.5,
 * 0, 1)`, so the threshold lands on 0.5 and "anomalous" is `scaled > 0.5`. When `max = min` the range
 * is taken as 1. NaN stays NaN. Typed arrays give a new array of the same type; the input is not
 * modified. (Score scaling, not pixel normalisation: that is {@link PreProcessing.normalization}.)
 *
 * @example
 * minMaxScale(12, { threshold: 10, min: 0, max: 20 }); // 0.6
 * minMaxScale(new Float32Array([0, 10, 40]), { threshold: 10, min: 0, max: 20 }); // [0, 0.5, 1]
 */
export function minMaxScale(score: number, options: MinMaxScaleOptions): number;
export function minMaxScale<T extends Float32Array | Float64Array>(score: T, options: MinMaxScaleOptions): T;
export function minMaxScale(score: number | Float32Array | Float64Array, options: MinMaxScaleOptions): number | Float32Array | Float64Array {
  checkScaleOptions(options, 'minMaxScale()');
  if (typeof score === 'number') return scaleInto([score], options, new Float64Array(1), undefined)[0]!;
  return scaleInto(score, options, new (score instanceof Float32Array ? Float32Array : Float64Array)(score.length), undefined);
}

/**
 * Scales `values` into `out` and, with `labels`, writes `value > threshold` (1/0) per entry. The
 * label compares the raw value with the threshold: `scaled > 0.5` in exact arithmetic, never flipped
 * by rounding the scaled value (e.g. to float32). Returns `out`. The single implementation of
 * {@link minMaxScale} and of applying a {@link PostProcessing}.
 */
export function scaleInto<T extends Float32Array | Float64Array>(
  values: ArrayLike<number>,
  options: MinMaxScaleOptions,
  out: T,
  labels: Uint8Array | undefined,
): T {
  const { threshold, min, max } = options;
  const scale = 1 / scaleRange(min, max);
  for (let i = 0; i < values.length; i++) {
    const value = values[i]!;
    out[i] = clamp01((value - threshold) * scale + 0.5);
    if (labels !== undefined) labels[i] = value > threshold ? 1 : 0;
  }
  return out;
}

/** The image-score scaling of a {@link PostProcessing}. */
export function imageScaling(post: PostProcessing): MinMaxScaleOptions {
  return { threshold: post.imageThreshold, min: post.imageMin, max: post.imageMax };
}

/** The anomaly-map scaling of a {@link PostProcessing}, or null when it has no pixel statistics. */
export function pixelScaling(post: PostProcessing): MinMaxScaleOptions | null {
  if (post.pixelThreshold === null || post.pixelMin === null || post.pixelMax === null) return null;
  return { threshold: post.pixelThreshold, min: post.pixelMin, max: post.pixelMax };
}

/**
 * Checks a {@link PostProcessing} (from a caller or a model file) and returns a clean copy.
 *
 * @throws InvalidArgumentError naming the bad field.
 */
export function checkPostProcessing(value: unknown, where: string): PostProcessing {
  const bad = (what: string): never => {
    throw new InvalidArgumentError(
      `${where}: postProcessing must be { imageThreshold, imageMin, imageMax } finite with min ≤ max, and pixelThreshold, pixelMin, pixelMax all finite or all null — ${what}.`,
    );
  };
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return bad(`got ${JSON.stringify(value)}`);
  const v = value as Record<string, unknown>;
  const image = [v.imageThreshold, v.imageMin, v.imageMax];
  if (!image.every((x) => typeof x === 'number' && Number.isFinite(x)) || (v.imageMin as number) > (v.imageMax as number)) {
    bad(`got image statistics ${JSON.stringify(image)}`);
  }
  const pixel = [v.pixelThreshold, v.pixelMin, v.pixelMax];
  const pixelNull = pixel.every((x) => x === null);
  if (!pixelNull && (!pixel.every((x) => typeof x === 'number' && Number.isFinite(x)) || (v.pixelMin as number) > (v.pixelMax as number))) {
    bad(`got pixel statistics ${JSON.stringify(pixel)}`);
  }
  return {
    imageThreshold: v.imageThreshold as number,
    imageMin: v.imageMin as number,
    imageMax: v.imageMax as number,
    pixelThreshold: pixelNull ? null : (v.pixelThreshold as number),
    pixelMin: pixelNull ? null : (v.pixelMin as number),
    pixelMax: pixelNull ? null : (v.pixelMax as number),
  };
}
