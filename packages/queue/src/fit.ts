import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { AnomalyDataset } from '@dfm/data';
import { DfmError, InvalidArgumentError } from '@dfm/errors';
import type { Dfm, Engine, FitSummary } from '@dfm/lightning-like';
import { PCAStatistics } from '@dfm/linalg';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { deleteBlob, getBlob } from './blob';
import { checkPositiveInteger, checkQueueName, connectionOptions, fitQueueName, PREFIX, type RedisConnection } from './connection';
import type { FitShardJobData, FitShardResult } from './jobs';
import { waitForJobs } from './wait-for-jobs';

/** Options of {@link fitDistributed}. */
export interface DistributedFitOptions {
  /** Redis: a URL or ioredis options. */
  connection: RedisConnection;
  /** The scoring queue whose workers also take fit shards (from `<queueName>-fit`). */
  queueName: string;
  /** Shards the training images are cut into (default 4; more shards than workers balance better). */
  shards?: number;
  /** Backbone weights as the workers see them (a path on shared storage, a URL, a hub id or 'imagenet'); a relative path is made absolute. Default 'imagenet' for a pre-trained model (pass the model's own weights here when they are a file). */
  weights?: string;
  /** Runtime for the workers' backbones (default theirs: 'auto'). */
  runtime?: string;
  /** Tries per shard (default 3): a shard whose worker dies is redone by another (after the lock expires). */
  attempts?: number;
  /** Largest statistics a shard may store in Redis, in bytes (default 2 GiB: D = 16384 moments are ~1.1 GB). */
  maxStatisticsBytes?: number;
  /** How long shard statistics live in Redis, in seconds (default 86 400); the coordinator deletes them once merged. */
  statisticsTtlSeconds?: number;
  /** What a shard does with an image that cannot be decoded: fail the shard (default, as Engine's default) or skip it (the fit summary lists it). */
  onBadImage?: 'error' | 'skip';
  /** Progress: each shard as it ends. */
  onShard?: (shard: FitShardResult, done: number, total: number) => void;
}

/**
 * `Engine.fit` with the train stage spread over a queue's workers: the training images are cut into
 * shards (contiguous, in the dataset's order), each a `fit-shard` job; a worker extracts the shard's
 * features into mergeable {@link PCAStatistics} and stores their bytes in Redis; the coordinator merges
 * them in shard order (the PCA of all the rows: merging is exact) and finishes the fit here —
 * thresholds on the validation split, model file — exactly as `engine.fit(model, dataset)` does. A shard
 * whose worker dies is retried on another; a shard failing all its attempts fails the fit with its error.
 * The images and the weights must be at the same paths on every worker (shared storage).
 *
 * @example
 * const summary = await fitDistributed(new Engine(), new Dfm({ backbone: 'resnet18', weights }), datamodule,
 *   { connection: 'redis://127.0.0.1:6379', queueName: 'line-3', weights, shards: 8 });
 */
export async function fitDistributed(engine: Engine, model: Dfm, dataset: AnomalyDataset, options: DistributedFitOptions): Promise<FitSummary & { shards: FitShardResult[] }> {
  const where = 'fitDistributed()';
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError(`${where}: options must be { connection, queueName } — got ${String(options)}.`);
  const queueName = fitQueueName(checkQueueName(options.queueName, where));
  const connection = connectionOptions(options.connection, where);
  const shardCount = checkPositiveInteger(options.shards ?? 4, 'shards', where, 'Pass how many shards to cut the training images into.');
  const attempts = checkPositiveInteger(options.attempts ?? 3, 'attempts', where, 'Pass the tries per shard.');
  const maxBlobBytes = checkPositiveInteger(options.maxStatisticsBytes ?? 2 ** 31, 'maxStatisticsBytes', where, 'Pass bytes.');
  const ttlSeconds = checkPositiveInteger(options.statisticsTtlSeconds ?? 86_400, 'statisticsTtlSeconds', where, 'Pass seconds.');
  const paths = dataset.train.map((sample) => sample.path);
  if (paths.length === 0) throw new InvalidArgumentError(`${where}: the dataset ${dataset.name}/${dataset.category} has no training images. Put normal images in its training folder.`);
  const relative = paths.find((path) => !isAbsolute(path));
  if (relative !== undefined) throw new InvalidArgumentError(`${where}: training image paths must be absolute (workers on other hosts read them) — got ${JSON.stringify(relative)}.`);
  const shards = Math.min(shardCount, paths.length);
  const onBadImage = options.onBadImage ?? 'error';
  if (onBadImage !== 'error' && onBadImage !== 'skip') throw new InvalidArgumentError(`${where}: onBadImage must be 'error' or 'skip' — got ${JSON.stringify(options.onBadImage)}.`);
  const config = model.model.config;
  const weights = workerWeights(options.weights ?? (config.preTrained ? 'imagenet' : undefined), where);
  const fitId = `fit-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  const results: FitShardResult[] = [];
  return {
    ...(await engine.fit(model, dataset, {
      statistics: async () => {
        const queue = new Queue(queueName, { connection });
        const events = new QueueEvents(queueName, { connection });
        const redis = new Redis(connection as never);
        queue.on('error', () => {});
        events.on('error', () => {});
        redis.on('error', () => {});
        try {
          await events.waitUntilReady();
          const preProcessing = model.preProcessor.toPreProcessing();
          const jobs = Array.from({ length: shards }, (_, shard) => {
            const data: FitShardJobData = {
              fitId,
              shard,
              shards,
              paths: paths.slice(Math.floor((shard * paths.length) / shards), Math.floor(((shard + 1) * paths.length) / shards)),
              model: {
                backbone: config.backbone,
                layer: config.layer,
                preTrained: config.preTrained,
                seed: config.seed,
                poolingKernelSize: config.poolingKernelSize,
                pcaLevel: config.nComps as number,
                scoreType: config.scoreType,
                ...(weights === undefined ? {} : { weights }),
                ...(options.runtime === undefined ? {} : { runtime: options.runtime }),
              },
              preProcessing,
              batchSize: engine.batchSize,
              onBadImage,
              blobKey: `${PREFIX}:${queueName}:statistics:${fitId}:${shard}`,
              maxBlobBytes,
              ttlSeconds,
            };
            return { name: 'fit-shard', data, opts: { jobId: `${fitId}-${shard}`, attempts, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: { age: ttlSeconds }, removeOnFail: { age: 7 * 86_400 } } };
          });
          await queue.addBulk(jobs);
          const byShard = new Map<number, FitShardResult>();
          for await (const outcome of waitForJobs<FitShardResult>(queue, events, jobs.map((job) => job.opts.jobId))) {
            if (outcome.status === 'failed') {
              throw new DfmError(`${where}: shard ${outcome.id} failed after ${outcome.attempts} attempt${outcome.attempts === 1 ? '' : 's'}: ${outcome.error}`, { code: 'E_JOB_FAILED' });
            }
            byShard.set(outcome.value.shard, outcome.value);
            options.onShard?.(outcome.value, byShard.size, shards);
          }
          // Merge in shard order, so the rows (N < D) are in the dataset's order, as one process would have them.
          let merged: PCAStatistics | null = null;
          for (let shard = 0; shard < shards; shard++) {
            const result = byShard.get(shard)!;
            results.push(result);
            const statistics = PCAStatistics.fromBytes(await getBlob(redis, result.blobKey));
            merged = merged === null ? statistics : merged.merge(statistics);
          }
          for (const result of results) await deleteBlob(redis, result.blobKey).catch(() => {});
          const first = results[0]!;
          return { statistics: merged!, featureShape: first.featureShape, imageSize: first.imageSize, samples: merged!.nSamples, skipped: results.flatMap((r) => r.skipped) };
        } finally {
          await Promise.allSettled([events.close(), queue.close()]);
          redis.disconnect();
        }
      },
    })),
    shards: results,
  };
}

/** The weights spec as a worker on another host can use it: a file given by a relative path becomes absolute; bytes cannot travel. */
function workerWeights(spec: string | Uint8Array | null | undefined, where: string): string | undefined {
  if (spec === null || spec === undefined) return undefined;
  if (typeof spec !== 'string') {
    throw new InvalidArgumentError(`${where}: the model's weights were given as bytes, which the workers cannot load — got a ${spec.constructor.name}. Pass options.weights: a path on storage the workers share, a URL or 'imagenet'.`);
  }
  return existsSync(spec) ? resolve(spec) : spec;
}
