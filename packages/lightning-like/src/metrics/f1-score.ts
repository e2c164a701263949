import { type BinaryLabels, checkSameLength, readBinary } from './binary-inputs';
import { InvalidArgumentError } from '@dfm/errors';

/**
 * F1 of binary predictions, `2·TP / (2·TP + FP + FN)`, as scikit-learn's `f1_score` (positive
 * class 1). Use it with thresholded scores, e.g. the `predLabel`s of a `PostProcessor`.
 *
 * @param predictions `[n]` 1 = predicted anomalous, 0 = predicted normal (booleans accepted).
 * @param labels `[n]` 1 = anomalous, 0 = normal; at least one must be 1 (F1 is about that class).
 * @throws InvalidArgumentError on values not in {0, 1} or no positive label.
 * @throws ShapeMismatchError when the lengths differ.
 * @example
 * f1Score([1, 0, 1, 1], [1, 0, 0, 1]); // 0.8
 */
export function f1Score(predictions: BinaryLabels, labels: BinaryLabels): number {
  const caller = 'f1Score()';
  checkSameLength(caller, 'predictions', predictions.length, 'labels', labels.length);
  let truePositives = 0;
  let falsePositives = 0;
  let falseNegatives = 0;
  for (let i = 0; i < labels.length; i++) {
    const predicted = readBinary(caller, 'predictions', predictions, i);
    const actual = readBinary(caller, 'labels', labels, i);
    if (predicted === 1 && actual === 1) truePositives++;
    else if (predicted === 1) falsePositives++;
    else if (actual === 1) falseNegatives++;
  }
  if (truePositives + falseNegatives === 0) {
    throw new InvalidArgumentError(
      `${caller}: labels must contain at least one positive (1) — got none among ${labels.length}. ` +
        `F1 measures the anomalous class; evaluate on data that contains anomalies.`,
    );
  }
  return (2 * truePositives) / (2 * truePositives + falsePositives + falseNegatives);
}
