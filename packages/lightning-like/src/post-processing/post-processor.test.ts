import { describe, expect, it } from 'vitest';
import { f1AdaptiveThreshold } from '../metrics/f1-adaptive-threshold';
import { minMaxScale } from '@dfm/core';
import { computePostProcessing } from './compute-post-processing';
import { PostProcessor } from './post-processor';
import { InvalidArgumentError, NotFittedError } from '@dfm/errors';

const imageScores = [1, 2, 3, 4, 5, 6];
const imageLabels = [0, 0, 0, 1, 1, 1];
// Two 2×2 maps per image would be verbose: use 1×2 maps (2 pixels per image).
const anomalyMaps = new Float32Array([0, 1, 0.5, 1, 2, 0, 8, 3, 9, 1, 10, 2]);
const masks = new Uint8Array([0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 1, 1]);

describe('minMaxScale', () => {
  it('puts the threshold at 0.5 and clamps to [0, 1]', () => {
    const options = { threshold: 10, min: 0, max: 20 };
    expect(minMaxScale(12, options)).toBeCloseTo(0.6, 15);
    expect(minMaxScale(10, options)).toBe(0.5);
    const input = new Float32Array([0, 10, 40, -40]);
    const out = minMaxScale(input, options);
    expect(out).toBeInstanceOf(Float32Array);
    expect(Array.from(out)).toEqual([0, 0.5, 1, 0]);
    expect(Array.from(input)).toEqual([0, 10, 40, -40]);
    expect(minMaxScale(new Float64Array([11]), options)).toBeInstanceOf(Float64Array);
  });
  it('uses a range of 1 when min = max, and rejects bad options', () => {
    expect(minMaxScale(3.25, { threshold: 3, min: 3, max: 3 })).toBe(0.75);
    expect(() => minMaxScale(1, { threshold: 0, min: 2, max: 1 })).toThrow(
      /^minMaxScale\(\): threshold, min and max must be finite with min ≤ max — got threshold 0, min 2, max 1/,
    );
  });
});

describe('computePostProcessing', () => {
  it('fits F1-adaptive thresholds and ranges', () => {
    const { stats, notes } = computePostProcessing({ imageScores, imageLabels, anomalyMaps, masks });
    expect(stats).toEqual({
      imageThreshold: 4,
      imageMin: 1,
      imageMax: 6,
      pixelThreshold: f1AdaptiveThreshold(anomalyMaps, masks).threshold,
      pixelMin: 0,
      pixelMax: 10,
    });
    expect(stats.pixelThreshold).toBe(8);
    expect(notes).toEqual([]);
  });
  it('falls back to the highest normal score without anomalies, and says so', () => {
    const { stats, notes } = computePostProcessing({ imageScores: [3, 1, 2], imageLabels: [0, 0, 0] });
    expect(stats.imageThreshold).toBe(3);
    expect(stats.pixelThreshold).toBeNull();
    expect(notes.join('\n')).toMatch(/^image threshold: the validation data has no anomalous image, so the threshold is the highest normal score \(3\)/);
  });
  it('falls back to the lowest score without normal samples', () => {
    const { stats, notes } = computePostProcessing({ imageScores: [3, 1, 2], imageLabels: [1, 1, 1] });
    expect(stats.imageThreshold).toBe(1);
    expect(notes[0]).toMatch(/no normal image, so the threshold is the lowest score \(1\)/);
  });
  it('uses the image threshold for pixels when there are no masks (as anomalib)', () => {
    const { stats, notes } = computePostProcessing({ imageScores, imageLabels, anomalyMaps });
    expect(stats.pixelThreshold).toBe(4);
    expect(notes[0]).toMatch(/^pixel threshold: no ground-truth masks/);
  });
  it('falls back per pixel when masks are empty', () => {
    const { stats, notes } = computePostProcessing({
      imageScores,
      imageLabels,
      anomalyMaps,
      masks: new Uint8Array(12),
    });
    expect(stats.pixelThreshold).toBe(10);
    expect(notes[0]).toMatch(/^pixel threshold: the validation data has no anomalous pixel/);
  });
  it('validates its input', () => {
    expect(() => computePostProcessing({ imageScores: [], imageLabels: [] })).toThrow(InvalidArgumentError);
    expect(() => computePostProcessing({ imageScores: [1, 2], imageLabels: [0] })).toThrow(/same length — got 2 and 1/);
    expect(() => computePostProcessing({ imageScores, imageLabels, masks })).toThrow(/masks need anomalyMaps/);
    expect(() => computePostProcessing({ imageScores, imageLabels, anomalyMaps: new Float32Array(7) })).toThrow(
      /anomalyMaps must hold N·H·W values for N = 6 images — got 7/,
    );
    expect(() => computePostProcessing({ imageScores: [1, Number.NaN], imageLabels: [0, 1] })).toThrow(
      /imageScores must be finite — got NaN at index 1/,
    );
  });
});

describe('PostProcessor', () => {
  it('normalises and labels one image', () => {
    const post = new PostProcessor().fit({ imageScores, imageLabels, anomalyMaps, masks });
    const at = post.apply({ predScore: 4 });
    expect(at).toEqual({ predScore: 0.5, predLabel: false });
    const above = post.apply({ predScore: 4.5, anomalyMap: new Float32Array([8, 9, 0]) });
    expect(above.predScore).toBeCloseTo(0.6, 12);
    expect(above.predLabel).toBe(true);
    expect(Array.from(above.anomalyMap!)).toEqual([0.5, 0.6000000238418579, 0]);
    expect(Array.from(above.predMask!)).toEqual([0, 1, 0]);
    expect(post.apply({ predScore: 100 }).predScore).toBe(1);
  });
  it('normalises a batch into arrays of the same type', () => {
    const post = new PostProcessor().fit({ imageScores, imageLabels });
    const scores = new Float32Array([1, 4, 6.5]);
    const out = post.apply({ predScore: scores });
    expect(out.predScore).toBeInstanceOf(Float32Array);
    expect(Array.from(out.predScore)).toEqual([0, 0.5, 1]);
    expect(Array.from(out.predLabel)).toEqual([0, 0, 1]);
    expect(Array.from(scores)).toEqual([1, 4, 6.5]);
  });
  it('round-trips through JSON', () => {
    const post = new PostProcessor().fit({ imageScores, imageLabels: [0, 0, 0, 0, 0, 0], anomalyMaps, split: 'val' });
    const restored = PostProcessor.fromJSON(JSON.parse(JSON.stringify(post)));
    expect(restored.split).toBe('val');
    expect(restored.stats).toEqual(post.stats);
    expect(restored.notes).toEqual(post.notes);
    expect(restored.notes.length).toBe(2);
    expect(restored.apply({ predScore: 5 })).toEqual(post.apply({ predScore: 5 }));
  });
  it('explains misuse', () => {
    expect(() => new PostProcessor().apply({ predScore: 1 })).toThrow(NotFittedError);
    expect(() => new PostProcessor().apply({ predScore: 1 })).toThrow(/^PostProcessor\.apply\(\): a fitted post-processor was expected/);
    const imageOnly = new PostProcessor().fit({ imageScores, imageLabels });
    expect(() => imageOnly.apply({ predScore: 1, anomalyMap: new Float32Array(2) })).toThrow(
      /pixel statistics were expected for an anomalyMap — got a post-processor fitted without anomaly maps/,
    );
    expect(() => PostProcessor.fromJSON({ format: 'x', version: 1 })).toThrow(/got format x, version 1/);
    expect(() =>
      PostProcessor.fromJSON({
        format: 'dfm-post-processor',
        version: 1,
        stats: { imageThreshold: 1, imageMin: 0, imageMax: 2, pixelThreshold: 1, pixelMin: null, pixelMax: null },
      }),
    ).toThrow(/all numbers or all null/);
  });
});
