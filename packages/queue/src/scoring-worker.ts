import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError } from '@dfm/errors';
import { type Job, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { checkPositiveInteger, checkQueueName, connectionOptions, deadLetterKey, fitQueueName, type RedisConnection } from './connection';
import { workerName } from './jobs';
import type { ProcessorSettings } from './processor';

/** Options of {@link createScoringWorker}. */
export interface ScoringWorkerOptions {
  /** Redis: a URL or ioredis options. */
  connection: RedisConnection;
  /** The scoring queue; the worker also takes fit shards from `<queueName>-fit` (unless `fitShards: false`). */
  queueName: string;
  /** The fitted model (`.dfm` path). Omitted: the worker only takes fit shards. */
  model?: string;
  /** Jobs scored at once, each in its own thread with its own Detector (default 1). */
  concurrency?: number;
  /** onnxruntime intra-op threads per thread (default 1: one core per job; workers scale by processes and concurrency). */
  threads?: number;
  /** Runtime for the backbone (`'auto'`, `'onnxruntime'`, `'tfjs'`), as loadDetector takes it. */
  runtime?: string;
  /** Backbone weights, when not where the model file says (a path on the worker's host). */
  weights?: string;
  /** Also take fit shards from `<queueName>-fit` (default true). */
  fitShards?: boolean;
  /** How long a job's lock lasts without renewal, in ms (default 30 000): a worker that dies loses its jobs to the others after this. */
  lockDurationMs?: number;
  /** How often stalled jobs (of dead workers) are looked for, in ms (default 30 000). */
  stalledIntervalMs?: number;
  /** Images fetched from URLs: size limit in bytes (default 64 MiB) and timeout in ms (default 30 000). */
  maxDownloadBytes?: number;
  fetchTimeoutMs?: number;
  /** Pixel limit of decoded images (decompression bombs); default @dfm/data's. */
  pixelLimit?: number;
  /** Called with what the worker does: a job done or failed, a dead letter, a connection error. */
  onEvent?: (event: WorkerEvent) => void;
}

/** What a {@link ScoringWorker} reports through `onEvent`. */
export type WorkerEvent =
  | { type: 'completed'; queue: string; id: string; seconds: number }
  | { type: 'failed'; queue: string; id: string; image: string | null; attemptsMade: number; attempts: number; error: string; final: boolean }
  | { type: 'error'; error: Error };

/** A running worker: {@link ScoringWorker.close} lets the jobs in progress finish, then stops. */
export interface ScoringWorker {
  readonly name: string;
  readonly queues: readonly string[];
  /** Resolves once the worker is connected and taking jobs. */
  waitUntilReady(): Promise<void>;
  /** Graceful stop: takes no new job, finishes (and records) the ones in progress, then disconnects. */
  close(): Promise<void>;
}

/**
 * The sandboxed processor file: next to the built module (dist/processor.js). When this module runs from
 * its TypeScript source (the package's own tests), the built one in ../dist: threads load plain JavaScript.
 */
export function processorFile(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  for (const candidate of [resolve(here, 'processor.js'), resolve(here, '../dist/processor.js')]) if (existsSync(candidate)) return candidate;
  throw new InvalidArgumentError(`createScoringWorker(): the processor file (dist/processor.js) is missing beside ${here}. Build @dfm/queue (pnpm --filter @dfm/queue build).`, {
    code: 'E_INTERNAL',
  });
}

/**
 * Starts a worker: BullMQ workers on the scoring queue (and its fit queue) whose jobs run in sandboxed
 * worker threads (`concurrency` of them, each loading the Detector once), so CPU work never stalls lock
 * renewal. Failed jobs are retried with the attempts and backoff their submitter set; a job that fails
 * its last attempt is pushed, with its error, to the queue's dead-letter list (see {@link queueStats}).
 *
 * @example
 * const worker = await createScoringWorker({ connection: 'redis://127.0.0.1:6379', queueName: 'line-3', model: 'bottle.dfm' });
 * process.on('SIGTERM', () => worker.close());
 */
export async function createScoringWorker(options: ScoringWorkerOptions): Promise<ScoringWorker> {
  const where = 'createScoringWorker()';
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError(`${where}: options must be an object { connection, queueName, model } — got ${String(options)}.`);
  const queueName = checkQueueName(options.queueName, where);
  const connection = connectionOptions(options.connection, where);
  const concurrency = checkPositiveInteger(options.concurrency ?? 1, 'concurrency', where, 'Pass the number of jobs to score at once (one thread each).');
  const threads = checkPositiveInteger(options.threads ?? 1, 'threads', where, 'Pass onnxruntime threads per job (1 scales best across processes).');
  const lockDuration = checkPositiveInteger(options.lockDurationMs ?? 30_000, 'lockDurationMs', where, 'Pass milliseconds.');
  const stalledInterval = checkPositiveInteger(options.stalledIntervalMs ?? 30_000, 'stalledIntervalMs', where, 'Pass milliseconds.');
  if (options.model !== undefined && (typeof options.model !== 'string' || !existsSync(options.model))) {
    throw new InvalidArgumentError(`${where}: model must be the path of a fitted .dfm file on this host — got ${JSON.stringify(options.model)}, which does not exist. Fit one with dfm train.`);
  }
  const fitShards = options.fitShards ?? true;
  if (options.model === undefined && !fitShards) throw new InvalidArgumentError(`${where}: a worker without a model and with fitShards: false has nothing to do. Pass model, or leave fitShards on.`);
  const settings: ProcessorSettings = {
    connection: options.connection,
    model: options.model === undefined ? null : resolve(options.model),
    threads,
    concurrency,
    maxDownloadBytes: options.maxDownloadBytes ?? 64 * 1024 * 1024,
    fetchTimeoutMs: options.fetchTimeoutMs ?? 30_000,
    ...(options.runtime === undefined ? {} : { runtime: options.runtime }),
    ...(options.weights === undefined ? {} : { weights: resolve(options.weights) }),
    ...(options.pixelLimit === undefined ? {} : { pixelLimit: options.pixelLimit }),
  };
  const name = workerName();
  const onEvent = options.onEvent ?? (() => {});
  const deadLetters = new Redis(connectionOptions(options.connection, where) as never);
  deadLetters.on('error', () => {}); // reconnects by itself; the workers report connection errors
  const file = processorFile();
  const queues = [...(options.model === undefined ? [] : [queueName]), ...(fitShards ? [fitQueueName(queueName)] : [])];
  const workers = queues.map((queue) => {
    const worker = new Worker(queue, file, {
      connection,
      name,
      concurrency,
      lockDuration,
      stalledInterval,
      maxStalledCount: 2,
      useWorkerThreads: true,
      workerThreadsOptions: { env: { ...process.env, DFM_QUEUE_WORKER: JSON.stringify(settings) } },
    });
    worker.on('completed', (job: Job) => {
      const value = job.returnvalue as { seconds?: number } | undefined;
      onEvent({ type: 'completed', queue, id: job.id as string, seconds: value?.seconds ?? 0 });
    });
    worker.on('failed', (job: Job | undefined, error: Error) => {
      if (job === undefined) return;
      const attempts = job.opts.attempts ?? 1;
      const final = job.attemptsMade >= attempts || job.finishedOn !== undefined;
      const image = (job.data as { name?: string }).name ?? null;
      onEvent({ type: 'failed', queue, id: job.id as string, image, attemptsMade: job.attemptsMade, attempts, error: error.message, final });
      if (final) {
        const entry = { id: job.id, queue, name: job.name, image, error: error.message, attempts: job.attemptsMade, failedAt: new Date().toISOString(), worker: name };
        deadLetters.rpush(deadLetterKey(queue), JSON.stringify(entry)).catch((cause: Error) => onEvent({ type: 'error', error: cause }));
      }
    });
    worker.on('error', (error: Error) => onEvent({ type: 'error', error }));
    return worker;
  });
  let closing: Promise<void> | null = null;
  return {
    name,
    queues,
    async waitUntilReady() {
      await Promise.all(workers.map((worker) => worker.waitUntilReady()));
    },
    close() {
      closing ??= (async () => {
        await Promise.all(workers.map((worker) => worker.close()));
        await deadLetters.quit().catch(() => deadLetters.disconnect());
      })();
      return closing;
    },
  };
}
