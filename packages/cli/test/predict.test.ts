/**
 * `dfm predict` scores through the Detector (loadDetector → predictBatch). The reference is the
 * other path the library has, the Engine's (`Dfm.load` → `Engine.predict`: the training loader's
 * batches and the Visualizer's images): same scores, labels and heatmap images.
 */
import { mkdtempSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Dfm, Engine } from '@dfm/lightning-like';
import { beforeAll, describe, expect, it } from 'vitest';
import { listImages } from '../src/commands/predict';
import { type Fixture, fastFlags, makeFixture, run } from './fixtures';

const work = mkdtempSync(join(tmpdir(), 'dfm-cli-predict-'));
let fx: Fixture;
let modelPath: string;
let input: string;

interface Row {
  path: string;
  predScore: number;
  normalizedScore: number | null;
  predLabel: 0 | 1 | null;
}

type Sharp = (input: string) => { raw(): { toBuffer(options: { resolveWithObject: true }): Promise<{ data: Buffer; info: { width: number; height: number; channels: number } }> } };

/** sharp, from the package that depends on it (the CLI does not). */
async function loadSharp(): Promise<Sharp> {
  const path = createRequire(new URL('../../lightning-like/package.json', import.meta.url)).resolve('sharp');
  return ((await import(path)) as { default: Sharp }).default;
}

beforeAll(async () => {
  fx = await makeFixture(work, 5);
  const trained = await run(['train', ...fastFlags(fx, join(work, 'results')), '--val-split-mode', 'same_as_test', '--out', join(work, 'model.dfm'), '--json']);
  expect(trained.code, trained.err).toBe(0);
  modelPath = JSON.parse(trained.out).model;
  input = join(fx.data, 'blobs', 'test');
}, 240_000);

describe('dfm predict scores through the Detector like the Engine', () => {
  it('--json scores equal Engine.predict scores within 1e-6 relative; labels and normalised scores equal', async () => {
    const predicted = await run(['predict', '--model', modelPath, '--input', input, '--batch-size', '5', '--backend', 'wasm', '--json']);
    expect(predicted.code, predicted.err).toBe(0);
    const doc = JSON.parse(predicted.out);
    const rows: Row[] = doc.predictions;
    expect(doc.config.runtimeUsed).toMatch(/^(tfjs|onnxruntime)$/);
    expect(doc.thresholds).toMatchObject({ imageThreshold: expect.any(Number), pixelThreshold: expect.any(Number) });

    const model = await Dfm.load(modelPath);
    const reference = await new Engine({ checkpoint: false, batchSize: 8 }).predict(model, listImages(input));
    model.dispose();
    expect(rows.map((r) => r.path)).toEqual(reference.map((r) => r.path));
    let worst = 0;
    rows.forEach((row, i) => {
      const expected = reference[i] as Row;
      worst = Math.max(worst, Math.abs(row.predScore - expected.predScore) / Math.abs(expected.predScore));
      expect(row.predLabel, row.path).toBe(expected.predLabel);
      expect(Math.abs((row.normalizedScore as number) - (expected.normalizedScore as number)), row.path).toBeLessThanOrEqual(1e-6);
    });
    process.stdout.write(`[cli predict] Detector vs Engine.predict: max relative score difference ${worst.toExponential(2)} over ${rows.length} images\n`);
    expect(worst).toBeLessThanOrEqual(1e-6);
    expect(new Set(rows.map((r) => r.predLabel))).toEqual(new Set([0, 1]));
  });

  it('--output writes the heatmap images the Engine writes (image | heatmap | predicted-mask contour), pixel for pixel within 1', async () => {
    const output = join(work, 'predicted');
    const predicted = await run(['predict', '--model', modelPath, '--input', input, '--output', output, '--backend', 'wasm', '--json']);
    expect(predicted.code, predicted.err).toBe(0);
    const reference = join(work, 'engine-heatmaps');
    const model = await Dfm.load(modelPath);
    await new Engine({ checkpoint: false }).predict(model, listImages(input), { outputDir: reference, relativeTo: input });
    model.dispose();

    const pngs = (dir: string) => listImages(dir).map((path) => relative(dir, path));
    expect(pngs(output)).toEqual(pngs(reference));
    expect(pngs(output)).toHaveLength(16);
    const sharp = await loadSharp();
    let worst = 0;
    let differing = 0;
    for (const name of pngs(output)) {
      const ours = await sharp(join(output, name)).raw().toBuffer({ resolveWithObject: true });
      const theirs = await sharp(join(reference, name)).raw().toBuffer({ resolveWithObject: true });
      expect(ours.info, name).toEqual(theirs.info);
      // three 64-px panels and two 4-px gaps
      expect(ours.info.width).toBe(3 * 64 + 2 * 4);
      for (let i = 0; i < ours.data.length; i++) {
        const d = Math.abs((ours.data[i] as number) - (theirs.data[i] as number));
        if (d > 0) differing += 1;
        worst = Math.max(worst, d);
      }
    }
    process.stdout.write(`[cli predict] heatmaps vs the Engine's: max difference ${worst}/255, ${differing} channel values differ\n`);
    expect(worst).toBeLessThanOrEqual(1);
    expect(readdirSync(output).sort()).toEqual(['blob', 'good', 'predictions.csv', 'predictions.json']);
  });
});
