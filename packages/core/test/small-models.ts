/**
 * Small fitted models for tests: random-weight resnet18 (layer2) DFM models fitted on generated
 * pictures decoded by the training loader (`@dfm/data`'s `loadImage`).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadImage } from '@dfm/data';
import { isDfmError } from '@dfm/errors';
import * as tf from '@tensorflow/tfjs-core';
import { DFMModel } from '../src/dfm-model';
import type { PreProcessing } from '../src/pre-processing';
import { encodePng } from './png';

/** A smooth RGB picture, `[height, width, 3]` bytes, different per `k`; `defect` adds a bright square. */
export function picture(k: number, height: number, width: number, defect = false): Uint8Array {
  const out = new Uint8Array(height * width * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        const v = 128 + 90 * Math.sin(x * (0.11 + 0.01 * c) + y * 0.07 * (c + 1) + k * 0.37) + 20 * Math.cos((x + y) * 0.05 + k);
        out[(y * width + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
  }
  if (defect) {
    for (let y = Math.floor(height * 0.3); y < Math.floor(height * 0.6); y++) {
      for (let x = Math.floor(width * 0.4); x < Math.floor(width * 0.7); x++) out.set([255, 250, 20], (y * width + x) * 3);
    }
  }
  return out;
}

export function writePicture(dir: string, name: string, rgb: Uint8Array, height: number, width: number): string {
  const path = join(dir, name);
  writeFileSync(path, encodePng(rgb, width, height, 3));
  return path;
}

/** Fits a model on `count` generated pictures of `height×width`, decoded by the training loader. */
export async function fitSmallModel(options: {
  dir: string;
  weights: string;
  preProcessing: PreProcessing;
  height: number;
  width: number;
  count?: number;
  nComps?: number;
  scoreType?: 'fre' | 'nll';
}) {
  const { dir, weights, preProcessing, height, width, count = 12, nComps = 0.95, scoreType = 'fre' } = options;
  const paths = Array.from({ length: count }, (_, k) => writePicture(dir, `train-${height}x${width}-${k}.png`, picture(k, height, width), height, width));
  const model = new DFMModel({ backbone: 'resnet18', layer: 'layer2', weights, nComps, scoreType, preProcessing, runtime: 'tfjs', workers: 0 });
  async function* batches() {
    for (const path of paths) {
      const image = await loadImage(path, {
        size: preProcessing.imageSize ?? undefined,
        normalize: preProcessing.normalization ?? undefined,
      });
      const batch = tf.tensor4d(image.data, [1, image.height, image.width, 3]);
      yield batch;
      batch.dispose();
    }
  }
  await model.fit(batches());
  model.preProcessing = preProcessing; // as the trainer records it (fit fills a null size in)
  return model;
}


/** The code and message of a rejection (or 'resolved'): for asserting a DfmError's code and text in one match. */
export async function failure(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'resolved';
  } catch (error) {
    return isDfmError(error) ? `${error.code}: ${error.message}` : `not a DfmError: ${String(error)}`;
  }
}
