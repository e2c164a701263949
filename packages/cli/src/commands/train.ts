import { basename, dirname } from 'node:path';
import { Dfm, Engine, ModelCheckpoint } from '@dfm/lightning-like';
import { cliCallback, log, seconds, writeJson } from '../io';
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

/**
 * `dfm train`: fits on the normal images, fits thresholds on the validation split (when there is
 * one), writes model.dfm into a new run folder (or `--out`).
 */
export async function runTrain(ctx: CommandContext): Promise<number> {
  const { options: o, io } = ctx;
  checkWeights(ctx.command, o.weights);
  const dataset = buildDataset(ctx);
  const out = checkModelOut(ctx);
  if (out === undefined) checkResultsDir(ctx, dataset);
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
    const fit = await engine.fit(model, dataset);
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
        skipped: fit.skipped,
        warnings: ctx.warnings,
      });
    } else {
      io.out.write(
        `model: ${fit.checkpointPath}\n` +
          `fitted on ${fit.trainSamples} images, ${model.model.numComponents} PCA components, in ${fit.seconds.toFixed(1)} s\n` +
          pcaTimingLine(model) +
          `thresholds: ${stats ? `fitted on the '${fit.thresholdSplit}' split (${fit.thresholdNote})` : 'not fitted'}\n` +
          notes.map((n) => `note: ${n}\n`).join(''),
      );
    }
    return 0;
  } finally {
    model.dispose();
  }
}
