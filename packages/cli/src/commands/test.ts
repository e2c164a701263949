import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { RuntimeChoice, WeightsSpec } from '@dfm/backbone';
import type { DFMModelConfig } from '@dfm/core';
import type { AnomalyDataset } from '@dfm/data';
import { type Callback, Dfm, Engine, type TestResult } from '@dfm/lightning-like';
import { UsageError } from '../errors';
import { cliCallback, log, metricsTable, seconds, warn, writeJson } from '../io';
import { pcaTimingFields } from '../pca-timing';
import type { CliOptions } from '../options';
import { buildDataset, type CommandContext, checkResultsDir, checkWeights, describeConfig, dfmOptions, runtimeOf, selectBackend } from '../setup';

const MODEL_KEYS: readonly (keyof CliOptions)[] = ['backbone', 'layer', 'poolingKernelSize', 'pcaLevel', 'scoreType', 'imageSize', 'calibration'];

/**
 * Checks `--model` and the flags beside it before loading: a missing file is a one-line user error,
 * a missing `--weights` file too, and model flags (`--backbone`, …) are reported as ignored. Returns
 * the `weights`/`runtime` options for the loader.
 */
export function checkModelFlags(ctx: CommandContext, path: string): { weights?: WeightsSpec; runtime?: RuntimeChoice; precision?: 'fp32' | 'int8' } {
  if (!existsSync(path)) {
    throw new UsageError(`dfm ${ctx.command}: --model ${path} does not exist (looked at ${resolve(path)}). Run 'dfm train' first; it prints where model.dfm is.`);
  }
  const { options: o, explicit } = ctx;
  if (explicit.has('weights')) checkWeights(ctx.command, o.weights);
  const ignored = MODEL_KEYS.filter((key) => explicit.has(key));
  if (ignored.length > 0) {
    const message = `--model given: ${ignored.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')} ignored; the model file fixes them.`;
    ctx.warnings.push(message);
    warn(ctx.io, message);
  }
  return {
    ...(explicit.has('weights') ? { weights: o.weights } : {}),
    ...(o.runtime !== 'auto' ? { runtime: o.runtime } : {}),
    // A check, not a choice: loading refuses a model fitted at another precision (E_PRECISION_MISMATCH).
    ...(explicit.has('precision') && o.precision !== undefined ? { precision: o.precision } : {}),
  };
}

/** Loads a `.dfm` file as a `Dfm` for `dfm test --model` (the Engine evaluates it), after {@link checkModelFlags}. */
export async function loadModelFile(ctx: CommandContext, path: string): Promise<Dfm> {
  return Dfm.load(path, checkModelFlags(ctx, path));
}

/** The model part of the JSON config when the model comes from a file. */
export function modelConfigOf(config: DFMModelConfig, imageSize: readonly [number, number] | null, path?: string): Record<string, unknown> {
  return {
    backbone: config.backbone,
    layer: config.layer,
    poolingKernelSize: config.poolingKernelSize,
    pcaLevel: config.nComps,
    scoreType: config.scoreType,
    imageSize,
    ...(path !== undefined ? { file: resolve(path) } : {}),
  };
}

/** `dfm test` on a dataset without test images: say why there are none and how to get some (exit 2). */
function requireTestImages(ctx: CommandContext, dataset: AnomalyDataset): void {
  if (dataset.test.length > 0) return;
  const { testSplitMode } = dataset.splitInfo;
  const why =
    dataset.name === 'folder' && ctx.options.abnormalDir === undefined && !ctx.explicit.has('testSplitMode')
      ? "test split 'none': no --abnormal-dir given"
      : `--test-split-mode ${testSplitMode}`;
  throw new UsageError(
    `dfm ${ctx.command}: needs test images — the dataset ${dataset.name}/${dataset.category} has none (${why}). Pass --abnormal-dir DIR with anomalous images (and --normal-test-dir DIR for normal ones), or --test-split-mode synthetic to hold out normal images and make synthetic anomalies; 'dfm train' fits without test images.`,
  );
}

/** `dfm test` (and `dfm demo`): fits (or loads --model), evaluates on the test split, writes the results directory. */
export async function runTest(ctx: CommandContext): Promise<number> {
  const { options: o, io } = ctx;
  if (o.model === undefined) checkWeights(ctx.command, o.weights);
  const dataset = buildDataset(ctx);
  requireTestImages(ctx, dataset);
  checkResultsDir(ctx, dataset);
  const backend = await selectBackend(ctx);
  const model = o.model !== undefined ? await loadModelFile(ctx, o.model) : new Dfm(dfmOptions(o));
  try {
    // Where the time goes (`timing.stages`): each Engine stage's own seconds (decode + backbone + score, and the
    // test stage's pictures), what the fit and the test do around them, and the start before any of it.
    const stageSeconds: Record<string, number> = {};
    const stageTimer: Callback = {
      onStageEnd: (stage, info) => {
        stageSeconds[stage] = (stageSeconds[stage] ?? 0) + info.seconds;
      },
    };
    const engine = new Engine({
      defaultRootDir: o.resultsDir,
      batchSize: o.batchSize,
      onBadImage: o.onBadImage,
      callbacks: [cliCallback(io, ctx.warnings), stageTimer],
    });
    const startupSeconds = (performance.now() - ctx.started) / 1000;
    const config = model.model.config;
    log(
      io,
      `dfm ${ctx.command}: ${dataset.name}/${dataset.category}: ${o.model !== undefined ? `model ${o.model}` : `${dataset.train.length} train`}, ${dataset.test.length} test images, ${config.backbone}/${config.layer}, ${config.scoreType}, ${model.preProcessor.imageSize?.join('×') ?? 'original'} px, backend ${backend.backend}`,
    );
    let fitSeconds = 0;
    let calibrateSeconds = 0;
    let modelPath: string | null = o.model !== undefined ? resolve(o.model) : null;
    if (o.model === undefined) {
      const fit = await engine.fit(model, dataset);
      fitSeconds = fit.seconds;
      calibrateSeconds = fit.prepareSeconds;
      modelPath = fit.checkpointPath;
    }
    const testStarted = performance.now();
    const tested: TestResult = await engine.test(model, dataset);
    const testWall = (performance.now() - testStarted) / 1000;
    const stage = (name: string) => stageSeconds[name] ?? 0;
    const timing = {
      fit_s: seconds(fitSeconds),
      test_s: seconds(tested.seconds),
      total_s: seconds((performance.now() - ctx.started) / 1000),
      images_per_s: seconds(tested.predictions.length / Math.max(tested.seconds, 1e-9)),
      ...pcaTimingFields(model),
      stages: {
        startup_s: seconds(startupSeconds),
        calibrate_s: seconds(calibrateSeconds),
        train_s: seconds(stage('train')),
        validate_s: seconds(stage('validate')),
        fit_other_s: seconds(Math.max(0, fitSeconds - calibrateSeconds - stage('train') - stage('validate'))),
        test_s: seconds(stage('test')),
        test_files_s: seconds(Math.max(0, testWall - stage('test'))),
      },
    };
    if (io.json) {
      const base = describeConfig(ctx, dataset, { backendUsed: backend.backend, runtimeUsed: runtimeOf(model) });
      writeJson(io, {
        command: ctx.command,
        metrics: tested.metrics,
        config: o.model !== undefined ? { ...base, model: modelConfigOf(model.model.config, model.preProcessor.imageSize, o.model) } : base,
        timing,
        predictions: tested.predictions.map((p) => ({
          path: p.path,
          label: p.label,
          defectType: p.defectType,
          predScore: p.predScore,
          normalizedScore: p.normalizedScore,
          predLabel: p.predLabel,
        })),
        resultsDir: tested.resultsDir,
        model: modelPath,
        notes: tested.notes,
        skipped: tested.skipped,
        warnings: ctx.warnings,
      });
    } else {
      io.out.write(
        `\n${metricsTable(tested.metrics)}\n` +
          `${tested.notes.map((n) => `note: ${n}\n`).join('')}` +
          `results: ${tested.resultsDir}\n` +
          `  ${o.model === undefined ? 'model.dfm, ' : ''}metrics.json, predictions.csv, roc.png, score-histogram.png, images/\n` +
          `time: ${o.model === undefined ? `fit ${timing.fit_s.toFixed(1)} s, ` : ''}test ${timing.test_s.toFixed(1)} s, total ${timing.total_s.toFixed(1)} s (${timing.images_per_s.toFixed(1)} test images/s; backend ${backend.backend}, runtime ${runtimeOf(model) ?? '-'})\n`,
      );
    }
    return 0;
  } finally {
    model.dispose();
  }
}
