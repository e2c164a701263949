import { type BackboneName, CALIBRATION_METHODS, type CalibrationMethod, type LayerName, type Precision, type RuntimeChoice, type WeightsSpec } from '@dfm/backbone';
import type { Sample } from '@dfm/data';
import type * as tf from '@tensorflow/tfjs-core';
import { DFMModel, type DFMModelOptions, FeatureBank, type FeatureShape, type ModelSource, type ScoreType } from '@dfm/core';
import { AnomalyModule, type LearningType, type ModelBatch, type StepOutput } from './anomaly-module';
import { Evaluator } from './evaluator';
import { MemoryBankMixin, type MemoryBankStatistics } from './memory-bank-mixin';
import { PostProcessor } from './post-processing/post-processor';
import { PreProcessor } from './pre-processor';
import type { TrainerArguments } from './trainer-arguments';
import { Visualizer } from './visualizer';
import { InvalidArgumentError, NotFittedError, ShapeMismatchError } from '@dfm/errors';
import type { NComponents } from '@dfm/linalg';

/** Options of {@link Dfm}; names and defaults are anomalib's `Dfm` in camelCase. */
export interface DfmOptions {
  /** Default `'resnet50'` (anomalib's default). */
  backbone?: BackboneName;
  /** Default `'layer3'`. */
  layer?: LayerName;
  /** Default `true`. */
  preTrained?: boolean;
  /** Default 4. */
  poolingKernelSize?: number;
  /**
   * PCA level (anomalib's `pca_level`; `DFMModel.nComps`, `PCA.nComponents`, one meaning everywhere): in
   * (0, 1) a variance ratio, an integer ≥ 1 a component count (1 = one component), `'all'` every
   * non-zero component. Default 0.97.
   */
  pcaLevel?: NComponents;
  /** Default `'fre'`. */
  scoreType?: ScoreType;
  /** Backbone weights (path, URL, hub id, `'imagenet'`); default `'imagenet'` when preTrained. */
  weights?: WeightsSpec;
  /** Random-init seed when `preTrained` is false. */
  seed?: number;
  /** Backbone runtime (what executes the network): `'auto'` (default), `'tfjs'` or `'onnxruntime'` (see DFMModel). Not saved with the model. */
  runtime?: RuntimeChoice;
  /** Where the fit's PCA products run: `'auto'` (default: onnxruntime-node when it loads), `'tfjs'`, or a MatrixProducts (see DFMModel). */
  pcaProducts?: DFMModelOptions['pcaProducts'];
  /**
   * Backbone precision, `'fp32'` (default) or `'int8'` (see DFMModel; saved with the model). An int8
   * model measures its activation ranges on `calibrationImages` training images (a seeded sample) before
   * the fit: {@link Engine.fit} does it.
   */
  precision?: Precision;
  /** int8: training images the activation ranges are measured on (default 32; all when fewer). */
  calibrationImages?: number;
  /** int8: how the ranges are taken (default `'minmax'`; see `Backbone.calibrateInt8`). */
  calibrationMethod?: CalibrationMethod;
  /**
   * `false` switches a stage off; omitted = the default one. A switched-off pre-processor is
   * {@link PreProcessor.identity}: images keep their size and [0, 1] values (and the model file says so).
   */
  preProcessor?: PreProcessor | false;
  postProcessor?: PostProcessor | false;
  evaluator?: Evaluator | false;
  visualizer?: Visualizer | false;
}

/** Training images an int8 model's activation ranges are measured on by default. */
export const DEFAULT_CALIBRATION_IMAGES = 32;

/**
 * The training images an int8 {@link Dfm} is calibrated on: `count` of `items` (all when fewer),
 * chosen by a seeded shuffle (Fisher–Yates on a 32-bit LCG) and kept in their original order. Exported
 * so that other tools (the bench) calibrate on the same images.
 */
export function calibrationSample<T>(items: readonly T[], count = DEFAULT_CALIBRATION_IMAGES, seed = 0): T[] {
  if (items.length <= count) return [...items];
  const order = items.map((_, i) => i);
  let state = (seed >>> 0) ^ 0x9e3779b9;
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  return order
    .slice(0, count)
    .sort((a, b) => a - b)
    .map((i) => items[i] as T);
}

/**
 * DFM as a trainable module: training steps collect features into a memory bank; the bank is fitted
 * once (PCA, and the Gaussian for NLL) when the epoch ends; validation/test/predict steps score
 * images and make anomaly maps at the input size.
 *
 * @example
 * const model = new Dfm({ backbone: 'resnet18', layer: 'layer3', weights: 'resnet18.safetensors' });
 * const engine = new Engine();
 * await engine.fit(model, datamodule);
 * const { metrics } = await engine.test(model, datamodule);
 */
export class Dfm extends MemoryBankMixin(AnomalyModule) {
  readonly name = 'dfm';
  readonly learningType: LearningType = 'one_class';
  readonly model: DFMModel;
  readonly preProcessor: PreProcessor;
  readonly postProcessor: PostProcessor | null;
  readonly evaluator: Evaluator | null;
  readonly visualizer: Visualizer | null;
  private readonly bank: FeatureBank;

  /**
   * @param options Model options (anomalib's names, camelCase).
   * @param restored Internal: a fitted DFMModel read from a file (see {@link Dfm.load}).
   */
  constructor(options: DfmOptions = {}, restored?: DFMModel) {
    super();
    const {
      backbone = 'resnet50',
      layer = 'layer3',
      preTrained = true,
      poolingKernelSize = 4,
      pcaLevel = 0.97,
      scoreType = 'fre',
      weights,
      seed,
      runtime,
      pcaProducts,
      precision,
      calibrationImages = DEFAULT_CALIBRATION_IMAGES,
      calibrationMethod = 'minmax',
    } = options;
    if (!Number.isSafeInteger(calibrationImages) || calibrationImages < 1) {
      throw new InvalidArgumentError(`new Dfm(): calibrationImages must be an integer ≥ 1 — got ${JSON.stringify(calibrationImages)}. Omit it for ${DEFAULT_CALIBRATION_IMAGES}.`);
    }
    if (!CALIBRATION_METHODS.includes(calibrationMethod)) {
      throw new InvalidArgumentError(`new Dfm(): calibrationMethod must be ${CALIBRATION_METHODS.map((m) => `'${m}'`).join(' or ')} — got ${JSON.stringify(calibrationMethod)}.`);
    }
    this.#calibration = { images: calibrationImages, method: calibrationMethod };
    this.model =
      restored ??
      new DFMModel({
        backbone,
        layer,
        preTrained,
        poolingKernelSize,
        nComps: pcaLevel,
        scoreType,
        weights,
        seed,
        runtime,
        ...(pcaProducts === undefined ? {} : { pcaProducts }),
        ...(precision === undefined ? {} : { precision }),
      });
    this.bank = new FeatureBank({ label: this.model.featureLabel, products: () => this.model.pcaProducts() });
    this.preProcessor = options.preProcessor === false ? PreProcessor.identity() : (options.preProcessor ?? new PreProcessor());
    this.postProcessor = options.postProcessor === false ? null : (options.postProcessor ?? new PostProcessor());
    this.evaluator = options.evaluator === false ? null : (options.evaluator ?? new Evaluator());
    this.visualizer = options.visualizer === false ? null : (options.visualizer ?? new Visualizer());
  }

  /**
   * Builds a Dfm from a plain config (the seed's `DfmLightning(hparams)`): either the options
   * themselves, or anomalib's shape `{ model: { init_args: { backbone, layer, pre_trained,
   * pooling_kernel_size, pca_level, score_type } } }` (snake_case or camelCase keys).
   */
  static fromConfig(config: Record<string, unknown>): Dfm {
    const model = config.model as Record<string, unknown> | undefined;
    const args = (model?.init_args ?? model?.initArgs ?? model ?? config) as Record<string, unknown>;
    const pick = (camel: string, snake: string): unknown => args[camel] ?? args[snake];
    const known = new Set([
      'backbone', 'layer', 'preTrained', 'pre_trained', 'poolingKernelSize', 'pooling_kernel_size', 'pcaLevel',
      'pca_level', 'scoreType', 'score_type', 'weights', 'seed', 'runtime', 'class_path', 'classPath',
    ]);
    const unknown = Object.keys(args).filter((key) => !known.has(key));
    if (unknown.length > 0) {
      throw new InvalidArgumentError(
        `Dfm.fromConfig(): unknown option${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} — expected backbone, layer, pre_trained, pooling_kernel_size, pca_level, score_type, weights, seed.`,
      );
    }
    const options: DfmOptions = {};
    const set = <K extends keyof DfmOptions>(key: K, value: unknown) => {
      if (value !== undefined) options[key] = value as DfmOptions[K];
    };
    set('backbone', pick('backbone', 'backbone'));
    set('layer', pick('layer', 'layer'));
    set('preTrained', pick('preTrained', 'pre_trained'));
    set('poolingKernelSize', pick('poolingKernelSize', 'pooling_kernel_size'));
    set('pcaLevel', pick('pcaLevel', 'pca_level'));
    set('scoreType', pick('scoreType', 'score_type'));
    set('weights', pick('weights', 'weights'));
    set('seed', pick('seed', 'seed'));
    set('runtime', pick('runtime', 'runtime'));
    return new Dfm(options);
  }

  readonly #calibration: { images: number; method: CalibrationMethod };

  /**
   * An int8 model not yet calibrated measures its activation ranges on a seeded sample of the training
   * images (`calibrationImages`, the model's seed) before the first training batch.
   */
  override async prepareFit(train: readonly Sample[], load: (samples: readonly Sample[]) => Promise<tf.Tensor4D[]>, mode: 'fit' | 'shard' | 'merge'): Promise<void> {
    if (this.model.config.precision !== 'int8') {
      this.startBackbone();
      return;
    }
    if (mode !== 'fit') {
      // Each shard would measure its own ranges, and features of different int8 networks would be merged.
      throw new InvalidArgumentError(
        "Dfm: a sharded (distributed) fit of an int8 model is not supported — every shard would calibrate its own int8 network. Fit it in one process (Engine.fit), or fit with precision 'fp32'.",
      );
    }
    if (this.model.int8Calibration !== undefined) return;
    const chosen = calibrationSample(train, this.#calibration.images, this.model.config.seed);
    const batches = await load(chosen);
    try {
      await this.model.calibrateInt8(batches, { method: this.#calibration.method });
    } finally {
      for (const batch of batches) batch.dispose();
    }
    this.startBackbone();
  }

  /**
   * Starts loading the backbone (weights, runtime, session) now, so that it overlaps the decoding of
   * the first training batches instead of following it. A failure is not lost: the first batch's
   * `getFeatures` loads again and reports it.
   */
  private startBackbone(): void {
    this.model.ready().catch(() => undefined);
  }

  /** DFM learns in one pass with no gradients. */
  override get trainerArguments(): Partial<TrainerArguments> {
    return { gradientClipVal: 0, maxEpochs: 1, numSanityValSteps: 0 };
  }

  /** Collects the batch's features into the memory bank (a no-op once fitted). */
  async trainingStep({ images }: ModelBatch): Promise<void> {
    if (this.isFitted) return;
    this.fittedImageSize ??= this.preProcessor.imageSize ?? [images.shape[1], images.shape[2]];
    const { features, featureShape } = await this.model.getFeatures(images);
    try {
      await this.bank.add(features, featureShape, 'Dfm.trainingStep()');
    } finally {
      features.dispose();
    }
  }

  /**
   * The memory bank's statistics after training steps, emptying the bank: a shard's part of a sharded
   * fit (`Engine.collectStatistics` calls it). The statistics belong to the caller (no tensors; send them
   * with `statistics.toBytes()`); `imageSize` is the size the training images had (then forgotten, like the rows).
   *
   * @throws InvalidArgumentError when the model is fitted or no training step collected anything.
   */
  takeStatistics(): MemoryBankStatistics {
    if (this.isFitted) {
      throw new InvalidArgumentError(
        'Dfm.takeStatistics(): the memory bank must hold training features — got a fitted model, whose bank was fitted and freed. Take statistics from a new Dfm after its training steps (engine.collectStatistics(model, samples)).',
      );
    }
    const featureShape = this.bank.featureShape;
    const statistics = this.bank.takeStatistics('Dfm.takeStatistics()');
    const imageSize = this.fittedImageSize;
    this.fittedImageSize = null;
    return {
      statistics,
      featureShape: [...(featureShape as FeatureShape)],
      imageSize: imageSize === null ? null : [imageSize[0], imageSize[1]],
    };
  }

  /**
   * Merges a shard's statistics (from {@link takeStatistics} on another process, merged or not) into the
   * memory bank, before `onTrainEpochEnd` fits it — `engine.fit(model, dataset, { statistics })` calls it.
   * The fit is then the one ordinary training steps on the shards' images would give: the training image
   * size is taken from the first statistics added when no training step set it. The bank takes
   * `statistics` over (see `FeatureBank.addStatistics`): do not use them afterwards.
   *
   * @throws InvalidArgumentError when the model is fitted, or the statistics have another label (backbone,
   * layer, pooling); ShapeMismatchError when their D or featureShape differ from the bank's, or
   * (`E_IMAGE_SIZE_MISMATCH`) their image size from this model's.
   */
  async addStatistics(shard: MemoryBankStatistics): Promise<void> {
    const where = 'Dfm.addStatistics()';
    if (this.isFitted) {
      throw new InvalidArgumentError(
        `${where}: statistics must go into a model that is not fitted yet — got a fitted model. Add them before the fit (engine.fit(model, dataset, { statistics }) does), or use a new Dfm.`,
      );
    }
    if (shard === null || typeof shard !== 'object') {
      throw new InvalidArgumentError(
        `${where}: expected { statistics, featureShape, imageSize } — got ${shard === null ? 'null' : typeof shard}. Pass what takeStatistics() or engine.collectStatistics() returned.`,
      );
    }
    const { statistics, featureShape } = shard;
    const imageSize = shard.imageSize ?? null;
    if (imageSize !== null && !(Array.isArray(imageSize) && imageSize.length === 2 && imageSize.every((v) => Number.isSafeInteger(v) && v >= 1))) {
      throw new InvalidArgumentError(
        `${where}: imageSize must be [height, width] with positive integers, or null — got ${JSON.stringify(imageSize)}. Pass the imageSize takeStatistics() returned.`,
      );
    }
    const expected = this.fittedImageSize ?? this.preProcessor.imageSize;
    if (imageSize !== null && expected !== null && (imageSize[0] !== expected[0] || imageSize[1] !== expected[1])) {
      throw new ShapeMismatchError(
        `${where}: statistics must come from ${expected[0]}×${expected[1]} (h×w) images, like this model's — got ${imageSize[0]}×${imageSize[1]}. Give every shard's model the same PreProcessor imageSize.`,
        { code: 'E_IMAGE_SIZE_MISMATCH' },
      );
    }
    this.bank.addStatistics(statistics, featureShape, where);
    this.fittedImageSize ??= imageSize === null ? this.preProcessor.imageSize : [imageSize[0], imageSize[1]];
  }

  /** Fits DFMModel on the memory bank (its PCA statistics: no [N, D] matrix once N ≥ D) and frees it. */
  async fitMemoryBank(): Promise<void> {
    const featureShape = this.bank.featureShape;
    if (this.bank.samples === 0 || featureShape === null) {
      throw new NotFittedError(
        'Dfm.fitMemoryBank(): the memory bank is empty — no training batch was seen. Run engine.fit(model, datamodule) with normal training images first.',
      );
    }
    this.model.preProcessing = this.preProcessor.toPreProcessing();
    const accumulateSeconds = this.bank.accumulateSeconds;
    const statistics = this.bank.takeStatistics('Dfm.fitMemoryBank()');
    const onPcaProgress = this.onFitProgress ?? undefined;
    const fitted = await this.model.fit(statistics, {
      featureShape,
      ...(this.fittedImageSize !== null ? { imageSize: this.fittedImageSize } : {}),
      ...(onPcaProgress === undefined ? {} : { onPcaProgress }),
    });
    this.pcaTiming = { accumulateSeconds, solveSeconds: fitted.pcaSeconds, products: fitted.pcaProducts };
  }

  /**
   * Where the last {@link fitMemoryBank}'s PCA time went: seconds adding the batches' features to the
   * statistics (during the training steps), seconds solving, and where the products ran. `null` before a fit.
   */
  pcaTiming: { accumulateSeconds: number; solveSeconds: number; products: string } | null = null;

  /** The size the training images had: the pre-processor's, or (no resizing) the first batch's. */
  private fittedImageSize: [number, number] | null = null;

  /** Scores a batch: raw image scores and, for FRE, maps at the input size. */
  async validationStep({ images }: ModelBatch): Promise<StepOutput> {
    this.assertFitted('validationStep');
    const { predScore, anomalyMap } = await this.model.predict(images);
    try {
      const out: StepOutput = { predScore: (await predScore.data()) as Float32Array };
      if (anomalyMap !== undefined) out.anomalyMap = (await anomalyMap.data()) as Float32Array;
      return out;
    } finally {
      predScore.dispose();
      anomalyMap?.dispose();
    }
  }

  /**
   * Restores a model saved by {@link save} — a path, or the `.dfm` bytes — with its pre-processing
   * (size, resize kernel, mean, std) and post-processing (thresholds, score ranges), ready for test
   * and predict.
   */
  static async load(
    source: ModelSource,
    options: { weights?: WeightsSpec; runtime?: RuntimeChoice; visualizer?: Visualizer | false } = {},
  ): Promise<Dfm> {
    const model = await DFMModel.load(source, { weights: options.weights, runtime: options.runtime });
    const post = model.postProcessing;
    const split = (model.metadata.split as { thresholdSplit?: unknown } | undefined)?.thresholdSplit;
    const dfm = new Dfm(
      {
        preProcessor: PreProcessor.fromPreProcessing(model.preProcessing),
        postProcessor: post === null ? undefined : new PostProcessor(post, [], typeof split === 'string' ? split : undefined),
        visualizer: options.visualizer,
      },
      model,
    );
    dfm.markFitted();
    return dfm;
  }

  /**
   * Writes the fitted model (`.dfm`) with its pre-processing, its fitted post-processing and
   * `metadata` (free JSON: dataset, split).
   */
  async save(path: string, metadata: Record<string, unknown> = {}): Promise<void> {
    this.assertFitted('save');
    this.model.preProcessing = this.preProcessor.toPreProcessing();
    this.model.postProcessing = this.postProcessor?.isFitted ? (this.postProcessor.stats ?? null) : null;
    this.model.metadata = { ...this.model.metadata, ...metadata };
    await this.model.save(path);
  }

  dispose(): void {
    this.bank.clear();
    this.model.dispose();
  }
}
