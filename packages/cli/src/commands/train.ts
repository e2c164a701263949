import { existsSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { AnomalyDataset } from '@dfm/data';
import { Dfm, Engine, type FitSummary, ModelCheckpoint } from '@dfm/lightning-like';
import type { FitShardResult } from '@dfm/queue';
import { UsageError } from '../errors';
import { cliCallback, type Io, log, seconds, warn, writeJson } from '../io';
import type { CliOptions } from '../options';
import { pcaTimingFields, pcaTimingLine } from '../pca-timing';
import {
  buildDataset,
  type CommandContext,
  checkModelOut,
  checkResultsDir,
  checkWeights,
  describeConfig,
  dfmOptions,
  runtimeOf,
  selectBackend,
  thresholdsNote,
} from '../setup';
import { checkRedisReachable, DEFAULT_QUEUE, loadQueue, type QueueTarget, queueTarget, redactRedisUrl } from './queue';

/**
 * `--distributed`'s Redis and queue (checked before any work), or null without it; `--redis`,
 * `--queue` and `--shards` without `--distributed` are refused (they would be ignored).
 */
async function distributedTarget(ctx: CommandContext): Promise<QueueTarget | null> {
  if (!ctx.options.distributed) {
    const flags: Partial<Record<keyof CliOptions, string>> = { redis: '--redis', queue: '--queue', shards: '--shards' };
    const stray = Object.entries(flags).flatMap(([key, flag]) => (ctx.explicit.has(key as keyof CliOptions) ? [flag] : []));
    if (stray.length > 0) {
      const named = stray.length === 1 ? stray[0] : `${stray.slice(0, -1).join(', ')} and ${stray[stray.length - 1]}`;
      throw new UsageError(`dfm train: ${named} ${stray.length === 1 ? 'applies' : 'apply'} only with --distributed — got no --distributed. Add --distributed to fit through the queue's workers, or leave ${stray.length === 1 ? 'it' : 'them'} out.`);
    }
    return null;
  }
  return queueTarget(ctx, `dfm train --data datasets/MVTec --category bottle --distributed --redis redis://127.0.0.1:6379 --queue ${DEFAULT_QUEUE}`, DEFAULT_QUEUE);
}

type Skipped = { path: string; reason: string };

/** The weights as the workers must see them: a local file by its absolute path; 'imagenet', URLs and hub ids as given; random weights: none (each worker seeds its own alike). */
function weightsForWorkers(weights: string | null): string | undefined {
  if (weights === null) return undefined;
  return existsSync(weights) ? resolve(weights) : weights;
}

/**
 * The train stage through the queue's workers (@dfm/queue's fitDistributed): one progress line per
 * shard; thresholds and the model file follow here as in `engine.fit`.
 */
async function fitThroughQueue(
  ctx: CommandContext,
  engine: Engine,
  model: Dfm,
  dataset: AnomalyDataset,
  target: QueueTarget,
): Promise<FitSummary & { shards: FitShardResult[] }> {
  const { options: o, io } = ctx;
  const { fitDistributed, fitQueueName } = await loadQueue();
  const shards = Math.min(o.shards ?? 4, dataset.train.length);
  const fitQueue = fitQueueName(target.queueName);
  log(
    io,
    `dfm train: distributed: ${shards} shard${shards === 1 ? '' : 's'} to the workers of ${fitQueue} at ${redactRedisUrl(target.redis)} (none yet? start them with: dfm worker --redis URL --queue ${target.queueName})`,
  );
  const weights = weightsForWorkers(o.weights);
  return fitDistributed(engine, model, dataset, {
    connection: target.redis,
    queueName: target.queueName,
    shards,
    onBadImage: o.onBadImage,
    ...(weights === undefined ? {} : { weights }),
    ...(o.runtime === 'auto' ? {} : { runtime: o.runtime }),
    onShard: (shard, done, total) => {
      const skipped = shard.skipped.length === 0 ? '' : `, ${shard.skipped.length} bad file${shard.skipped.length === 1 ? '' : 's'} skipped`;
      log(io, `train: shard ${shard.shard + 1}/${total}: ${shard.nSamples} images by ${shard.worker} in ${shard.seconds.toFixed(1)} s${skipped} (${done}/${total} shards done)`);
    },
  });
}

/** The fit's skipped files with the shards' that it does not list yet, those warned about (fit shards skip bad training images). */
function withShardSkips(io: Io, warnings: string[], skipped: readonly Skipped[], shards: readonly FitShardResult[]): Skipped[] {
  const known = new Set(skipped.map((s) => s.path));
  const extra = shards.flatMap((shard) => shard.skipped).filter((s) => !known.has(s.path));
  if (extra.length === 0) return [...skipped];
  const message = `train: the workers skipped ${extra.length} bad file${extra.length === 1 ? '' : 's'} (--on-bad-image skip): ${extra.map((s) => s.path).join(', ')}`;
  warnings.push(message);
  warn(io, message);
  return [...skipped, ...extra];
}

/**
 * `dfm train`: fits on the normal images, fits thresholds on the validation split (when there is
 * one), writes model.dfm into a new run folder (or `--out`).
 */
export async function runTrain(ctx: CommandContext): Promise<number> {
  const { options: o, io } = ctx;
  checkWeights(ctx.command, o.weights);
  const target = await distributedTarget(ctx);
  const dataset = buildDataset(ctx);
  const out = checkModelOut(ctx);
  if (out === undefined) checkResultsDir(ctx, dataset);
  if (target !== null) await checkRedisReachable(ctx.command, target.redis);
  const backend = await selectBackend(ctx);
  const model = new Dfm(dfmOptions(o));
  try {
    const engine = new Engine({
      defaultRootDir: o.resultsDir,
      batchSize: o.batchSize,
      onBadImage: o.onBadImage,
      callbacks: [cliCallback(io, ctx.warnings)],
      ...(out !== undefined ? { checkpoint: new ModelCheckpoint({ dirpath: dirname(out), filename: basename(out) }) } : {}),
    });
    log(io, `dfm train: ${dataset.name}/${dataset.category}: ${dataset.train.length} normal images, ${o.backbone}/${o.layer}, ${o.scoreType}, ${o.imageSize.join('×')} px, backend ${backend.backend}`);
    let fit: FitSummary;
    let shards: FitShardResult[] | null = null;
    if (target === null) fit = await engine.fit(model, dataset);
    else ({ shards, ...fit } = await fitThroughQueue(ctx, engine, model, dataset, target));
    const skipped = shards === null ? fit.skipped : withShardSkips(io, ctx.warnings, fit.skipped, shards);
    const shardWorkers = shards === null ? 0 : new Set(shards.map((shard) => shard.worker)).size;
    const stats = model.postProcessor?.isFitted ? model.postProcessor.stats : null;
    const note = thresholdsNote(o, dataset);
    const notes = note === null ? [] : [note];
    const timing = {
      fit_s: seconds(fit.seconds),
      total_s: seconds((performance.now() - ctx.started) / 1000),
      images_per_s: seconds(fit.trainSamples / Math.max(fit.seconds, 1e-9)),
      ...pcaTimingFields(model),
    };
    if (io.json) {
      writeJson(io, {
        command: 'train',
        model: fit.checkpointPath,
        metrics: {},
        config: describeConfig(ctx, dataset, { backendUsed: backend.backend, runtimeUsed: runtimeOf(model) }),
        timing,
        trainSamples: fit.trainSamples,
        numComponents: model.model.numComponents,
        thresholds: { split: fit.thresholdSplit, note: fit.thresholdNote, stats },
        predictions: [],
        resultsDir: fit.resultsDir,
        notes,
        skipped,
        ...(target === null || shards === null
          ? {}
          : {
              distributed: {
                queue: target.queueName,
                redis: redactRedisUrl(target.redis),
                shards: shards.map((shard) => ({ shard: shard.shard, samples: shard.nSamples, worker: shard.worker, seconds: seconds(shard.seconds), skipped: shard.skipped })),
              },
            }),
        warnings: ctx.warnings,
      });
    } else {
      io.out.write(
        `model: ${fit.checkpointPath}\n` +
          `fitted on ${fit.trainSamples} images, ${model.model.numComponents} PCA components, in ${fit.seconds.toFixed(1)} s\n` +
          pcaTimingLine(model) +
          (shards === null ? '' : `distributed: ${shards.length} shard${shards.length === 1 ? '' : 's'} over ${shardWorkers} worker${shardWorkers === 1 ? '' : 's'} (queue ${target?.queueName})\n`) +
          `thresholds: ${stats ? `fitted on the '${fit.thresholdSplit}' split (${fit.thresholdNote})` : 'not fitted'}\n` +
          notes.map((n) => `note: ${n}\n`).join(''),
      );
    }
    return 0;
  } finally {
    model.dispose();
  }
}
