/** Test helpers for @dfm/core: image batches from files, AUROC and Spearman by plain definitions. */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { normalizeImageNet } from '@dfm/backbone';
import { loadImage } from '@dfm/data';
import * as tf from '@tensorflow/tfjs-core';

export interface LabelledPath {
  path: string;
  relative: string;
  label: 0 | 1;
}

/** `<root>/<split>/<defect>/<file>` sorted by defect then file name (the reference script's order). */
export function listSplit(root: string, split: 'train' | 'test'): LabelledPath[] {
  const out: LabelledPath[] = [];
  for (const defect of readdirSync(join(root, split)).sort()) {
    for (const name of readdirSync(join(root, split, defect)).sort()) {
      out.push({ path: join(root, split, defect, name), relative: `${split}/${defect}/${name}`, label: defect === 'good' ? 0 : 1 });
    }
  }
  return out;
}

/** Normalised `[B, size, size, 3]` batches of the given files, decoded a batch at a time. */
export async function* imageBatches(paths: readonly string[], size: number, batchSize: number): AsyncGenerator<tf.Tensor4D> {
  for (let start = 0; start < paths.length; start += batchSize) {
    const images = await Promise.all(paths.slice(start, start + batchSize).map((path) => loadImage(path, { size })));
    const data = new Float32Array(images.length * size * size * 3);
    images.forEach((image, i) => {
      data.set(image.data, i * size * size * 3);
    });
    const raw = tf.tensor4d(data, [images.length, size, size, 3]);
    const batch = normalizeImageNet(raw);
    raw.dispose();
    try {
      yield batch;
    } finally {
      batch.dispose();
    }
  }
}

/** AUROC as the Mann–Whitney statistic (ties count one half). */
export function auroc(scores: readonly number[], labels: readonly number[]): number {
  let wins = 0;
  let pairs = 0;
  for (let i = 0; i < scores.length; i += 1) {
    if (labels[i] !== 1) continue;
    for (let j = 0; j < scores.length; j += 1) {
      if (labels[j] !== 0) continue;
      pairs += 1;
      const a = scores[i] as number;
      const b = scores[j] as number;
      wins += a > b ? 1 : a === b ? 0.5 : 0;
    }
  }
  return wins / pairs;
}

function ranks(values: readonly number[]): number[] {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const out = new Array<number>(values.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]![0] === order[i]![0]) j += 1;
    for (let k = i; k <= j; k += 1) out[order[k]![1]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return out;
}

/** Spearman rank correlation (Pearson on average ranks). */
export function spearman(a: readonly number[], b: readonly number[]): number {
  const ra = ranks(a);
  const rb = ranks(b);
  const mean = (ra.length + 1) / 2;
  let num = 0;
  let da = 0;
  let db = 0;
  for (let i = 0; i < ra.length; i += 1) {
    num += (ra[i]! - mean) * (rb[i]! - mean);
    da += (ra[i]! - mean) ** 2;
    db += (rb[i]! - mean) ** 2;
  }
  return num / Math.sqrt(da * db);
}
