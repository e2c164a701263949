/**
 * The CLI on the development assets (real ResNet18 ImageNet weights, MVTec AD bottle, Magnetic
 * Tile Defects): the README's demo, predict reproducing test, the example config, and the
 * magnetic-tile acceptance run. Skipped, with the reason printed, where the assets are absent.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWithAssets } from '@dfm/backbone/testing';
import { expect, it } from 'vitest';
import { run } from './fixtures';

const WEIGHTS = 'weights/resnet18-imagenet-layer1-3.safetensors';
const work = mkdtempSync(join(tmpdir(), 'dfm-cli-assets-'));
const configFile = new URL('../../../examples/configs/dfm.yaml', import.meta.url).pathname;

interface Row {
  path: string;
  predScore: number;
}

describeWithAssets('dfm demo, predict and --config on the MVTec AD bottle', [WEIGHTS, 'data/mvtec-bottle'], (asset) => {
  it('the demo reaches image AUROC ≥ 0.99 and writes the results directory; predict reproduces its scores', async () => {
    const demo = await run(['demo', '--results-dir', join(work, 'demo'), '--backend', 'wasm', '--json']);
    expect(demo.code, demo.err).toBe(0);
    const doc = JSON.parse(demo.out);
    process.stdout.write(`[cli demo] image_AUROC=${doc.metrics.image_AUROC} image_F1=${doc.metrics.image_F1Score} fit=${doc.timing.fit_s}s test=${doc.timing.test_s}s total=${doc.timing.total_s}s → ${doc.resultsDir}\n`);
    expect(doc.metrics.image_AUROC).toBeGreaterThanOrEqual(0.99);
    expect(existsSync(join(doc.resultsDir, 'metrics.json'))).toBe(true);

    const predicted = await run(['predict', '--model', doc.model, '--input', asset('data/mvtec-bottle/test'), '--backend', 'wasm', '--json']);
    expect(predicted.code, predicted.err).toBe(0);
    const expected = new Map<string, number>(doc.predictions.map((p: Row) => [p.path, p.predScore]));
    const rows: Row[] = JSON.parse(predicted.out).predictions;
    expect(rows).toHaveLength(expected.size);
    let worst = 0;
    for (const p of rows) {
      const e = expected.get(p.path) as number;
      worst = Math.max(worst, Math.abs(p.predScore - e) / Math.abs(e));
    }
    process.stdout.write(`[cli demo] predict vs test on ${rows.length} bottle images: max relative difference ${worst.toExponential(2)}\n`);
    expect(worst).toBeLessThanOrEqual(1e-6);
  }, 900_000);

  it('dfm train --config examples/configs/dfm.yaml trains (at 64 px here, for time)', async () => {
    const trained = await run(['train', '--config', configFile, '--image-size', '64', '--results-dir', join(work, 'config'), '--backend', 'wasm', '--json'], {
      ...process.env,
      DFM_ASSETS_DIR: asset(''),
    });
    expect(trained.code, trained.err).toBe(0);
    const doc = JSON.parse(trained.out);
    expect(doc.trainSamples).toBe(209);
    expect(doc.config.model).toMatchObject({ backbone: 'resnet18', layer: 'layer3', pcaLevel: 0.97 });
    expect(existsSync(doc.model)).toBe(true);
  }, 600_000);
});

describeWithAssets('dfm test --json on Magnetic Tile Defects (acceptance run, FRE)', [WEIGHTS, 'data/magnetic-tile'], (asset) => {
  it('prints valid JSON with image_AUROC ≥ 0.975 and the pixel metrics', async () => {
    const { code, out, err } = await run([
      'test', '--data', asset('data'), '--category', 'magnetic-tile', '--backbone', 'resnet18', '--layer', 'layer3',
      '--weights', asset(WEIGHTS), '--results-dir', join(work, 'mt'), '--json',
    ]);
    expect(code, err).toBe(0);
    const { metrics, timing } = JSON.parse(out);
    process.stdout.write(`[cli magnetic-tile] ${JSON.stringify(metrics)} ${JSON.stringify(timing)}\n`);
    expect(metrics.image_AUROC).toBeGreaterThanOrEqual(0.975);
    for (const name of ['pixel_AUROC', 'pixel_F1Score', 'pixel_AUPRO']) expect(metrics[name], name).toBeGreaterThan(0);
  }, 1_800_000);
});
