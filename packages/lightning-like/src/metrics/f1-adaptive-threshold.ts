import { type BinaryLabels, type Scores, splitScores } from './binary-inputs';
import { sortScores } from './sort-scores';
import { walkThresholds } from './threshold-walk';

/** Output of {@link f1AdaptiveThreshold}. */
export interface F1AdaptiveThresholdResult {
  /** The chosen threshold: one of the scores; predict anomalous when score ≥ threshold. */
  threshold: number;
  /** F1 of the predictions `score ≥ threshold`, the maximum over the PR curve. */
  f1: number;
}

/**
 * The threshold that maximises F1 over the exact precision-recall curve: the choice of anomalib's
 * `F1AdaptiveThreshold` (a threshold among the PR-curve thresholds with the highest F1; when
 * several share the maximum, the lowest, i.e. the first in the curve's ascending order, as
 * `argmax` takes). F1 is computed from counts, `2·TP / (TP + FP + P)`, so equal F1 values tie
 * exactly (anomalib's float32 `2PR / (P + R + 1e-10)` can break near-ties differently).
 * Streams the curve: fine on tens of millions of pixels.
 *
 * @param scores `[n]` higher = more anomalous.
 * @param labels `[n]` 1 = anomalous, 0 = normal; both classes must be present.
 * @throws InvalidArgumentError / ShapeMismatchError as {@link auroc}.
 * @example
 * f1AdaptiveThreshold([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]); // { threshold: 0.35, f1: 0.8 }
 */
export function f1AdaptiveThreshold(scores: Scores, labels: BinaryLabels): F1AdaptiveThresholdResult {
  const { positives, negatives } = splitScores('f1AdaptiveThreshold()', scores, labels);
  const neg = sortScores(negatives).values;
  const pos = sortScores(positives).values;
  const nPositive = pos.length;
  let best = -1;
  let bestThreshold = Number.NaN;
  walkThresholds(neg, pos, undefined, (threshold, falsePositives, truePositives) => {
    const f1 = (2 * truePositives) / (truePositives + falsePositives + nPositive);
    // `>=`: thresholds arrive descending, so a tie moves the choice to the lower threshold.
    if (f1 >= best) {
      best = f1;
      bestThreshold = threshold;
    }
  });
  return { threshold: bestThreshold, f1: best };
}
