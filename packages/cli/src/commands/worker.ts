import { existsSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { WorkerEvent } from '@dfm/queue';
import { UsageError } from '../errors';
import { type Io, log } from '../io';
import { type CommandContext, checkWeights } from '../setup';
import { loadQueue, queueTarget, redactRedisUrl } from './queue';

/** pino's levels, for the `--json` lines. */
const LEVELS = { info: 30, warn: 40, error: 50 } as const;
type Level = keyof typeof LEVELS;

/**
 * The worker's log: with `--json` one pino-like JSON line per event on stdout (`level`, `time`,
 * `pid`, `hostname`, `msg` and the event's fields), otherwise a readable line on stderr.
 */
function workerLog(io: Io): (level: Level, text: string, msg: string, fields?: Record<string, unknown>) => void {
  const host = hostname();
  return (level, text, msg, fields = {}) => {
    if (io.json) {
      io.out.write(`${JSON.stringify({ level: LEVELS[level], time: Date.now(), pid: process.pid, hostname: host, name: 'dfm-worker', msg, ...fields })}\n`);
    } else if (level === 'info') {
      log(io, `dfm worker: ${text}`);
    } else {
      // As the CLI's error lines: `dfm worker: error: …`, the label in colour on a terminal.
      const label = io.color ? `\u001b[${level === 'warn' ? 33 : 31}m${level === 'warn' ? 'warning' : 'error'}\u001b[0m` : level === 'warn' ? 'warning' : 'error';
      log(io, `dfm worker: ${label}: ${text}`);
    }
  };
}

/**
 * `dfm worker --redis URL --queue NAME [--model M]`: a @dfm/queue scoring worker in the foreground.
 * It scores the images submitted to NAME with the model (dfm submit, ScoringClient) and takes the fit
 * shards of NAME-fit (dfm train --distributed); without --model, only the shards. One line when it is
 * ready, one per failed job and dead letter. SIGTERM / SIGINT close it gracefully: no new job, the
 * jobs in progress finish and are recorded, then exit 0. Redis going away is waited out.
 *
 * `signals` is where SIGTERM / SIGINT come from (the process; tests pass an emitter).
 */
export async function runWorker(ctx: CommandContext, signals: NodeJS.EventEmitter = process): Promise<number> {
  const { options: o, io, explicit } = ctx;
  const { redis, queueName } = await queueTarget(ctx, 'dfm worker --redis redis://127.0.0.1:6379 --queue line-3 --model results/dfm/mvtec/bottle/latest/model.dfm');
  let model: string | undefined;
  if (o.model !== undefined) {
    model = resolve(o.model);
    if (!existsSync(model)) throw new UsageError(`dfm worker: --model ${o.model} does not exist (looked at ${model}). Fit one with 'dfm train', or leave --model out to take fit shards only.`);
    if (statSync(model).isDirectory()) throw new UsageError(`dfm worker: --model must be a .dfm file — ${o.model} is a folder. Pass the model.dfm that dfm train wrote.`);
  }
  let weights: string | undefined;
  if (explicit.has('weights')) {
    if (model === undefined) {
      throw new UsageError("dfm worker: --weights is for scoring with --model — got no --model. Fit shards use the weights dfm train --distributed sends; leave --weights out, or add --model FILE.");
    }
    if (o.weights === null) {
      throw new UsageError("dfm worker: --weights random cannot score a model: a worker scores with the weights the model was fitted with. Pass their path, or leave --weights out to use the model file's.");
    }
    checkWeights(ctx.command, o.weights);
    weights = o.weights;
  }
  const queue = await loadQueue();
  const report = workerLog(io);
  const shown = redactRedisUrl(redis);
  const concurrency = o.concurrency ?? 1;
  const threads = o.threads ?? 1;
  let lastError = '';
  const onEvent = (event: WorkerEvent) => {
    if (event.type === 'completed') {
      if (io.verbose) report('info', `job ${event.id} of ${event.queue} done in ${event.seconds.toFixed(2)} s`, 'job completed', { queue: event.queue, jobId: event.id, seconds: event.seconds });
    } else if (event.type === 'failed') {
      const fields = { queue: event.queue, jobId: event.id, attemptsMade: event.attemptsMade, attempts: event.attempts, error: event.error, deadLetter: event.final };
      if (event.final) {
        report('error', `dead letter: job ${event.id} of ${event.queue} failed its last attempt (${event.attemptsMade} of ${event.attempts}): ${event.error}`, 'job failed for good (dead letter)', fields);
      } else {
        report('warn', `job ${event.id} of ${event.queue} failed (attempt ${event.attemptsMade} of ${event.attempts}; it will be retried): ${event.error}`, 'job failed (retried)', fields);
      }
    } else {
      // ioredis reports each reconnection attempt: the same error once, until another one comes.
      if (event.error.message === lastError) return;
      lastError = event.error.message;
      report('error', `${event.error.message} (Redis ${shown}; retrying)`, 'worker error', { error: event.error.message, redis: shown });
    }
  };
  const worker = await queue.createScoringWorker({
    connection: redis,
    queueName,
    concurrency,
    threads,
    onEvent,
    ...(model === undefined ? {} : { model }),
    ...(explicit.has('runtime') ? { runtime: o.runtime } : {}),
    ...(weights === undefined ? {} : { weights }),
    ...(o.lockDurationMs === undefined ? {} : { lockDurationMs: o.lockDurationMs }),
  });
  const serves =
    model === undefined
      ? `takes the fit shards of ${queue.fitQueueName(queueName)} only (no --model: it scores no images; pass --model FILE to score ${queueName})`
      : `scores ${queueName} with ${o.model} and takes the fit shards of ${queue.fitQueueName(queueName)}`;
  const settings = `concurrency ${concurrency}, ${threads} thread${threads === 1 ? '' : 's'} per job, runtime ${o.runtime}`;

  return new Promise<number>((done) => {
    let stopping = false;
    const finish = (code: number) => {
      signals.off('SIGTERM', onTerm);
      signals.off('SIGINT', onInt);
      done(code);
    };
    const stop = (signal: string, code = 0) => {
      if (stopping) {
        report('info', `${signal}: already closing; waiting for the jobs in progress (SIGKILL stops at once, and their jobs go to other workers)`, 'already closing', { signal });
        return;
      }
      stopping = true;
      report('info', `${signal}: closing (no new jobs; the jobs in progress finish)`, 'closing', { signal });
      worker.close().then(
        () => {
          report('info', 'stopped', 'stopped');
          finish(code);
        },
        (error: Error) => {
          report('error', `closing failed: ${error.message}`, 'closing failed', { error: error.message });
          finish(1);
        },
      );
    };
    const onTerm = () => stop('SIGTERM');
    const onInt = () => stop('SIGINT');
    signals.on('SIGTERM', onTerm);
    signals.on('SIGINT', onInt);
    report('info', `${worker.name} connecting to Redis ${shown}`, 'connecting', { redis: shown, queue: queueName });
    worker.waitUntilReady().then(
      () => {
        if (stopping) return;
        report('info', `ready: ${worker.name} ${serves}; ${settings}`, 'ready', {
          worker: worker.name,
          queues: worker.queues,
          model: model ?? null,
          concurrency,
          threads,
          runtime: o.runtime,
          redis: shown,
        });
      },
      (error: Error) => {
        report('error', `could not start: ${error.message}`, 'could not start', { error: error.message });
        if (!stopping) stop('error', 1);
      },
    );
  });
}
