import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { jetColormap } from './jet-colormap';
import { maskContour } from './mask-contour';
import { renderHeatmapOverlay } from './render-heatmap-overlay';
import { renderRocCurve } from './render-roc-curve';
import { renderScoreHistogram } from './render-score-histogram';
import { InvalidArgumentError, ShapeMismatchError } from '@dfm/errors';

async function decode(png: Buffer) {
  expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  const at = (x: number, y: number) => Array.from(data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3));
  return { data, info, at };
}

function countColor(data: Buffer, channels: number, test: (r: number, g: number, b: number) => boolean): number {
  let n = 0;
  for (let i = 0; i < data.length; i += channels) if (test(data[i]!, data[i + 1]!, data[i + 2]!)) n++;
  return n;
}

describe('maskContour and jetColormap', () => {
  it('keeps the boundary pixels of a mask (image border included)', () => {
    const mask = new Uint8Array(16);
    for (const i of [5, 6, 9, 10, 11, 15]) mask[i] = 1;
    // 4×4:  . . . .  /  . # # .  /  . # # #  /  . . . #
    expect(Array.from(maskContour(mask, { height: 4, width: 4 }))).toEqual([0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 0, 0, 0, 1]);
    expect(Array.from(maskContour(new Uint8Array(9).fill(1), { height: 3, width: 3 }))).toEqual([1, 1, 1, 1, 0, 1, 1, 1, 1]);
    expect(() => maskContour(mask, { height: 3, width: 3 })).toThrow(/^maskContour\(\): mask must hold height·width = 9 values — got 16/);
  });
  it('maps 0 → dark blue, 0.5 → green-ish, 1 → dark red', () => {
    expect(jetColormap(0)).toEqual([0, 0, 128]);
    expect(jetColormap(0.5)).toEqual([128, 255, 128]);
    expect(jetColormap(1)).toEqual([128, 0, 0]);
    expect(jetColormap(7)).toEqual([128, 0, 0]);
  });
});

describe('renderHeatmapOverlay', () => {
  const height = 16;
  const width = 20;
  const image = new Float32Array(height * width * 3).fill(0.5);
  const anomalyMap = new Float32Array(height * width);
  const gtMask = new Uint8Array(height * width);
  for (let y = 4; y < 10; y++) for (let x = 6; x < 12; x++) anomalyMap[y * width + x] = 1;
  for (let y = 5; y < 11; y++) for (let x = 7; x < 13; x++) gtMask[y * width + x] = 1;

  it('draws image | heatmap | predicted contour | ground-truth contour', async () => {
    const { info, at } = await decode(await renderHeatmapOverlay({ image, anomalyMap, gtMask, height, width }));
    expect([info.width, info.height]).toEqual([4 * width + 3 * 4, height]);
    const panel = (k: number, x: number, y: number) => at(k * (width + 4) + x, y);
    expect(panel(0, 7, 7)).toEqual([128, 128, 128]);
    expect(panel(1, 7, 7)).toEqual([128, 77, 77]); // 0.6·128 + 0.4·jet(1) = 0.6·128 + 0.4·[128, 0, 0]
    expect(panel(1, 0, 0)).toEqual([77, 77, 128]); // jet(0) = [0, 0, 128]
    expect(panel(2, 6, 4)).toEqual([255, 0, 0]); // predicted contour (map > 0.5)
    expect(panel(2, 8, 6)).toEqual([128, 128, 128]); // interior untouched
    expect(panel(3, 7, 5)).toEqual([0, 255, 0]); // ground-truth contour
    expect(at(width + 1, 0)).toEqual([255, 255, 255]); // gap
  });
  it('omits the ground-truth panel without a mask and uses predMask when given', async () => {
    const predMask = new Uint8Array(height * width);
    predMask[0] = 1;
    const { info, at } = await decode(await renderHeatmapOverlay({ image, anomalyMap, predMask, height, width }));
    expect(info.width).toBe(3 * width + 2 * 4);
    expect(at(2 * (width + 4), 0)).toEqual([255, 0, 0]);
    expect(at(2 * (width + 4) + 6, 4)).toEqual([128, 128, 128]);
  });
  it("gives the same PNG bytes as before its heatmap panel moved to @dfm/core's renderHeatmap", async () => {
    // Pinned from the implementation of commit ee8f87c (its own jet + blend loop): values outside
    // [0, 1] in the image and the map, a NaN, with and without the ground-truth panel.
    const h = 23;
    const w = 31;
    const n = h * w;
    const picture = Float32Array.from({ length: n * 3 }, (_, i) => ((i * 37) % 101) / 90 - 0.05);
    const map = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.13) * 0.7 + 0.45);
    map[5] = Number.NaN;
    const truth = new Uint8Array(n);
    for (let y = 6; y < 15; y++) for (let x = 9; x < 20; x++) truth[y * w + x] = 1;
    const sha256 = async (gt: Uint8Array | undefined) =>
      createHash('sha256')
        .update(await renderHeatmapOverlay({ image: picture, anomalyMap: map, gtMask: gt, height: h, width: w }))
        .digest('hex');
    expect(await sha256(truth)).toBe('c4925b06c122679cc5a8dde37d309de6d257f7c031a4cc4750ba83fa01a4c57e');
    expect(await sha256(undefined)).toBe('1b1fcfd7b339f7656d7171ed8e1fa840957c3a7a9a37b307e1c1a41010a5f58e');
  });
  it('checks sizes', async () => {
    await expect(renderHeatmapOverlay({ image, anomalyMap: new Float32Array(3), height, width })).rejects.toThrow(ShapeMismatchError);
    await expect(renderHeatmapOverlay({ image: new Float32Array(5), anomalyMap, height, width })).rejects.toThrow(
      /^renderHeatmapOverlay\(\): image must be \[16·20·3\] = 960 values — got 5/,
    );
  });
});

describe('plots', () => {
  it('renders a ROC curve with the curve in blue', async () => {
    const fpr = [0, 0, 0.2, 0.5, 1];
    const tpr = [0, 0.6, 0.8, 0.95, 1];
    const { info, data } = await decode(await renderRocCurve({ fpr, tpr, auroc: 0.87, size: 300 }));
    expect([info.width, info.height]).toEqual([300, 300]);
    expect(countColor(data, info.channels, (r, g, b) => r === 31 && g === 119 && b === 180)).toBeGreaterThan(300);
    await expect(renderRocCurve({ fpr: [0], tpr: [0, 1], auroc: 1 })).rejects.toThrow(InvalidArgumentError);
  });
  it('renders a score histogram with both classes and the threshold', async () => {
    const normalScores = Array.from({ length: 200 }, (_, i) => Math.sin(i) * 0.2 + 0.3);
    const anomalousScores = Array.from({ length: 50 }, (_, i) => Math.cos(i) * 0.2 + 0.8);
    const png = await renderScoreHistogram({ normalScores, anomalousScores, threshold: 0.6 });
    const { info, data } = await decode(png);
    expect([info.width, info.height]).toEqual([600, 400]);
    const bluish = countColor(data, info.channels, (r, g, b) => b > r + 40 && b > g);
    const reddish = countColor(data, info.channels, (r, g, b) => r > b + 60 && r > g + 60);
    expect(bluish).toBeGreaterThan(500);
    expect(reddish).toBeGreaterThan(500);
    await expect(renderScoreHistogram({ normalScores: [], anomalousScores: [], threshold: 0 })).rejects.toThrow(
      /^renderScoreHistogram\(\): finite scores \(at least one\)/,
    );
    if (process.env.DFM_WRITE_PLOTS) {
      const { writeFile } = await import('node:fs/promises');
      await writeFile(`${process.env.DFM_WRITE_PLOTS}/histogram.png`, png);
      const roc = await renderRocCurve({ fpr: [0, 0, 0.2, 0.5, 1], tpr: [0, 0.6, 0.8, 0.95, 1], auroc: 0.87 });
      await writeFile(`${process.env.DFM_WRITE_PLOTS}/roc.png`, roc);
    }
  });
});
