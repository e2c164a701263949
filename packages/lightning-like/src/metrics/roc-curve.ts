import { type BinaryLabels, type Scores, splitScores } from './binary-inputs';
import { sortScores } from './sort-scores';
import { walkThresholds } from './threshold-walk';

/** Output of {@link rocCurve}: three arrays of length `distinct scores + 1`. */
export interface RocCurveResult {
  /** False-positive rate at each threshold, non-decreasing from 0 to 1. */
  fpr: Float64Array;
  /** True-positive rate at each threshold, non-decreasing from 0 to 1. */
  tpr: Float64Array;
  /** Decreasing thresholds (predict anomalous when score ≥ threshold); the first is `Infinity`. */
  thresholds: Float64Array;
}

/**
 * The exact ROC curve, like scikit-learn's `roc_curve(labels, scores, drop_intermediate=False)`:
 * one point per distinct score plus the starting point (0, 0) at threshold `Infinity` (what
 * scikit-learn ≥ 1.3 puts there; 1.2 used `max(score) + 1`).
 *
 * @param scores `[n]` higher = more anomalous.
 * @param labels `[n]` 1 = anomalous, 0 = normal.
 * @throws InvalidArgumentError / ShapeMismatchError as {@link auroc}.
 * @example
 * rocCurve([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]).tpr; // [0, 0.5, 0.5, 1, 1]
 */
export function rocCurve(scores: Scores, labels: BinaryLabels): RocCurveResult {
  const { positives, negatives } = splitScores('rocCurve()', scores, labels);
  const neg = sortScores(negatives).values;
  const pos = sortScores(positives).values;
  const size = neg.length + pos.length + 1;
  const fpr = new Float64Array(size);
  const tpr = new Float64Array(size);
  const thresholds = new Float64Array(size);
  thresholds[0] = Number.POSITIVE_INFINITY;
  let k = 1;
  walkThresholds(neg, pos, undefined, (threshold, falsePositives, truePositives) => {
    fpr[k] = falsePositives / neg.length;
    tpr[k] = truePositives / pos.length;
    thresholds[k++] = threshold;
  });
  return { fpr: fpr.slice(0, k), tpr: tpr.slice(0, k), thresholds: thresholds.slice(0, k) };
}
