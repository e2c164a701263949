import { aupro, auroc, f1AdaptiveThreshold, f1Score } from './metrics';
import { InvalidArgumentError } from '@dfm/errors';

/** Image-level metrics. */
export type ImageMetricName = 'AUROC' | 'F1Score';
/** Pixel-level metrics (need ground-truth masks). */
export type PixelMetricName = 'AUROC' | 'F1Score' | 'AUPRO';

/** Options of {@link Evaluator}. */
export interface EvaluatorOptions {
  /** Default `['AUROC', 'F1Score']`. */
  imageMetrics?: ImageMetricName[];
  /** Default `['AUROC', 'F1Score', 'AUPRO']`. */
  pixelMetrics?: PixelMetricName[];
  /** FPR limit of AUPRO. Default 0.3. */
  auproFprLimit?: number;
}

/** What the Engine gathered over a test run. */
export interface EvaluationInput {
  /** `[N]` raw image scores. */
  imageScores: ArrayLike<number>;
  /** `[N]` 0 = normal, 1 = anomalous. */
  imageLabels: ArrayLike<number>;
  /** `[N]` predicted labels from the post-processor's threshold; absent = best-F1 threshold on these scores. */
  predLabels?: ArrayLike<number>;
  /** `[N·H·W]` raw anomaly maps (pixel metrics only with `masks`). */
  anomalyMaps?: Float32Array;
  /** `[N·H·W]` ground-truth masks (0/1). */
  masks?: Uint8Array;
  /** `[N·H·W]` predicted masks from the pixel threshold; absent = best-F1 threshold on the maps. */
  predMasks?: Uint8Array;
  height?: number;
  width?: number;
  /** Why there are no maps or masks, for the notes (e.g. the dataset has no masks). */
  pixelMetricsReason?: string;
}

/** Metrics by anomalib's names (`image_AUROC`, `pixel_AUPRO`, ...), plus notes on what was not computed. */
export interface EvaluationResult {
  metrics: Record<string, number>;
  notes: string[];
}

/**
 * Computes image AUROC and F1 and, when masks exist, pixel AUROC, F1 and AUPRO — exactly (sorted
 * scores, no binning). F1 uses the post-processor's thresholds when given; otherwise the best-F1
 * threshold on the same scores, which the notes say.
 */
export class Evaluator {
  readonly imageMetrics: ImageMetricName[];
  readonly pixelMetrics: PixelMetricName[];
  readonly auproFprLimit: number;

  constructor(options: EvaluatorOptions = {}) {
    const { imageMetrics = ['AUROC', 'F1Score'], pixelMetrics = ['AUROC', 'F1Score', 'AUPRO'], auproFprLimit = 0.3 } = options;
    if (!(auproFprLimit > 0 && auproFprLimit <= 1)) {
      throw new InvalidArgumentError(`new Evaluator(): auproFprLimit must be in (0, 1] — got ${auproFprLimit}. Use 0.3.`);
    }
    this.imageMetrics = imageMetrics;
    this.pixelMetrics = pixelMetrics;
    this.auproFprLimit = auproFprLimit;
  }

  compute(input: EvaluationInput): EvaluationResult {
    const metrics: Record<string, number> = {};
    const notes: string[] = [];
    const labels = input.imageLabels;
    for (const name of this.imageMetrics) {
      if (name === 'AUROC') metrics.image_AUROC = auroc(input.imageScores, labels);
      else {
        let predictions = input.predLabels;
        if (predictions === undefined) {
          const { threshold } = f1AdaptiveThreshold(input.imageScores, labels);
          predictions = Array.from(input.imageScores, (s) => (s >= threshold ? 1 : 0));
          notes.push('image_F1Score uses the best-F1 threshold on the test scores (no fitted threshold was given).');
        }
        metrics.image_F1Score = f1Score(predictions, labels);
      }
    }
    if (this.pixelMetrics.length === 0) return { metrics, notes };
    const { anomalyMaps, masks, height, width } = input;
    if (anomalyMaps === undefined || masks === undefined || height === undefined || width === undefined) {
      notes.push(`pixel metrics: not computed — ${input.pixelMetricsReason ?? 'no anomaly maps or ground-truth masks were given.'}`);
      return { metrics, notes };
    }
    if (anomalyMaps.length !== masks.length) {
      throw new InvalidArgumentError(
        `Evaluator.compute(): anomaly maps and masks must have the same number of pixels — got ${anomalyMaps.length} and ${masks.length}.`,
      );
    }
    for (const name of this.pixelMetrics) {
      if (name === 'AUROC') metrics.pixel_AUROC = auroc(anomalyMaps, masks);
      else if (name === 'AUPRO') metrics.pixel_AUPRO = aupro(anomalyMaps, masks, { height, width, fprLimit: this.auproFprLimit });
      else {
        let predictions: ArrayLike<number> | undefined = input.predMasks;
        if (predictions === undefined) {
          const { threshold } = f1AdaptiveThreshold(anomalyMaps, masks);
          const predicted = new Uint8Array(anomalyMaps.length);
          for (let i = 0; i < predicted.length; i += 1) predicted[i] = (anomalyMaps[i] as number) >= threshold ? 1 : 0;
          predictions = predicted;
          notes.push('pixel_F1Score uses the best-F1 threshold on the test maps (no fitted threshold was given).');
        }
        metrics.pixel_F1Score = f1Score(predictions, masks);
      }
    }
    return { metrics, notes };
  }
}
