/**
 * DFM on the MVTec AD bottle with the library API: fit on the good bottles, test on the rest.
 *   pnpm --filter @example/mvtec-bottle start [MVTEC_ROOT] [CATEGORY]
 * Without arguments it uses the development assets (../shared/assets) when they are there.
 */
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setBackend } from '@dfm/backbone';
import { MVTecAD } from '@dfm/data';
import { Dfm, Engine, PreProcessor } from '@dfm/lightning-like';

export interface BottleOptions {
  root: string;
  category?: string;
  weights?: string;
  imageSize?: number;
  resultsDir?: string;
}

/** Fits DFM (resnet18, layer3, FRE) on the category's good images and tests it. */
export async function runBottle(options: BottleOptions): Promise<{ metrics: Record<string, number>; resultsDir: string }> {
  const { root, category = 'bottle', weights = 'imagenet', imageSize = 256, resultsDir = 'results' } = options;
  await setBackend();
  const dataset = new MVTecAD({ root, category });
  const preProcessor = new PreProcessor({ imageSize: [imageSize, imageSize] });
  const model = new Dfm({ backbone: 'resnet18', layer: 'layer3', weights, preProcessor });
  try {
    const engine = new Engine({ defaultRootDir: resultsDir });
    await engine.fit(model, dataset); // features → memory bank → PCA; thresholds; model.dfm
    const tested = await engine.test(model, dataset); // scores, metrics, heatmaps, results files
    return { metrics: tested.metrics, resultsDir: tested.resultsDir };
  } finally {
    model.dispose();
  }
}

if (process.argv[1]?.endsWith('main.ts')) {
  // The development assets: $DFM_ASSETS_DIR, else ../shared/assets beside the repository.
  const assets = process.env.DFM_ASSETS_DIR ?? resolve(fileURLToPath(new URL('../../../../shared/assets', import.meta.url)));
  const [root, category] = process.argv.slice(2);
  const { metrics, resultsDir } = root
    ? await runBottle({ root, category })
    : await runBottle({ root: join(assets, 'data'), category: 'mvtec-bottle', weights: join(assets, 'weights/resnet18-imagenet-layer1-3.safetensors') });
  process.stdout.write(`${JSON.stringify(metrics, null, 2)}\nresults: ${resultsDir}\n`);
}
