import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setBackend } from '@dfm/backbone';
import { describeWithAssets } from '@dfm/backbone/testing';
import { MVTecAD } from '@dfm/data';
import { expect, it } from 'vitest';
import { Dfm } from './dfm';
import { Engine } from './engine';

const WEIGHTS = 'weights/resnet18-imagenet-layer1-3.safetensors';

describeWithAssets('Engine on Magnetic Tile Defects (real weights and data)', [WEIGHTS, 'data/magnetic-tile'], (asset) => {
  it('reports the reference metrics (image AUROC ≥ 0.98, pixel AUROC ≥ 0.81, F1, AUPRO) and writes the results directory', async () => {
    await setBackend('wasm');
    const results = mkdtempSync(join(tmpdir(), 'dfm-mt-'));
    const dataset = new MVTecAD({ root: asset('data'), category: 'magnetic-tile' });
    const model = new Dfm({ backbone: 'resnet18', layer: 'layer3', weights: asset(WEIGHTS) });
    const engine = new Engine({ defaultRootDir: results });
    const fit = await engine.fit(model, dataset);
    const tested = await engine.test(model, dataset);
    const { metrics } = tested;
    process.stdout.write(
      `[magnetic-tile engine] image_AUROC=${metrics.image_AUROC?.toFixed(4)} pixel_AUROC=${metrics.pixel_AUROC?.toFixed(4)} pixel_AUPRO=${metrics.pixel_AUPRO?.toFixed(4)} image_F1=${metrics.image_F1Score?.toFixed(4)} pixel_F1=${metrics.pixel_F1Score?.toFixed(4)} fit=${fit.seconds.toFixed(1)}s test=${tested.seconds.toFixed(1)}s → ${tested.resultsDir}\n`,
    );
    // Known values (README): image AUROC 0.985 (PyTorch 0.985), image F1 0.981, pixel AUROC 0.833
    // (PyTorch 0.833), pixel F1 0.320, AUPRO 0.614; each target leaves about 0.01–0.02.
    expect(metrics.image_AUROC).toBeGreaterThanOrEqual(0.98);
    expect(metrics.image_F1Score).toBeGreaterThanOrEqual(0.97);
    expect(metrics.pixel_AUROC).toBeGreaterThanOrEqual(0.81);
    expect(metrics.pixel_F1Score).toBeGreaterThanOrEqual(0.3);
    expect(metrics.pixel_AUPRO).toBeGreaterThanOrEqual(0.59);
    const dir = tested.resultsDir;
    expect(dir.endsWith(join('dfm', 'mvtec', 'magnetic-tile', 'v1')), dir).toBe(true);
    for (const file of ['model.dfm', 'metrics.json', 'predictions.csv', 'roc.png', 'score-histogram.png']) expect(existsSync(join(dir, file)), file).toBe(true);
    expect(readdirSync(join(dir, 'images')).sort()).toEqual(['blowhole', 'break', 'crack', 'fray', 'good', 'uneven']);
    expect(readFileSync(join(dir, 'predictions.csv'), 'utf8').trim().split('\n')).toHaveLength(1 + 582);
    model.dispose();
  }, 1_800_000);
});
