/**
 * Issue 14, point 2: `dfm train --format folder --normal-dir <only good images>` fits and writes a
 * model without thresholds, with a note saying how to get them; `dfm test` on such a dataset says
 * there are no test images and how to get some; `--test-split-mode` / `--test-split-ratio` work.
 * Point 3 too: `--runtime`, and `--engine` as its deprecated name.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Fixture, makeFixture, run } from './fixtures';

const work = mkdtempSync(join(tmpdir(), 'dfm-cli-good-only-'));
let fx: Fixture;
let model: string[];

beforeAll(async () => {
  fx = await makeFixture(work, 5);
  model = ['--backbone', 'resnet18', '--layer', 'layer2', '--weights', fx.weights, '--image-size', '64', '--batch-size', '8', '--backend', 'wasm'];
}, 240_000);

describe('a folder of good images only', () => {
  it('dfm train --format folder --normal-dir: no test split, no thresholds, a model file and a note', async () => {
    const results = join(work, 'results');
    const result = await run(['train', '--format', 'folder', '--normal-dir', fx.dataset.normalDir, '--category', 'parts', ...model, '--results-dir', results, '--json']);
    expect(result.code, result.err).toBe(0);
    const doc = JSON.parse(result.out);
    expect(doc.model).toBe(join(results, 'dfm', 'folder', 'parts', 'v1', 'model.dfm'));
    expect(existsSync(doc.model)).toBe(true);
    expect(doc.trainSamples).toBe(24);
    expect(doc.thresholds).toMatchObject({ split: 'none', stats: null });
    expect(doc.config.data).toMatchObject({ format: 'folder', testSplitMode: 'none', valSplitMode: 'none' });
    expect(doc.notes).toEqual([
      'thresholds not fitted: they need anomalous validation images — pass --abnormal-dir DIR (anomalous images) to fit them there, or --val-split-mode synthetic (synthetic anomalies made from held-out normal images). Until then dfm predict gives raw scores but no labels.',
    ]);
    expect(result.err).toMatch(/dfm: warning: thresholds: not fitted — No validation images/);

    const text = await run(['train', '--normal-dir', fx.dataset.normalDir, '--category', 'parts', ...model, '--results-dir', results]);
    expect(text.code, text.err).toBe(0);
    expect(text.out).toMatch(/^model: .*parts[/\\]v2[/\\]model\.dfm$/m);
    expect(text.out).toMatch(/^thresholds: not fitted$/m);
    expect(text.out).toMatch(/^note: thresholds not fitted: they need anomalous validation images — pass --abnormal-dir DIR/m);

    // predict with it: raw scores, no labels
    const predicted = await run(['predict', '--model', doc.model, '--input', fx.dataset.abnormalDir, '--backend', 'wasm', '--json']);
    expect(predicted.code, predicted.err).toBe(0);
    expect(JSON.parse(predicted.out).predictions[0]).toMatchObject({ normalizedScore: null, predLabel: null });
  }, 240_000);

  it('--val-split-mode synthetic fits thresholds from the good images alone', async () => {
    const result = await run(['train', '--normal-dir', fx.dataset.normalDir, ...model, '--val-split-mode', 'synthetic', '--results-dir', join(work, 'synthetic'), '--json']);
    expect(result.code, result.err).toBe(0);
    const doc = JSON.parse(result.out);
    expect(doc.thresholds.split).toBe('val');
    expect(doc.thresholds.stats).not.toBeNull();
    expect(doc.notes).toEqual([]);
    expect(doc.config.data).toMatchObject({ testSplitMode: 'none', valSplitMode: 'synthetic' });
  }, 240_000);

  it('dfm test on it: exit 2, no test images, and how to get some; --test-split-mode synthetic tests', async () => {
    const results = join(work, 'test-results');
    const refused = await run(['test', '--format', 'folder', '--normal-dir', fx.dataset.normalDir, ...model, '--results-dir', results]);
    expect(refused.code, refused.err).toBe(2);
    expect(refused.err).toBe(
      `dfm test: error: needs test images — the dataset folder/good has none (test split 'none': no --abnormal-dir given). Pass --abnormal-dir DIR with anomalous images (and --normal-test-dir DIR for normal ones), or --test-split-mode synthetic to hold out normal images and make synthetic anomalies; 'dfm train' fits without test images.\n`,
    );
    expect(existsSync(results)).toBe(false);
    const none = await run(['test', '--data', fx.data, '--category', 'blobs', ...model, '--test-split-mode', 'none', '--val-split-mode', 'none', '--results-dir', results]);
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/^dfm test: error: needs test images — the dataset mvtec\/blobs has none \(--test-split-mode none\)\./);

    const synthetic = await run(['test', '--normal-dir', fx.dataset.normalDir, ...model, '--test-split-mode', 'synthetic', '--test-split-ratio', '0.5', '--results-dir', results, '--json']);
    expect(synthetic.code, synthetic.err).toBe(0);
    const doc = JSON.parse(synthetic.out);
    expect(doc.config.data).toMatchObject({ testSplitMode: 'synthetic', testSplitRatio: 0.5, valSplitMode: 'same_as_test' });
    expect(doc.predictions).toHaveLength(12);
    expect(Object.keys(doc.metrics)).toEqual(expect.arrayContaining(['image_AUROC', 'pixel_AUROC']));
  }, 240_000);

  it("a validation split that needs a test set, without one, is the library's clear error (exit 2)", async () => {
    const result = await run(['train', '--normal-dir', fx.dataset.normalDir, ...model, '--val-split-mode', 'from_test', '--results-dir', join(work, 'r')]);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/^dfm: error: Folder: valSplitMode 'from_test' needs a test set — got no abnormalDir, so there is none \(testSplitMode defaults to 'none'\)\. Pass abnormalDir/);
  });
});

describe('--runtime, and --engine as its deprecated name', () => {
  it('--runtime tfjs: the JSON says runtime and runtimeUsed; no warning', async () => {
    const result = await run(['train', '--normal-dir', fx.dataset.normalDir, ...model, '--runtime', 'tfjs', '--results-dir', join(work, 'rt'), '--json']);
    expect(result.code, result.err).toBe(0);
    const doc = JSON.parse(result.out);
    expect(doc.config.run.runtime).toBe('tfjs');
    expect(doc.config.runtimeUsed).toBe('tfjs');
    expect(doc.config.run.engine).toBeUndefined();
    expect(doc.config.engineUsed).toBeUndefined();
    expect(result.err).not.toMatch(/deprecated/);
  }, 240_000);

  it('--engine tfjs still works and prints one warning', async () => {
    const result = await run(['train', '--normal-dir', fx.dataset.normalDir, ...model, '--engine', 'tfjs', '--results-dir', join(work, 'en'), '--json']);
    expect(result.code, result.err).toBe(0);
    const doc = JSON.parse(result.out);
    expect(doc.config.run.runtime).toBe('tfjs');
    expect(doc.config.runtimeUsed).toBe('tfjs');
    expect(result.err.split('\n').filter((line) => line.includes('deprecated'))).toEqual(['dfm: warning: --engine is deprecated; use --runtime (same values)']);
    expect(doc.warnings).toContain('--engine is deprecated; use --runtime (same values)');
    const predicted = await run(['predict', '--model', doc.model, '--input', fx.dataset.abnormalDir, '--engine', 'tfjs', '--backend', 'wasm', '--json']);
    expect(predicted.code, predicted.err).toBe(0);
    expect(JSON.parse(predicted.out).config).toMatchObject({ run: { runtime: 'tfjs' }, runtimeUsed: 'tfjs' });
    expect(predicted.err).toContain('dfm: warning: --engine is deprecated; use --runtime (same values)\n');
  }, 240_000);
});
