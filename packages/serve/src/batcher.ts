import type { Detector, DetectorInput, DetectorResult } from '@dfm/core';
import { DfmError, InvalidArgumentError } from '@dfm/errors';

/** Options of {@link Batcher}. */
export interface BatcherOptions {
  /** Images scored together at most (1 = no batching). */
  maxBatchSize: number;
  /** How long a batch may wait for images on their way before it runs, in ms (0 = never waits). */
  maxWaitMs: number;
  /** Images allowed to wait; beyond it {@link Batcher.submit} fails with `E_OVERLOADED`. */
  maxQueue: number;
  /**
   * Images on their way to the queue (being received or decoded). While some are, a batch smaller
   * than `maxBatchSize` waits for them (at most `maxWaitMs`); when none are, it starts at once, so
   * a lone request never waits.
   */
  incoming?: () => number;
  /** Called after each batch with its size (metrics). */
  onBatch?: (size: number, seconds: number) => void;
  /** Called when the number of waiting images changes (metrics). */
  onQueue?: (depth: number) => void;
}

/** What {@link Batcher.submit} resolves to. */
export interface BatchedResult {
  result: DetectorResult;
  /** Time from submit to the start of its batch. */
  queueMs: number;
  /** Time its batch took in the Detector. */
  scoreMs: number;
  /** Images in its batch. */
  batchSize: number;
}

interface Job {
  input: DetectorInput;
  map: boolean;
  submitted: number;
  deadline: number;
  resolve: (value: BatchedResult) => void;
  reject: (error: unknown) => void;
}

/**
 * Dynamic batching in front of a {@link Detector}: images submitted while a batch runs, or while
 * others are still on their way (decoding; at most `maxWaitMs`), are scored together (up to
 * `maxBatchSize`) in one `predictBatch` call — one backbone run for many requests, as model servers
 * batch. With nothing on its way a batch starts at once: a lone request never waits. One batch runs
 * at a time (the backbone uses every core); the next one gathers meanwhile. A bounded queue refuses
 * work beyond `maxQueue` at once (`E_OVERLOADED`: the HTTP layer answers 503 with Retry-After), and
 * a job whose deadline passes before its batch starts fails with `E_TIMEOUT` instead of being scored late.
 */
export class Batcher {
  readonly #queue: Job[] = [];
  readonly #options: BatcherOptions;
  readonly #detector: () => Detector;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<void> | undefined;
  #idle: (() => void)[] = [];

  constructor(detector: () => Detector, options: BatcherOptions) {
    const { maxBatchSize, maxWaitMs, maxQueue } = options;
    const check = (name: string, value: number, min: number) => {
      if (!Number.isSafeInteger(value) || value < min) {
        throw new InvalidArgumentError(`Batcher: ${name} must be an integer ≥ ${min} — got ${String(value)}.`);
      }
    };
    check('maxBatchSize', maxBatchSize, 1);
    check('maxWaitMs', maxWaitMs, 0);
    check('maxQueue', maxQueue, 1);
    this.#detector = detector;
    this.#options = options;
  }

  /** Images waiting for a batch (not counting the batch running). */
  get depth(): number {
    return this.#queue.length;
  }

  /**
   * Scores `input` in the next batch. `map`: compute the anomaly map (FRE models).
   *
   * @throws DfmError `E_OVERLOADED` when `maxQueue` images already wait; `E_TIMEOUT` when `timeoutMs` passes before its batch starts
   */
  submit(input: DetectorInput, map: boolean, timeoutMs: number): Promise<BatchedResult> {
    if (this.#queue.length >= this.#options.maxQueue) {
      return Promise.reject(
        new DfmError(`the service is at capacity: ${this.#queue.length} images are waiting (maxQueue ${this.#options.maxQueue}). Retry shortly.`, {
          code: 'E_OVERLOADED',
        }),
      );
    }
    return new Promise<BatchedResult>((resolve, reject) => {
      const now = performance.now();
      this.#queue.push({ input, map, submitted: now, deadline: now + timeoutMs, resolve, reject });
      this.#options.onQueue?.(this.#queue.length);
      this.#schedule();
    });
  }

  /** Resolves when nothing waits and no batch runs. */
  idle(): Promise<void> {
    if (this.#queue.length === 0 && this.#running === undefined) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Call when an image that was on its way will not come (its decoding failed): a waiting batch may start. */
  poke(): void {
    this.#schedule();
  }

  #schedule(): void {
    if (this.#running !== undefined || this.#queue.length === 0) return;
    const coming = this.#options.incoming?.() ?? Number.POSITIVE_INFINITY;
    if (this.#queue.length >= this.#options.maxBatchSize || this.#options.maxWaitMs === 0 || coming === 0) {
      this.#start();
      return;
    }
    this.#timer ??= setTimeout(() => this.#start(), this.#options.maxWaitMs);
  }

  #start(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#running !== undefined || this.#queue.length === 0) return;
    const jobs = this.#queue.splice(0, this.#options.maxBatchSize);
    this.#options.onQueue?.(this.#queue.length);
    this.#running = this.#run(jobs).finally(() => {
      this.#running = undefined;
      if (this.#queue.length > 0) {
        // Whatever gathered while this batch ran goes next (waiting, up to maxWaitMs, for images still being decoded).
        this.#schedule();
      } else {
        for (const resolve of this.#idle.splice(0)) resolve();
      }
    });
  }

  async #run(jobs: Job[]): Promise<void> {
    const started = performance.now();
    const live = jobs.filter((job) => {
      if (started <= job.deadline) return true;
      job.reject(new DfmError(`the request waited ${Math.round(started - job.submitted)} ms for the model, past its timeout. Retry, or raise the service's requestTimeoutMs.`, { code: 'E_TIMEOUT' }));
      return false;
    });
    if (live.length === 0) return;
    const detector = this.#detector();
    const map = live.some((job) => job.map);
    let results: DetectorResult[];
    try {
      results = await detector.predictBatch(
        live.map((job) => job.input),
        { batchSize: live.length, map },
      );
    } catch (error) {
      if (live.length === 1) {
        live[0]?.reject(error);
        return;
      }
      // One bad input must not fail the others: score them one by one.
      for (const job of live) {
        const one = performance.now();
        try {
          const [result] = await detector.predictBatch([job.input], { batchSize: 1, map: job.map });
          job.resolve({ result: result as DetectorResult, queueMs: started - job.submitted, scoreMs: performance.now() - one, batchSize: 1 });
        } catch (single) {
          job.reject(single);
        }
      }
      return;
    }
    const scoreMs = performance.now() - started;
    this.#options.onBatch?.(live.length, scoreMs / 1000);
    live.forEach((job, i) => {
      const result = results[i] as DetectorResult;
      if (!job.map) {
        delete result.anomalyMap;
        delete result.predMask;
      }
      job.resolve({ result, queueMs: started - job.submitted, scoreMs, batchSize: live.length });
    });
  }
}
