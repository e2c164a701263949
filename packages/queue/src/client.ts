import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { DfmError, InvalidArgumentError } from '@dfm/errors';
import { Job, Queue, QueueEvents } from 'bullmq';
import { checkQueueName, connectionOptions, type RedisConnection } from './connection';
import { type ScoreJobData, type ScoreResult, scoreJobId, sha256Hex } from './jobs';
import { type JobOutcome, waitForJobs } from './wait-for-jobs';

/** An image to score: a path (on storage the workers share, as they see it), an http(s) URL, or bytes. */
export type ImageSource = string | { path: string } | { url: string } | { bytes: Uint8Array; name: string };

/** Options of {@link ScoringClient.submit}. */
export interface SubmitOptions {
  /** Folder on shared storage where workers write heatmap PNGs (`<job id>.png`); omitted: none. */
  heatmapDir?: string;
  /** Tries per image before it goes to the failed and dead-letter lists (default 3). */
  attempts?: number;
  /** First retry delay in ms, doubled at each retry (default 1000). */
  backoffMs?: number;
  /** Completed jobs (and their results) are kept this long, in seconds (default 86 400): a resubmission within it is not scored again. */
  keepCompletedSeconds?: number;
  /** Failed jobs are kept this long, in seconds (default 7 days). */
  keepFailedSeconds?: number;
  /** Largest image sent as bytes in a job (default 4 MiB): bigger ones belong on shared storage. */
  maxInlineBytes?: number;
  /**
   * Try again the images whose earlier job failed for good and is still kept (default false: a
   * resubmission returns the earlier failure, so a corrupt image is not retried forever).
   */
  retryFailed?: boolean;
  /** Called after each batch of jobs is added: (submitted so far, total). */
  onSubmitted?: (submitted: number, total: number) => void;
}

/** A submitted image: its job id and what the results call it. */
export interface SubmittedImage {
  id: string;
  name: string;
}

/** One image's outcome: its result, or the error it failed with after its attempts. */
export type ScoreOutcome = { id: string; name: string; status: 'completed'; result: ScoreResult } | { id: string; name: string; status: 'failed'; error: string; attempts: number };

const ADD_CHUNK = 250;

/**
 * Submits images to a scoring queue and streams their results back. Job ids come from the images
 * (path + content hash), so submitting the same image twice scores it once.
 *
 * @example
 * const client = new ScoringClient({ connection: 'redis://127.0.0.1:6379', queueName: 'line-3' });
 * const submitted = await client.submit(['/mnt/frames/0001.png', '/mnt/frames/0002.png']);
 * for await (const outcome of client.results(submitted)) console.log(outcome.name, outcome.status === 'completed' ? outcome.result.predScore : outcome.error);
 * await client.close();
 */
export class ScoringClient {
  readonly queueName: string;
  readonly #queue: Queue;
  readonly #events: QueueEvents;

  constructor(options: { connection: RedisConnection; queueName: string }) {
    const where = 'new ScoringClient()';
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError(`${where}: options must be { connection, queueName } — got ${String(options)}.`);
    this.queueName = checkQueueName(options.queueName, where);
    const connection = connectionOptions(options.connection, where);
    this.#queue = new Queue(this.queueName, { connection });
    this.#events = new QueueEvents(this.queueName, { connection });
    this.#queue.on('error', () => {}); // ioredis reconnects; commands wait for it (maxRetriesPerRequest: null)
    this.#events.on('error', () => {});
  }

  /** Adds one `score` job per image (ids derived from the images; an image already queued or kept is not added again). */
  async submit(images: readonly ImageSource[], options: SubmitOptions = {}): Promise<SubmittedImage[]> {
    const where = 'ScoringClient.submit()';
    if (!Array.isArray(images)) throw new InvalidArgumentError(`${where}: images must be an array of paths, URLs or { bytes, name } — got ${typeof images}.`);
    const attempts = options.attempts ?? 3;
    if (!Number.isSafeInteger(attempts) || attempts < 1) throw new InvalidArgumentError(`${where}: attempts must be an integer ≥ 1 — got ${JSON.stringify(options.attempts)}.`);
    const maxInline = options.maxInlineBytes ?? 4 * 1024 * 1024;
    const jobOptions = {
      attempts,
      backoff: { type: 'exponential', delay: options.backoffMs ?? 1000 },
      removeOnComplete: { age: options.keepCompletedSeconds ?? 86_400 },
      removeOnFail: { age: options.keepFailedSeconds ?? 7 * 86_400 },
    };
    const heatmapDir = options.heatmapDir === undefined ? undefined : resolve(options.heatmapDir);
    const submitted: SubmittedImage[] = [];
    await this.#events.waitUntilReady();
    for (let start = 0; start < images.length; start += ADD_CHUNK) {
      const chunk = await Promise.all(images.slice(start, start + ADD_CHUNK).map((image, i) => describe(image, start + i, maxInline, heatmapDir, where)));
      await this.#queue.addBulk(
        chunk.map(({ id, data }) => ({ name: 'score', data: heatmapDir === undefined ? data : { ...data, heatmapDir }, opts: { ...jobOptions, jobId: id } })),
      );
      if (options.retryFailed === true) {
        // An image whose earlier job failed for good is kept as failed (keepFailedSeconds): try it again.
        for (const { id } of chunk) {
          const job = await Job.fromId(this.#queue, id);
          if (job !== undefined && (await job.isFailed())) await job.retry('failed');
        }
      }
      for (const { id, data } of chunk) submitted.push({ id, name: data.name });
      options.onSubmitted?.(submitted.length, images.length);
    }
    return submitted;
  }

  /** Yields each submitted image's outcome once, as it ends (completed, or failed for good), whatever the workers or Redis go through meanwhile. */
  async *results(submitted: readonly SubmittedImage[], options: { signal?: AbortSignal } = {}): AsyncGenerator<ScoreOutcome> {
    const names = new Map(submitted.map((s) => [s.id, s.name]));
    for await (const outcome of waitForJobs<ScoreResult>(this.#queue, this.#events, [...names.keys()], options)) {
      yield toScoreOutcome(outcome, names.get(outcome.id) ?? outcome.id);
    }
  }

  /** Closes the connections (the jobs stay queued for the workers). */
  async close(): Promise<void> {
    await Promise.allSettled([this.#events.close(), this.#queue.close()]);
  }
}

function toScoreOutcome(outcome: JobOutcome<ScoreResult>, name: string): ScoreOutcome {
  return outcome.status === 'completed' ? { id: outcome.id, name, status: 'completed', result: outcome.value } : { id: outcome.id, name, status: 'failed', error: outcome.error, attempts: outcome.attempts };
}

async function describe(image: ImageSource, index: number, maxInline: number, heatmapDir: string | undefined, where: string): Promise<{ id: string; data: ScoreJobData }> {
  if (typeof image === 'string' && /^https?:\/\//i.test(image)) image = { url: image };
  else if (typeof image === 'string') image = { path: image };
  if (image !== null && typeof image === 'object' && 'url' in image && typeof image.url === 'string') {
    return { id: scoreJobId({ kind: 'url', url: image.url }, heatmapDir), data: { input: { kind: 'url', url: image.url }, name: image.url } };
  }
  if (image !== null && typeof image === 'object' && 'path' in image && typeof image.path === 'string') {
    const path = resolve(image.path);
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (error) {
      throw new DfmError(`${where}: image ${index} (${path}) cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}). Check the path.`, { code: 'E_FILE_NOT_READABLE' });
    }
    return { id: scoreJobId({ kind: 'path', path, contentSha256: sha256Hex(bytes) }, heatmapDir), data: { input: { kind: 'path', path }, name: path } };
  }
  if (image !== null && typeof image === 'object' && 'bytes' in image && image.bytes instanceof Uint8Array && typeof image.name === 'string') {
    if (image.bytes.length > maxInline) {
      throw new DfmError(`${where}: image ${index} (${image.name}) is ${image.bytes.length} bytes — jobs carry at most ${maxInline} (maxInlineBytes). Put it on storage the workers share and submit its path.`, {
        code: 'E_PAYLOAD_TOO_LARGE',
      });
    }
    return {
      id: scoreJobId({ kind: 'bytes', contentSha256: sha256Hex(image.bytes) }, heatmapDir),
      data: { input: { kind: 'bytes', base64: Buffer.from(image.bytes.buffer, image.bytes.byteOffset, image.bytes.byteLength).toString('base64') }, name: image.name },
    };
  }
  throw new InvalidArgumentError(`${where}: image ${index} must be a path, an http(s) URL, { path }, { url } or { bytes: Uint8Array, name } — got ${image === null ? 'null' : typeof image}.`);
}

/**
 * Submits the images and waits for every outcome (the one-call form of {@link ScoringClient}), in the
 * order the jobs end — match them to the images by `name` or `id`. `onResult` sees each outcome as it
 * arrives (progress).
 */
export async function submitImages(options: {
  connection: RedisConnection;
  queueName: string;
  images: readonly ImageSource[];
  submit?: SubmitOptions;
  onResult?: (outcome: ScoreOutcome, done: number, total: number) => void;
}): Promise<ScoreOutcome[]> {
  const client = new ScoringClient(options);
  try {
    const submitted = await client.submit(options.images, options.submit);
    const outcomes: ScoreOutcome[] = [];
    for await (const outcome of client.results(submitted)) {
      outcomes.push(outcome);
      options.onResult?.(outcome, outcomes.length, submitted.length);
    }
    return outcomes;
  } finally {
    await client.close();
  }
}
