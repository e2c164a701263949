/**
 * Issue 14, files: no command writes over an input, and no run replaces an earlier run's results.
 * Every refusal exits 2 naming both paths, and a hash of every file of the input folder taken
 * before the command equals the one taken after it.
 */
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Fixture, fastFlags, makeFixture, run } from './fixtures';

const work = mkdtempSync(join(tmpdir(), 'dfm-cli-files-'));
let fx: Fixture;
let model: string;
/** A folder of images to predict on: top-level files, a sub-folder, and a.jpg beside a.png. */
let input: string;

/** sha256 of every file under `dir` (symlinks not followed), by relative path. */
function hashTree(dir: string): Record<string, string> {
  const hashes: Record<string, string> = {};
  const walk = (folder: string) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) walk(path);
      else hashes[relative(dir, path)] = entry.isSymbolicLink() ? `link:${readlinkSync(path)}` : createHash('sha256').update(readFileSync(path)).digest('hex');
    }
  };
  walk(dir);
  return hashes;
}

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

/** Exit 2 and one error line on stderr that matches `pattern`. */
function refused(result: { code: number; out: string; err: string }, pattern: RegExp): string {
  expect(result.code, result.err).toBe(2);
  const lines = result.err.trimEnd().split('\n').filter((line) => line.includes('error:'));
  expect(lines, result.err).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  return lines[0] as string;
}

beforeAll(async () => {
  fx = await makeFixture(work, 3);
  const trained = await run(['train', ...fastFlags(fx, join(work, 'results')), '--val-split-mode', 'same_as_test', '--out', join(work, 'model.dfm'), '--json']);
  expect(trained.code, trained.err).toBe(0);
  model = JSON.parse(trained.out).model;
  input = join(work, 'photos');
  mkdirSync(join(input, 'line-2'), { recursive: true });
  cpSync(join(fx.dataset.abnormalDir, '000.png'), join(input, 'a.png'));
  // a real JPEG beside a.png: same stem, other extension
  const sharpPath = createRequire(new URL('../../lightning-like/package.json', import.meta.url)).resolve('sharp');
  const { default: sharp } = (await import(sharpPath)) as { default: (input: string) => { jpeg(): { toFile(path: string): Promise<unknown> } } };
  await sharp(join(fx.dataset.abnormalDir, '001.png')).jpeg().toFile(join(input, 'a.jpg'));
  cpSync(join(fx.dataset.normalTestDir, '000.png'), join(input, 'line-2', 'b.png'));
}, 240_000);

describe('dfm predict never writes into or around its input', () => {
  it('--output D with --input D, and --output D/sub: exit 2 naming both paths; D byte-identical', async () => {
    const before = hashTree(input);
    const same = refused(
      await run(['predict', '--model', model, '--input', input, '--output', input, '--backend', 'wasm']),
      /^dfm predict: error: --output must lie outside the inputs — --output .*photos is --input .*photos\. Pick an output folder outside the input, e.g\. --output predictions\/\.$/,
    );
    expect(same).toContain(`--output ${input}`);
    expect(same).toContain(`--input ${input}`);
    const sub = refused(
      await run(['predict', '--model', model, '--input', input, '--output', join(input, 'sub'), '--backend', 'wasm']),
      /^dfm predict: error: --output must lie outside the inputs — --output .*photos\/sub is inside --input .*photos\./,
    );
    expect(sub).toContain(join(input, 'sub'));
    // an output that holds the input folder, or an input file
    refused(
      await run(['predict', '--model', model, '--input', input, '--output', work, '--backend', 'wasm']),
      /^dfm predict: error: --output must not hold the inputs — --output .* contains --input .*photos\./,
    );
    refused(
      await run(['predict', '--model', model, '--input', join(input, 'a.png'), '--output', input, '--backend', 'wasm']),
      /^dfm predict: error: --output must not hold the inputs — --output .*photos contains --input .*photos\/a\.png\./,
    );
    // symlinks are resolved: a link to D, or a folder reached through one, is D
    const link = join(work, 'photos-link');
    symlinkSync(input, link);
    refused(
      await run(['predict', '--model', model, '--input', input, '--output', join(link, 'out'), '--backend', 'wasm']),
      new RegExp(`^dfm predict: error: --output must lie outside the inputs — --output ${link}/out \\(${input}/out\\) is inside --input ${input}\\.`),
    );
    const outside = join(work, 'outside');
    mkdirSync(outside);
    symlinkSync(outside, join(input, 'line-2', 'elsewhere'));
    cpSync(join(fx.dataset.abnormalDir, '002.png'), join(outside, 'c.png'));
    refused(
      await run(['predict', '--model', model, '--input', input, '--output', outside, '--backend', 'wasm']),
      /^dfm predict: error: --output must not hold the inputs — --output .*outside .*contains the input image .*elsewhere\/c\.png/,
    );
    const { rmSync } = await import('node:fs');
    rmSync(join(input, 'line-2', 'elsewhere'));
    expect(hashTree(input)).toEqual(before);
    expect(existsSync(join(input, 'sub'))).toBe(false);
  });

  it('an --output that holds an earlier run\'s predictions is refused unless --overwrite, which keeps unrelated files', async () => {
    const output = join(work, 'predictions');
    const first = await run(['predict', '--model', model, '--input', input, '--output', output, '--backend', 'wasm', '--json']);
    expect(first.code, first.err).toBe(0);
    writeFileSync(join(output, 'my-notes.txt'), 'keep me');
    const earlier = hashTree(output);
    const again = await run(['predict', '--model', model, '--input', input, '--output', output, '--backend', 'wasm', '--json']);
    refused(again, /^dfm predict: error: --output must not hold an earlier run's predictions — .*predictions has predictions\.json and predictions\.csv\. Pick a new folder, or pass --overwrite to write over them \(other files there are kept\)\.$/);
    expect(JSON.parse(again.out).error).toMatchObject({ code: 'E_OUTPUT_EXISTS', exitCode: 2 });
    expect(hashTree(output)).toEqual(earlier);
    const overwritten = await run(['predict', '--model', model, '--input', input, '--output', output, '--backend', 'wasm', '--overwrite', '--json']);
    expect(overwritten.code, overwritten.err).toBe(0);
    expect(readFileSync(join(output, 'my-notes.txt'), 'utf8')).toBe('keep me');
    expect(Object.keys(hashTree(output)).sort()).toEqual(Object.keys(earlier).sort());
    // a file is not a folder
    refused(await run(['predict', '--model', model, '--input', input, '--output', join(output, 'my-notes.txt'), '--backend', 'wasm']), /--output must be a folder — .*my-notes\.txt is a file/);
  });

  it('heatmaps keep the input extension (a.jpg and a.png give a.jpg.png and a.png.png) and mirror sub-folders', async () => {
    const output = join(work, 'heatmaps');
    const result = await run(['predict', '--model', model, '--input', input, '--output', output, '--backend', 'wasm', '--json']);
    expect(result.code, result.err).toBe(0);
    expect(JSON.parse(result.out).predictions.map((p: { path: string }) => relative(input, p.path))).toEqual(['a.jpg', 'a.png', join('line-2', 'b.png')]);
    expect(Object.keys(hashTree(output)).sort()).toEqual(['a.jpg.png', 'a.png.png', join('line-2', 'b.png.png'), 'predictions.csv', 'predictions.json']);
    expect(sha256(join(output, 'a.jpg.png'))).not.toBe(sha256(join(output, 'a.png.png')));
  });
});

describe('train and test never write into the data, nor over an earlier run', () => {
  it('--results-dir inside a data folder (--data, the category, --normal-dir, …) is refused; the data stay byte-identical', async () => {
    const before = hashTree(fx.data);
    const flags = (results: string) => fastFlags(fx, results);
    for (const command of ['train', 'test']) {
      refused(
        await run([command, ...flags(join(fx.data, 'blobs', 'results'))]),
        new RegExp(`^dfm ${command}: error: --results-dir must lie outside the inputs — --results-dir .*data/blobs/results is inside --data .*data\\. Pick a results folder outside the dataset, e\\.g\\. --results-dir results\\.$`),
      );
    }
    refused(await run(['test', ...flags(fx.data)]), /--results-dir must lie outside the inputs — --results-dir .*data is --data .*data\./);
    const folder = ['--normal-dir', fx.dataset.normalDir, '--abnormal-dir', fx.dataset.abnormalDir, '--mask-dir', fx.dataset.maskDir];
    const model = ['--backbone', 'resnet18', '--layer', 'layer2', '--weights', fx.weights, '--image-size', '64', '--backend', 'wasm'];
    refused(
      await run(['test', ...folder, ...model, '--results-dir', join(fx.dataset.maskDir, 'r')]),
      /^dfm test: error: --results-dir must lie outside the inputs — --results-dir .* is inside --mask-dir /,
    );
    // the run folder would hold the data
    const nested = mkdtempSync(join(work, 'nested-'));
    cpSync(fx.dataset.normalDir, join(nested, 'dfm', 'folder', 'good-images', 'x'), { recursive: true });
    refused(
      await run(['train', '--normal-dir', join(nested, 'dfm', 'folder', 'good-images', 'x'), '--category', 'good-images', ...model, '--results-dir', nested]),
      /^dfm train: error: --results-dir must not hold the inputs — --results-dir .*dfm\/folder\/good-images contains --normal-dir /,
    );
    expect(hashTree(fx.data)).toEqual(before);
  });

  it('train --out into a data folder or at an existing file is refused (--overwrite replaces a file)', async () => {
    const before = hashTree(fx.data);
    const flags = fastFlags(fx, join(work, 'results-out'));
    refused(
      await run(['train', ...flags, '--out', join(fx.data, 'blobs', 'train', 'good', 'model.dfm')]),
      /^dfm train: error: --out must lie outside the inputs — --out .*train\/good\/model\.dfm is inside --data .*data\. Write the model outside the dataset, e\.g\. --out models\/model\.dfm\.$/,
    );
    const image = join(fx.data, 'blobs', 'train', 'good', '000.png');
    refused(await run(['train', ...flags, '--out', image]), /--out must lie outside the inputs — --out .*000\.png is inside --data/);
    expect(hashTree(fx.data)).toEqual(before);
    const existing = join(work, 'existing.dfm');
    writeFileSync(existing, 'not yet a model');
    const result = await run(['train', ...flags, '--out', existing, '--json']);
    refused(result, /^dfm train: error: --out must be a new file — .*existing\.dfm already exists\. Pass another path, or --overwrite to replace it\.$/);
    expect(JSON.parse(result.out).error.code).toBe('E_OUTPUT_EXISTS');
    expect(readFileSync(existing, 'utf8')).toBe('not yet a model');
    refused(await run(['train', ...flags, '--out', work]), /^dfm train: error: --out must be the model file to write — got the folder /);
    const replaced = await run(['train', ...flags, '--out', existing, '--overwrite', '--val-split-mode', 'none', '--json']);
    expect(replaced.code, replaced.err).toBe(0);
    expect(readFileSync(existing).subarray(0, 15).toString()).not.toBe('not yet a model');
  }, 240_000);

  it('dfm train then dfm test (same data, no --model) leaves the first model file intact: each run gets its own v<N> and latest moves', async () => {
    const results = join(work, 'runs');
    const flags = fastFlags(fx, results);
    const trained = await run(['train', ...flags, '--json']);
    expect(trained.code, trained.err).toBe(0);
    const first = JSON.parse(trained.out);
    const runs = join(results, 'dfm', 'mvtec', 'blobs');
    expect(first.model).toBe(join(runs, 'v1', 'model.dfm'));
    expect(first.resultsDir).toBe(join(runs, 'v1'));
    expect(readlinkSync(join(runs, 'latest'))).toBe('v1');
    const hash = sha256(first.model);
    const mtime = statSync(first.model).mtimeMs;

    const tested = await run(['test', ...flags, '--json']);
    expect(tested.code, tested.err).toBe(0);
    const second = JSON.parse(tested.out);
    expect(second.resultsDir).toBe(join(runs, 'v2'));
    expect(second.model).toBe(join(runs, 'v2', 'model.dfm'));
    expect(existsSync(join(runs, 'v2', 'metrics.json'))).toBe(true);
    expect(readlinkSync(join(runs, 'latest'))).toBe('v2');
    expect(sha256(first.model)).toBe(hash);
    expect(statSync(first.model).mtimeMs).toBe(mtime);

    // dfm test --model: evaluates the file into v3, the file itself untouched
    const evaluated = await run(['test', ...flags, '--model', first.model, '--json']);
    expect(evaluated.code, evaluated.err).toBe(0);
    expect(JSON.parse(evaluated.out).resultsDir).toBe(join(runs, 'v3'));
    expect(existsSync(join(runs, 'v3', 'model.dfm'))).toBe(false);
    expect(sha256(first.model)).toBe(hash);
    expect(readdirSync(runs).sort()).toEqual(['latest', 'v1', 'v2', 'v3']);
  }, 240_000);
});
