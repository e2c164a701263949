/**
 * The service row of `dfm bench`: `dfm serve` in a child process on loopback, loaded by autocannon
 * (in this process) with the bottle test images as raw PNG bodies, with 1 and 16 concurrent
 * clients, dynamic batching on (16 images, wait ≤ 25 ms for images being decoded: the defaults) and off (1 image). Compared with the offline
 * scoring throughput measured in the same run (the pipeline's test phase: decode + backbone + score).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IMAGENET_MEAN, IMAGENET_STD } from '@dfm/backbone';
import { DFMModel } from '@dfm/core';
import { batches, type Sample } from '@dfm/data';
import * as tf from '@tensorflow/tfjs-core';

export interface ServiceRow {
  batching: boolean;
  maxBatchSize: number;
  clients: number;
  imagesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Answers other than 200 (none expected). */
  errors: number;
  /** Mean images per model call during the row, from the service's own metrics. */
  meanBatch: number;
}

export interface ServiceReport {
  durationSeconds: number;
  images: number;
  rows: ServiceRow[];
  runtimeDetail: string;
}

export interface ServiceBenchOptions {
  weights: string;
  train: readonly Sample[];
  test: readonly Sample[];
  imageSize: number;
  /** Seconds of load per row (default 10). */
  durationSeconds?: number;
  say: (line: string) => void;
}

/** Starts `dfm serve` (this CLI's own entry point) and resolves once it listens. */
function startService(model: string, maxBatchSize: number, maxWaitMs: number): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [process.argv[1] as string, 'serve', '--model', model, '--port', '0', '--max-batch-size', String(maxBatchSize), '--max-wait-ms', String(maxWaitMs), '--max-queue', '256'], {
    env: { ...process.env, DFM_SERVE_LOG: 'off', NO_COLOR: '1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  return new Promise((resolve, reject) => {
    child.stderr?.on('data', (chunk: Buffer) => {
      err += chunk.toString();
      const match = /at (http:\/\/127\.0\.0\.1:\d+)\//.exec(err);
      if (match) resolve({ child, url: match[1] as string });
    });
    child.once('exit', (code) => reject(new Error(`dfm serve exited (${code}) before listening: ${err.trim()}`)));
  });
}

async function stopService(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** The service's batch counters: images scored and model calls so far. */
async function batchCounters(url: string): Promise<{ images: number; batches: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  return { images: value('dfm_batch_size_sum'), batches: value('dfm_batch_size_count') };
}

/** Fits the bench's model (the DFM recipe on the training images) and saves it for `dfm serve`. */
async function fitModel(options: ServiceBenchOptions, path: string): Promise<void> {
  const { train, imageSize } = options;
  const model = new DFMModel({ backbone: 'resnet18', layer: 'layer3', weights: options.weights, nComps: 0.97, poolingKernelSize: 4 });
  async function* images() {
    for await (const batch of batches(train, { batchSize: 16, imageSize, prefetch: 2, normalize: { mean: IMAGENET_MEAN, std: IMAGENET_STD } })) {
      const tensor = tf.tensor4d(batch.images, [batch.batchSize, imageSize, imageSize, 3]);
      yield tensor;
      tensor.dispose();
    }
  }
  await model.fit(images());
  await model.save(path);
  model.dispose();
}

/** autocannon, a devDependency of @dfm/cli (the repository's `pnpm bench` has it; an installed @dfm/cli may not). */
async function loadAutocannon(): Promise<typeof import('autocannon')> {
  try {
    return (await import('autocannon')).default as unknown as typeof import('autocannon');
  } catch (cause) {
    throw new Error(`the service rows need autocannon (a development dependency): npm install autocannon, or pass --skip-service (${(cause as Error).message})`);
  }
}

/** Runs the service rows. */
export async function benchService(options: ServiceBenchOptions): Promise<ServiceReport> {
  const { test, say } = options;
  const autocannon = await loadAutocannon();
  const durationSeconds = options.durationSeconds ?? 10;
  const work = mkdtempSync(join(tmpdir(), 'dfm-bench-serve-'));
  try {
    const model = join(work, 'model.dfm');
    say('service: fitting the model it serves');
    await fitModel(options, model);
    const bodies = test.map((sample) => readFileSync(sample.path));
    const rows: ServiceRow[] = [];
    let runtimeDetail = '';
    for (const [batching, maxBatchSize, maxWaitMs] of [
      [true, 16, 25],
      [false, 1, 0],
    ] as const) {
      const { child, url } = await startService(model, maxBatchSize, maxWaitMs);
      try {
        runtimeDetail = (JSON.parse(await (await fetch(`${url}/v1/model`)).text()) as { runtimeDetail: string }).runtimeDetail;
        for (const clients of [1, 16]) {
          say(`service: batching ${batching ? 'on' : 'off'}, ${clients} client${clients === 1 ? '' : 's'}, ${durationSeconds} s`);
          // Warm the connections and the service's buffers at this concurrency first.
          await autocannon({ url, connections: clients, amount: Math.max(clients * 2, 16), requests: bodies.map((body) => ({ method: 'POST', path: '/v1/predict', headers: { 'content-type': 'image/png' }, body })) });
          const before = await batchCounters(url);
          const result = await autocannon({
            url,
            connections: clients,
            duration: durationSeconds,
            requests: bodies.map((body) => ({ method: 'POST', path: '/v1/predict', headers: { 'content-type': 'image/png' }, body })),
          });
          rows.push({
            batching,
            maxBatchSize,
            clients,
            imagesPerSecond: result['2xx'] / result.duration,
            p50Ms: result.latency.p50,
            p99Ms: result.latency.p99,
            errors: result.non2xx + result.errors + result.timeouts,
            meanBatch: await batchCounters(url).then((after) => (after.images - before.images) / (after.batches - before.batches)),
          });
        }
      } finally {
        await stopService(child);
      }
    }
    return { durationSeconds, images: bodies.length, rows, runtimeDetail };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const f = (value: number, digits = 2) => (Number.isFinite(value) ? value.toFixed(digits) : '—');

/** The service table; `offline` is the pipeline's scoring throughput (test phase) of the same runtime in the same run. */
export function formatService(r: ServiceReport, offline: { imagesPerSecond: number; runtime: string } | null): string {
  const lines = [
    `### Service (dfm serve on loopback, autocannon, ${r.images} bottle test PNGs as raw bodies, ${r.durationSeconds} s per row)`,
    '',
    `Offline scoring (the pipeline's test phase: decode + backbone + score${offline === null ? '' : `, ${offline.runtime}`}): ${offline === null ? 'not measured' : `${f(offline.imagesPerSecond, 1)} images/s`}. Service: ${r.runtimeDetail}.`,
    '',
    '| batching | clients | images/s | × offline | p50 ms | p99 ms | mean batch | errors |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const row of r.rows) {
    lines.push(
      `| ${row.batching ? `on (≤ ${row.maxBatchSize}, 25 ms)` : 'off'} | ${row.clients} | ${f(row.imagesPerSecond, 1)} | ${offline === null ? '—' : `${f(row.imagesPerSecond / offline.imagesPerSecond)}×`} | ${f(row.p50Ms, 0)} | ${f(row.p99Ms, 0)} | ${f(row.meanBatch, 1)} | ${row.errors} |`,
    );
  }
  const on = r.rows.find((x) => x.batching && x.clients === 16);
  const off = r.rows.find((x) => !x.batching && x.clients === 16);
  if (on && off) lines.push('', `Batching on ÷ off at 16 clients: ${f(on.imagesPerSecond / off.imagesPerSecond)}× the images/s.`);
  return `${lines.join('\n')}\n`;
}
