import { InvalidArgumentError } from '@dfm/errors';

/**
 * 1-based ranks of `values`, ties given the average of the ranks they span (scipy's `rankdata`
 * with `method='average'`), e.g. `[10, 20, 20, 5]` → `[2, 3.5, 3.5, 1]`.
 */
export function averageRanks(values: ArrayLike<number>): Float64Array {
  const order = Array.from({ length: values.length }, (_, i) => i).sort((a, b) => (values[a] as number) - (values[b] as number));
  const ranks = new Float64Array(values.length);
  for (let start = 0; start < order.length; ) {
    let end = start + 1;
    while (end < order.length && values[order[end] as number] === values[order[start] as number]) end += 1;
    const rank = (start + 1 + end) / 2; // the mean of ranks start + 1 … end
    for (let i = start; i < end; i++) ranks[order[i] as number] = rank;
    start = end;
  }
  return ranks;
}

/**
 * Spearman's rank correlation of two paired samples: the Pearson correlation of their average ranks
 * (as `scipy.stats.spearmanr`), in [-1, 1]; NaN when either sample is constant.
 *
 * @example spearman([1, 2, 3, 4], [10, 20, 20, 40]) // 0.9487
 */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length || a.length < 2) {
    throw new InvalidArgumentError(`spearman(): a and b must be paired samples of the same length ≥ 2 — got lengths ${a.length} and ${b.length}. Pass one score per image, in the same order.`);
  }
  const ra = averageRanks(a);
  const rb = averageRanks(b);
  const mean = (ra.length + 1) / 2; // average ranks always sum to n(n + 1) / 2
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < ra.length; i++) {
    const da = (ra[i] as number) - mean;
    const db = (rb[i] as number) - mean;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return sab / Math.sqrt(saa * sbb);
}
