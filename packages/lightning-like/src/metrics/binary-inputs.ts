import { InvalidArgumentError, ShapeMismatchError } from '@dfm/errors';

/** Scores: one number per sample (or pixel); higher means more anomalous. */
export type Scores = ArrayLike<number>;

/** Binary labels: 1 (or `true`) = anomalous / positive, 0 (or `false`) = normal / negative. */
export type BinaryLabels = ArrayLike<number | boolean>;

/** Scores split by label, each in a fresh typed array (float32 input stays float32). */
export interface SplitScores {
  positives: Float32Array | Float64Array;
  negatives: Float32Array | Float64Array;
}

/** Reads one binary label, throwing when it is neither 0/1 nor a boolean. @internal */
export function readBinary(caller: string, what: string, values: BinaryLabels, index: number): 0 | 1 {
  const value = values[index];
  if (value === 1 || value === true) return 1;
  if (value === 0 || value === false) return 0;
  throw new InvalidArgumentError(
    `${caller}: ${what} must be 0 or 1 (or booleans) — got ${String(value)} at index ${index}. ` +
      `Binarise first, e.g. mask > 0.`,
  );
}

/** Throws unless the two arrays have the same length. @internal */
export function checkSameLength(caller: string, a: string, aLength: number, b: string, bLength: number): void {
  if (aLength !== bLength) {
    throw new ShapeMismatchError(
      `${caller}: ${a} and ${b} must have the same length — got ${aLength} and ${bLength}. ` +
        `Pass one ${b.replace(/s$/, '')} per ${a.replace(/s$/, '')}.`,
    );
  }
}

/**
 * Validates `(scores, labels)` for a ranking metric and splits the scores by label, in one pass.
 * Requires equal lengths, labels in {0, 1}, no NaN score, at least one positive and one negative.
 * @internal
 */
export function splitScores(caller: string, scores: Scores, labels: BinaryLabels): SplitScores {
  checkSameLength(caller, 'scores', scores.length, 'labels', labels.length);
  const n = scores.length;
  let nPositive = 0;
  for (let i = 0; i < n; i++) {
    nPositive += readBinary(caller, 'labels', labels, i);
    if (Number.isNaN(scores[i])) {
      throw new InvalidArgumentError(
        `${caller}: scores must not contain NaN — got NaN at index ${i}. Check the model output for that sample.`,
      );
    }
  }
  const nNegative = n - nPositive;
  if (nPositive === 0 || nNegative === 0) {
    const missing = nPositive === 0 ? 'positive (1, anomalous)' : 'negative (0, normal)';
    throw new InvalidArgumentError(
      `${caller}: labels must contain at least one positive (1) and one negative (0) — got no ${missing} ` +
        `label among ${n}. The metric is undefined with one class; evaluate on data with both classes.`,
    );
  }
  const Ctor = scores instanceof Float32Array ? Float32Array : Float64Array;
  const positives = new Ctor(nPositive);
  const negatives = new Ctor(nNegative);
  let p = 0;
  let q = 0;
  for (let i = 0; i < n; i++) {
    if (readBinary(caller, 'labels', labels, i) === 1) positives[p++] = scores[i]!;
    else negatives[q++] = scores[i]!;
  }
  return { positives, negatives };
}
