import { dirname, join, relative } from 'node:path';
import { writeFileAtomic } from '@dfm/backbone/internal';
import type { Detector, DetectorResult } from '@dfm/core';
import { type BadFile, BadImagesError } from '@dfm/data';
import { type DfmError, type DfmErrorCode, isDfmError } from '@dfm/errors';
import { type Callback, heatmapName } from '@dfm/lightning-like';
import { heatmapPng } from './heatmap-png';

/** Options of {@link predictFiles}. */
export interface PredictFilesOptions {
  /** Images per Detector call (`--batch-size`). */
  batchSize: number;
  /** `'error'`: a bad image stops the run naming it (all bad ones of its batch); `'skip'`: it is left out and listed. */
  onBadImage: 'error' | 'skip';
  /** Write a heatmap PNG per image under this folder (`<outputDir>/<sub-folder>/<file name>.png`). */
  outputDir?: string;
  /** The folder the paths were listed from: heatmaps mirror their sub-folders of it. Default: none. */
  relativeTo?: string;
  /** Progress (`onStageStart`, `onBatchEnd`, `onStageEnd` of stage `'predict'`) and the skipped-files warning. */
  callbacks?: readonly Callback[];
}

/** One scored image, as `predictions.csv`/`.json` list it. */
export interface FilePrediction {
  path: string;
  predScore: number;
  normalizedScore: number | null;
  predLabel: 0 | 1 | null;
}

/** What {@link predictFiles} scored and what it left out. */
export interface PredictFilesResult {
  predictions: FilePrediction[];
  skipped: { path: string; reason: string }[];
  /** Seconds spent scoring (and writing heatmaps). */
  seconds: number;
}

/** Errors that mean "this image file cannot be used" (the rest stop the run whatever `onBadImage` says). */
const BAD_IMAGE_CODES: readonly DfmErrorCode[] = ['E_IMAGE_DECODE', 'E_IMAGE_TOO_LARGE', 'E_IMAGE_SIZE_MISMATCH'];

const isBadImage = (error: unknown): error is DfmError => isDfmError(error, ...BAD_IMAGE_CODES);

/**
 * The decoder's own error (`image a.png is corrupt …`) rather than the Detector's copy of it, which
 * adds the Detector method in front: the CLI's messages name files, not library calls.
 */
function ownError(error: DfmError): DfmError {
  return isDfmError(error.cause, error.code) ? error.cause : error;
}

/**
 * Scores image files through the Detector, `batchSize` per `predictBatch` call (decoded and
 * pre-processed by the Detector exactly as at training), in order. A batch with a bad image is
 * scored again one image at a time to tell the bad ones from the good: with `onBadImage: 'error'`
 * the bad ones stop the run (one file: its own error; several: a `BadImagesError` naming each),
 * with `'skip'` they are left out and reported in one warning. With `outputDir` each image gets a
 * heatmap PNG ({@link heatmapPng}); without it the Detector computes no maps.
 */
export async function predictFiles(detector: Detector, paths: readonly string[], options: PredictFilesOptions): Promise<PredictFilesResult> {
  const { batchSize, onBadImage, outputDir, relativeTo, callbacks = [] } = options;
  const map = outputDir !== undefined;
  const predictions: FilePrediction[] = [];
  const skipped: { path: string; reason: string }[] = [];
  const total = paths.length;
  for (const callback of callbacks) callback.onStageStart?.('predict', { total });
  const started = performance.now();
  let done = 0;
  let batch = 0;
  // The heatmaps of one batch are drawn and written while the Detector scores the next one.
  let heatmaps: Promise<unknown> = Promise.resolve();
  try {
    for (let start = 0; start < total; start += batchSize) {
      const scored = await predictChunk(detector, paths.slice(start, start + batchSize), map, onBadImage, skipped);
      for (const { path, result } of scored) {
        predictions.push({ path, predScore: result.predScore, normalizedScore: result.normalizedScore, predLabel: result.predLabel });
      }
      await heatmaps;
      if (outputDir !== undefined) {
        heatmaps = Promise.all(scored.map(({ path, result }) => writeHeatmap(detector, path, result, join(outputDir, heatmapFolder(path, relativeTo), heatmapName(path)))));
        heatmaps.catch(() => undefined); // awaited with the next batch or below; not unhandled meanwhile
      }
      done += scored.length;
      batch += 1;
      for (const callback of callbacks) callback.onBatchEnd?.({ stage: 'predict', epoch: 1, batch, samples: done, total });
    }
    await heatmaps;
  } catch (error) {
    await heatmaps.catch(() => undefined); // no heatmap is still being written when the command ends
    throw error;
  }
  const seconds = (performance.now() - started) / 1000;
  for (const callback of callbacks) callback.onStageEnd?.('predict', { seconds, samples: done });
  if (skipped.length > 0) {
    const message = `predict: skipped ${skipped.length} bad file${skipped.length > 1 ? 's' : ''}: ${skipped.map((s) => s.path).join(', ')}`;
    for (const callback of callbacks) callback.onWarning?.(message);
  }
  return { predictions, skipped, seconds };
}

/** Draws one image's heatmap PNG and writes it to `file` (nothing for a result without a map). */
async function writeHeatmap(detector: Detector, path: string, result: DetectorResult, file: string): Promise<void> {
  const png = await heatmapPng(path, result, detector.info);
  if (png !== null) writeFileAtomic(file, png);
}

/** One `predictBatch` call; when it meets a bad image, the chunk again image by image. */
async function predictChunk(
  detector: Detector,
  chunk: readonly string[],
  map: boolean,
  onBadImage: 'error' | 'skip',
  skipped: { path: string; reason: string }[],
): Promise<{ path: string; result: DetectorResult }[]> {
  try {
    const results = await detector.predictBatch(chunk, { batchSize: chunk.length, map });
    return results.map((result, i) => ({ path: chunk[i] as string, result }));
  } catch (error) {
    if (!isBadImage(error)) throw error;
  }
  const scored: { path: string; result: DetectorResult }[] = [];
  const failures: BadFile[] = [];
  for (const path of chunk) {
    try {
      scored.push({ path, result: await detector.predict(path, { map }) });
    } catch (error) {
      if (!isBadImage(error)) throw error;
      failures.push({ path, error: ownError(error) });
    }
  }
  if (onBadImage === 'error' && failures.length === 1) throw failures[0]?.error;
  if (onBadImage === 'error') {
    throw new BadImagesError(
      `dfm predict: ${failures.length} images cannot be used —\n${failures.map((f) => `  - ${f.path}: ${f.error.message}`).join('\n')}\nFix or remove these files, or pass --on-bad-image skip to leave them out (they are then listed in a warning).`,
      { failures },
    );
  }
  for (const failure of failures) skipped.push({ path: failure.path, reason: failure.error.message });
  return scored;
}

/** The sub-folder of the heatmap: the image's folder relative to `relativeTo`, or none. */
function heatmapFolder(path: string, relativeTo: string | undefined): string {
  if (relativeTo === undefined) return '.';
  const folder = relative(relativeTo, dirname(path));
  return folder === '' || folder.startsWith('..') ? '.' : folder;
}
