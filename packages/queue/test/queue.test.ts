/**
 * The queue end to end on a real Redis (Debian's redis-server on a loopback port, see redis-server.ts):
 * workers score through the Detector in sandboxed threads; results are checked against an independent
 * Detector in this process on the same model file. Faults are real: a worker process SIGKILLed with
 * 300 images in flight, Redis restarted mid-run, a corrupt image.
 */
import type { ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Detector, loadDetector } from '@dfm/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { picture, writePicture } from '../../core/test/small-models';
import { createScoringWorker, deadLetters, type ScoreOutcome, ScoringClient, queueStats, submitImages } from '../src/index';
import { relative, spawnWorker, stopWorker } from './helpers';
import { queueFixture } from './fixtures';
import type { TestRedis } from './redis-server';

const dir = mkdtempSync(join(tmpdir(), 'dfm-queue-'));
const H = 40;
const W = 48;
let redis: TestRedis;
let modelPath: string;
let reference: Detector;
/** Picture k's expected score. */
const expected: number[] = [];
const pictures: string[] = [];
let queueCounter = 0;
const nextQueue = () => `test-${process.pid}-${++queueCounter}`;
const WORKER = { runtime: 'onnxruntime', threads: 1, lockDurationMs: 2000, stalledIntervalMs: 1000 } as const;

beforeAll(async () => {
  ({ redis, modelPath } = await queueFixture(dir, H, W));
  for (let k = 0; k < 12; k++) pictures.push(writePicture(dir, `test-${k}.png`, picture(500 + k, H, W, k % 3 === 0), H, W));
  reference = await loadDetector(modelPath, { runtime: 'onnxruntime', threads: 1 });
  for (const path of pictures) expected.push((await reference.predict(path)).predScore);
}, 300_000);

afterAll(async () => {
  await reference?.close();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** `count` distinct files (distinct paths, so distinct jobs) cycling through the pictures; returns [path, picture index]. */
function copies(count: number, tag: string): [string, number][] {
  return Array.from({ length: count }, (_, i) => {
    const path = join(dir, `${tag}-${i}.png`);
    copyFileSync(pictures[i % pictures.length]!, path);
    return [path, i % pictures.length] as [string, number];
  });
}

function checkOutcomes(outcomes: ScoreOutcome[], files: [string, number][]) {
  const byName = new Map(outcomes.map((o) => [o.name, o]));
  expect(outcomes).toHaveLength(files.length);
  expect(new Set(outcomes.map((o) => o.id)).size).toBe(files.length);
  for (const [path, k] of files) {
    const outcome = byName.get(path);
    expect(outcome?.status, path).toBe('completed');
    if (outcome?.status === 'completed') expect(relative(outcome.result.predScore, expected[k]!)).toBeLessThan(1e-5);
  }
}

describe('scoring', () => {
  it('scores each image once through two workers, equal to the Detector; a resubmission is not scored again', async () => {
    const queueName = nextQueue();
    const workers = await Promise.all([0, 1].map(() => createScoringWorker({ connection: redis.url, queueName, model: modelPath, ...WORKER })));
    try {
      const heatmapDir = join(dir, 'heatmaps');
      const outcomes = await submitImages({ connection: redis.url, queueName, images: pictures, submit: { heatmapDir } });
      checkOutcomes(
        outcomes,
        pictures.map((p, k) => [p, k]),
      );
      for (const outcome of outcomes) {
        if (outcome.status !== 'completed') continue;
        expect(outcome.result.predLabel).toBe(outcome.result.predScore > 1 ? 1 : 0);
        expect(readFileSync(outcome.result.heatmap!).subarray(1, 4).toString()).toBe('PNG');
      }
      const again = await submitImages({ connection: redis.url, queueName, images: pictures, submit: { heatmapDir } });
      expect(again.map((o) => o.id).sort()).toEqual(outcomes.map((o) => o.id).sort());
      const [counts] = await queueStats({ connection: redis.url, queueName });
      expect(counts).toMatchObject({ queue: queueName, completed: pictures.length, failed: 0, waiting: 0, active: 0, deadLetters: 0, workers: 2 });
      // Bytes in the job: same image content, same score.
      const [bytes] = await submitImages({ connection: redis.url, queueName, images: [{ bytes: readFileSync(pictures[4]!), name: 'upload.png' }] });
      expect(bytes?.status === 'completed' && relative(bytes.result.predScore, expected[4]!)).toBeLessThan(1e-5);
      // A URL the workers fetch (a camera's HTTP endpoint), on loopback.
      const server = createServer((request, response) => {
        if (request.url === '/frame.png') response.writeHead(200, { 'content-type': 'image/png' }).end(readFileSync(pictures[5]!));
        else response.writeHead(404).end();
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        const fromUrls = await submitImages({ connection: redis.url, queueName, images: [`${base}/frame.png`, `${base}/gone.png`], submit: { attempts: 1 } });
        const fetched = fromUrls.find((o) => o.name.endsWith('/frame.png'));
        const missing = fromUrls.find((o) => o.name.endsWith('/gone.png'));
        expect(fetched?.status === 'completed' && relative(fetched.result.predScore, expected[5]!)).toBeLessThan(1e-5);
        expect(missing).toMatchObject({ status: 'failed' });
        expect(missing?.status === 'failed' && missing.error).toMatch(/E_DOWNLOAD_FAILED.*HTTP 404/);
      } finally {
        server.close();
      }
    } finally {
      await Promise.all(workers.map((w) => w.close()));
    }
  });

  it('a corrupt image fails its attempts, lands in the dead-letter list with its error, and does not hold up the others', async () => {
    const queueName = nextQueue();
    const corrupt = join(dir, 'corrupt.png');
    writeFileSync(corrupt, Buffer.concat([readFileSync(pictures[0]!).subarray(0, 60)]));
    const worker = await createScoringWorker({ connection: redis.url, queueName, model: modelPath, ...WORKER });
    try {
      const images = [pictures[1]!, corrupt, pictures[2]!];
      const outcomes = await submitImages({ connection: redis.url, queueName, images, submit: { attempts: 2, backoffMs: 50 } });
      const failed = outcomes.find((o) => o.name === corrupt);
      expect(failed).toMatchObject({ status: 'failed', attempts: 2 });
      expect(failed?.status === 'failed' && failed.error).toMatch(/E_IMAGE_DECODE/);
      expect(outcomes.filter((o) => o.status === 'completed')).toHaveLength(2);
      const letters = await deadLetters({ connection: redis.url, queueName });
      expect(letters).toHaveLength(1);
      expect(letters[0]).toMatchObject({ id: failed?.id, image: corrupt, attempts: 2 });
      expect(letters[0]?.error).toMatch(/E_IMAGE_DECODE/);
      // Submitted again: the kept failure comes back without a new try; with retryFailed, it is tried again.
      const [again] = await submitImages({ connection: redis.url, queueName, images: [corrupt] });
      expect(again).toMatchObject({ id: failed?.id, status: 'failed' });
      expect(await deadLetters({ connection: redis.url, queueName })).toHaveLength(1);
      const [retried] = await submitImages({ connection: redis.url, queueName, images: [corrupt], submit: { retryFailed: true } });
      expect(retried).toMatchObject({ id: failed?.id, status: 'failed' });
      expect(await deadLetters({ connection: redis.url, queueName })).toHaveLength(2);
    } finally {
      await worker.close();
    }
  });

  it('rejects bad options with clear errors', async () => {
    await expect(createScoringWorker({ connection: 'http://x', queueName: 'q', model: modelPath })).rejects.toThrow(/redis:\/\/ or rediss:\/\/ URL/);
    await expect(createScoringWorker({ connection: redis.url, queueName: 'a:b', model: modelPath })).rejects.toThrow(/queueName must be/);
    await expect(createScoringWorker({ connection: redis.url, queueName: 'q', model: join(dir, 'missing.dfm') })).rejects.toThrow(/does not exist/);
    const client = new ScoringClient({ connection: redis.url, queueName: nextQueue() });
    try {
      await expect(client.submit([{ bytes: new Uint8Array(10), name: 'x' }], { maxInlineBytes: 4 })).rejects.toMatchObject({ code: 'E_PAYLOAD_TOO_LARGE' });
      await expect(client.submit([join(dir, 'nope.png')])).rejects.toMatchObject({ code: 'E_FILE_NOT_READABLE' });
    } finally {
      await client.close();
    }
  });
});

/** Submits the files through a ScoringClient and collects every outcome, calling `after(n)` once n have arrived (the fault goes there). */
async function collect(queueName: string, files: [string, number][], after: (done: number) => Promise<void>): Promise<ScoreOutcome[]> {
  const client = new ScoringClient({ connection: redis.url, queueName });
  const outcomes: ScoreOutcome[] = [];
  try {
    const submitted = await client.submit(files.map(([p]) => p));
    for await (const outcome of client.results(submitted)) {
      outcomes.push(outcome);
      await after(outcomes.length);
    }
  } finally {
    await client.close();
  }
  return outcomes;
}

describe('faults', () => {
  it('SIGKILL of one of two worker processes with 300 images in flight: every result present exactly once', async () => {
    const queueName = nextQueue();
    const files = copies(300, 'kill');
    const workers: ChildProcess[] = await Promise.all([0, 1].map(() => spawnWorker({ connection: redis.url, queueName, model: modelPath, ...WORKER })));
    try {
      const outcomes = await collect(queueName, files, async (done) => {
        if (done === 30) workers[0]!.kill('SIGKILL');
      });
      checkOutcomes(outcomes, files);
      const killed = `/${workers[0]!.pid}`;
      const survivor = `/${workers[1]!.pid}`;
      const by = (suffix: string) => outcomes.filter((o) => o.status === 'completed' && o.result.worker.endsWith(suffix)).length;
      expect(by(killed)).toBeGreaterThan(0);
      expect(by(survivor)).toBeGreaterThan(150);
      expect(by(killed) + by(survivor)).toBe(300);
    } finally {
      await Promise.all(workers.map((w) => stopWorker(w, 'SIGKILL')));
    }
  });

  it('Redis restarted mid-run: the client and the workers reconnect and finish', async () => {
    const queueName = nextQueue();
    const files = copies(120, 'restart');
    const workers = await Promise.all([0, 1].map(() => spawnWorker({ connection: redis.url, queueName, model: modelPath, ...WORKER })));
    try {
      const outcomes = await collect(queueName, files, async (done) => {
        if (done === 20) await redis.restart(1000);
      });
      checkOutcomes(outcomes, files);
      // The workers are still alive and close gracefully.
      expect(await Promise.all(workers.map((w) => stopWorker(w)))).toEqual([0, 0]);
    } finally {
      await Promise.all(workers.map((w) => stopWorker(w, 'SIGKILL')));
    }
  });
});
