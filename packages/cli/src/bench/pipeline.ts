import { type CalibrationMethod, IMAGENET_MEAN, IMAGENET_STD, type Int8Calibration } from '@dfm/backbone';
import { DFMModel, upsampleMap } from '@dfm/core';
import { batches, type ResizeKernel, type Sample } from '@dfm/data';
import { auroc } from '@dfm/lightning-like';
import * as tf from '@tensorflow/tfjs-core';
import { calibrationSample } from '@dfm/lightning-like';
import { type BenchRuntime, createBenchBackbone, runtimeConfig } from './runtimes';

/** Seconds per stage; decode counts only the time the pipeline waited for decoded batches. */
export interface StageTimes {
  /** int8: measuring the activation ranges (decode of the sample, float network, its pass); 0 for fp32. */
  calibrate: number;
  decode: number;
  backbone: number;
  fit: number;
  score: number;
}

export interface PipelineResult {
  runtime: BenchRuntime;
  kernel: ResizeKernel;
  runtimeDetail: string;
  /** Backbone creation + first (tiny) call: ONNX graph build and session, or worker start. */
  loadSeconds: number;
  stages: StageTimes;
  /** int8: the calibration inside `fitSeconds` and `totalSeconds`; null for fp32. */
  calibration: CalibrationRun | null;
  /** Calibration (int8) + features of the training images + PCA. */
  fitSeconds: number;
  totalSeconds: number;
  imagesPerSecond: number;
  /** The test phase alone (decode + backbone + score of the test images): the offline scoring throughput. */
  scoreImagesPerSecond: number;
  images: { train: number; test: number };
  components: number;
  auroc: number;
}

export interface PipelineOptions {
  runtime: BenchRuntime;
  weights: string;
  train: readonly Sample[];
  test: readonly Sample[];
  batchSize: number;
  imageSize: number;
  /** Resize kernel of @dfm/data (default its own: the antialiased bilinear of PIL / torchvision, in float, in JS). */
  kernel?: ResizeKernel;
  /** int8 runtimes: how the activation ranges are taken (default 'minmax'). */
  calibrationMethod?: CalibrationMethod;
}

/** An int8 calibration as the bench ran it. */
export interface CalibrationRun {
  method: CalibrationMethod;
  images: number;
  /** Decode of the sample + the float network's weights + its onnxruntime session + the pass that records the ranges. */
  seconds: number;
}

/** ImageNet normalisation, applied by the loader while resizing. */
const NORMALIZE = { mean: IMAGENET_MEAN, std: IMAGENET_STD };

/**
 * The DFM recipe end to end with one runtime: decode (sharp + antialiased resize + ImageNet
 * normalisation, prefetching two batches while the backbone runs), backbone → pool 4 → flatten, PCA 0.97, FRE scores and maps at
 * the input size, image AUROC. The timed part starts at the first decode and ends at the last score;
 * an int8 runtime first measures its activation ranges on {@link calibrationSample} of the training
 * images, and that time counts in the fit and the total (as in `dfm test --precision int8`).
 */
export async function runPipeline(options: PipelineOptions): Promise<PipelineResult> {
  const { runtime, weights, train, test, batchSize, imageSize, kernel = 'bilinear-antialiased', calibrationMethod = 'minmax' } = options;
  const { precision } = runtimeConfig(runtime);
  const calibrated =
    precision === 'int8' ? await calibrateBenchBackbone(weights, calibrationSample(train), { imageSize, batchSize, method: calibrationMethod, kernel }) : null;
  const started = performance.now();
  const backbone = await createBenchBackbone(runtime, weights, calibrated?.calibration);
  const model = new DFMModel({ backbone: 'resnet18', layer: 'layer3', nComps: 0.97, poolingKernelSize: 4, backboneInstance: backbone, precision });
  const warm = tf.zeros([1, 64, 64, 3]) as tf.Tensor4D;
  tf.dispose(Object.values(await backbone.extractAsync(warm)));
  warm.dispose();
  const loadSeconds = (performance.now() - started) / 1000;

  const stages: StageTimes = { calibrate: calibrated?.run.seconds ?? 0, decode: 0, backbone: 0, fit: 0, score: 0 };
  const now = () => performance.now() / 1000;
  const wall = now();

  // fit: features of every training image into the memory bank, then PCA.
  const chunks: Float32Array[] = [];
  let featureShape: [number, number, number] | undefined;
  let mark = now();
  for await (const batch of batches(train, { batchSize, imageSize, prefetch: 2, kernel, normalize: NORMALIZE })) {
    const t1 = now();
    stages.decode += t1 - mark;
    const images = normalizedBatch(batch.images, batch.batchSize, imageSize);
    const result = await model.getFeatures(images);
    images.dispose();
    chunks.push((await result.features.data()) as Float32Array);
    featureShape = result.featureShape;
    result.features.dispose();
    mark = now();
    stages.backbone += mark - t1;
  }
  const t2 = now();
  const [h, w, c] = featureShape as [number, number, number];
  const bankData = new Float32Array(chunks.reduce((n, chunk) => n + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    bankData.set(chunk, offset);
    offset += chunk.length;
  }
  const bank = tf.tensor2d(bankData, [bankData.length / (h * w * c), h * w * c]);
  const fit = await model.fit(bank, { featureShape: [h, w, c], imageSize: [imageSize, imageSize] });
  bank.dispose();
  stages.fit += now() - t2;
  const fitSeconds = now() - wall + stages.calibrate;

  // test: scores and maps.
  const scores: number[] = [];
  const labels: number[] = [];
  mark = now();
  for await (const batch of batches(test, { batchSize, imageSize, prefetch: 2, kernel, normalize: NORMALIZE })) {
    const t1 = now();
    stages.decode += t1 - mark;
    const images = normalizedBatch(batch.images, batch.batchSize, imageSize);
    const { features, featureShape: shape } = await model.getFeatures(images);
    images.dispose();
    const t3 = now();
    stages.backbone += t3 - t1;
    const { predScore, anomalyMap } = model.score(features, shape);
    const maps = upsampleMap(anomalyMap as tf.Tensor4D, imageSize, imageSize);
    scores.push(...((await predScore.data()) as Float32Array));
    await maps.data();
    tf.dispose([features, predScore, anomalyMap as tf.Tensor4D, maps]);
    labels.push(...batch.samples.map((s) => s.label));
    mark = now();
    stages.score += mark - t3;
  }
  const totalSeconds = now() - wall + stages.calibrate;
  const result: PipelineResult = {
    runtime,
    kernel,
    runtimeDetail: backbone.runtimeDetail,
    loadSeconds,
    stages,
    calibration: calibrated?.run ?? null,
    fitSeconds,
    totalSeconds,
    imagesPerSecond: (train.length + test.length) / totalSeconds,
    scoreImagesPerSecond: test.length / (totalSeconds - fitSeconds),
    images: { train: train.length, test: test.length },
    components: fit.nComponents,
    auroc: auroc(Float64Array.from(scores), Uint8Array.from(labels)),
  };
  model.dispose();
  backbone.dispose();
  return result;
}

/** The loader already normalised the batch: this only wraps it. */
function normalizedBatch(data: Float32Array, count: number, size: number): tf.Tensor4D {
  return tf.tensor4d(data, [count, size, size, 3]);
}

/**
 * The activation ranges of the int8 network, measured as `Dfm` does before an int8 fit: `samples`
 * decoded like the pipeline's batches, run through the float network in an onnxruntime session of
 * its own; the backbone it is called on only supplies the weights, so it is a tfjs one in this thread
 * (as `DFMModel.calibrateInt8` does), starting no runtime of its own.
 */
export async function calibrateBenchBackbone(
  weights: string,
  samples: readonly Sample[],
  options: { imageSize: number; batchSize: number; method: CalibrationMethod; kernel?: ResizeKernel },
): Promise<{ calibration: Int8Calibration; run: CalibrationRun }> {
  const { imageSize, batchSize, method, kernel = 'bilinear-antialiased' } = options;
  const started = performance.now();
  const loaded: tf.Tensor4D[] = [];
  const float = await createBenchBackbone('tfjs-wasm', weights);
  try {
    for await (const batch of batches(samples, { batchSize, imageSize, prefetch: 2, kernel, normalize: NORMALIZE })) {
      loaded.push(normalizedBatch(batch.images, batch.batchSize, imageSize));
    }
    const calibration = await float.calibrateInt8(loaded, { method });
    return { calibration, run: { method, images: samples.length, seconds: (performance.now() - started) / 1000 } };
  } finally {
    tf.dispose(loaded);
    float.dispose();
  }
}

/** ms per image of the backbone alone on a fixed random batch: one warm-up, then the median of `iterations`. */
export async function timeBackbone(runtime: BenchRuntime, weights: string, batchSize: number, size: number, iterations: number, int8Calibration?: Int8Calibration) {
  const backbone = await createBenchBackbone(runtime, weights, int8Calibration);
  const input = tf.randomNormal([batchSize, size, size, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  const once = async () => {
    const { layer3 } = await backbone.extractAsync(input);
    await (layer3 as tf.Tensor).data();
    (layer3 as tf.Tensor).dispose();
  };
  await once();
  const times: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const start = performance.now();
    await once();
    times.push((performance.now() - start) / batchSize);
  }
  input.dispose();
  const detail = backbone.runtimeDetail;
  backbone.dispose();
  times.sort((a, b) => a - b);
  return { msPerImage: times[Math.floor(times.length / 2)] as number, best: times[0] as number, detail };
}

/** Seconds to decode, resize and normalise `samples` alone through batches() (no backbone), and the main thread's CPU seconds. */
export async function timeDecode(samples: readonly Sample[], batchSize: number, imageSize: number, kernel: ResizeKernel) {
  const start = performance.now();
  const cpu = process.cpuUsage();
  for await (const _batch of batches(samples, { batchSize, imageSize, prefetch: 2, kernel, normalize: NORMALIZE })) {
    // decode only
  }
  const used = process.cpuUsage(cpu);
  return { seconds: (performance.now() - start) / 1000, processCpuSeconds: (used.user + used.system) / 1e6 };
}
