import { basename, dirname, resolve } from 'node:path';
import { Dfm, Engine, ModelCheckpoint } from '@dfm/lightning-like';
import { cliCallback, log, seconds, writeJson } from '../io';
import { buildDataset, type CommandContext, checkWeights, describeConfig, dfmOptions, engineOf, selectBackend } from '../setup';

/** `dfm train`: fits on the normal images, fits thresholds on the validation split, writes model.dfm. */
export async function runTrain(ctx: CommandContext): Promise<number> {
  const { options: o, io } = ctx;
  checkWeights(ctx.command, o.weights);
  const dataset = buildDataset(ctx);
  const backend = await selectBackend(ctx);
  const model = new Dfm(dfmOptions(o));
  try {
    const out = o.out !== undefined ? resolve(o.out) : undefined;
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
    const timing = {
      fit_s: seconds(fit.seconds),
      total_s: seconds((performance.now() - ctx.started) / 1000),
      images_per_s: seconds(fit.trainSamples / Math.max(fit.seconds, 1e-9)),
    };
    if (io.json) {
      writeJson(io, {
        command: 'train',
        model: fit.checkpointPath,
        metrics: {},
        config: describeConfig(ctx, { backendUsed: backend.backend, engineUsed: engineOf(model) }),
        timing,
        trainSamples: fit.trainSamples,
        numComponents: model.model.numComponents,
        thresholds: { split: fit.thresholdSplit, note: fit.thresholdNote, stats },
        predictions: [],
        resultsDir: engine.resultsDir(model, dataset),
        skipped: fit.skipped,
        warnings: ctx.warnings,
      });
    } else {
      io.out.write(
        `model: ${fit.checkpointPath}\n` +
          `fitted on ${fit.trainSamples} images, ${model.model.numComponents} PCA components, in ${fit.seconds.toFixed(1)} s\n` +
          `thresholds: ${stats ? `fitted on the '${fit.thresholdSplit}' split` : 'not fitted'} (${fit.thresholdNote})\n`,
      );
    }
    return 0;
  } finally {
    model.dispose();
  }
}
