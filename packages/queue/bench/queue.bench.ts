/**
 * `pnpm --filter @dfm/queue bench`: the queue on this machine with a real Redis (Debian's redis-server,
 * loopback, temporary folder) and the real bottle data and ResNet18 weights (DFM_ASSETS_DIR, else
 * ../shared/assets):
 * 1. throughput of 1 and 2 worker processes (each 1 onnxruntime thread, concurrency 1) on 83 × 7 = 581
 *    bottle test images (symlinks, distinct paths = distinct jobs), and the queue's cost per job;
 * 2. the sharded fit of the bottle over 2 worker processes (4 shards) against the single-process fit
 *    (k, thresholds, FRE scores of the 83 test images), then again with one worker SIGKILLed mid-shard;
 * 3. `dfm submit` of the 83 test images to 2 `dfm worker` processes against `dfm predict --json`.
 * Prints a markdown report (docs/scale-out.md keeps the last one).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setBackend } from '@dfm/backbone';
import { findAssetsDir } from '@dfm/backbone/internal';
import { loadDetector } from '@dfm/core';
import { MVTecAD } from '@dfm/data';
import { Dfm, Engine, PreProcessor } from '@dfm/lightning-like';
import { Job, Queue, QueueEvents, Worker } from 'bullmq';
import { fitDistributed, fitQueueName, type ScoreOutcome, submitImages } from '../src/index';
import { relative, spawnWorker, stopWorker } from '../test/helpers';
import { startRedis } from '../test/redis-server';

const say = (line: string) => process.stderr.write(`bench: ${line}\n`);
const f = (x: number, digits = 2) => x.toFixed(digits);
const here = fileURLToPath(new URL('.', import.meta.url));

const assets = findAssetsDir({ require: ['data/mvtec-bottle', 'weights/resnet18-imagenet-layer1-3.safetensors'] });
if (!assets.found) throw new Error(`the queue bench needs the assets: ${assets.reason}`);
const weights = join(assets.dir!, 'weights/resnet18-imagenet-layer1-3.safetensors');
const dataset = () => new MVTecAD({ root: join(assets.dir!, 'data'), category: 'mvtec-bottle' });
const model = () => new Dfm({ backbone: 'resnet18', layer: 'layer3', weights, runtime: 'onnxruntime', preProcessor: new PreProcessor({ imageSize: [256, 256] }) });
const work = mkdtempSync(join(tmpdir(), 'dfm-queue-bench-'));
const redis = await startRedis();
const lines: string[] = [];
try {
  await setBackend('wasm');
  const test = dataset().test.map((s) => s.path);

  // The single-process fit: the model the workers serve, and the reference of the sharded fit.
  say('single-process fit of the bottle');
  const single = model();
  let t0 = performance.now();
  const singleSummary = await new Engine({ defaultRootDir: join(work, 'single') }).fit(single, dataset());
  const singleSeconds = (performance.now() - t0) / 1000;
  const modelPath = singleSummary.checkpointPath!;
  const scoresOf = async (path: string) => {
    const detector = await loadDetector(path, { runtime: 'onnxruntime' });
    try {
      return (await detector.predictBatch(test)).map((r) => r.predScore);
    } finally {
      await detector.close();
    }
  };
  const singleScores = await scoresOf(modelPath);

  // 1. Throughput.
  const copies = 7;
  const linked: string[] = [];
  for (let c = 0; c < copies; c++) {
    const folder = join(work, `copy-${c}`);
    mkdirSync(folder);
    test.forEach((path, i) => {
      const link = join(folder, `${i}.png`);
      symlinkSync(path, link);
      linked.push(link);
    });
  }
  const throughput: { workers: number; imagesPerSecond: number; meanJobSeconds: number; overheadMs: number; perWorker: number[] }[] = [];
  for (const count of [1, 2]) {
    const queueName = `bench-${count}`;
    say(`throughput: ${count} worker process${count > 1 ? 'es' : ''}, ${linked.length} images`);
    const workers = await Promise.all(Array.from({ length: count }, () => spawnWorker({ connection: redis.url, queueName, model: modelPath, runtime: 'onnxruntime', threads: 1 })));
    try {
      // Warm each worker's thread (Detector loaded, onnxruntime session built) before the clock starts.
      await submitImages({ connection: redis.url, queueName, images: test.slice(0, 4 * count).map((p) => ({ bytes: readFileSync(p), name: p })) });
      t0 = performance.now();
      const outcomes = await submitImages({ connection: redis.url, queueName, images: linked });
      const seconds = (performance.now() - t0) / 1000;
      const done = outcomes.filter((o): o is Extract<ScoreOutcome, { status: 'completed' }> => o.status === 'completed');
      if (done.length !== linked.length || new Set(done.map((o) => o.id)).size !== linked.length) throw new Error(`throughput: ${done.length} of ${linked.length} results`);
      const meanJobSeconds = done.reduce((s, o) => s + o.result.seconds, 0) / done.length;
      const perWorker = workers.map((w) => done.filter((o) => o.result.worker.endsWith(`/${w.pid}`)).length);
      // Each worker is busy seconds·count in all; what is not inside the processor is the queue's cost per job.
      throughput.push({ workers: count, imagesPerSecond: linked.length / seconds, meanJobSeconds, overheadMs: ((seconds * count) / linked.length - meanJobSeconds) * 1000, perWorker });
    } finally {
      await Promise.all(workers.map((w) => stopWorker(w)));
    }
  }

  // 1b. The queue alone: jobs that do nothing, through one in-process worker (concurrency 16): where Redis becomes the limit.
  const bare = await (async () => {
    const connection = { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null };
    const queue = new Queue('bench-bare', { connection });
    const events = new QueueEvents('bench-bare', { connection });
    await events.waitUntilReady();
    const total = 5000;
    let done = 0;
    let finish: () => void = () => {};
    const finished = new Promise<void>((r) => {
      finish = r;
    });
    const worker = new Worker('bench-bare', async () => ({ ok: true }), { connection, concurrency: 16 });
    worker.on('completed', () => {
      if (++done === total) finish();
    });
    const started = performance.now();
    for (let i = 0; i < total; i += 500) await queue.addBulk(Array.from({ length: 500 }, (_, j) => ({ name: 'noop', data: { i: i + j }, opts: { removeOnComplete: true } })));
    await finished;
    const seconds = (performance.now() - started) / 1000;
    await worker.close();
    await events.close();
    await queue.close();
    return { total, jobsPerSecond: total / seconds };
  })();

  lines.push(`### Queue bench (${new Date().toISOString().slice(0, 16)}Z, ${cpus().length} cores, Redis on loopback)`, '');
  lines.push(`Throughput on ${linked.length} bottle test images (each worker process: 1 onnxruntime thread, concurrency 1):`, '');
  lines.push('| workers | images/s | × 1 worker | mean job s (inside the processor) | queue cost per job ms | images per worker |', '|---:|---:|---:|---:|---:|---|');
  for (const row of throughput) {
    lines.push(`| ${row.workers} | ${f(row.imagesPerSecond, 1)} | ${f(row.imagesPerSecond / throughput[0]!.imagesPerSecond)}× | ${f(row.meanJobSeconds, 4)} | ${f(row.overheadMs, 1)} | ${row.perWorker.join(' / ')} |`);
  }
  lines.push('', `The queue alone (${bare.total} jobs that do nothing, one worker, concurrency 16, same Redis): ${f(bare.jobsPerSecond, 0)} jobs/s, ${f(1000 / bare.jobsPerSecond, 2)} ms of Redis work per job.`);
  process.stdout.write(`${lines.splice(0).join('\n')}\n`);

  // 2. Sharded fit, then with a worker killed mid-shard.
  const sharded: { label: string; seconds: number; k: number; maxRel: number; thresholdsMaxRel: number; killed: string }[] = [];
  for (const kill of [false, true]) {
    const queueName = `bench-fit-${kill ? 'kill' : 'plain'}`;
    say(`sharded fit over 2 workers, 4 shards${kill ? ', one SIGKILLed mid-shard' : ''}`);
    const options = { connection: redis.url, queueName, runtime: 'onnxruntime', threads: 1, lockDurationMs: 5000, stalledIntervalMs: 2000 };
    const workers: ChildProcess[] = await Promise.all([0, 1].map(() => spawnWorker(options)));
    const connection = { host: '127.0.0.1', port: redis.port };
    const events = new QueueEvents(fitQueueName(queueName), { connection });
    const queue = new Queue(fitQueueName(queueName), { connection });
    let killed = '—';
    if (kill) {
      let armed = true;
      events.on('active', ({ jobId }) => {
        if (!armed) return;
        armed = false;
        // Let the worker get well into the shard (decoding, backbone), then kill it.
        setTimeout(async () => {
          const job = await Job.fromId(queue, jobId);
          const pid = Number(String(job?.processedBy ?? '').split('/').pop());
          const victim = workers.find((w) => w.pid === pid) ?? workers[0]!;
          killed = `pid ${victim.pid} at shard ${String(jobId).split('-').pop()}`;
          victim.kill('SIGKILL');
        }, 1500);
      });
      await events.waitUntilReady();
    }
    try {
      const m = model();
      t0 = performance.now();
      const summary = await fitDistributed(new Engine({ defaultRootDir: join(work, queueName) }), m, dataset(), { connection: redis.url, queueName, shards: 4, weights });
      const seconds = (performance.now() - t0) / 1000;
      const scores = await scoresOf(summary.checkpointPath!);
      const a = m.postProcessor?.stats as unknown as Record<string, number>;
      const b = single.postProcessor?.stats as unknown as Record<string, number>;
      sharded.push({
        label: kill ? '2 workers, one SIGKILLed mid-shard' : '2 workers',
        seconds,
        k: m.model.numComponents,
        maxRel: Math.max(...scores.map((s, i) => relative(s, singleScores[i]!))),
        thresholdsMaxRel: Math.max(...Object.keys(b).map((key) => relative(a[key]!, b[key]!))),
        killed,
      });
      m.dispose();
    } finally {
      await Promise.all([events.close(), queue.close()]);
      await Promise.all(workers.map((w) => stopWorker(w, 'SIGKILL')));
    }
  }

  lines.push('', `Sharded fit of the bottle (209 images, 4 shards) against the single-process fit (${f(singleSeconds, 1)} s, k = ${single.model.numComponents}):`, '');
  lines.push('| run | s | k | max rel. diff of the 83 FRE scores | max rel. diff of the thresholds | killed |', '|---|---:|---:|---:|---:|---|');
  for (const row of sharded) lines.push(`| ${row.label} | ${f(row.seconds, 1)} | ${row.k} | ${row.maxRel.toExponential(1)} | ${row.thresholdsMaxRel.toExponential(1)} | ${row.killed} |`);
  process.stdout.write(`${lines.splice(0).join('\n')}\n`);

  // 3. The CLI: dfm submit to 2 dfm worker processes against dfm predict --json.
  const cli = resolve(here, '../../cli/dist/bin.js');
  say('dfm predict --json, then dfm submit to 2 dfm worker processes');
  const predict = spawnSync(process.execPath, [cli, 'predict', '--model', modelPath, '--input', join(assets.dir!, 'data/mvtec-bottle/test'), '--output', join(work, 'predict'), '--json'], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (predict.status !== 0) throw new Error(`dfm predict failed: ${predict.stderr}`);
  const predicted = new Map((JSON.parse(predict.stdout).predictions as { path: string; predScore: number; predLabel: number }[]).map((r) => [resolve(r.path), r]));
  const cliWorkers = await Promise.all(
    [0, 1].map(
      () =>
        new Promise<ChildProcess>((ready, fail) => {
          // --json: its log lines (the first says it is connecting) go to stdout; the jobs wait in the queue meanwhile.
          const child = spawn(process.execPath, [cli, 'worker', '--redis', redis.url, '--queue', 'bench-cli', '--model', modelPath, '--threads', '1', '--json'], { stdio: ['ignore', 'pipe', 'inherit'] });
          child.stdout!.once('data', () => {
            child.stdout!.resume();
            ready(child);
          });
          child.once('exit', (code) => fail(new Error(`dfm worker exited with ${code}`)));
        }),
    ),
  );
  let cliRow = '';
  try {
    const submit = spawnSync(process.execPath, [cli, 'submit', '--redis', redis.url, '--queue', 'bench-cli', '--input', join(assets.dir!, 'data/mvtec-bottle/test'), '--output', join(work, 'submit'), '--json'], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    if (submit.status !== 0) throw new Error(`dfm submit failed (${submit.status}): ${submit.stderr}`);
    const submitted = JSON.parse(submit.stdout).predictions as { path: string; predScore: number; predLabel: number; worker: string }[];
    const paths = submitted.map((r) => resolve(r.path));
    const maxRel = Math.max(...submitted.map((r) => relative(r.predScore, predicted.get(resolve(r.path))!.predScore)));
    const labelsEqual = submitted.every((r) => r.predLabel === predicted.get(resolve(r.path))!.predLabel);
    const workersUsed = new Set(submitted.map((r) => r.worker)).size;
    cliRow = `| ${submitted.length} results, ${new Set(paths).size} distinct of ${predicted.size} | ${paths.every((p) => predicted.has(p)) ? 'yes' : 'no'} | ${maxRel.toExponential(1)} | ${labelsEqual ? 'yes' : 'no'} | ${workersUsed} |`;
  } finally {
    await Promise.all(cliWorkers.map((w) => stopWorker(w)));
  }

  lines.push('', '`dfm submit` of the 83 bottle test images to 2 `dfm worker` processes against `dfm predict --json`:', '');
  lines.push('| results | every image present | max rel. score diff | labels equal | workers used |', '|---|---|---:|---|---:|', cliRow);
  process.stdout.write(`${lines.splice(0).join('\n')}\n`);
  single.dispose();
} catch (error) {
  process.stdout.write(`${lines.join('\n')}\n(partial: ${(error as Error).message})\n`);
  process.exitCode = 1;
} finally {
  await redis.stop();
  rmSync(work, { recursive: true, force: true });
}
