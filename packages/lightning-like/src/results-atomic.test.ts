/**
 * Reliability: results files (metrics.json, predictions.csv) are written atomically. A child
 * process rewrites them in a loop and is SIGKILLed at several moments; each time the files left
 * are complete (the same bytes / metrics as a clean run) and the only leftovers are hidden
 * `.tmp` files, which nothing takes for a result.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setBackend } from '@dfm/backbone';
import { Folder, type FolderOptions } from '@dfm/data';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeSyntheticDataset } from '../test/synthetic-dataset';
import { Dfm } from './dfm';
import { Engine } from './engine';
import { PreProcessor } from './pre-processor';

const work = mkdtempSync(join(tmpdir(), 'dfm-results-kill-'));
const child = fileURLToPath(new URL('../test/results-writer-child.ts', import.meta.url));
const root = fileURLToPath(new URL('../../..', import.meta.url));

beforeAll(async () => {
  await setBackend('wasm');
});

describe('results files under SIGKILL', () => {
  it('metrics.json and predictions.csv are always complete after a kill mid-write (3 rounds)', async () => {
    const data = await makeSyntheticDataset(join(work, 'blobs'), { nTrain: 12, nTestNormal: 6, nTestAnomalous: 6 });
    const folderOptions: FolderOptions = {
      normalDir: data.normalDir,
      normalTestDir: data.normalTestDir,
      abnormalDir: data.abnormalDir,
      maskDir: data.maskDir,
      name: 'blobs',
      valSplitMode: 'same_as_test',
      seed: 5,
    };
    const model = new Dfm({ backbone: 'resnet18', layer: 'layer2', preTrained: false, seed: 3, preProcessor: new PreProcessor({ imageSize: [64, 64] }) });
    const engine = new Engine({ defaultRootDir: join(work, 'fit'), batchSize: 8 });
    const fit = await engine.fit(model, new Folder(folderOptions));
    model.dispose();
    // The reference: one clean pass by the same code the child runs.
    const rootDir = join(work, 'results');
    const reference = await Dfm.load(fit.checkpointPath as string);
    const clean = await new Engine({ defaultRootDir: rootDir, checkpoint: false, versioned: false }).test(reference, new Folder(folderOptions));
    reference.dispose();
    const dir = clean.resultsDir;
    const metrics = JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8')).metrics;
    const predictions = readFileSync(join(dir, 'predictions.csv'));

    for (let round = 0; round < 3; round += 1) {
      const proc = spawn(process.execPath, ['--import', 'tsx', child, fit.checkpointPath as string, rootDir, JSON.stringify(folderOptions)], {
        cwd: root,
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      await new Promise<void>((resolve) => proc.stdout.once('data', () => resolve()));
      await new Promise((resolve) => setTimeout(resolve, 300 + round * 450));
      proc.kill('SIGKILL');
      await new Promise((resolve) => proc.once('exit', resolve));
      expect(JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8')).metrics, `round ${round}`).toEqual(metrics);
      expect(readFileSync(join(dir, 'predictions.csv')).equals(predictions), `round ${round}`).toBe(true);
      for (const name of readdirSync(dir)) {
        if (!['metrics.json', 'predictions.csv', 'roc.png', 'score-histogram.png', 'images'].includes(name)) {
          expect(name).toMatch(/^\.[^/]+\.\d+\.[0-9a-f]{8}\.tmp$/);
        }
      }
    }
    expect(existsSync(join(dir, 'roc.png'))).toBe(true);
    process.stdout.write(`[atomic] results: 3 SIGKILLs during Engine.test left complete metrics.json and predictions.csv each time\n`);
  }, 240_000);
});
