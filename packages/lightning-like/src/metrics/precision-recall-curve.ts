import { type BinaryLabels, type Scores, splitScores } from './binary-inputs';
import { sortScores } from './sort-scores';
import { walkThresholds } from './threshold-walk';

/** Output of {@link precisionRecallCurve}, in scikit-learn's order (thresholds ascending). */
export interface PrecisionRecallCurveResult {
  /** `[T + 1]` precision at each threshold, then 1. */
  precision: Float64Array;
  /** `[T + 1]` recall at each threshold (non-increasing), then 0. */
  recall: Float64Array;
  /** `[T]` the distinct scores, ascending (predict anomalous when score ≥ threshold). */
  thresholds: Float64Array;
}

/**
 * The exact precision-recall curve, like scikit-learn's `precision_recall_curve`: one point per
 * distinct score (ascending), plus the final point (precision 1, recall 0) with no threshold.
 *
 * @param scores `[n]` higher = more anomalous.
 * @param labels `[n]` 1 = anomalous, 0 = normal.
 * @throws InvalidArgumentError / ShapeMismatchError as {@link auroc}.
 * @example
 * precisionRecallCurve([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]).precision; // [0.5, 2/3, 0.5, 1, 1]
 */
export function precisionRecallCurve(scores: Scores, labels: BinaryLabels): PrecisionRecallCurveResult {
  const { positives, negatives } = splitScores('precisionRecallCurve()', scores, labels);
  const neg = sortScores(negatives).values;
  const pos = sortScores(positives).values;
  const capacity = neg.length + pos.length;
  const precisionDesc = new Float64Array(capacity);
  const recallDesc = new Float64Array(capacity);
  const thresholdsDesc = new Float64Array(capacity);
  let t = 0;
  walkThresholds(neg, pos, undefined, (threshold, falsePositives, truePositives) => {
    precisionDesc[t] = truePositives / (truePositives + falsePositives);
    recallDesc[t] = truePositives / pos.length;
    thresholdsDesc[t++] = threshold;
  });
  const precision = new Float64Array(t + 1);
  const recall = new Float64Array(t + 1);
  const thresholds = new Float64Array(t);
  for (let k = 0; k < t; k++) {
    precision[k] = precisionDesc[t - 1 - k]!;
    recall[k] = recallDesc[t - 1 - k]!;
    thresholds[k] = thresholdsDesc[t - 1 - k]!;
  }
  precision[t] = 1;
  recall[t] = 0;
  return { precision, recall, thresholds };
}
