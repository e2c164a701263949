/**
 * The sharded fit on a real Redis: two worker processes extract 4 shards' PCA statistics, the
 * coordinator merges them and finishes the fit; compared with the single-process `engine.fit` of the
 * same model on the same images (k, thresholds, and FRE scores of the test images through the Detector).
 * Then again with one worker SIGKILLed while it holds a shard: the other redoes it, same result.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setBackend } from '@dfm/backbone';
import { loadDetector } from '@dfm/core';
import { Folder } from '@dfm/data';
import { Dfm, Engine, PreProcessor } from '@dfm/lightning-like';
import { Job, QueueEvents } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSyntheticDataset, type SyntheticDataset } from '../../lightning-like/test/synthetic-dataset';
import { fitDistributed, fitQueueName } from '../src/index';
import { relative, spawnWorker, stopWorker } from './helpers';
import { redisServerAvailable, startRedis, type TestRedis } from './redis-server';

const work = mkdtempSync(join(tmpdir(), 'dfm-queue-fit-'));
let redis: TestRedis;
let data: SyntheticDataset;
const small = () => new Dfm({ backbone: 'resnet18', layer: 'layer2', preTrained: false, seed: 3, runtime: 'onnxruntime', preProcessor: new PreProcessor({ imageSize: [64, 64] }) });
const dataset = () =>
  new Folder({ normalDir: data.normalDir, normalTestDir: data.normalTestDir, abnormalDir: data.abnormalDir, maskDir: data.maskDir, name: 'blobs', valSplitMode: 'from_test', valSplitRatio: 0.5, seed: 5 });
let single: { k: number; thresholds: unknown; scores: number[] };

async function scoresOf(modelPath: string): Promise<number[]> {
  const detector = await loadDetector(modelPath, { runtime: 'onnxruntime', threads: 1 });
  try {
    const test = dataset().test.map((s) => s.path);
    return (await detector.predictBatch(test)).map((r) => r.predScore);
  } finally {
    await detector.close();
  }
}

beforeAll(async () => {
  if (!redisServerAvailable()) throw new Error('these tests need redis-server on the PATH: apt-get install redis-server (.ci/run installs it)');
  redis = await startRedis();
  await setBackend('wasm');
  data = await makeSyntheticDataset(join(work, 'blobs'), { nTrain: 40, nTestNormal: 8, nTestAnomalous: 8 });
  const model = small();
  const summary = await new Engine({ defaultRootDir: join(work, 'single'), batchSize: 8 }).fit(model, dataset());
  single = { k: model.model.numComponents, thresholds: model.postProcessor?.stats, scores: await scoresOf(summary.checkpointPath!) };
  model.dispose();
}, 300_000);

afterAll(async () => {
  await redis?.stop();
  rmSync(work, { recursive: true, force: true });
});

function compare(model: Dfm, scores: number[]) {
  expect(model.model.numComponents).toBe(single.k);
  expect(scores).toHaveLength(single.scores.length);
  for (const [i, s] of scores.entries()) expect(relative(s, single.scores[i]!)).toBeLessThan(1e-5);
  const a = model.postProcessor?.stats as unknown as Record<string, number>;
  const b = single.thresholds as unknown as Record<string, number>;
  for (const key of Object.keys(b)) expect(relative(a[key]!, b[key]!), key).toBeLessThan(1e-5);
}

describe('fitDistributed', () => {
  it('4 shards over 2 worker processes give the single-process fit (k, thresholds, FRE scores)', async () => {
    const queueName = `fit-${process.pid}-a`;
    const workers = await Promise.all([0, 1].map(() => spawnWorker({ connection: redis.url, queueName, runtime: 'onnxruntime', threads: 1 })));
    try {
      const model = small();
      const seen: number[] = [];
      const summary = await fitDistributed(new Engine({ defaultRootDir: join(work, 'sharded'), batchSize: 8 }), model, dataset(), {
        connection: redis.url,
        queueName,
        shards: 4,
        onShard: (shard) => seen.push(shard.shard),
      });
      expect(summary.trainSamples).toBe(40);
      expect(summary.shards.map((s) => s.nSamples)).toEqual([10, 10, 10, 10]);
      expect(seen.sort()).toEqual([0, 1, 2, 3]);
      expect(new Set(summary.shards.map((s) => s.worker)).size).toBe(2);
      compare(model, await scoresOf(summary.checkpointPath!));
      model.dispose();
    } finally {
      await Promise.all(workers.map((w) => stopWorker(w, 'SIGKILL')));
    }
  });

  it('a worker SIGKILLed while it holds a shard: the shard is redone by the other, same result', async () => {
    const queueName = `fit-${process.pid}-b`;
    const options = { connection: redis.url, queueName, runtime: 'onnxruntime', threads: 1, lockDurationMs: 2000, stalledIntervalMs: 1000 };
    const workers: ChildProcess[] = await Promise.all([0, 1].map(() => spawnWorker(options)));
    const events = new QueueEvents(fitQueueName(queueName), { connection: { host: '127.0.0.1', port: redis.port } });
    let killed: number | undefined;
    events.on('active', ({ jobId }) => {
      if (killed !== undefined) return;
      killed = -1;
      // Kill whichever worker took this shard (BullMQ records the worker's name, <host>/<pid>, on the job).
      void (async () => {
        const { Queue } = await import('bullmq');
        const queue = new Queue(fitQueueName(queueName), { connection: { host: '127.0.0.1', port: redis.port } });
        const job = await Job.fromId(queue, jobId);
        const pid = Number(String(job?.processedBy ?? '').split('/').pop());
        const victim = workers.find((w) => w.pid === pid) ?? workers[0]!;
        killed = victim.pid;
        victim.kill('SIGKILL');
        await queue.close();
      })();
    });
    await events.waitUntilReady();
    try {
      const model = small();
      const summary = await fitDistributed(new Engine({ defaultRootDir: join(work, 'killed'), batchSize: 8 }), model, dataset(), { connection: redis.url, queueName, shards: 4 });
      expect(killed).toBeGreaterThan(0);
      expect(summary.shards.every((s) => !s.worker.endsWith(`/${killed}`))).toBe(true);
      compare(model, await scoresOf(summary.checkpointPath!));
      model.dispose();
    } finally {
      await events.close();
      await Promise.all(workers.map((w) => stopWorker(w, 'SIGKILL')));
    }
  });
});
