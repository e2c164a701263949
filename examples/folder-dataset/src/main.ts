/**
 * DFM on your own images: a folder of good images to learn from, optionally a folder of defective
 * ones (sub-folders = defect types) and their masks to evaluate on; then scoring new images.
 *   pnpm --filter @example/folder-dataset start <good-dir> [<defect-dir>] [--weights FILE|imagenet]
 */
import { parseArgs } from 'node:util';
import { setBackend } from '@dfm/backbone';
import { Folder } from '@dfm/data';
import { Dfm, Engine, PreProcessor, type Prediction } from '@dfm/lightning-like';

export interface FolderRunOptions {
  normalDir: string;
  abnormalDir?: string;
  maskDir?: string;
  weights?: string;
  imageSize?: number;
  resultsDir?: string;
  /** New images to score with the fitted model. */
  predict?: string[];
}

export interface FolderRunResult {
  metrics: Record<string, number>;
  /** This run's folder `<resultsDir>/dfm/folder/my-parts/v<N>/` (a new one per run; `latest` points at it). */
  resultsDir: string;
  /** The fitted model file (in the run folder). */
  modelPath: string | null;
  predictions: Prediction[];
}

export async function runFolder(options: FolderRunOptions): Promise<FolderRunResult> {
  const { normalDir, abnormalDir, maskDir, weights = 'imagenet', imageSize = 256, resultsDir = 'results', predict = [] } = options;
  await setBackend();
  // Without a normal test folder, a seeded 20% of the good images is held out for testing;
  // 'from_test' fits the thresholds on half of the test images and evaluates on the other half.
  // Without defective images there is no test set and no thresholds (Folder's default then): the
  // model is fitted and scores new images, without labels.
  const dataset = new Folder({ normalDir, abnormalDir, maskDir, name: 'my-parts', ...(abnormalDir ? { valSplitMode: 'from_test' as const } : {}), seed: 0 });
  const model = new Dfm({ backbone: 'resnet18', layer: 'layer3', weights, preProcessor: new PreProcessor({ imageSize: [imageSize, imageSize] }) });
  try {
    const engine = new Engine({ defaultRootDir: resultsDir });
    const fit = await engine.fit(model, dataset);
    // fit and test of one Engine share its run folder
    const tested = dataset.test.length > 0 ? await engine.test(model, dataset) : { metrics: {}, resultsDir: engine.resultsDir(model, dataset) };
    const predictions = predict.length > 0 ? await engine.predict(model, predict) : [];
    return { metrics: tested.metrics, resultsDir: tested.resultsDir, modelPath: fit.checkpointPath, predictions };
  } finally {
    model.dispose();
  }
}

if (process.argv[1]?.endsWith('main.ts')) {
  const { values, positionals } = parseArgs({ options: { weights: { type: 'string' } }, allowPositionals: true });
  const [normalDir, abnormalDir] = positionals;
  if (normalDir === undefined) {
    process.stderr.write('usage: start <good-dir> [<defect-dir>] [--weights FILE|imagenet]\n');
    process.exit(2);
  }
  const result = await runFolder({ normalDir, abnormalDir, weights: values.weights });
  process.stdout.write(`${JSON.stringify(result.metrics, null, 2)}\nresults: ${result.resultsDir}\n`);
}
