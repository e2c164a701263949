/**
 * Visits every distinct score from the highest down, as a ranking metric's threshold `t`, with
 * the counts of negatives and (weighted) positives scoring `≥ t`. One merge pass over two
 * ascending arrays; this is sklearn's `_binary_clf_curve` without materialising it.
 *
 * @param negatives ascending scores of the negatives.
 * @param positives ascending scores of the positives.
 * @param weights per-positive weights aligned with `positives` (unit weights when omitted).
 * @param visit called once per distinct threshold, in descending threshold order.
 * @internal
 */
export function walkThresholds(
  negatives: Float32Array | Float64Array,
  positives: Float32Array | Float64Array,
  weights: Float64Array | undefined,
  visit: (threshold: number, falsePositives: number, truePositives: number) => void,
): void {
  let i = negatives.length - 1;
  let j = positives.length - 1;
  let falsePositives = 0;
  let truePositives = 0;
  while (i >= 0 || j >= 0) {
    let t: number;
    if (i < 0) t = positives[j]!;
    else if (j < 0) t = negatives[i]!;
    else t = Math.max(negatives[i]!, positives[j]!);
    while (i >= 0 && negatives[i] === t) {
      falsePositives++;
      i--;
    }
    if (weights) {
      while (j >= 0 && positives[j] === t) truePositives += weights[j--]!;
    } else {
      while (j >= 0 && positives[j] === t) {
        truePositives++;
        j--;
      }
    }
    visit(t, falsePositives, truePositives);
  }
}
