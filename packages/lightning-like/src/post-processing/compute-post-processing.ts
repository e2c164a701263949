import { type BinaryLabels, readBinary, type Scores } from '../metrics/binary-inputs';
import { f1AdaptiveThreshold } from '../metrics/f1-adaptive-threshold';
import type { PostProcessing } from '@dfm/core';
import { InvalidArgumentError, ShapeMismatchError } from '@dfm/errors';

/** Input of {@link computePostProcessing} (and `PostProcessor.fit`): validation outputs. */
export interface PostProcessingInput {
  /** `[N]` raw image scores. */
  imageScores: Scores;
  /** `[N]` 1 = anomalous image, 0 = normal. */
  imageLabels: BinaryLabels;
  /** `[N·H·W]` raw anomaly maps, flattened. */
  anomalyMaps?: Scores;
  /** `[N·H·W]` ground-truth masks, 1 = anomalous pixel. Needs `anomalyMaps`. */
  masks?: BinaryLabels;
}

/** Output of {@link computePostProcessing}. */
export interface PostProcessingResult {
  stats: PostProcessing;
  /** Every fallback taken, in plain words (empty when none was needed). */
  notes: string[];
}

/**
 * Fits the post-processing statistics on validation outputs:
 * thresholds by {@link f1AdaptiveThreshold} (image scores vs image labels; maps vs masks per pixel)
 * and min / max of the image scores and of the anomaly maps.
 *
 * Fallbacks, each reported in `notes`:
 * - no anomalous sample (image, or pixel in the masks): threshold = the highest normal score, as
 *   anomalib does (`F1AdaptiveThreshold` warns and ends up there); every validation sample is then
 *   normal under `normalised > 0.5`, and the threshold is likely too low for real anomalies.
 * - no normal sample: threshold = the lowest score (what maximising F1 gives with one class).
 * - anomaly maps without masks: pixel threshold = image threshold, as anomalib does; on scales
 *   where map values and image scores differ (DFM's FRE), pixel predictions are then unreliable.
 *
 * @throws InvalidArgumentError on an empty validation set, NaN scores, non-binary labels, or masks
 *   without maps. @throws ShapeMismatchError on inconsistent lengths.
 */
export function computePostProcessing(input: PostProcessingInput): PostProcessingResult {
  const caller = 'computePostProcessing()';
  const { imageScores, imageLabels, anomalyMaps, masks } = input;
  const n = imageScores.length;
  if (n === 0) {
    throw new InvalidArgumentError(`${caller}: imageScores must hold at least one score — got none. Validate on a non-empty split.`);
  }
  if (imageLabels.length !== n) {
    throw new ShapeMismatchError(
      `${caller}: imageScores and imageLabels must have the same length — got ${n} and ${imageLabels.length}. ` +
        `Pass one label per image.`,
    );
  }
  const notes: string[] = [];
  const image = rangeOf(caller, 'imageScores', imageScores);
  const imageThreshold = thresholdWithFallback(caller, 'image', imageScores, imageLabels, notes);
  let pixelThreshold: number | null = null;
  let pixelMin: number | null = null;
  let pixelMax: number | null = null;
  if (masks && !anomalyMaps) {
    throw new InvalidArgumentError(`${caller}: masks need anomalyMaps — got masks only. Pass the anomaly maps too.`);
  }
  if (anomalyMaps) {
    if (anomalyMaps.length === 0 || anomalyMaps.length % n !== 0) {
      throw new ShapeMismatchError(
        `${caller}: anomalyMaps must hold N·H·W values for N = ${n} images — got ${anomalyMaps.length}. ` +
          `Flatten one map per image, all of the same size.`,
      );
    }
    const pixel = rangeOf(caller, 'anomalyMaps', anomalyMaps);
    pixelMin = pixel.min;
    pixelMax = pixel.max;
    if (masks) {
      if (masks.length !== anomalyMaps.length) {
        throw new ShapeMismatchError(
          `${caller}: masks and anomalyMaps must have the same length — got ${masks.length} and ${anomalyMaps.length}. ` +
            `Resize masks to the map size (nearest).`,
        );
      }
      pixelThreshold = thresholdWithFallback(caller, 'pixel', anomalyMaps, masks, notes);
    } else {
      pixelThreshold = imageThreshold;
      notes.push(
        'pixel threshold: no ground-truth masks in the validation data, so the pixel threshold is the image ' +
          'threshold (as anomalib does). Map values and image scores can differ in scale; pass masks for a real pixel threshold.',
      );
    }
    if (pixelMax === pixelMin) notes.push('pixel range: all anomaly-map values are equal; normalisation uses a range of 1.');
  }
  if (image.max === image.min) notes.push('image range: all image scores are equal; normalisation uses a range of 1.');
  return {
    stats: { imageThreshold, pixelThreshold, imageMin: image.min, imageMax: image.max, pixelMin, pixelMax },
    notes,
  };
}

function rangeOf(caller: string, name: string, values: Scores): { min: number; max: number } {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) {
      throw new InvalidArgumentError(
        `${caller}: ${name} must be finite — got ${v} at index ${i}. Check the model output for that sample.`,
      );
    }
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { min, max };
}

function thresholdWithFallback(
  caller: string,
  level: 'image' | 'pixel',
  scores: Scores,
  labels: BinaryLabels,
  notes: string[],
): number {
  let positives = 0;
  let highestNormal = Number.NEGATIVE_INFINITY;
  let lowest = Number.POSITIVE_INFINITY;
  for (let i = 0; i < labels.length; i++) {
    const label = readBinary(caller, level === 'image' ? 'imageLabels' : 'masks', labels, i);
    positives += label;
    if (label === 0 && scores[i]! > highestNormal) highestNormal = scores[i]!;
    if (scores[i]! < lowest) lowest = scores[i]!;
  }
  const unit = level === 'image' ? 'image' : 'pixel';
  if (positives === 0) {
    notes.push(
      `${level} threshold: the validation data has no anomalous ${unit}, so the threshold is the highest normal ` +
        `${level === 'image' ? 'score' : 'map value'} (${highestNormal}), as anomalib does. Add anomalous validation ` +
        `samples for an F1-adaptive threshold.`,
    );
    return highestNormal;
  }
  if (positives === labels.length) {
    notes.push(
      `${level} threshold: the validation data has no normal ${unit}, so the threshold is the lowest score ` +
        `(${lowest}), which maximises F1 with one class. Add normal validation samples.`,
    );
    return lowest;
  }
  return f1AdaptiveThreshold(scores, labels).threshold;
}
