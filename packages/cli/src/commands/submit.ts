import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { writeFileAtomic } from '@dfm/backbone/internal';
import { ProgressBar } from '@dfm/lightning-like';
import type { ScoreOutcome } from '@dfm/queue';
import { UsageError } from '../errors';
import { cliCallback, log, seconds, warn, writeJson } from '../io';
import { isSameOrInside } from '../output-paths';
import type { CommandContext } from '../setup';
import { checkPredictionsOutput, listImages, predictionTable } from './predict';
import { checkRedisReachable, loadQueue, queueTarget, redactRedisUrl } from './queue';

/**
 * One image's outcome, as `dfm submit` lists it in `predictions.csv`/`.json`: dfm predict's fields
 * (null when the image failed), then where and how it was scored.
 */
export interface SubmitPrediction {
  path: string;
  predScore: number | null;
  normalizedScore: number | null;
  predLabel: 0 | 1 | null;
  status: 'completed' | 'failed';
  /** The error of its last attempt (failed), else null. */
  error: string | null;
  /** The worker that scored it, `<host>/<pid>` (null when failed). */
  worker: string | null;
  /** The model that scored it, `<file name>@<sha256 prefix>` (null when failed). */
  model: string | null;
  /** Its heatmap PNG (written by the worker), or null. */
  heatmap: string | null;
  jobId: string;
}

const CSV_COLUMNS = 'path,score,normalized_score,pred_label,status,error,worker,model,heatmap,job_id';

function csvField(value: string | number | null): string {
  if (value === null) return '';
  const text = String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** `predictions.csv` of dfm submit: dfm predict's columns that apply (path, score, normalized_score, pred_label), then status, error, worker, model, heatmap, job_id. */
export function submitPredictionsCsv(rows: readonly SubmitPrediction[]): string {
  const lines = [CSV_COLUMNS];
  for (const r of rows) lines.push([r.path, r.predScore, r.normalizedScore, r.predLabel, r.status, r.error, r.worker, r.model, r.heatmap, r.jobId].map(csvField).join(','));
  return `${lines.join('\n')}\n`;
}

/** The images of the `--input`s (files as given, folders as dfm predict lists them), absolute, each once, in order. */
function collectImages(inputs: readonly string[]): string[] {
  const paths = new Set<string>();
  for (const given of inputs) {
    const input = resolve(given);
    if (!existsSync(input)) throw new UsageError(`dfm submit: --input ${given} does not exist (looked at ${input}). Pass an image file or a folder of images.`);
    const found = statSync(input).isDirectory() ? listImages(input) : [input];
    if (found.length === 0) throw new UsageError(`dfm submit: --input ${given} holds no images (png, jpg, jpeg, bmp, tif, tiff, webp, gif). Check the folder.`);
    for (const path of found) paths.add(path);
  }
  return [...paths];
}


function toRow(outcome: ScoreOutcome): SubmitPrediction {
  if (outcome.status === 'failed') {
    return { path: outcome.name, predScore: null, normalizedScore: null, predLabel: null, status: 'failed', error: outcome.error, worker: null, model: null, heatmap: null, jobId: outcome.id };
  }
  const r = outcome.result;
  return {
    path: outcome.name,
    predScore: r.predScore,
    normalizedScore: r.normalizedScore,
    predLabel: r.predLabel,
    status: 'completed',
    error: null,
    worker: r.worker,
    model: r.model,
    heatmap: r.heatmap,
    jobId: outcome.id,
  };
}

/**
 * `dfm submit --redis URL --queue NAME --input FILE|DIR … [--output DIR] [--heatmaps] [--no-wait]`:
 * submits the images (dfm predict's input rules) to a scoring queue through @dfm/queue's
 * ScoringClient and, by default, waits for every outcome: a progress bar on stderr, then the results
 * as dfm predict gives them (table, `--json`, predictions.csv/.json in --output) with the worker and
 * model of each. Images that failed their attempts are listed with their error and make the exit
 * code 1 (the others are written first). `--no-wait` prints the job ids and exits.
 */
export async function runSubmit(ctx: CommandContext): Promise<number> {
  const { options: o, io } = ctx;
  const example = 'dfm submit --redis redis://127.0.0.1:6379 --queue line-3 --input /mnt/frames/ --output scored/';
  const { redis, queueName } = await queueTarget(ctx, example);
  if (o.inputs === undefined) throw new UsageError(`dfm submit: needs --input FILE|DIR (repeat it for several) — got none. Example: ${example}`);
  if (o.heatmaps && o.output === undefined) {
    throw new UsageError('dfm submit: --heatmaps needs --output DIR — the workers write the heatmaps to DIR/heatmaps/, on storage they share with this host. Add --output DIR.');
  }
  const inputs = o.inputs.map((input) => resolve(input));
  const paths = collectImages(o.inputs);
  const output = o.output !== undefined ? checkPredictionsOutput(ctx, 'submit', o.inputs, paths, o.wait) : undefined;
  await checkRedisReachable(ctx.command, redis);
  const { ScoringClient } = await loadQueue();
  const shown = redactRedisUrl(redis);
  const heatmapDir = o.heatmaps && output !== undefined ? join(output, 'heatmaps') : undefined;
  if (output !== undefined) mkdirSync(heatmapDir ?? output, { recursive: true });
  const client = new ScoringClient({ connection: redis, queueName });
  try {
    log(io, `dfm submit: ${paths.length} image${paths.length === 1 ? '' : 's'} to queue ${queueName} at ${shown}${heatmapDir === undefined ? '' : `; heatmaps to ${heatmapDir} (written by the workers)`}`);
    const submitStarted = performance.now();
    const submitted = await client.submit(paths, {
      ...(o.attempts === undefined ? {} : { attempts: o.attempts }),
      ...(heatmapDir === undefined ? {} : { heatmapDir }),
      ...(o.retryFailed ? { retryFailed: true } : {}),
    });
    const submitSeconds = (performance.now() - submitStarted) / 1000;
    if (!o.wait) {
      if (io.json) {
        writeJson(io, {
          command: 'submit',
          queue: queueName,
          redis: shown,
          wait: false,
          submitted: submitted.map((s) => ({ jobId: s.id, path: s.name })),
          heatmapDir: heatmapDir ?? null,
          timing: { submit_s: seconds(submitSeconds), total_s: seconds((performance.now() - ctx.started) / 1000) },
          warnings: ctx.warnings,
        });
      } else {
        io.out.write(`${submitted.map((s) => `${s.id}  ${s.name}`).join('\n')}\n`);
        log(io, `dfm submit: ${submitted.length} job${submitted.length === 1 ? '' : 's'} in ${queueName}; not waiting (the results stay in Redis for a day: submit the same images again to get them)`);
      }
      return 0;
    }

    const callbacks = [new ProgressBar({ stream: io.err }), cliCallback(io, ctx.warnings)];
    const total = submitted.length;
    for (const callback of callbacks) callback.onStageStart?.('predict', { total });
    const waitStarted = performance.now();
    const outcomes = new Map<string, ScoreOutcome>();
    for await (const outcome of client.results(submitted)) {
      outcomes.set(outcome.id, outcome);
      for (const callback of callbacks) callback.onBatchEnd?.({ stage: 'predict', epoch: 1, batch: outcomes.size, samples: outcomes.size, total });
    }
    const waitSeconds = (performance.now() - waitStarted) / 1000;
    for (const callback of callbacks) callback.onStageEnd?.('predict', { seconds: waitSeconds, samples: outcomes.size });

    // In the order the images were listed (the outcomes arrive as the workers finish them).
    const rows = submitted.map((s) => toRow(outcomes.get(s.id) as ScoreOutcome));
    const failed = rows.filter((r) => r.status === 'failed');
    if (heatmapDir !== undefined) {
      const elsewhere = rows.filter((r) => r.status === 'completed' && (r.heatmap === null || !isSameOrInside(r.heatmap, heatmapDir)));
      if (elsewhere.length > 0) {
        const message = `submit: ${elsewhere.length} image${elsewhere.length === 1 ? ' was' : 's were'} not scored again: an earlier submission of the same file is kept in ${queueName} for a day, and its result (heatmap ${elsewhere[0]?.heatmap ?? 'none'}${elsewhere.length > 1 ? ', …' : ''}) is the one listed`;
        ctx.warnings.push(message);
        warn(io, message);
      }
    }
    if (output !== undefined) {
      writeFileAtomic(join(output, 'predictions.csv'), submitPredictionsCsv(rows));
      writeFileAtomic(join(output, 'predictions.json'), `${JSON.stringify(rows, null, 2)}\n`);
    }
    if (failed.length > 0) {
      const message = `submit: ${failed.length} of ${rows.length} image${rows.length === 1 ? '' : 's'} failed after their attempts: ${failed.map((r) => r.path).join(', ')}`;
      ctx.warnings.push(message);
      warn(io, message);
    }
    const completed = rows.length - failed.length;
    const timing = {
      submit_s: seconds(submitSeconds),
      predict_s: seconds(waitSeconds),
      total_s: seconds((performance.now() - ctx.started) / 1000),
      images_per_s: seconds(completed / Math.max(waitSeconds, 1e-9)),
    };
    if (io.json) {
      writeJson(io, {
        command: 'submit',
        queue: queueName,
        redis: shown,
        config: {
          command: 'submit',
          run: { attempts: o.attempts ?? 3, heatmaps: o.heatmaps, wait: o.wait, overwrite: o.overwrite },
          input: inputs,
        },
        timing,
        models: [...new Set(rows.flatMap((r) => (r.model === null ? [] : [r.model])))],
        predictions: rows,
        failed: failed.length,
        outputDir: output ?? null,
        warnings: ctx.warnings,
      });
    } else {
      const lines = predictionTable(rows);
      for (const r of failed) lines.push(`failed: ${relative(process.cwd(), r.path)}: ${r.error}`);
      if (completed > 0 && rows.every((r) => r.status === 'failed' || r.predLabel === null)) {
        lines.push("(the workers' model has no thresholds, so no labels: train it with anomalous validation images (--abnormal-dir) or --val-split-mode synthetic)");
      }
      if (output !== undefined) lines.push(`${heatmapDir === undefined ? '' : 'heatmaps/, '}predictions.csv and predictions.json: ${output}`);
      io.out.write(`${lines.join('\n')}\n`);
    }
    return failed.length > 0 ? 1 : 0;
  } finally {
    await client.close();
  }
}
