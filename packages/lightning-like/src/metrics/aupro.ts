import type { BinaryLabels, Scores } from './binary-inputs';
import { checkImageSize, labelRegions } from './connected-components';
import { sortScores } from './sort-scores';
import { walkThresholds } from './threshold-walk';
import { InvalidArgumentError, ShapeMismatchError } from '@dfm/errors';

/** Options of {@link aupro}. */
export interface AuproOptions {
  /** Map height in pixels. */
  height: number;
  /** Map width in pixels. */
  width: number;
  /** Upper end of the false-positive-rate range integrated over, in (0, 1]. Default 0.3. */
  fprLimit?: number;
}

/**
 * Area under the per-region-overlap (PRO) curve up to a false-positive rate, normalised to [0, 1]
 * (Bergmann et al., MVTec AD). Defined exactly as:
 *
 * - regions: the 8-connected components of each ground-truth mask (the connectivity anomalib
 *   gets from OpenCV's `connectedComponents`); a region never spans two images;
 * - for each distinct score `t` (a threshold; anomalous when score ≥ t):
 *   `PRO(t)` = mean over all regions of the fraction of the region's pixels scoring ≥ t, and
 *   `FPR(t)` = fraction of all normal pixels (mask 0, in every image) scoring ≥ t;
 * - the curve starts at (0, 0); its area for FPR in [0, fprLimit] is summed in trapezoids, the
 *   PRO at exactly `fprLimit` linearly interpolated, and divided by `fprLimit`.
 *
 * Cost: one linear-time sort of the pixels and one pass; 39M pixels (600 maps of 256×256) take a
 * few seconds and ~16 bytes per pixel of scratch memory.
 *
 * @param anomalyMaps `[N·height·width]` flattened maps, row-major per image.
 * @param masks `[N·height·width]` ground truth, 1 = anomalous pixel (booleans accepted).
 * @returns AUPRO in [0, 1].
 * @throws InvalidArgumentError on NaN, mask values not in {0, 1}, no anomalous or no normal pixel,
 *   or a bad `fprLimit`.
 * @throws ShapeMismatchError when the lengths differ or are not a multiple of height·width.
 * @example
 * aupro(maps, masks, { height: 256, width: 256 }); // 0.91
 */
export function aupro(anomalyMaps: Scores, masks: BinaryLabels, options: AuproOptions): number {
  const caller = 'aupro()';
  const { height, width, fprLimit = 0.3 } = options;
  checkImageSize(caller, height, width);
  if (!(fprLimit > 0 && fprLimit <= 1)) {
    throw new InvalidArgumentError(`${caller}: fprLimit must be in (0, 1] — got ${fprLimit}. The usual value is 0.3.`);
  }
  const n = anomalyMaps.length;
  const size = height * width;
  if (masks.length !== n || n === 0 || n % size !== 0) {
    throw new ShapeMismatchError(
      `${caller}: anomalyMaps and masks must both hold N·${height}·${width} values (N ≥ 1) — got ` +
        `${n} and ${masks.length}. Flatten [N, H, W] maps and masks of the same size.`,
    );
  }
  let nAnomalous = 0;
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(anomalyMaps[i])) {
      throw new InvalidArgumentError(
        `${caller}: anomalyMaps must not contain NaN — got NaN at index ${i} (image ${Math.floor(i / size)}). ` +
          `Check the model output for that image.`,
      );
    }
    if (masks[i] === 1 || masks[i] === true) nAnomalous++;
  }
  if (nAnomalous === 0 || nAnomalous === n) {
    const missing = nAnomalous === 0 ? 'anomalous (mask 1)' : 'normal (mask 0)';
    throw new InvalidArgumentError(
      `${caller}: masks must contain anomalous and normal pixels — got no ${missing} pixel among ${n}. ` +
        `AUPRO is undefined then; evaluate on data with annotated anomalies.`,
    );
  }
  const Ctor = anomalyMaps instanceof Float32Array ? Float32Array : Float64Array;
  const positives = new Ctor(nAnomalous);
  const region = new Uint32Array(nAnomalous);
  const negatives = new Ctor(n - nAnomalous);
  const labels = new Int32Array(size);
  const stack = new Int32Array(size);
  const sizes: number[] = [];
  let p = 0;
  let q = 0;
  for (let offset = 0; offset < n; offset += size) {
    const base = sizes.length - 1;
    labelRegions(caller, masks, offset, height, width, 8, labels, stack, sizes);
    for (let i = 0; i < size; i++) {
      const label = labels[i]!;
      if (label > 0) {
        positives[p] = anomalyMaps[offset + i]!;
        region[p++] = base + label;
      } else {
        negatives[q++] = anomalyMaps[offset + i]!;
      }
    }
  }
  const regionWeight = sizes.map((count) => 1 / (sizes.length * count));
  const sortedPositives = sortScores(positives, region);
  const sortedRegion = sortedPositives.payload!;
  const weights = new Float64Array(nAnomalous);
  for (let i = 0; i < nAnomalous; i++) weights[i] = regionWeight[sortedRegion[i]!]!;
  const sortedNegatives = sortScores(negatives).values;
  const nNormal = sortedNegatives.length;

  let area = 0;
  let lastFpr = 0;
  let lastPro = 0;
  let done = false;
  walkThresholds(sortedNegatives, sortedPositives.values, weights, (_threshold, falsePositives, pro) => {
    if (done) return;
    const fpr = falsePositives / nNormal;
    if (fpr >= fprLimit) {
      // lastFpr < fprLimit ≤ fpr, so the segment has width: interpolate PRO at the limit.
      const proAtLimit = lastPro + ((pro - lastPro) * (fprLimit - lastFpr)) / (fpr - lastFpr);
      area += ((fprLimit - lastFpr) * (lastPro + proAtLimit)) / 2;
      done = true;
      return;
    }
    area += ((fpr - lastFpr) * (lastPro + pro)) / 2;
    lastFpr = fpr;
    lastPro = pro;
  });
  return area / fprLimit;
}
