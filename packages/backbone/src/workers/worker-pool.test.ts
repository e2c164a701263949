import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { createBackbone } from '../create-backbone';
import { setBackend } from '../set-backend';
import { tfjsWorkerEntry } from './worker-pool';

const DIST = fileURLToPath(new URL('../../dist/index.js', import.meta.url));

describe('tfjs-wasm worker threads', () => {
  beforeAll(async () => {
    await setBackend('wasm');
  });

  it('resolves the worker entry from source and from the built package', () => {
    const here = new URL('./worker-pool.ts', import.meta.url).href;
    const source = tfjsWorkerEntry(here);
    expect(source.eval).toBe(true);
    expect(source.source).toContain(`register(); return import(${JSON.stringify(new URL('./tfjs-worker.ts', here).href)})`);
    const built = tfjsWorkerEntry('file:///x/dist/index.js');
    expect(built).toEqual({ source: new URL('file:///x/dist/tfjs-worker.js'), eval: false });
  });

  it('split across 2 workers, a batch of 3 gives exactly the in-thread features (from source)', async () => {
    const backbone = await createBackbone('resnet18', { weights: null, layers: ['layer1', 'layer3'], workers: 2, randomBatchNorm: 'random' });
    expect(backbone.runtimeDetail).toMatch(/tfjs wasm, extractAsync on 2 worker threads/);
    const input = tf.randomNormal([3, 64, 48, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const pooled = await backbone.extractAsync(input);
    expect(tf.memory().numTensors).toBe(before + 2);
    const local = backbone.extract(input);
    for (const layer of ['layer1', 'layer3'] as const) {
      expect(pooled[layer].shape).toEqual(local[layer].shape);
      expect(Array.from(await pooled[layer].data())).toEqual(Array.from(await local[layer].data()));
    }
    tf.dispose([input, ...Object.values(pooled), ...Object.values(local)]);
    backbone.dispose();
    await expect(backbone.extractAsync(input)).rejects.toThrow(/the backbone must not be disposed/);
  });

  it.runIf(existsSync(DIST))('works from the built package (dist/tfjs-worker.js)', () => {
    const script = `
      import * as tf from '@tensorflow/tfjs-core';
      import { createBackbone, setBackend } from ${JSON.stringify(DIST)};
      await setBackend('wasm');
      const b = await createBackbone('resnet18', { weights: null, layers: ['layer2'], workers: 2 });
      const x = tf.randomNormal([2, 32, 32, 3], 0, 1, 'float32', 1);
      const a = await b.extractAsync(x);
      const c = b.extract(x);
      const diff = tf.max(tf.abs(tf.sub(a.layer2, c.layer2))).dataSync()[0];
      b.dispose();
      console.log(JSON.stringify({ detail: b.runtimeDetail, shape: a.layer2.shape, diff }));`;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.stderr).toBe('');
    const result = JSON.parse(run.stdout.trim().split('\n').pop() as string);
    expect(result.detail).toMatch(/2 worker threads/);
    expect(result.shape).toEqual([2, 4, 4, 128]);
    expect(result.diff).toBe(0);
  });
});
