import { basename, join } from 'node:path';
import { writeFileAtomic } from '@dfm/backbone/internal';
import type { Batch } from '@dfm/data';
import type { StepOutput } from './anomaly-module';
import type { PostProcessResult } from './post-processing/post-processor';
import { renderHeatmapOverlay } from './visualization';
import { InvalidArgumentError } from '@dfm/errors';

/** Options of {@link Visualizer}. */
export interface VisualizerOptions {
  /** Write at most this many images per run (default: all). */
  maxImages?: number;
}

/**
 * Writes one PNG per scored image under `<outputDir>/<defectType>/<file name>.png`, the input's
 * whole file name, extension included, plus `.png` (`a.jpg` → `a.jpg.png`, `a.png` → `a.png.png`),
 * so inputs that differ only by extension never share a heatmap: image | heatmap
 * overlay | predicted-mask contour | ground-truth contour (when the image has a mask). Maps are
 * shown normalised with the fitted thresholds (0.5 = threshold); without fitted thresholds each
 * map is scaled to its own range. Models without maps (NLL) get no images.
 */
export class Visualizer {
  readonly maxImages: number;
  private written = 0;

  constructor(options: VisualizerOptions = {}) {
    const { maxImages = Number.POSITIVE_INFINITY } = options;
    if (!(maxImages >= 0)) {
      throw new InvalidArgumentError(`new Visualizer(): maxImages must be ≥ 0 — got ${maxImages}.`);
    }
    this.maxImages = maxImages;
  }

  /** Renders and writes the batch's images; resolves to the files written. */
  async visualizeBatch(input: {
    batch: Batch;
    output: StepOutput;
    processed: PostProcessResult<Float32Array> | null;
    outputDir: string;
  }): Promise<string[]> {
    const { batch, output, processed, outputDir } = input;
    if (output.anomalyMap === undefined) return [];
    const { height, width } = batch;
    const pixels = height * width;
    // Each picture's pixels are drawn here, in turn; their PNG encodings (sharp, on libuv's threads)
    // run side by side and beside the drawing of the next one — all the batch's data is read before
    // this returns its promise, so the caller may reuse the batch at once.
    const pending: Promise<string>[] = [];
    for (let i = 0; i < batch.batchSize && this.written < this.maxImages; i += 1) {
      const sample = batch.samples[i];
      if (sample === undefined) break;
      const raw = output.anomalyMap.subarray(i * pixels, (i + 1) * pixels);
      const normalised = processed?.anomalyMap
        ? (processed.anomalyMap.subarray(i * pixels, (i + 1) * pixels) as Float32Array)
        : scaleMapToUnitRange(raw);
      const gtMask = batch.masks !== null && sample.label === 1 ? batch.masks.subarray(i * pixels, (i + 1) * pixels) : undefined;
      const file = join(outputDir, sample.defectType, heatmapName(sample.path));
      const png = renderHeatmapOverlay({
        image: unitRange(batch.images.subarray(i * pixels * 3, (i + 1) * pixels * 3), batch.normalization),
        anomalyMap: normalised,
        predMask: processed?.predMask?.subarray(i * pixels, (i + 1) * pixels),
        gtMask,
        height,
        width,
      });
      pending.push(
        png.then((bytes) => {
          writeFileAtomic(file, bytes);
          return file;
        }),
      );
      this.written += 1;
    }
    // Every encoding settles before this does (no write left running after a failure).
    const settled = await Promise.allSettled(pending);
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    return settled.map((r) => (r as PromiseFulfilledResult<string>).value);
  }

  /** Starts counting `maxImages` again (the Engine calls it per run). */
  reset(): void {
    this.written = 0;
  }
}

/** The heatmap file name of an input image: its whole file name plus `.png` (`a.jpg` → `a.jpg.png`). */
export function heatmapName(imagePath: string): string {
  return `${basename(imagePath)}.png`;
}

/** RGB in [0, 1] of an image the loader normalised (a copy), or the image itself. */
function unitRange(image: Float32Array, normalization: Batch['normalization']): Float32Array {
  if (normalization === null || normalization === undefined) return image;
  const { mean, std } = normalization;
  const out = new Float32Array(image.length);
  for (let i = 0; i < image.length; i += 1) out[i] = (image[i] as number) * (std[i % 3] as number) + (mean[i % 3] as number);
  return out;
}

/** An anomaly map scaled to its own range [0, 1] (all 0 when it is constant), for display. */
export function scaleMapToUnitRange(map: Float32Array): Float32Array {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const v of map) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const scale = max > min ? 1 / (max - min) : 0;
  return map.map((v) => (v - min) * scale);
}
