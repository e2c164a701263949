/**
 * dfm worker, dfm submit, dfm queue and dfm train --distributed. Help and flag checks need nothing; the
 * rest runs on a real Redis (Debian's redis-server on a loopback port, @dfm/queue's test helper) with
 * @dfm/queue workers in this process (their jobs run in worker threads from @dfm/queue's dist/processor.js)
 * on a tiny random-weight model, checked against a Detector in this process on the same model file.
 */
import { EventEmitter } from 'node:events';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Detector, loadDetector } from '@dfm/core';
import { createScoringWorker, type ScoringWorker } from '@dfm/queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { picture, writePicture } from '../../core/test/small-models';
import { queueFixture } from '../../queue/test/fixtures';
import type { TestRedis } from '../../queue/test/redis-server';
import { makeFixture, run, sink } from '../test/fixtures';
import { runWorker } from './commands/worker';
import { commandHelp, usage } from './help';
import { makeIo } from './io';
import { parseFlags, resolveOptions } from './options';

const dir = mkdtempSync(join(tmpdir(), 'dfm-cli-queue-'));
const H = 40;
const W = 48;
const relative = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-30);
let queueCounter = 0;
const nextQueue = () => `cli-${process.pid}-${++queueCounter}`;
const WORKER = { runtime: 'onnxruntime', threads: 1, lockDurationMs: 5000, stalledIntervalMs: 2000 } as const;

/** The `--json` error document of a failed run. */
function errorOf(result: { out: string }): { message: string; code: string; exitCode: number } {
  return JSON.parse(result.out).error;
}

/** Splits a predictions.csv (no quoted commas in these paths and errors). */
function csvRows(text: string): Record<string, string>[] {
  const [header, ...lines] = text.trim().split('\n');
  const names = header!.split(',');
  return lines.map((line) => {
    const fields = line.match(/("([^"]|"")*"|[^,]*)(,|$)/g)!.map((f) => f.replace(/,$/, '').replace(/^"|"$/g, '').replace(/""/g, '"'));
    return Object.fromEntries(names.map((name, i) => [name, fields[i] ?? '']));
  });
}

async function until(condition: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('help', () => {
  it('dfm --help lists worker, submit and queue; each has its help, dfm help queue too', async () => {
    expect(usage()).toMatch(/\n {2}worker {4}a scoring worker of a Redis queue/);
    expect(usage()).toMatch(/\n {2}submit {4}score images through a queue's workers/);
    expect(usage()).toMatch(/\n {2}queue {5}stats: /);
    const worker = commandHelp('worker');
    expect(worker).toMatch(/^dfm worker --redis URL --queue NAME \[--model FILE\]/);
    expect(worker).toMatch(/--model FILE\s+the \.dfm model to score with .*without it the worker only takes fit shards/);
    for (const flag of ['--concurrency N', '--threads N', '--runtime auto|tfjs|onnxruntime', '--weights SPEC', '--lock-duration-ms MS']) expect(worker).toContain(flag);
    expect(worker).toMatch(/--json\s+log one pino-like JSON line per event/);
    const submit = commandHelp('submit');
    expect(submit).toMatch(/^dfm submit --redis URL --queue NAME --input FILE\|DIR/);
    expect(submit).toMatch(/--\[no-\]wait\s+wait for the results .*--no-wait prints the job ids and exits \(default: on\)/);
    for (const flag of ['--output DIR', '--heatmaps', '--attempts N', '--overwrite', '--json']) expect(submit).toContain(flag);
    expect(commandHelp('queue')).toMatch(/^dfm queue stats\|dead-letters --redis URL --queue NAME/);
    expect(commandHelp('queue')).toMatch(/--prometheus\s+stats: print the counts as Prometheus text/);
    expect(commandHelp('train')).toMatch(/--distributed\s+fit through the workers of --queue on --redis/);
    expect(commandHelp('train')).toMatch(/--queue NAME\s+with --distributed: .*\(default: dfm\)/);
    expect(commandHelp('train')).toContain('--shards N');
    for (const argv of [['worker', '--help'], ['submit', '--help'], ['queue', '--help'], ['queue', 'stats', '--help'], ['help', 'queue']]) {
      const result = await run(argv);
      expect(result.code, argv.join(' ')).toBe(0);
      expect(result.out).toMatch(new RegExp(`^dfm ${argv[0] === 'help' ? argv[1] : argv[0]} `));
    }
  });
});

describe('flag checks (before any connection)', () => {
  it('missing --redis or --queue is E_USAGE naming the fix', async () => {
    const cases: [string[], RegExp][] = [
      [['worker'], /^dfm worker: needs --redis URL and --queue NAME — .* Example: dfm worker --redis redis:\/\/127\.0\.0\.1:6379 --queue line-3 --model /],
      [['worker', '--redis', 'redis://127.0.0.1:6379'], /^dfm worker: needs --queue NAME — /],
      [['submit', '--queue', 'line-3', '--input', dir], /^dfm submit: needs --redis URL — .* Example: dfm submit --redis redis:\/\/127\.0\.0\.1:6379 --queue line-3 --input /],
      [['queue', 'stats', '--redis', 'redis://127.0.0.1:6379'], /^dfm queue: needs --queue NAME — .* Example: dfm queue stats --redis /],
      [['queue', 'dead-letters', '--queue', 'q'], /^dfm queue: needs --redis URL — .* Example: dfm queue dead-letters --redis /],
      [['train', '--data', dir, '--category', 'x', '--distributed'], /^dfm train: needs --redis URL — .* Example: dfm train .* --distributed --redis redis:\/\/127\.0\.0\.1:6379 --queue dfm$/],
    ];
    for (const [argv, message] of cases) {
      const result = await run([...argv, '--json']);
      expect(result.code, argv.join(' ')).toBe(2);
      expect(errorOf(result)).toMatchObject({ code: 'E_USAGE', exitCode: 2 });
      expect(errorOf(result).message, argv.join(' ')).toMatch(message);
    }
  });

  it('bad values are E_USAGE too: URL, queue name, subcommand, switches that need another flag', async () => {
    const redis = ['--redis', 'redis://127.0.0.1:6379'];
    const cases: [string[], RegExp][] = [
      [['submit', '--redis', 'http://x', '--queue', 'q', '--input', dir], /^dfm submit: --redis must be a redis:\/\/ or rediss:\/\/ URL .* — got "http:\/\/x"\. Pass --redis redis:\/\/HOST:PORT\.$/],
      [['worker', ...redis, '--queue', 'a:b'], /^dfm worker: --queue must be 1–100 letters, digits, '\.', '_' or '-', .* — got "a:b"\. Use e\.g\. --queue line-3\.$/],
      [['submit', ...redis, '--queue', 'q'], /^dfm submit: needs --input FILE\|DIR \(repeat it for several\) — got none\./],
      [['submit', ...redis, '--queue', 'q', '--input', dir, '--heatmaps'], /^dfm submit: --heatmaps needs --output DIR — /],
      [['submit', ...redis, '--queue', 'q', '--input', dir, '--wait', '--no-wait'], /^dfm submit: --wait and --no-wait contradict each other\./],
      [['submit', ...redis, '--queue', 'q', '--input', join(dir, 'missing')], /^dfm submit: --input .*missing does not exist/],
      [['queue', ...redis, '--queue', 'q'], /^dfm queue: needs a subcommand: stats or dead-letters — got none\./],
      [['queue', 'stat', ...redis, '--queue', 'q'], /^dfm queue: 'stat' is not a subcommand — use stats or dead-letters\. Did you mean 'stats'\?/],
      [['train', '--data', dir, '--category', 'x', ...redis, '--shards', '2'], /^dfm train: --redis and --shards apply only with --distributed — got no --distributed\./],
      [['worker', ...redis, '--queue', 'q', '--model', join(dir, 'missing.dfm')], /^dfm worker: --model .*missing\.dfm does not exist .*Fit one with 'dfm train', or leave --model out to take fit shards only\.$/],
      [['worker', ...redis, '--queue', 'q', '--concurrency', '0'], /^dfm: --concurrency must be an integer ≥ 1 — got "0"\.$/],
    ];
    for (const [argv, message] of cases) {
      const result = await run([...argv, '--json']);
      expect(result.code, argv.join(' ')).toBe(2);
      expect(errorOf(result).code, argv.join(' ')).toBe('E_USAGE');
      expect(errorOf(result).message, argv.join(' ')).toMatch(message);
    }
  });

  it('a Redis that does not answer is exit 2 naming it (password hidden), not a hang', async () => {
    const result = await run(['queue', 'stats', '--redis', 'redis://user:secret@127.0.0.1:1', '--queue', 'q']);
    expect(result.code).toBe(2);
    expect(result.err).toBe('dfm queue: error: cannot reach Redis at redis://user:***@127.0.0.1:1 (ECONNREFUSED). Start Redis there, or pass the right --redis URL.\n');
  });
});

describe('on a real Redis', () => {
  let redis: TestRedis;
  let modelPath: string;
  let reference: Detector;
  const input = join(dir, 'input');
  const images: string[] = [];
  const expected = new Map<string, number>();
  const workers: ScoringWorker[] = [];

  beforeAll(async () => {
    ({ redis, modelPath } = await queueFixture(dir, H, W));
    // Six pictures, two of them in a sub-folder (dfm predict's recursion).
    mkdirSync(join(input, 'sub'), { recursive: true });
    for (let k = 0; k < 6; k++) images.push(writePicture(k < 4 ? input : join(input, 'sub'), `frame-${k}.png`, picture(700 + k, H, W, k % 3 === 0), H, W));
    reference = await loadDetector(modelPath, { runtime: 'onnxruntime', threads: 1 });
    for (const path of images) expected.set(path, (await reference.predict(path)).predScore);
  }, 300_000);

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.close()));
    await reference?.close();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function startWorker(queueName: string): Promise<void> {
    const worker = await createScoringWorker({ connection: redis.url, queueName, model: modelPath, ...WORKER });
    workers.push(worker);
    await worker.waitUntilReady();
  }

  it('dfm submit: every image once in predictions.csv/.json, scores equal to a Detector (1e-5 relative), heatmaps from the workers; an earlier run is kept without --overwrite', async () => {
    const queueName = nextQueue();
    await startWorker(queueName);
    const output = join(dir, 'scored');
    const argv = ['submit', '--redis', redis.url, '--queue', queueName, '--input', input, '--output', output, '--heatmaps', '--json'];
    const result = await run(argv);
    expect(result.code, result.err).toBe(0);
    const doc = JSON.parse(result.out);
    expect(doc).toMatchObject({ command: 'submit', queue: queueName, failed: 0, outputDir: output, config: { input: [input], run: { attempts: 3, heatmaps: true, wait: true } } });
    expect(doc.models).toEqual([expect.stringMatching(/^model\.dfm@[0-9a-f]{12}$/)]);
    expect(doc.timing).toMatchObject({ submit_s: expect.any(Number), predict_s: expect.any(Number), total_s: expect.any(Number) });
    const sorted = [...images].sort();
    for (const rows of [doc.predictions, JSON.parse(readFileSync(join(output, 'predictions.json'), 'utf8'))]) {
      expect(rows.map((r: { path: string }) => r.path)).toEqual(sorted);
      for (const row of rows) {
        expect(row).toMatchObject({ status: 'completed', error: null, predLabel: row.predScore > 1 ? 1 : 0, worker: expect.stringMatching(/\/\d+$/), jobId: expect.stringMatching(/^img-/) });
        expect(relative(row.predScore, expected.get(row.path)!), row.path).toBeLessThan(1e-5);
        expect(readFileSync(row.heatmap).subarray(1, 4).toString()).toBe('PNG');
        expect(row.heatmap.startsWith(join(output, 'heatmaps'))).toBe(true);
      }
    }
    const csv = csvRows(readFileSync(join(output, 'predictions.csv'), 'utf8'));
    expect(Object.keys(csv[0]!)).toEqual(['path', 'score', 'normalized_score', 'pred_label', 'status', 'error', 'worker', 'model', 'heatmap', 'job_id']);
    expect(csv.map((r) => r.path)).toEqual(sorted);
    for (const row of csv) expect(relative(Number(row.score), expected.get(row.path!)!)).toBeLessThan(1e-5);
    expect(readdirSync(join(output, 'heatmaps')).filter((f) => f.endsWith('.png'))).toHaveLength(6);

    const again = await run(argv);
    expect(again.code).toBe(2);
    expect(errorOf(again)).toMatchObject({ code: 'E_OUTPUT_EXISTS' });
    expect(errorOf(again).message).toMatch(/--output must not hold an earlier run's predictions — .* has predictions\.json and predictions\.csv\. .*--overwrite/);
    const overwritten = await run([...argv, '--overwrite']);
    expect(overwritten.code, overwritten.err).toBe(0);
    // The same images again: kept completed jobs, not scored a second time — the same results.
    expect(JSON.parse(overwritten.out).predictions.map((r: { jobId: string }) => r.jobId)).toEqual(doc.predictions.map((r: { jobId: string }) => r.jobId));

    const inside = await run(['submit', '--redis', redis.url, '--queue', queueName, '--input', input, '--output', join(input, 'out'), '--json']);
    expect(inside.code).toBe(2);
    expect(errorOf(inside)).toMatchObject({ code: 'E_OUTPUT_INSIDE_INPUT' });

    const stats = await run(['queue', 'stats', '--redis', redis.url, '--queue', queueName, '--json']);
    expect(stats.code, stats.err).toBe(0);
    expect(JSON.parse(stats.out).queues).toEqual([
      { queue: queueName, waiting: 0, active: 0, delayed: 0, completed: 6, failed: 0, deadLetters: 0, workers: 1 },
      { queue: `${queueName}-fit`, waiting: 0, active: 0, delayed: 0, completed: 0, failed: 0, deadLetters: 0, workers: 1 },
    ]);
    const table = await run(['queue', 'stats', '--redis', redis.url, '--queue', queueName]);
    expect(table.out.split('\n')[0]).toMatch(/^queue\s+waiting\s+active\s+delayed\s+completed\s+failed\s+dead letters\s+workers$/);
    expect(table.out).toMatch(new RegExp(`\\n${queueName}\\s+0\\s+0\\s+0\\s+6\\s+0\\s+0\\s+1\\n`));
    const prometheus = await run(['queue', 'stats', '--redis', redis.url, '--queue', queueName, '--prometheus']);
    expect(prometheus.out).toContain(`dfm_queue_jobs{queue="${queueName}",state="completed"} 6\n`);
    expect(prometheus.out).toContain(`dfm_queue_workers{queue="${queueName}-fit"} 1\n`);
  });

  it('a failed image is listed with its error and dead-lettered; the others are written; exit 1', async () => {
    const queueName = nextQueue();
    await startWorker(queueName);
    const folder = join(dir, 'with-corrupt');
    mkdirSync(folder);
    copyFileSync(images[1]!, join(folder, 'good.png'));
    writeFileSync(join(folder, 'corrupt.png'), readFileSync(images[1]!).subarray(0, 60));
    const output = join(dir, 'scored-corrupt');
    const result = await run(['submit', '--redis', redis.url, '--queue', queueName, '--input', folder, '--output', output, '--attempts', '1', '--json']);
    expect(result.code).toBe(1);
    const doc = JSON.parse(result.out);
    expect(doc.failed).toBe(1);
    const [corrupt, good] = doc.predictions;
    expect(corrupt).toMatchObject({ path: join(folder, 'corrupt.png'), status: 'failed', predScore: null, predLabel: null, worker: null });
    expect(corrupt.error).toMatch(/^\[E_IMAGE_DECODE\] /);
    expect(good).toMatchObject({ path: join(folder, 'good.png'), status: 'completed' });
    expect(relative(good.predScore, expected.get(images[1]!)!)).toBeLessThan(1e-5);
    expect(result.err).toContain(`dfm: warning: submit: 1 of 2 images failed after their attempts: ${join(folder, 'corrupt.png')}\n`);
    expect(csvRows(readFileSync(join(output, 'predictions.csv'), 'utf8')).map((r) => [r.path, r.status])).toEqual([
      [join(folder, 'corrupt.png'), 'failed'],
      [join(folder, 'good.png'), 'completed'],
    ]);
    const text = await run(['submit', '--redis', redis.url, '--queue', queueName, '--input', folder]);
    expect(text.code).toBe(1);
    expect(text.out).toMatch(/corrupt\.png\s+-\s+-\s+FAILED\n/);
    expect(text.out).toMatch(/\nfailed: .*corrupt\.png: \[E_IMAGE_DECODE\] /);

    const letters = await run(['queue', 'dead-letters', '--redis', redis.url, '--queue', queueName, '--json']);
    expect(letters.code, letters.err).toBe(0);
    const { deadLetters } = JSON.parse(letters.out);
    expect(deadLetters).toHaveLength(1);
    expect(deadLetters[0]).toMatchObject({ id: corrupt.jobId, queue: queueName, image: join(folder, 'corrupt.png'), attempts: 1 });
    expect(deadLetters[0].error).toMatch(/E_IMAGE_DECODE/);
    const readable = await run(['queue', 'dead-letters', '--redis', redis.url, '--queue', queueName]);
    expect(readable.out).toMatch(new RegExp(`^\\S+Z  ${queueName}  ${corrupt.jobId}  .*corrupt\\.png  \\(1 attempt, .*\\): \\[E_IMAGE_DECODE\\] `));
  });

  it('--no-wait prints the job ids and returns at once', async () => {
    const queueName = nextQueue();
    const result = await run(['submit', '--redis', redis.url, '--queue', queueName, '--input', images[0]!, '--input', join(input, 'sub'), '--no-wait']);
    expect(result.code, result.err).toBe(0);
    const lines = result.out.trim().split('\n');
    expect(lines).toEqual([images[0], images[4], images[5]].map((path) => expect.stringMatching(new RegExp(`^img-[0-9a-f]{40}  ${path}$`))));
    const stats = await run(['queue', 'stats', '--redis', redis.url, '--queue', queueName, '--json']);
    expect(JSON.parse(stats.out).queues[0]).toMatchObject({ waiting: 3, workers: 0 });
  });

  it('dfm worker: a JSON line when ready and per failed job; SIGTERM closes it (exit 0); without --model it takes fit shards only, for dfm train --distributed', async () => {
    const queueName = nextQueue();
    const start = (argv: string[]) => {
      const { flags } = parseFlags('worker', [...argv, '--json']);
      const { options, explicit } = resolveOptions(flags, {}, {});
      const out = sink();
      const err = sink();
      const signals = new EventEmitter();
      const io = makeIo(out.stream, err.stream, true, false, {});
      const exit = runWorker({ command: 'worker', io, options, explicit, warnings: [], started: performance.now() }, signals);
      const lines = () => out.text().trim().split('\n').filter(Boolean).map((line) => JSON.parse(line));
      return { exit, signals, lines, err };
    };
    // Scoring: the ready line says what it serves; a corrupt image gives a dead-letter line.
    const scoring = start(['--redis', redis.url, '--queue', queueName, '--model', modelPath, '--runtime', 'onnxruntime', '--concurrency', '2']);
    await until(() => scoring.lines().some((l) => l.msg === 'ready'), 'the worker to be ready');
    expect(scoring.lines().find((l) => l.msg === 'ready')).toMatchObject({
      level: 30,
      pid: process.pid,
      hostname: expect.any(String),
      queues: [queueName, `${queueName}-fit`],
      model: modelPath,
      concurrency: 2,
      runtime: 'onnxruntime',
      redis: redis.url,
    });
    const corrupt = join(dir, 'worker-corrupt.png');
    writeFileSync(corrupt, readFileSync(images[2]!).subarray(0, 50));
    const submitted = await run(['submit', '--redis', redis.url, '--queue', queueName, '--input', corrupt, '--input', images[2]!, '--attempts', '1']);
    expect(submitted.code).toBe(1);
    await until(() => scoring.lines().some((l) => l.deadLetter === true), 'the dead-letter line');
    expect(scoring.lines().find((l) => l.deadLetter === true)).toMatchObject({ level: 50, queue: queueName, attempts: 1, error: expect.stringMatching(/E_IMAGE_DECODE/) });
    scoring.signals.emit('SIGTERM');
    expect(await scoring.exit).toBe(0);
    expect(scoring.lines().map((l) => l.msg).slice(-2)).toEqual(['closing', 'stopped']);

    // Fit shards only, and dfm train --distributed through it: the same model as a local dfm train.
    const shardsOnly = start(['--redis', redis.url, '--queue', queueName]);
    await until(() => shardsOnly.lines().some((l) => l.msg === 'ready'), 'the shard worker to be ready');
    expect(shardsOnly.lines().find((l) => l.msg === 'ready')).toMatchObject({ queues: [`${queueName}-fit`], model: null });
    try {
      const fx = await makeFixture(join(dir, 'train'));
      const common = ['--data', fx.data, '--category', fx.category, '--backbone', 'resnet18', '--layer', 'layer2', '--weights', fx.weights, '--image-size', '64', '--batch-size', '8', '--backend', 'wasm', '--runtime', 'onnxruntime'];
      const local = await run(['train', ...common, '--out', join(dir, 'local.dfm'), '--json']);
      expect(local.code, local.err).toBe(0);
      const distributed = await run(['train', ...common, '--out', join(dir, 'distributed.dfm'), '--distributed', '--redis', redis.url, '--queue', queueName, '--shards', '3', '--json']);
      expect(distributed.code, distributed.err).toBe(0);
      expect(distributed.err).toMatch(/\ntrain: shard \d\/3: 8 images by .*\/\d+ in [\d.]+ s \(1\/3 shards done\)\n/);
      const [a, b] = [JSON.parse(local.out), JSON.parse(distributed.out)];
      expect(b.distributed).toMatchObject({ queue: queueName, shards: [{ shard: 0, samples: 8 }, { shard: 1, samples: 8 }, { shard: 2, samples: 8 }] });
      expect(b.trainSamples).toBe(a.trainSamples);
      expect(b.numComponents).toBe(a.numComponents);
      expect(b.model).toBe(join(dir, 'distributed.dfm'));
      expect(relative(b.thresholds.stats.imageThreshold, a.thresholds.stats.imageThreshold)).toBeLessThan(1e-4);
      const [one, two] = await Promise.all([loadDetector(a.model, { runtime: 'onnxruntime' }), loadDetector(b.model, { runtime: 'onnxruntime' })]);
      try {
        for (const path of images) expect(relative((await two.predict(path)).predScore, (await one.predict(path)).predScore)).toBeLessThan(1e-4);
      } finally {
        await Promise.all([one.close(), two.close()]);
      }
    } finally {
      shardsOnly.signals.emit('SIGINT');
      expect(await shardsOnly.exit).toBe(0);
    }
    expect(existsSync(join(dir, 'distributed.dfm'))).toBe(true);
  });
});
