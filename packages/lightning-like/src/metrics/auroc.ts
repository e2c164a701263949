import { type BinaryLabels, type Scores, splitScores } from './binary-inputs';
import { sortScores } from './sort-scores';
import { walkThresholds } from './threshold-walk';

/**
 * Area under the ROC curve, exact (no binning): the trapezoidal area over every distinct score
 * as a threshold, so tied scores count half, exactly as scikit-learn's `roc_auc_score`.
 * Linear-time sort: 40M pixel scores take a few seconds.
 *
 * @param scores `[n]` higher = more anomalous (image scores, or flattened anomaly maps).
 * @param labels `[n]` 1 = anomalous, 0 = normal (booleans accepted).
 * @returns AUROC in [0, 1].
 * @throws InvalidArgumentError on NaN, labels not in {0, 1}, or a missing class.
 * @throws ShapeMismatchError when the lengths differ.
 * @example
 * auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]); // 0.75
 */
export function auroc(scores: Scores, labels: BinaryLabels): number {
  const { positives, negatives } = splitScores('auroc()', scores, labels);
  const neg = sortScores(negatives).values;
  const pos = sortScores(positives).values;
  let area = 0;
  let lastFalse = 0;
  let lastTrue = 0;
  walkThresholds(neg, pos, undefined, (_threshold, falsePositives, truePositives) => {
    area += (falsePositives - lastFalse) * (truePositives + lastTrue);
    lastFalse = falsePositives;
    lastTrue = truePositives;
  });
  return area / (2 * neg.length * pos.length);
}
