import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { writeFileAtomic } from '@dfm/backbone/internal';
import { loadDetector } from '@dfm/core';
import { hasImageExtension } from '@dfm/data';
import { predictionsCsv, ProgressBar } from '@dfm/lightning-like';
import { UsageError } from '../errors';
import { cliCallback, log, seconds, writeJson } from '../io';
import { isSameOrInside, realPath, refuseOutputOverInputs } from '../output-paths';
import { predictFiles } from '../predict-files';
import { type CommandContext, selectBackend } from '../setup';
import { checkModelFlags, modelConfigOf } from './test';

/** The files `dfm predict --output` writes besides the heatmaps; an earlier run's are replaced only with --overwrite. */
export const PREDICTION_FILES = ['predictions.json', 'predictions.csv'] as const;

/** Image files under `dir`, recursively, sorted by path (hidden files skipped). */
export function listImages(dir: string): string[] {
  const found: string[] = [];
  const walk = (folder: string) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const path = join(folder, entry.name);
      const isDir = entry.isDirectory() || (entry.isSymbolicLink() && statSync(path).isDirectory());
      if (isDir) walk(path);
      else if (hasImageExtension(path)) found.push(path);
    }
  };
  walk(dir);
  return found.sort();
}

/**
 * The text table of dfm predict and dfm submit: path (relative to the working folder), raw score,
 * normalised score, label (`FAILED` for a row whose status is 'failed').
 */
export function predictionTable(rows: readonly { path: string; predScore: number | null; normalizedScore: number | null; predLabel: 0 | 1 | null; status?: string }[]): string[] {
  const width = Math.min(60, Math.max(4, ...rows.map((r) => relative(process.cwd(), r.path).length)));
  const lines = [`${'path'.padEnd(width)}  ${'score'.padStart(12)}  normalized  label`];
  for (const r of rows) {
    const label = r.status === 'failed' ? 'FAILED' : r.predLabel === null ? '-' : r.predLabel === 1 ? 'anomalous' : 'normal';
    const score = r.predScore === null ? '-' : r.predScore.toPrecision(6);
    lines.push(`${relative(process.cwd(), r.path).padEnd(width)}  ${score.padStart(12)}  ${(r.normalizedScore === null ? '-' : r.normalizedScore.toFixed(4)).padStart(10)}  ${label}`);
  }
  return lines;
}

/**
 * Checks `--output` before any work (dfm predict, dfm submit): outside every input (neither in nor
 * around one, symlinks resolved), a folder, and — when predictions will be written there — unless
 * `--overwrite`, free of an earlier run's predictions. Returns the absolute output folder.
 */
export function checkPredictionsOutput(ctx: CommandContext, command: 'predict' | 'submit', inputs: readonly string[], paths: readonly string[], writesPredictions = true): string {
  const o = ctx.options;
  const given = o.output as string;
  const output = resolve(given);
  const named = inputs.map((path) => ({ flag: '--input', path }));
  const outside = `outside the input${inputs.length > 1 ? 's' : ''}, e.g. --output predictions/.`;
  refuseOutputOverInputs(command, { flag: '--output', path: given }, named, { containing: named, fix: `Pick an output folder ${outside}` });
  // An input folder may reach files elsewhere through symlinks: none of them may be in the output either.
  const out = realPath(output);
  const where = out === given ? given : `${given} (${out})`;
  const inside = paths.find((path) => isSameOrInside(realPath(path), out));
  if (inside !== undefined) {
    throw new UsageError(
      `dfm ${command}: --output must not hold the inputs — --output ${where} contains the input image ${inside} (${realPath(inside)}). Pick an output folder ${outside}`,
      { code: 'E_OUTPUT_INSIDE_INPUT' },
    );
  }
  if (existsSync(output) && !statSync(output).isDirectory()) {
    throw new UsageError(`dfm ${command}: --output must be a folder — ${where} is a file. Pass a folder path; it is created when missing.`, { code: 'E_OUTPUT_EXISTS' });
  }
  const earlier = writesPredictions && existsSync(output) ? PREDICTION_FILES.filter((name) => existsSync(join(output, name))) : [];
  if (earlier.length > 0 && !o.overwrite) {
    throw new UsageError(
      `dfm ${command}: --output must not hold an earlier run's predictions — ${where} has ${earlier.join(' and ')}. Pick a new folder, or pass --overwrite to write over them (other files there are kept).`,
      { code: 'E_OUTPUT_EXISTS' },
    );
  }
  return output;
}

/**
 * `dfm predict --model M --input FILE|DIR [--output DIR]`: scores, labels and (with --output)
 * heatmaps, through the Detector (`loadDetector` → `predictBatch`): the model file's pre-processing,
 * model and thresholds, as any other program scoring with the model.
 */
export async function runPredict(ctx: CommandContext): Promise<number> {
  const { options: o, io } = ctx;
  if (o.model === undefined || o.input === undefined) {
    throw new UsageError(
      'dfm predict: needs --model FILE (from dfm train) and --input FILE|DIR — got neither or one. Example: dfm predict --model results/dfm/mvtec/bottle/latest/model.dfm --input photos/ --output predictions/',
    );
  }
  const input = resolve(o.input);
  if (!existsSync(input)) throw new UsageError(`dfm predict: --input ${o.input} does not exist (looked at ${input}). Pass an image file or a folder of images.`);
  const isDir = statSync(input).isDirectory();
  const paths = isDir ? listImages(input) : [input];
  if (paths.length === 0) {
    throw new UsageError(`dfm predict: --input ${o.input} holds no images (png, jpg, jpeg, bmp, tif, tiff, webp, gif). Check the folder.`);
  }
  const output = o.output !== undefined ? checkPredictionsOutput(ctx, 'predict', [o.input], paths) : undefined;
  const backend = await selectBackend(ctx);
  const detector = await loadDetector(o.model, checkModelFlags(ctx, o.model));
  try {
    log(io, `dfm predict: ${paths.length} image${paths.length > 1 ? 's' : ''} with ${o.model} (backend ${backend.backend})`);
    if (output !== undefined) mkdirSync(output, { recursive: true });
    // Heatmaps mirror the input's sub-folders: <output>/<sub-folder>/<name.ext>.png.
    const { predictions: rows, seconds: predictSeconds } = await predictFiles(detector, paths, {
      batchSize: o.batchSize,
      onBadImage: o.onBadImage,
      ...(output !== undefined ? { outputDir: output } : {}),
      ...(isDir ? { relativeTo: input } : {}),
      callbacks: [new ProgressBar({ stream: io.err }), cliCallback(io, ctx.warnings)],
    });
    const { info } = detector;
    if (output !== undefined) {
      writeFileAtomic(join(output, 'predictions.csv'), predictionsCsv(rows));
      writeFileAtomic(join(output, 'predictions.json'), `${JSON.stringify(rows, null, 2)}\n`);
    }
    const timing = {
      predict_s: seconds(predictSeconds),
      total_s: seconds((performance.now() - ctx.started) / 1000),
      images_per_s: seconds(rows.length / Math.max(predictSeconds, 1e-9)),
    };
    if (io.json) {
      writeJson(io, {
        command: 'predict',
        model: resolve(o.model),
        config: {
          command: 'predict',
          model: modelConfigOf(info.config, info.preProcessing.imageSize, o.model),
          run: { batchSize: o.batchSize, backend: o.backend, runtime: o.runtime, onBadImage: o.onBadImage, overwrite: o.overwrite },
          backendUsed: backend.backend,
          runtimeUsed: info.runtime,
          input,
        },
        timing,
        thresholds: info.postProcessing,
        predictions: rows,
        outputDir: output ?? null,
        warnings: ctx.warnings,
      });
    } else {
      const lines = predictionTable(rows);
      if (info.postProcessing === null) {
        lines.push('(the model has no thresholds, so no labels: train it with anomalous validation images (--abnormal-dir) or --val-split-mode synthetic)');
      }
      if (output !== undefined) lines.push(`heatmaps, predictions.csv and predictions.json: ${output}`);
      io.out.write(`${lines.join('\n')}\n`);
    }
    return 0;
  } finally {
    await detector.close();
  }
}
