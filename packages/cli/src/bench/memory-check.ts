import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

export interface MemoryResult {
  images: number;
  seconds: number;
  peakRssBytes: number;
  runtimeDetail: string;
  bankShape: [number, number];
}

/**
 * Peak RSS of `DFMModel.fit` on `count` images (the training images repeated) in a fresh Node
 * process, so nothing else this run allocated counts: batches are decoded, normalised, passed
 * through the backbone and freed; only the [N, D] float32 memory bank grows.
 */
export function measureFitMemory(options: { trainDir: string; weights: string; count: number; runtime: string }): MemoryResult | string {
  const require = createRequire(import.meta.url);
  let modules: Record<string, string>;
  try {
    modules = {
      tf: require.resolve('@tensorflow/tfjs-core'),
      backbone: require.resolve('@dfm/backbone'),
      core: require.resolve('@dfm/core'),
      data: require.resolve('@dfm/data'),
    };
  } catch (error) {
    return `cannot resolve the built packages (${(error as Error).message.split('\n')[0]}); run pnpm build first`;
  }
  const script = `
const { readdirSync } = require('node:fs');
const { join } = require('node:path');
const tf = require(${JSON.stringify(modules.tf)});
const { setBackend, IMAGENET_MEAN, IMAGENET_STD } = require(${JSON.stringify(modules.backbone)});
const { DFMModel } = require(${JSON.stringify(modules.core)});
const { batches } = require(${JSON.stringify(modules.data)});
const [trainDir, weights, count, runtime] = process.argv.slice(1);
(async () => {
  await setBackend('wasm');
  const files = readdirSync(trainDir).filter((f) => f.endsWith('.png')).sort();
  const samples = Array.from({ length: Number(count) }, (_, i) => ({ path: join(trainDir, files[i % files.length]), label: 0, defectType: 'good', maskPath: null }));
  const model = new DFMModel({ backbone: 'resnet18', layer: 'layer3', weights, runtime });
  const start = performance.now();
  async function* images() {
    for await (const batch of batches(samples, { batchSize: 16, imageSize: 256, prefetch: 2, normalize: { mean: IMAGENET_MEAN, std: IMAGENET_STD } })) {
      const x = tf.tensor4d(batch.images, [batch.batchSize, 256, 256, 3]);
      try { yield x; } finally { x.dispose(); }
    }
  }
  const fit = await model.fit(images());
  const seconds = (performance.now() - start) / 1000;
  const peakRssBytes = process.resourceUsage().maxRSS * 1024;
  console.log(JSON.stringify({ images: fit.nSamples, seconds, peakRssBytes, runtimeDetail: model.backbone.runtimeDetail, bankShape: [fit.nSamples, fit.nFeatures] }));
  model.dispose();
})().catch((e) => { console.error(e); process.exit(1); });
`;
  const run = spawnSync(
    process.execPath,
    ['-e', script, options.trainDir, options.weights, String(options.count), options.runtime],
    { encoding: 'utf8', timeout: 20 * 60_000 },
  );
  if (run.error || run.status !== 0) return `memory check failed: ${run.error?.message ?? run.stderr.trim().split('\n').slice(-3).join(' ')}`;
  return JSON.parse(run.stdout.trim().split('\n').pop() as string) as MemoryResult;
}
