import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { writeFileAtomic } from '@dfm/backbone';
import type { AnomalyDataset, Sample } from '@dfm/data';
import { hasImageExtension } from '@dfm/data';
import { Engine, predictionsCsv } from '@dfm/lightning-like';
import { UsageError } from '../errors';
import { cliCallback, log, seconds, writeJson } from '../io';
import { type CommandContext, engineOf, selectBackend } from '../setup';
import { loadModelFile, modelConfigOf } from './test';

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

/** `dfm predict --model M --input FILE|DIR [--output DIR]`: scores, labels and (with --output) heatmaps. */
export async function runPredict(ctx: CommandContext): Promise<number> {
  const { options: o, io } = ctx;
  if (o.model === undefined || o.input === undefined) {
    throw new UsageError(`dfm predict: needs --model FILE (from dfm train) and --input FILE|DIR. Example: dfm predict --model results/dfm/mvtec/bottle/model.dfm --input photos/ --output predictions/`);
  }
  const input = resolve(o.input);
  if (!existsSync(input)) throw new UsageError(`dfm predict: --input ${o.input} does not exist (looked at ${input}). Pass an image file or a folder of images.`);
  const isDir = statSync(input).isDirectory();
  const paths = isDir ? listImages(input) : [input];
  if (paths.length === 0) {
    throw new UsageError(`dfm predict: --input ${o.input} holds no images (png, jpg, jpeg, bmp, tif, tiff, webp, gif). Check the folder.`);
  }
  const backend = await selectBackend(ctx);
  const model = await loadModelFile(ctx, o.model);
  try {
    const engine = new Engine({
      batchSize: o.batchSize,
      onBadImage: o.onBadImage,
      checkpoint: false,
      callbacks: [cliCallback(io, ctx.warnings)],
    });
    log(io, `dfm predict: ${paths.length} image${paths.length > 1 ? 's' : ''} with ${o.model} (backend ${backend.backend})`);
    // Heatmaps mirror the input's sub-folders: the Visualizer writes <output>/<defectType>/<name>.png.
    const samples: Sample[] = paths.map((path) => ({
      path,
      label: 0,
      defectType: isDir ? relative(input, dirname(path)) || '.' : '.',
      maskPath: null,
    }));
    const output = o.output !== undefined ? resolve(o.output) : undefined;
    if (output !== undefined) mkdirSync(output, { recursive: true });
    const started = performance.now();
    const predictions = await engine.predict(model, { test: samples } as unknown as AnomalyDataset, output !== undefined ? { outputDir: output } : {});
    const predictSeconds = (performance.now() - started) / 1000;
    const rows = predictions.map((p) => ({ path: p.path, predScore: p.predScore, normalizedScore: p.normalizedScore, predLabel: p.predLabel }));
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
        config: { command: 'predict', model: modelConfigOf(model, o.model), run: { batchSize: o.batchSize, backend: o.backend, backendUsed: backend.backend, engine: o.engine, engineUsed: engineOf(model), onBadImage: o.onBadImage }, input },
        timing,
        thresholds: model.postProcessor?.isFitted ? model.postProcessor.stats : null,
        predictions: rows,
        outputDir: output ?? null,
        warnings: ctx.warnings,
      });
    } else {
      const width = Math.min(60, Math.max(4, ...rows.map((r) => relative(process.cwd(), r.path).length)));
      const lines = [`${'path'.padEnd(width)}  ${'score'.padStart(12)}  normalized  label`];
      for (const r of rows) {
        const label = r.predLabel === null ? '-' : r.predLabel === 1 ? 'anomalous' : 'normal';
        lines.push(
          `${relative(process.cwd(), r.path).padEnd(width)}  ${r.predScore.toPrecision(6).padStart(12)}  ${(r.normalizedScore === null ? '-' : r.normalizedScore.toFixed(4)).padStart(10)}  ${label}`,
        );
      }
      if (!model.postProcessor?.isFitted) lines.push('(the model has no thresholds: labels need a model trained with a validation split)');
      if (output !== undefined) lines.push(`heatmaps, predictions.csv and predictions.json: ${output}`);
      io.out.write(`${lines.join('\n')}\n`);
    }
    return 0;
  } finally {
    model.dispose();
  }
}
