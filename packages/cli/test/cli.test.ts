import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeSafetensors, loadSafetensors } from '@dfm/backbone';
import { loadDetector } from '@dfm/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { VERSION } from '../src/version';
import { type Fixture, fastFlags, makeFixture, run } from './fixtures';

const work = mkdtempSync(join(tmpdir(), 'dfm-cli-'));
let fx: Fixture;
let flags: string[];
let modelPath: string;
let testScores: Map<string, number>;

interface Row {
  path: string;
  label?: number;
  predScore: number;
  predLabel: number | null;
  normalizedScore?: number | null;
}

beforeAll(async () => {
  fx = await makeFixture(work);
  flags = fastFlags(fx, join(work, 'results'));
  const trained = await run(['train', ...flags, '--val-split-mode', 'same_as_test', '--out', join(work, 'model.dfm'), '--json']);
  expect(trained.code, trained.err).toBe(0);
  modelPath = JSON.parse(trained.out).model;
});

describe('dfm test', () => {
  it('fits, evaluates and prints one JSON document with metrics, config, timing and predictions', async () => {
    const { code, out, err } = await run(['test', ...flags, '--json']);
    expect(code, err).toBe(0);
    const doc = JSON.parse(out);
    expect(Object.keys(doc.metrics).sort()).toEqual(['image_AUROC', 'image_F1Score', 'pixel_AUPRO', 'pixel_AUROC', 'pixel_F1Score']);
    expect(doc.metrics.image_AUROC).toBeGreaterThan(0.5);
    expect(doc.config.model).toMatchObject({ backbone: 'resnet18', layer: 'layer2', scoreType: 'fre', imageSize: [64, 64] });
    expect(Object.keys(doc.timing).sort()).toEqual(['fit_s', 'images_per_s', 'pca_accumulate_s', 'pca_products', 'pca_solve_s', 'stages', 'test_s', 'total_s']);
    const stages = doc.timing.stages;
    expect(Object.keys(stages)).toEqual(['startup_s', 'calibrate_s', 'train_s', 'validate_s', 'fit_other_s', 'test_s', 'test_files_s']);
    expect(stages.train_s).toBeGreaterThan(0);
    expect(stages.test_s).toBeGreaterThan(0);
    // The stages add up to the run (to the rounding of each and the moments between them).
    const sum = Object.values(stages as Record<string, number>).reduce((a, b) => a + b, 0);
    expect(sum).toBeLessThanOrEqual(doc.timing.total_s + 0.01);
    expect(sum).toBeGreaterThan(doc.timing.total_s * 0.8);
    // The PCA's share of the fit, and where its products ran (onnxruntime-node is installed here).
    expect(doc.timing.pca_solve_s).toBeGreaterThan(0);
    expect(doc.timing.pca_accumulate_s).toBeGreaterThanOrEqual(0);
    expect(doc.timing.pca_accumulate_s + doc.timing.pca_solve_s).toBeLessThanOrEqual(doc.timing.fit_s);
    expect(doc.timing.pca_products).toMatch(/^onnxruntime-node \d+\.\d+\.\d+ \(\d+ threads?\)$|^tfjs$/);
    expect(doc.predictions).toHaveLength(16);
    expect(Object.keys(doc.predictions[0])).toEqual(expect.arrayContaining(['path', 'label', 'predScore', 'predLabel']));
    for (const file of ['model.dfm', 'metrics.json', 'predictions.csv', 'roc.png', 'score-histogram.png']) {
      expect(existsSync(join(doc.resultsDir, file)), file).toBe(true);
    }
    // Logs went to stderr, not into the document.
    expect(err).toMatch(/dfm test: mvtec\/blobs/);
    testScores = new Map(doc.predictions.map((p: Row) => [p.path, p.predScore]));
  });

  it('with --score-type nll reports image metrics only', async () => {
    const { code, out, err } = await run(['test', ...flags, '--score-type', 'nll', '--json']);
    expect(code, err).toBe(0);
    const doc = JSON.parse(out);
    expect(Object.keys(doc.metrics).sort()).toEqual(['image_AUROC', 'image_F1Score']);
    expect(doc.notes.join(' ')).toMatch(/nll scores images only/);
  });

  it('prints the metrics table and the results directory without --json', async () => {
    const { code, out } = await run(['test', ...flags, '--model', modelPath]);
    expect(code).toBe(0);
    expect(out).toMatch(/^metric\s+value$/m);
    expect(out).toMatch(/^image_AUROC\s+\d\.\d{4}$/m);
    expect(out).toMatch(/^results: .*dfm[/\\]mvtec[/\\]blobs[/\\]v\d+$/m);
  });
});

describe('dfm train then dfm predict', () => {
  it("reproduces dfm test's scores for the same images to 1e-6 relative, and writes heatmaps and tables", async () => {
    const output = join(work, 'predicted');
    const { code, out, err } = await run(['predict', '--model', modelPath, '--input', join(fx.data, 'blobs', 'test'), '--output', output, '--backend', 'wasm', '--json']);
    expect(code, err).toBe(0);
    const doc = JSON.parse(out);
    expect(doc.predictions).toHaveLength(16);
    let worst = 0;
    for (const p of doc.predictions as Row[]) {
      const expected = testScores.get(p.path);
      expect(expected, p.path).toBeDefined();
      worst = Math.max(worst, Math.abs(p.predScore - (expected as number)) / Math.abs(expected as number));
      expect(p.predLabel === 0 || p.predLabel === 1).toBe(true);
    }
    process.stdout.write(`[cli] predict vs test: max relative difference ${worst.toExponential(2)} over ${doc.predictions.length} images\n`);
    expect(worst).toBeLessThanOrEqual(1e-6);
    expect(readdirSync(join(output, 'blob')).length).toBe(8);
    expect(readdirSync(join(output, 'good')).length).toBe(8);
    expect(readFileSync(join(output, 'predictions.csv'), 'utf8').trim().split('\n')).toHaveLength(17);
    expect(JSON.parse(readFileSync(join(output, 'predictions.json'), 'utf8'))).toHaveLength(16);
  });

  it('scores a single file and prints a table', async () => {
    const image = join(fx.dataset.abnormalDir, '000.png');
    const { code, out } = await run(['predict', '--model', modelPath, '--input', image, '--backend', 'wasm']);
    expect(code).toBe(0);
    expect(out).toMatch(/000\.png\s+\S+\s+\d\.\d{4}\s+(anomalous|normal)/);
  });
});

describe('dfm export', () => {
  it('writes a folder for any static server: model, weights (sha256 checked), dfm.js, the runtimes\' files, index.html, README, manifest; loadDetector(folder) scores like dfm predict', async () => {
    const dir = join(work, 'exported');
    const { code, out, err } = await run(['export', '--model', modelPath, '--out', dir, '--json']);
    expect(code, err).toBe(0);
    const { manifest } = JSON.parse(out);
    expect(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'))).toEqual(manifest);
    expect(manifest).toMatchObject({ format: 'dfm-export', version: 1, name: 'mvtec/blobs', packageVersion: VERSION });
    expect(manifest.model).toMatchObject({ backbone: 'resnet18', layer: 'layer2', scoreType: 'fre', imageSize: [64, 64] });
    expect(manifest.model.weightsSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(manifest.files.weights.sha256).toBe(manifest.model.weightsSha256);
    expect(manifest.files.weights.path).toBe('resnet18-random-layer1-2.safetensors');
    expect(manifest.files.wasm.map((f: { path: string }) => f.path).sort()).toEqual([
      'ort-wasm-simd-threaded.mjs',
      'ort-wasm-simd-threaded.wasm',
      'tfjs-backend-wasm-simd.wasm',
      'tfjs-backend-wasm-threaded-simd.wasm',
      'tfjs-backend-wasm.wasm',
    ]);
    const listed = [manifest.files.model, manifest.files.weights, manifest.files.script, ...manifest.files.wasm, manifest.files.page, manifest.files.readme];
    // Every file listed with a plain relative path, its size and sha256; nothing else in the folder.
    expect(readdirSync(dir).sort()).toEqual([...listed.map((f: { path: string }) => f.path), 'manifest.json'].sort());
    for (const file of listed) {
      expect(file.path).toMatch(/^[A-Za-z0-9][\w.-]*$/);
      const bytes = readFileSync(join(dir, file.path));
      expect(bytes.length, file.path).toBe(file.bytes);
      expect(createHash('sha256').update(bytes).digest('hex'), file.path).toBe(file.sha256);
    }
    // model.dfm: the same tensors and metadata, but no record of where this machine kept the weights.
    const copied = loadSafetensors(readFileSync(join(dir, 'model.dfm')), { label: 'copy' });
    const original = loadSafetensors(readFileSync(modelPath), { label: 'original' });
    expect([...copied.tensors.keys()].sort()).toEqual([...original.tensors.keys()].sort());
    for (const [name, tensor] of original.tensors) expect(copied.tensors.get(name)?.data, name).toEqual(tensor.data);
    const backboneOf = (m: Record<string, string> | undefined) => JSON.parse(m?.backbone ?? '{}');
    expect(backboneOf(copied.metadata)).toEqual({ ...backboneOf(original.metadata), weightsSource: null });
    expect({ ...copied.metadata, backbone: '' }).toEqual({ ...original.metadata, backbone: '' });
    expect(readFileSync(join(dir, 'manifest.json'), 'utf8')).not.toContain(work);
    // dfm.js: one ES module with no static import (esbuild would put them first); the build checks
    // its metafile for externals, and test:browser loads it from a folder with no node_modules.
    const script = readFileSync(join(dir, 'dfm.js'), 'utf8');
    expect(script.split('\n').find((line) => !line.startsWith('//'))).not.toMatch(/^\s*import\s*[\w*{"']/);
    expect(script).toMatch(/export\s*\{[^}]*\bloadDetector\b/);
    expect(readFileSync(join(dir, 'index.html'), 'utf8')).toMatch(/\(\{ loadDetector, renderHeatmap \} = await import\('\.\/dfm\.js'\)\)/);
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toMatch(/import \{ loadDetector, renderHeatmap \} from '\.\/dfm\/dfm\.js'/);

    // Node: the folder is a model source of its own (files checked against the manifest).
    const detector = await loadDetector(dir);
    let worst = 0;
    for (const image of [join(fx.dataset.abnormalDir, '003.png'), join(fx.dataset.normalTestDir, '001.png')]) {
      const expected = testScores.get(image) as number;
      const result = await detector.predict(image);
      worst = Math.max(worst, Math.abs(result.predScore - expected) / expected);
      expect(result.predLabel === 0 || result.predLabel === 1).toBe(true);
      expect(result.anomalyMap?.data).toHaveLength(64 * 64);
    }
    await detector.close();
    expect(worst).toBeLessThanOrEqual(1e-5);
  });

  it('refuses to write into a folder that is not empty', async () => {
    const dir = join(work, 'not-empty');
    mkdirSync(dir);
    writeFileSync(join(dir, 'x'), 'x');
    const { code, err } = await run(['export', '--model', modelPath, '--out', dir]);
    expect(code).toBe(2);
    expect(err).toMatch(/^dfm export: error: --out .* already exists and is not an empty folder/);
  });
});

describe('user errors exit 2 with one line that says the fix', () => {
  const oneLineError = (result: { code: number; out: string; err: string }, pattern: RegExp) => {
    expect(result.code).toBe(2);
    expect(result.out).toBe('');
    expect(result.err.endsWith('\n')).toBe(true);
    expect(result.err.trimEnd().split('\n')).toHaveLength(1);
    expect(result.err).toMatch(pattern);
    expect(result.err).not.toMatch(/\n\s+at /);
  };

  it('an unknown flag (with a suggestion)', async () => {
    oneLineError(await run(['test', ...flags, '--pca-levle', '0.9']), /^dfm test: error: unknown option --pca-levle\. Did you mean --pca-level\?/);
  });

  it('a flag of another command', async () => {
    oneLineError(await run(['train', ...flags, '--input', 'x']), /--input is not an option of this command \(it belongs to dfm predict\)/);
  });

  it('an unknown backbone and an unknown layer', async () => {
    oneLineError(await run(['test', ...flags, '--backbone', 'resnet101']), /--backbone must be one of resnet18, resnet34, resnet50, wide_resnet50_2 — got "resnet101"/);
    oneLineError(await run(['train', ...flags, '--layer', 'layer5']), /--layer must be one of layer1, layer2, layer3, layer4, avgpool — got "layer5"\. Did you mean layer1\?/);
  });

  it('a missing data folder, category or weights file', async () => {
    oneLineError(await run(['test', ...flags, '--data', join(work, 'nowhere')]), /--data .*nowhere is not a folder/);
    oneLineError(await run(['test', ...flags, '--category', 'bottle']), /--category bottle is not a folder in .*Categories there: blobs\./);
    oneLineError(await run(['train', ...flags, '--weights', join(work, 'missing.safetensors')]), /--weights .*missing\.safetensors does not exist.*--weights imagenet/);
    oneLineError(await run(['train', '--backend', 'wasm']), /needs --data DIR and --category NAME/);
  });

  it('a model file from another version, a damaged one, a missing one', async () => {
    const { tensors, metadata } = loadSafetensors(readFileSync(modelPath), { label: 'model' });
    const other = join(work, 'future.dfm');
    writeFileSync(other, encodeSafetensors(Object.fromEntries(tensors) as never, { ...metadata, format_version: '99', package_version: '9.0.0' }));
    oneLineError(
      await run(['predict', '--model', other, '--input', fx.dataset.abnormalDir, '--backend', 'wasm']),
      /model format version 99 \(written by @dfm\/core 9\.0\.0\).*Refit the model with this version/,
    );
    const damaged = join(work, 'damaged.dfm');
    writeFileSync(damaged, readFileSync(modelPath).subarray(0, 300));
    oneLineError(await run(['predict', '--model', damaged, '--input', fx.dataset.abnormalDir, '--backend', 'wasm']), /^dfm: error: .*damaged\.dfm/);
    oneLineError(await run(['test', ...flags, '--model', join(work, 'none.dfm')]), /--model .*none\.dfm does not exist.*Run 'dfm train' first/);
  });

  it('weights that are not the ones the model was fitted with', async () => {
    const other = join(work, 'other-weights.safetensors');
    const { randomResnetWeights } = await import('@dfm/backbone/internal');
    writeFileSync(other, encodeSafetensors(Object.fromEntries(randomResnetWeights('resnet18', { seed: 2, stages: 2 }))));
    oneLineError(
      await run(['predict', '--model', modelPath, '--input', fx.dataset.abnormalDir, '--weights', other, '--backend', 'wasm']),
      /was fitted with resnet18 weights .* Pass \{ weights \} pointing at the file the model was fitted with/,
    );
  });

  it('a bad value, a bad config file, an unknown command', async () => {
    oneLineError(await run(['test', ...flags, '--batch-size', '0']), /--batch-size must be an integer ≥ 1 — got "0"/);
    oneLineError(await run(['test', ...flags, '--image-size', '16']), /--image-size must be N or HxW with integers ≥ 32/);
    const config = join(work, 'bad.yaml');
    writeFileSync(config, 'model:\n  init_args:\n    backbone: resnet18\n    pca_levl: 0.9\n');
    oneLineError(await run(['train', '--config', config]), /the config .*bad\.yaml has an unknown key model\.init_args\.pca_levl/);
    writeFileSync(config, 'model: [1, 2\n');
    oneLineError(await run(['train', '--config', config]), /cannot parse the config/);
    oneLineError(await run(['trian']), /^dfm: error: 'trian' is not a command\. Did you mean 'train'\?/);
  });

  it('--json puts an error document on stdout; --verbose adds the stack on stderr', async () => {
    const json = await run(['test', ...flags, '--backbone', 'resnet7', '--json']);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.out).error).toMatchObject({ exitCode: 2, type: 'UsageError', code: 'E_USAGE' });
    const verbose = await run(['predict', '--model', join(work, 'damaged.dfm'), '--input', fx.dataset.abnormalDir, '--backend', 'wasm', '--verbose']);
    expect(verbose.code).toBe(2);
    expect(verbose.err).toMatch(/\n\s+at /);
  });
});

describe('dfm train --config', () => {
  it('takes anomalib-style YAML (model/data init_args); flags override it', async () => {
    const config = join(work, 'dfm.yaml');
    writeFileSync(
      config,
      [
        'model:',
        '  class_path: anomalib.models.Dfm',
        '  init_args:',
        '    backbone: resnet18',
        '    layer: layer3',
        '    pre_trained: true',
        '    pooling_kernel_size: 2',
        '    pca_level: 0.9',
        '    score_type: fre',
        'data:',
        '  class_path: anomalib.data.MVTecAD',
        '  init_args:',
        `    root: ${'$'}{CLI_TEST_DATA}`,
        '    category: blobs',
        '    train_batch_size: 8',
        '    num_workers: 4',
        'trainer:',
        '  max_epochs: 1',
        `  default_root_dir: ${join(work, 'from-config')}`,
        'seed_everything: 3',
        '',
      ].join('\n'),
    );
    const env = { ...process.env, CLI_TEST_DATA: fx.data };
    const result = await run(['train', '--config', config, '--layer', 'layer2', '--weights', fx.weights, '--image-size', '64', '--backend', 'wasm', '--json'], env);
    expect(result.code, result.err).toBe(0);
    const doc = JSON.parse(result.out);
    expect(doc.config.model).toMatchObject({ backbone: 'resnet18', layer: 'layer2', poolingKernelSize: 2, pcaLevel: 0.9 });
    expect(doc.config.run).toMatchObject({ batchSize: 8, seed: 3, resultsDir: join(work, 'from-config') });
    expect(doc.model).toBe(join(work, 'from-config', 'dfm', 'mvtec', 'blobs', 'v1', 'model.dfm'));
    expect(result.err).toMatch(/data\.init_args\.num_workers is not used by dfm; ignored/);
  });
});
