import { expect, it } from 'vitest';
import { batches } from './batches';
import { describeWithAssets } from '@dfm/backbone/testing';
import { loadImage } from './load-image';
import { MVTecAD } from './mvtec-ad';
import { validateSamples } from './validate-samples';

describeWithAssets('MVTecAD on the real assets', ['data/mvtec-bottle', 'data/magnetic-tile'], (asset) => {
  const root = asset('data');

  it('bottle: 209 train / 83 test, image-level only (no ground_truth in this copy)', async () => {
    const data = new MVTecAD({ root, category: 'mvtec-bottle' });
    expect(data.train).toHaveLength(209);
    expect(data.test).toHaveLength(83);
    const counts = Object.fromEntries(['good', 'broken_large', 'broken_small', 'contamination'].map((t) => [t, data.test.filter((s) => s.defectType === t).length]));
    expect(counts).toEqual({ good: 20, broken_large: 20, broken_small: 22, contamination: 21 });
    expect(data.hasMasks).toBe(false);
    expect(data.pixelMetricsReason).toMatch(/no ground_truth folder/);
    const image = await loadImage(data.train[0]!.path, { size: 256 });
    expect([image.originalHeight, image.originalWidth, image.height, image.width]).toEqual([512, 512, 256, 256]);
  });

  it('magnetic-tile: 762 train / 582 test, a mask of the right size for every defect image', async () => {
    const data = new MVTecAD({ root, category: 'magnetic-tile' });
    expect(data.train).toHaveLength(762);
    expect(data.test).toHaveLength(582);
    const anomalous = data.test.filter((s) => s.label === 1);
    expect(anomalous).toHaveLength(392);
    expect(anomalous.every((s) => s.maskPath !== null)).toBe(true);
    expect(data.hasMasks).toBe(true);
    const report = await validateSamples(data.test, { withMasks: true }); // headers only; throws on any mismatch
    expect(report.valid).toHaveLength(582);
    // Greyscale JPEGs of varying sizes → RGB 256×256 batches with binary masks.
    const some = [...anomalous.slice(0, 12), ...data.test.filter((s) => s.label === 0).slice(0, 4)];
    let anomalousPixels = 0;
    for await (const batch of batches(some, { batchSize: 8, imageSize: 256, withMasks: true })) {
      expect(batch.images.length).toBe(batch.batchSize * 256 * 256 * 3);
      for (let p = 0; p < 256 * 256; p++) expect(batch.images[p * 3]).toBe(batch.images[p * 3 + 1]); // grey → R = G
      anomalousPixels += batch.masks!.reduce((sum, v) => sum + v, 0);
    }
    expect(anomalousPixels).toBeGreaterThan(0);
  });
});
