/**
 * Issue 15, acceptance 1: the 10-line script (src/score.ts, `loadDetector` → `predictBatch`) gives
 * `dfm predict --json`'s scores and labels. Both run as a user runs them: the built `dfm` binary
 * (packages/cli/dist/bin.js; `turbo run test` builds it first) and `tsx src/score.ts`, as child
 * processes. On the development assets: the MVTec AD bottle model trained by `dfm train` with the
 * real ResNet18 weights, scored on its 83 test images; without them, a small synthetic dataset.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { encodeSafetensors } from '@dfm/backbone';
import { randomResnetWeights } from '@dfm/backbone/internal';
import { describeWithAssets } from '@dfm/backbone/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeSyntheticDataset } from '../../../packages/lightning-like/test/synthetic-dataset';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const script = join(here, 'score.ts');
const work = mkdtempSync(join(tmpdir(), 'example-detector-node-'));
const WEIGHTS = 'weights/resnet18-imagenet-layer1-3.safetensors';

interface Scored {
  path: string;
  predScore: number;
  normalizedScore: number | null;
  predLabel: 0 | 1 | null;
}

/** The built CLI, as `npx dfm` runs it. */
function dfmBin(): string {
  const bin = join(dirname(createRequire(import.meta.url).resolve('@dfm/cli/package.json')), 'dist', 'bin.js');
  if (!existsSync(bin)) throw new Error(`${bin} is missing: build the CLI first (pnpm --filter "@dfm/cli..." build; turbo run test does it).`);
  return bin;
}

/** `dfm <args>` in a child process → its stdout (throws with its stderr when it fails). */
async function dfm(args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [dfmBin(), ...args], { maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

/** `tsx src/score.ts <model> <folder>` → its JSON lines. */
async function scoreScript(model: string, folder: string): Promise<Scored[]> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', script, model, folder], { cwd: join(here, '..'), maxBuffer: 64 * 1024 * 1024 });
  return stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Scored);
}

/**
 * Every image: the script's score within `tolerance` (relative) of `dfm predict`'s, and the same
 * label — except an image whose score lies within 1e-4 relative of the image threshold, which may
 * take either label (a threshold fitted on the test split equals one image's score). Returns the
 * largest relative difference and the images near the threshold.
 */
function compare(script: Scored[], cli: Scored[], threshold: number, tolerance: number): { worst: number; nearThreshold: string[] } {
  expect(script.map((s) => s.path).sort()).toEqual(cli.map((c) => c.path).sort());
  const byPath = new Map(cli.map((c) => [c.path, c]));
  let worst = 0;
  const nearThreshold: string[] = [];
  for (const ours of script) {
    const theirs = byPath.get(ours.path) as Scored;
    const difference = Math.abs(ours.predScore - theirs.predScore) / Math.abs(theirs.predScore);
    worst = Math.max(worst, difference);
    expect(difference, ours.path).toBeLessThanOrEqual(tolerance);
    expect(Math.abs((ours.normalizedScore as number) - (theirs.normalizedScore as number)), ours.path).toBeLessThanOrEqual(tolerance);
    if (Math.abs(theirs.predScore - threshold) / Math.abs(threshold) <= 1e-4) nearThreshold.push(ours.path);
    else expect(ours.predLabel, ours.path).toBe(theirs.predLabel);
  }
  return { worst, nearThreshold };
}

describe('examples/detector-node on a small synthetic dataset (random weights, 64 px)', () => {
  let model: string;
  let folder: string;

  beforeAll(async () => {
    await makeSyntheticDataset(join(work, 'data', 'parts'), { nTrain: 20, nTestNormal: 6, nTestAnomalous: 6, size: 64 });
    const weights = join(work, 'random.safetensors');
    writeFileSync(weights, encodeSafetensors(Object.fromEntries(randomResnetWeights('resnet18', { seed: 1, stages: 2 }))));
    model = join(work, 'parts.dfm');
    await dfm([
      'train', '--data', join(work, 'data'), '--category', 'parts', '--backbone', 'resnet18', '--layer', 'layer2', '--weights', weights,
      '--image-size', '64', '--val-split-mode', 'same_as_test', '--out', model, '--results-dir', join(work, 'results'),
    ]);
    folder = join(work, 'data', 'parts', 'test');
  }, 300_000);

  it('the script prints one JSON line per image with dfm predict --json\'s scores and labels', async () => {
    const cli = JSON.parse(await dfm(['predict', '--model', model, '--input', folder, '--json']));
    const lines = await scoreScript(model, folder);
    expect(lines).toHaveLength(12);
    expect(Object.keys(lines[0] as Scored)).toEqual(['path', 'predScore', 'normalizedScore', 'predLabel']);
    const { worst, nearThreshold } = compare(lines, cli.predictions, cli.thresholds.imageThreshold, 1e-5);
    const near = nearThreshold.map((path) => path.slice(folder.length + 1)).join(', ') || 'none';
    process.stdout.write(`[example detector-node, synthetic] ${lines.length} images: max relative score difference ${worst.toExponential(2)}; near the threshold: ${near}\n`);
  }, 120_000);
});

describeWithAssets('examples/detector-node on the MVTec AD bottle (acceptance 1 of issue 15)', [WEIGHTS, 'data/mvtec-bottle'], (asset) => {
  it('dfm train, then the 10-line script and dfm predict --json on the 83 test images: every score within 1e-5 relative, labels identical', async () => {
    const trained = JSON.parse(
      await dfm([
        'train', '--data', asset('data'), '--category', 'mvtec-bottle', '--backbone', 'resnet18', '--layer', 'layer3',
        '--weights', asset(WEIGHTS), '--results-dir', join(work, 'bottle'), '--json',
      ]),
    );
    const model: string = trained.model;
    const folder = asset('data/mvtec-bottle/test');
    const cli = JSON.parse(await dfm(['predict', '--model', model, '--input', folder, '--json']));
    const lines = await scoreScript(model, folder);
    expect(lines).toHaveLength(83);
    expect(cli.predictions).toHaveLength(83);
    const threshold: number = cli.thresholds.imageThreshold;
    const { worst, nearThreshold } = compare(lines, cli.predictions, threshold, 1e-5);
    const named = nearThreshold.map((path) => `${path.slice(folder.length + 1)} (score ${(cli.predictions as Scored[]).find((p) => p.path === path)?.predScore}, threshold ${threshold})`);
    const flipped = nearThreshold.filter((path) => lines.find((l) => l.path === path)?.predLabel !== (cli.predictions as Scored[]).find((p) => p.path === path)?.predLabel);
    process.stdout.write(
      `[example detector-node, bottle] ${lines.length} images, runtime ${cli.config.runtimeUsed}: max relative score difference ${worst.toExponential(2)}; ` +
        `${lines.filter((l) => l.predLabel === 1).length} anomalous; near the threshold (either label allowed): ${named.join(', ') || 'none'}; labels differing: ${flipped.length}\n`,
    );
  }, 170_000);
});
