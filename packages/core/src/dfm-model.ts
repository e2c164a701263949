import * as tf from '@tensorflow/tfjs-core';
import {
  type Backbone,
  type BackboneName,
  type CalibrateInt8Options,
  createBackbone,
  type Int8Calibration,
  type Precision,
  PRECISIONS,
  type CreateBackboneOptions,
  type OnnxruntimePackage,
  type RuntimeChoice,
  type LayerName,
  onnxMatrixProducts,
  type WeightsSpec,
} from '@dfm/backbone';
import {
  checkNComponents,
  type MatrixProducts,
  type NComponents,
  type PCA,
  type PCAProgressCallback,
  PCAStatistics,
  SingleClassGaussian,
} from '@dfm/linalg';
import { residualToMap, upsampleMap } from './anomaly-map';
import { type FeatureShape, poolAndFlatten } from './feature-pooling';
import { FeatureBank } from './feature-bank';
import { type LoadModelOptions, type ModelSource, loadModel, saveModel } from './model-file';
import type { PostProcessing } from './post-processing';
import { checkPreProcessing, defaultPreProcessing, type PreProcessing } from './pre-processing';
import { DfmError, InvalidArgumentError, isDfmError, NotFittedError, ShapeMismatchError, formatShape } from '@dfm/errors';

/** How an image is scored: feature reconstruction error (with a map) or Gaussian NLL (no map). */
export type ScoreType = 'fre' | 'nll';

/** Options of {@link DFMModel}; names and defaults follow anomalib's `DFMModel`. */
export interface DFMModelOptions {
  /** Backbone architecture. */
  backbone: BackboneName;
  /** Backbone layer whose output is the feature map (`layer3` in the reference recipe). */
  layer: LayerName;
  /** Use pretrained weights (default `true`: `weights` defaults to `'imagenet'`); `false` = seeded random init. */
  preTrained?: boolean;
  /** Average-pooling kernel = stride on the feature map (default 4; 1 = none). */
  poolingKernelSize?: number;
  /**
   * PCA level (anomalib's `n_comps`): in (0, 1) a cumulative explained-variance ratio, an integer ≥ 1 a
   * component count (1 = one component), `'all'` every non-zero component. Default 0.97.
   */
  nComps?: NComponents;
  /** Default `'fre'`. */
  scoreType?: ScoreType;
  /** Weights for the backbone (a path, URL, hub id, `'imagenet'` or bytes); overrides `preTrained`. */
  weights?: WeightsSpec;
  /** Seed of the random init when `preTrained` is false (default 0). */
  seed?: number;
  /** A backbone already created with the same name and layer, shared instead of loading another. */
  backboneInstance?: Backbone;
  /**
   * Backbone runtime: what executes the network (default `'auto'`: tfjs on tfjs-node-gpu when installed, else
   * onnxruntime when installed, else tfjs-wasm with one worker thread per core). A runtime choice,
   * not saved in the model file; `model.backbone.runtimeDetail` says what runs.
   */
  runtime?: RuntimeChoice;
  /**
   * An onnxruntime module you imported (`import * as ort from 'onnxruntime-web'`), used by the
   * `'onnxruntime'` runtime instead of importing one by name: a browser bundle needs it (see
   * `createBackbone`'s option of the same name).
   */
  onnxruntimeModule?: unknown;
  /** Which onnxruntime the `'onnxruntime'` runtime imports (default: onnxruntime-node in Node, onnxruntime-web elsewhere). */
  onnxruntimePackage?: OnnxruntimePackage;
  /** tfjs runtime: worker threads the backbone splits batches across (default `'auto'`; see `createBackbone`). */
  workers?: number | 'auto';
  /** onnxruntime threads (see `createBackbone`). */
  threads?: number;
  /**
   * Where the fit's PCA products run (the D×D moments and the eigensolver): `'auto'` (default) =
   * onnxruntime-node's multi-threaded BLAS when it loads (Node), in float64 for the eigensolver — 2–8× faster
   * than tfjs-wasm and accurate to float64 (FRE within ~4e-6 of numpy) — else the tfjs backend; `'tfjs'` =
   * always the tfjs backend (float32 products); or a `MatrixProducts` of your own (`@dfm/linalg`).
   * A fit-time choice, not saved in the model file.
   */
  pcaProducts?: 'auto' | 'tfjs' | MatrixProducts;
  /**
   * What images go through before the backbone (resize, kernel, pixel normalisation), recorded in
   * the model file for scoring elsewhere. Default: the reference recipe (antialiased bilinear,
   * ImageNet statistics) at the fitted image size. `imageSize` null = taken from the fit.
   */
  preProcessing?: PreProcessing;
  /**
   * Numeric precision of the backbone (default `'fp32'`). `'int8'`: the network quantized after
   * training (see `createBackbone`'s `precision`), ~2.5× faster backbone on CPUs with VNNI; needs the
   * onnxruntime runtime and a calibration — {@link DFMModel.calibrateInt8} on training images before
   * the fit (the trainer does it), restored from the model file afterwards. Recorded in the model
   * file: features of one precision are never scored against a fit on the other.
   */
  precision?: Precision;
  /** The int8 activation ranges (from {@link DFMModel.calibrateInt8}, or the model file). */
  int8Calibration?: Int8Calibration;
}

/** The resolved configuration of a model (what the model file records). */
export interface DFMModelConfig {
  backbone: BackboneName;
  layer: LayerName;
  preTrained: boolean;
  poolingKernelSize: number;
  nComps: NComponents;
  scoreType: ScoreType;
  seed: number;
  /** `'fp32'` or `'int8'` (files written before precision existed: `'fp32'`). */
  precision: Precision;
}

/** Features of a batch, ready for the memory bank or for {@link DFMModel.score}. */
export interface FeatureResult {
  /** `[B, D]` with D = h·w·c. Owned by the caller. */
  features: tf.Tensor2D;
  /** `[h, w, c]` of the pooled feature map. */
  featureShape: FeatureShape;
}

/** The scores of a batch of feature vectors (a named result, never a tuple). */
export interface ScoreResult {
  /** `[B]` image scores (FRE or NLL). Owned by the caller. */
  predScore: tf.Tensor1D;
  /** `[B, h, w, 1]` FRE map at feature resolution; only for `scoreType: 'fre'`. Owned by the caller. */
  anomalyMap?: tf.Tensor4D;
}

/** The output of {@link DFMModel.predict}. */
export interface InferenceBatch {
  /** `[B]` image scores. Owned by the caller. */
  predScore: tf.Tensor1D;
  /** `[B, H, W]` anomaly map at the input size (FRE only). Owned by the caller. */
  anomalyMap?: tf.Tensor3D;
}

/** What {@link DFMModel.fit} learned. */
export interface FitResult {
  nSamples: number;
  nFeatures: number;
  nComponents: number;
  /** Gaussian components dropped for a (near-)zero σ (NLL only; 0 otherwise). */
  droppedComponents: number;
  featureShape: FeatureShape | null;
  imageSize: [number, number] | null;
  /** Seconds of the PCA solve (and, for NLL, the Gaussian) in this call; accumulating the statistics is not included. */
  pcaSeconds: number;
  /** Where the PCA products ran: the MatrixProducts' name, or `'tfjs'`. */
  pcaProducts: string;
}

/** Progress of a batch-by-batch fit. */
export interface FitProgress {
  batch: number;
  samples: number;
}

/** Options of {@link DFMModel.fit}. */
export interface FitOptions {
  /** Called after each batch of an iterable is added to the memory bank. */
  onBatch?: (progress: FitProgress) => void;
  /**
   * Called during the PCA fit: `{ phase: 'accumulating', fraction }` while the second-moment products run
   * (a feature matrix, or fewer than D rows: their Gram matrix), then `{ phase: 'solving' }` and
   * `{ phase: 'solving', iteration }` per eigensolver iteration. With image batches and N ≥ D the
   * products were accumulated batch by batch already (see `onBatch`), so only `'solving'` follows.
   */
  onPcaProgress?: PCAProgressCallback;
  /** Feature shape, when `fit` is given features rather than images (needed for maps). */
  featureShape?: FeatureShape;
  /** `[H, W]` of the images the features came from, when `fit` is given features (recorded in the model file). */
  imageSize?: [number, number];
}

/**
 * Anything `fit` accepts: a feature matrix, batches of normalised NHWC images, or {@link PCAStatistics}
 * of features (e.g. merged from shards extracted elsewhere).
 */
export type FitInput = tf.Tensor2D | PCAStatistics | AsyncIterable<tf.Tensor4D> | Iterable<tf.Tensor4D>;

/** Internal state a model file restores. */
export interface DFMModelState {
  pca: PCA;
  gaussian: SingleClassGaussian | null;
  featureShape: FeatureShape | null;
  imageSize: [number, number] | null;
  nSamples: number;
}

const LAYERS: readonly LayerName[] = ['layer1', 'layer2', 'layer3', 'layer4', 'avgpool'];

/**
 * DFM: deep features of a pretrained CNN, average-pooled and flattened, modelled by PCA (FRE score
 * and anomaly map) or by a Gaussian on the PCA projection (NLL score).
 *
 * Training mode is {@link getFeatures} (features for the memory bank) then {@link fit};
 * inference mode is {@link predict} (scores and maps at the input size). The backbone loads on
 * first use (or call {@link ready}).
 *
 * @example
 * const model = new DFMModel({ backbone: 'resnet18', layer: 'layer3', weights: 'resnet18.safetensors' });
 * await model.fit(trainBatches);            // AsyncIterable<Tensor4D> of normalised [B,256,256,3]
 * const { predScore, anomalyMap } = await model.predict(testBatch);
 */
export class DFMModel {
  readonly config: DFMModelConfig;

  /**
   * Where this model's features come from, `'<backbone>/<layer>/pool<k>'`: the label of the
   * {@link PCAStatistics} it accumulates, so statistics of another backbone, layer or pooling are refused
   * when shards are merged.
   */
  get featureLabel(): string {
    const { backbone, layer, poolingKernelSize, precision } = this.config;
    return `${backbone}/${layer}/pool${poolingKernelSize}${precision === 'fp32' ? '' : `/${precision}`}`;
  }
  #int8Calibration: Int8Calibration | undefined;

  /** The int8 activation ranges the backbone runs with (int8 models, once calibrated); undefined otherwise. */
  get int8Calibration(): Int8Calibration | undefined {
    return this.#int8Calibration;
  }
  private readonly weights: WeightsSpec;
  /** The runtime requested for the backbone (see {@link DFMModelOptions.runtime}). */
  readonly runtime: RuntimeChoice;
  /** Runtime options passed to `createBackbone` (not saved in the model file). */
  readonly #runtimeOptions: Pick<CreateBackboneOptions, 'onnxruntimeModule' | 'onnxruntimePackage' | 'workers' | 'threads'>;
  private backboneInstance: Backbone | undefined;
  private backbonePromise: Promise<Backbone> | undefined;
  private readonly ownsBackbone: boolean;
  private state: DFMModelState | undefined;
  /** What images go through before the backbone; saved with the model (see {@link DFMModelOptions.preProcessing}). */
  preProcessing: PreProcessing;
  /**
   * Thresholds and score ranges for labels and scaled scores (set by the trainer after validation,
   * or by you); saved with the model; `null` = none fitted (raw scores only).
   */
  postProcessing: PostProcessing | null = null;
  /** Free JSON saved with the model and restored by {@link DFMModel.load} (dataset, split). */
  metadata: Record<string, unknown> = {};
  #loadGeneration = 0;
  #pcaProducts: 'auto' | 'tfjs' | MatrixProducts;
  #resolvedProducts: Promise<MatrixProducts | undefined> | undefined;

  constructor(options: DFMModelOptions) {
    const {
      backbone,
      layer,
      preTrained = true,
      poolingKernelSize = 4,
      nComps = 0.97,
      scoreType = 'fre',
      weights,
      seed = 0,
      backboneInstance,
      runtime = 'auto',
      onnxruntimeModule,
      onnxruntimePackage,
      workers,
      threads,
      preProcessing,
      pcaProducts = 'auto',
      precision = 'fp32',
      int8Calibration,
    } = options ?? ({} as DFMModelOptions);
    if (!PRECISIONS.includes(precision)) {
      throw new InvalidArgumentError(`new DFMModel(): precision must be ${PRECISIONS.map((p) => `'${p}'`).join(' or ')} — got ${JSON.stringify(precision)}. Omit it for 'fp32'.`);
    }
    if (int8Calibration !== undefined && precision !== 'int8') {
      throw new InvalidArgumentError(`new DFMModel(): int8Calibration is for precision 'int8' — got precision ${JSON.stringify(precision)}. Pass precision: 'int8' or drop the calibration.`);
    }
    if (backboneInstance !== undefined && backboneInstance.precision !== precision) {
      throw new DfmError(
        `new DFMModel(): backboneInstance computes ${backboneInstance.precision} features, but the model is ${precision} — features of one precision are not scored against a fit on the other. Create the backbone with precision '${precision}'.`,
        { code: 'E_PRECISION_MISMATCH' },
      );
    }
    this.#int8Calibration = int8Calibration ?? backboneInstance?.int8Calibration ?? undefined;
    if (pcaProducts !== 'auto' && pcaProducts !== 'tfjs' && (typeof pcaProducts !== 'object' || pcaProducts === null || typeof pcaProducts.matMul !== 'function')) {
      throw new InvalidArgumentError(
        `new DFMModel(): pcaProducts must be 'auto', 'tfjs' or a MatrixProducts ({ name, matMul }) — got ${JSON.stringify(pcaProducts) ?? typeof pcaProducts}. Omit it for 'auto'.`,
      );
    }
    this.#pcaProducts = pcaProducts;
    if (typeof backbone !== 'string' || backbone.length === 0) {
      throw new InvalidArgumentError(
        `new DFMModel(): backbone must be a name such as 'resnet18' — got ${JSON.stringify(backbone)}. Pass { backbone: 'resnet18', layer: 'layer3' }.`,
      );
    }
    if (!LAYERS.includes(layer)) {
      throw new InvalidArgumentError(
        `new DFMModel(): layer must be one of ${LAYERS.join(', ')} — got ${JSON.stringify(layer)}.`,
      );
    }
    if (!Number.isInteger(poolingKernelSize) || poolingKernelSize < 1) {
      throw new InvalidArgumentError(
        `new DFMModel(): poolingKernelSize must be an integer ≥ 1 — got ${poolingKernelSize}. Use 4 (the default) or 1 for no pooling.`,
      );
    }
    checkNComponents(nComps, 'new DFMModel()', 'nComps');
    if (scoreType !== 'fre' && scoreType !== 'nll') {
      throw new InvalidArgumentError(
        `new DFMModel(): scoreType must be 'fre' or 'nll' — got ${JSON.stringify(scoreType)}.`,
      );
    }
    if (backboneInstance !== undefined && (backboneInstance.name !== backbone || !backboneInstance.layers.includes(layer))) {
      throw new InvalidArgumentError(
        `new DFMModel(): backboneInstance is ${backboneInstance.name} with layers ${backboneInstance.layers.join(',')}, but the model asks for ${backbone}/${layer}. Create the backbone with the same name and layer.`,
      );
    }
    this.config = { backbone, layer, preTrained, poolingKernelSize, nComps, scoreType, seed, precision };
    this.preProcessing = preProcessing === undefined ? defaultPreProcessing(null) : checkPreProcessing(preProcessing, 'new DFMModel()');
    this.weights = weights !== undefined ? weights : preTrained ? 'imagenet' : null;
    this.runtime = runtime;
    this.#runtimeOptions = {};
    // Only the options given, so createBackbone's own defaults apply to the rest.
    if (onnxruntimeModule !== undefined) this.#runtimeOptions.onnxruntimeModule = onnxruntimeModule;
    if (onnxruntimePackage !== undefined) this.#runtimeOptions.onnxruntimePackage = onnxruntimePackage;
    if (workers !== undefined) this.#runtimeOptions.workers = workers;
    if (threads !== undefined) this.#runtimeOptions.threads = threads;
    this.backboneInstance = backboneInstance;
    this.ownsBackbone = backboneInstance === undefined;
  }

  /**
   * Where this model's fits run their PCA products (see the `pcaProducts` option): the MatrixProducts, or
   * `undefined` for the tfjs backend. `'auto'` is resolved once (onnxruntime-node when it loads).
   */
  pcaProducts(): Promise<MatrixProducts | undefined> {
    this.#resolvedProducts ??= (async () => {
      const choice = this.#pcaProducts;
      if (choice === 'tfjs') return undefined;
      if (choice !== 'auto') return choice;
      try {
        return await onnxMatrixProducts();
      } catch (error) {
        if (isDfmError(error, 'E_RUNTIME_UNAVAILABLE')) return undefined;
        throw error;
      }
    })();
    return this.#resolvedProducts;
  }

  /**
   * Loads the backbone (once) and resolves to it. A failed load can be retried (the next call
   * starts again); {@link dispose} during a load frees the backbone when it arrives and rejects
   * this call with code `E_DISPOSED`.
   */
  async ready(): Promise<Backbone> {
    if (this.backboneInstance !== undefined) return this.backboneInstance;
    if (this.config.precision === 'int8' && this.#int8Calibration === undefined) {
      throw new NotFittedError(
        "DFMModel.ready(): an int8 model needs its activation ranges before its backbone can run — this one has none. Call await model.calibrateInt8(batches) on training images first (the trainer does), or load a model file fitted with precision 'int8'.",
      );
    }
    if (this.backbonePromise === undefined) {
      const generation = this.#loadGeneration;
      const loading = createBackbone(this.config.backbone, {
        weights: this.weights,
        layers: [this.config.layer],
        seed: this.config.seed,
        runtime: this.runtime,
        ...this.#runtimeOptions,
        ...(this.config.precision === 'int8' ? { precision: 'int8' as const, int8Calibration: this.#int8Calibration } : {}),
      }).then(
        (backbone) => {
          if (generation !== this.#loadGeneration) {
            backbone.dispose();
            throw new DfmError('DFMModel.ready(): the model was disposed while its backbone loaded — the backbone was freed. Create a new model.', {
              code: 'E_DISPOSED',
            });
          }
          this.backboneInstance = backbone;
          return backbone;
        },
        (error: unknown) => {
          if (this.backbonePromise === loading) this.backbonePromise = undefined; // a later call retries
          throw error;
        },
      );
      this.backbonePromise = loading;
    }
    return this.backbonePromise;
  }

  /**
   * Measures the int8 activation ranges of an int8 model's backbone on calibration images (normalised
   * NHWC batches, e.g. a seeded subset of the training images) and makes the model's backbone the
   * int8 network with those ranges. The float network runs the batches in onnxruntime. Call it
   * before {@link fit}; calibrating again replaces the ranges (fit again afterwards).
   */
  async calibrateInt8(batches: readonly tf.Tensor4D[], options: CalibrateInt8Options = {}): Promise<Int8Calibration> {
    if (this.config.precision !== 'int8') {
      throw new InvalidArgumentError(`DFMModel.calibrateInt8(): the model must have precision 'int8' — it has ${this.config.precision}. Create it with precision: 'int8'.`);
    }
    if (!this.ownsBackbone) {
      throw new InvalidArgumentError('DFMModel.calibrateInt8(): the model was given its backbone (backboneInstance) — calibrate that backbone and create it again with its int8Calibration instead.');
    }
    const float = await createBackbone(this.config.backbone, {
      weights: this.weights,
      layers: [this.config.layer],
      seed: this.config.seed,
      ...this.#runtimeOptions,
      // Only the weights are needed: calibrateInt8 runs the float graph in an onnxruntime session of its
      // own, so this backbone starts no runtime of its own (tfjs in this thread: weights as tensors only).
      runtime: 'tfjs',
      workers: 0,
    });
    let calibration: Int8Calibration;
    try {
      calibration = await float.calibrateInt8(batches, options);
    } finally {
      float.dispose();
    }
    // The int8 backbone is built with the new ranges on next use.
    this.#loadGeneration += 1;
    this.backboneInstance?.dispose();
    this.backboneInstance = undefined;
    this.backbonePromise = undefined;
    this.#int8Calibration = calibration;
    return calibration;
  }

  /** True once {@link fit} (or {@link DFMModel.load}) has given the model its PCA. */
  get isFitted(): boolean {
    return this.state !== undefined;
  }

  /** Number of PCA components kept (throws before fit). */
  get numComponents(): number {
    return this.fitted('numComponents').pca.numComponents;
  }

  /** `[h, w, c]` of the fitted features, when known. */
  get featureShape(): FeatureShape | null {
    return this.state?.featureShape ?? null;
  }

  /** `[H, W]` of the images the model was fitted on, when fitted from images. */
  get imageSize(): [number, number] | null {
    return this.state?.imageSize ?? null;
  }

  /** The fitted PCA (owned by the model). */
  get pca(): PCA {
    return this.fitted('pca').pca;
  }

  /** The fitted Gaussian (NLL only; owned by the model). */
  get gaussian(): SingleClassGaussian | null {
    return this.fitted('gaussian').gaussian;
  }

  /** The backbone, once loaded. */
  get backbone(): Backbone | undefined {
    return this.backboneInstance;
  }

  /**
   * Training mode: pooled, flattened features of a batch of normalised images.
   *
   * @param batch `[B, H, W, 3]` float32, ImageNet-normalised, NHWC.
   */
  async getFeatures(batch: tf.Tensor4D): Promise<FeatureResult> {
    const backbone = await this.ready();
    checkImageBatch('DFMModel.getFeatures()', batch);
    // Some backends' ReLU turns NaN into 0, so bad pixels would pass silently: refuse them here.
    checkFinite('DFMModel.getFeatures()', batch, 'the image batch');
    const outputs = await backbone.extractAsync(batch);
    try {
      const output = outputs[this.config.layer];
      if (output === undefined) {
        throw new InvalidArgumentError(
          `DFMModel.getFeatures(): the backbone did not return ${this.config.layer}. Create it with layers: ['${this.config.layer}'].`,
        );
      }
      const map = output.rank === 2 ? (tf.reshape(output, [output.shape[0], 1, 1, output.shape[1] as number]) as tf.Tensor4D) : (output as tf.Tensor4D);
      try {
        const kernel = output.rank === 2 ? 1 : this.config.poolingKernelSize;
        return poolAndFlatten(map, kernel);
      } finally {
        if (map !== output) map.dispose();
      }
    } finally {
      for (const tensor of Object.values(outputs)) tensor?.dispose();
    }
  }

  /**
   * Fits PCA (and, for NLL, the Gaussian) on a memory bank: a feature matrix `[N, D]`, batches of
   * normalised images (whose features are collected batch by batch), or {@link PCAStatistics} of the
   * features. Batches stream through {@link PCAStatistics}: once N ≥ D no `[N, D]` bank exists, only
   * the D×D moments (see {@link FeatureBank}); the PCA and the Gaussian are those of all the rows
   * (`PCA.fit` on the matrix, `SingleClassGaussian.fit` on its projection) to float32 rounding.
   * Inputs are not disposed or modified. Refits from scratch when called again.
   */
  async fit(data: FitInput, options: FitOptions = {}): Promise<FitResult> {
    if (options.imageSize !== undefined && !isSize(options.imageSize)) {
      throw new InvalidArgumentError(`DFMModel.fit(): imageSize must be [height, width] with positive integers — got ${JSON.stringify(options.imageSize)}.`);
    }
    const { onPcaProgress } = options;
    if (onPcaProgress !== undefined && typeof onPcaProgress !== 'function') {
      throw new InvalidArgumentError(
        `DFMModel.fit(): options.onPcaProgress must be a function (progress) => void — got ${onPcaProgress === null ? 'null' : typeof onPcaProgress}. Pass a function or omit it.`,
      );
    }
    let statistics: PCAStatistics;
    let featureShape: FeatureShape | null = options.featureShape ?? null;
    let imageSize: [number, number] | null = options.imageSize ?? null;
    if (data instanceof tf.Tensor) {
      if (data.rank !== 2) {
        throw new ShapeMismatchError(
          `DFMModel.fit(): features must be rank 2 [nSamples, nFeatures] — got ${formatShape(data.shape)}. Use getFeatures() to get them, or pass batches of images.`,
        );
      }
      checkFinite('DFMModel.fit()', data, 'the feature matrix');
      onPcaProgress?.({ phase: 'accumulating', fraction: 0 });
      const products = await this.pcaProducts();
      statistics = new PCAStatistics({ label: this.featureLabel, ...(products === undefined ? {} : { products }) });
      await statistics.updateAsync(data);
      onPcaProgress?.({ phase: 'accumulating', fraction: 1 });
    } else if (data instanceof PCAStatistics) {
      statistics = data;
      const recorded = data.featureShape;
      if (featureShape === null && recorded !== null && recorded.length === 3) featureShape = recorded as FeatureShape;
    } else if (isIterable(data)) {
      const collected = await this.collectBank(data, options.onBatch);
      statistics = collected.statistics;
      featureShape = collected.featureShape;
      imageSize = collected.imageSize;
    } else {
      throw new InvalidArgumentError(
        'DFMModel.fit(): expected a Tensor2D of features, PCAStatistics or an (async) iterable of image batches — got ' +
          `${Object.prototype.toString.call(data)}. Pass model.getFeatures(batch).features or your batches.`,
      );
    }
    const nSamples = statistics.nSamples;
    const nFeatures = statistics.nFeatures ?? 0;
    if (nSamples < 2) {
      throw new InvalidArgumentError(
        `DFMModel.fit(): needs at least 2 normal samples — got ${nSamples}. Add more training images.`,
      );
    }
    if (featureShape !== null && featureShape[0] * featureShape[1] * featureShape[2] !== nFeatures) {
      throw new ShapeMismatchError(
        `DFMModel.fit(): featureShape ${formatShape(featureShape)} has ${featureShape[0] * featureShape[1] * featureShape[2]} elements — the features have ${nFeatures}. Pass the featureShape getFeatures() returned.`,
      );
    }
    const products = await this.pcaProducts();
    const solveStarted = performance.now();
    const pca = await statistics.toPCAAsync({
      nComponents: this.config.nComps,
      ...(onPcaProgress === undefined ? {} : { onProgress: onPcaProgress }),
      ...(products === undefined ? {} : { products }),
    });
    let gaussian: SingleClassGaussian | null = null;
    try {
      if (this.config.scoreType === 'nll') gaussian = SingleClassGaussian.fromStatistics(statistics, pca);
    } catch (error) {
      pca.dispose();
      throw error;
    }
    this.replaceState({ pca, gaussian, featureShape, imageSize, nSamples });
    if (imageSize !== null && this.preProcessing.imageSize === null) this.preProcessing = { ...this.preProcessing, imageSize: [imageSize[0], imageSize[1]] };
    return {
      nSamples,
      nFeatures,
      nComponents: pca.numComponents,
      droppedComponents: gaussian?.droppedComponents ?? 0,
      featureShape,
      imageSize,
      pcaSeconds: (performance.now() - solveStarted) / 1000,
      pcaProducts: products?.name ?? 'tfjs',
    };
  }

  /**
   * Scores feature vectors. With `scoreType: 'fre'` the result also has the anomaly map at feature
   * resolution (unless `{ map: false }`); `'nll'` has no map, and asking for one is an error.
   *
   * @param features `[B, D]` from {@link getFeatures}.
   * @param featureShape `[h, w, c]` from {@link getFeatures} (used for the map).
   */
  score(features: tf.Tensor2D, featureShape: FeatureShape, options: { map?: boolean } = {}): ScoreResult {
    const state = this.fitted('score');
    const wantMap = options.map ?? this.config.scoreType === 'fre';
    if (wantMap && this.config.scoreType !== 'fre') {
      throw new InvalidArgumentError(
        "DFMModel.score(): scoreType 'nll' gives image scores only, no anomaly map. Use scoreType: 'fre' for maps, or pass { map: false }.",
      );
    }
    if (!(features instanceof tf.Tensor) || features.rank !== 2) {
      throw new ShapeMismatchError(
        `DFMModel.score(): features must be rank 2 [nSamples, nFeatures] — got ${features instanceof tf.Tensor ? formatShape(features.shape) : typeof features}. Use getFeatures().`,
      );
    }
    const nFeatures = state.pca.mean.shape[0];
    if (features.shape[1] !== nFeatures) {
      throw new ShapeMismatchError(
        `DFMModel.score(): the model was fitted on ${nFeatures} features per sample${state.featureShape ? ` (${formatShape(state.featureShape)})` : ''} — got ${features.shape[1]}. Use the same backbone, layer, pooling and image size as at fit.`,
      );
    }
    if (wantMap && featureShape[0] * featureShape[1] * featureShape[2] !== nFeatures) {
      throw new ShapeMismatchError(
        `DFMModel.score(): featureShape ${formatShape(featureShape)} does not hold ${nFeatures} features. Pass the featureShape getFeatures() returned.`,
      );
    }
    // Features beyond float32 (an image that overflows inside the backbone) or scores that overflow
    // when squared would otherwise come out as Infinity, and as NaN after upsampling the map.
    checkFinite('DFMModel.score()', features, 'the features');
    if (this.config.scoreType === 'nll') {
      const gaussian = state.gaussian as SingleClassGaussian;
      const projected = state.pca.transform(features);
      try {
        return { predScore: finiteScores(gaussian.scoreSamples(projected)) };
      } finally {
        projected.dispose();
      }
    }
    const residual = state.pca.residual(features);
    try {
      const predScore = finiteScores(tf.tidy(() => tf.sum(tf.square(residual), 1) as tf.Tensor1D));
      if (!wantMap) return { predScore };
      return { predScore, anomalyMap: residualToMap(residual, featureShape) };
    } finally {
      residual.dispose();
    }
  }

  /**
   * Inference mode: image scores and (FRE) anomaly maps upsampled bilinearly to the input size.
   *
   * @param batch `[B, H, W, 3]` float32, ImageNet-normalised, NHWC.
   */
  async predict(batch: tf.Tensor4D, options: { map?: boolean } = {}): Promise<InferenceBatch> {
    const state = this.fitted('predict');
    checkImageBatch('DFMModel.predict()', batch);
    if (state.imageSize !== null && (batch.shape[1] !== state.imageSize[0] || batch.shape[2] !== state.imageSize[1])) {
      throw new ShapeMismatchError(
        `DFMModel.predict(): the model was fitted on ${state.imageSize[1]}×${state.imageSize[0]} (w×h) images — got a batch of ${batch.shape[2]}×${batch.shape[1]}. Resize the images as at fit (model.preProcessing says how).`,
        { code: 'E_IMAGE_SIZE_MISMATCH' },
      );
    }
    const { features, featureShape } = await this.getFeatures(batch);
    try {
      const { predScore, anomalyMap } = this.score(features, featureShape, options);
      if (anomalyMap === undefined) return { predScore };
      try {
        return { predScore, anomalyMap: upsampleMap(anomalyMap, batch.shape[1], batch.shape[2]) };
      } finally {
        anomalyMap.dispose();
      }
    } finally {
      features.dispose();
    }
  }

  /**
   * Writes the fitted model to a `.dfm` file atomically (temp file + rename): an interrupted save
   * leaves any earlier file at `path` intact. The backbone weights are recorded by id and sha256,
   * not copied.
   */
  async save(path: string): Promise<void> {
    await saveModel(this, path, this.metadata);
  }

  /**
   * Reads a `.dfm` model — a path (Node), or its bytes (`Uint8Array`, anywhere) — loads its backbone,
   * checks that the weights are the ones it was fitted with, and restores its pre- and
   * post-processing. Fails with `CorruptFileError` (`E_CORRUPT_FILE`) for a damaged file,
   * `IncompatibleModelError` (`E_INCOMPATIBLE_MODEL`) for another format version,
   * `WeightsMismatchError` (`E_WEIGHTS_MISMATCH`) for other weights, saying what differs.
   */
  static async load(source: ModelSource, options: LoadModelOptions = {}): Promise<DFMModel> {
    const { model } = await loadModel(source, options);
    return model;
  }

  /** Frees the PCA, the Gaussian and (if this model created it) the backbone. */
  dispose(): void {
    this.#loadGeneration += 1; // a backbone still loading is freed when it arrives (see ready())
    this.replaceState(undefined);
    if (this.ownsBackbone) this.backboneInstance?.dispose();
    this.backboneInstance = undefined;
    this.backbonePromise = undefined;
  }

  /** @internal Used by the model file reader. */
  restoreState(state: DFMModelState): void {
    this.replaceState(state);
  }

  /** @internal Used by the model file writer. */
  exportState(): DFMModelState {
    return this.fitted('save');
  }

  /** @internal The weights spec this model resolves its backbone from. */
  get weightsSpec(): WeightsSpec {
    return this.weights;
  }

  private replaceState(state: DFMModelState | undefined): void {
    if (this.state !== undefined && this.state !== state) {
      this.state.pca.dispose();
      this.state.gaussian?.dispose();
    }
    this.state = state;
  }

  private fitted(what: string): DFMModelState {
    if (this.state === undefined) {
      throw new NotFittedError(
        `DFMModel.${what.replace(/\(\)$/, '')}: the model is not fitted. Call await model.fit(...) or DFMModel.load(path) first.`,
      );
    }
    return this.state;
  }

  private async collectBank(
    batches: AsyncIterable<tf.Tensor4D> | Iterable<tf.Tensor4D>,
    onBatch: FitOptions['onBatch'],
  ): Promise<{ statistics: PCAStatistics; featureShape: FeatureShape; imageSize: [number, number] }> {
    const bank = new FeatureBank({ label: this.featureLabel, products: () => this.pcaProducts() });
    let imageSize: [number, number] | undefined;
    let index = 0;
    for await (const batch of batches) {
      index += 1;
      if (imageSize === undefined) imageSize = [batch.shape[1], batch.shape[2]];
      else if (batch.shape[1] !== imageSize[0] || batch.shape[2] !== imageSize[1]) {
        throw new ShapeMismatchError(
          `DFMModel.fit(): batch ${index} has images of ${batch.shape[1]}×${batch.shape[2]} — earlier batches had ${imageSize[0]}×${imageSize[1]}. Resize every image to one size.`,
        );
      }
      let result: FeatureResult;
      try {
        result = await this.getFeatures(batch);
      } catch (error) {
        if (isDfmError(error, 'E_NON_FINITE')) {
          throw new InvalidArgumentError(
            `DFMModel.fit(): batch ${index} holds NaN or Infinity pixel values. Check that its images decoded correctly.`,
            { cause: error, code: 'E_NON_FINITE' },
          );
        }
        throw error;
      }
      try {
        await bank.add(result.features, result.featureShape, 'DFMModel.fit()');
      } finally {
        result.features.dispose();
      }
      onBatch?.({ batch: index, samples: bank.samples });
    }
    const featureShape = bank.featureShape;
    if (featureShape === null || imageSize === undefined) {
      throw new InvalidArgumentError(
        'DFMModel.fit(): the batch iterable was empty — got 0 images. Point the data at a folder with normal training images.',
      );
    }
    return { statistics: bank.takeStatistics('DFMModel.fit()'), featureShape, imageSize };
  }
}

const isSize = (value: unknown): value is [number, number] =>
  Array.isArray(value) && value.length === 2 && value.every((v) => Number.isSafeInteger(v) && v > 0);

function isIterable(value: unknown): value is AsyncIterable<tf.Tensor4D> | Iterable<tf.Tensor4D> {
  return (
    value !== null &&
    typeof value === 'object' &&
    (Symbol.asyncIterator in (value as object) || Symbol.iterator in (value as object))
  );
}

function checkImageBatch(where: string, batch: tf.Tensor4D): void {
  if (!(batch instanceof tf.Tensor) || batch.rank !== 4 || batch.shape[3] !== 3) {
    throw new ShapeMismatchError(
      `${where}: images must be [B, H, W, 3] NHWC float32, ImageNet-normalised — got ${batch instanceof tf.Tensor ? formatShape(batch.shape) : typeof batch}. Convert with normalizeImageNet().`,
    );
  }
}

/** Returns `scores`, or disposes them and throws when any overflowed float32. */
function finiteScores(scores: tf.Tensor1D): tf.Tensor1D {
  const finite = tf.tidy(() => tf.all(tf.isFinite(scores)).dataSync()[0]);
  if (finite !== 1) {
    scores.dispose();
    throw new InvalidArgumentError(
      'DFMModel.score(): the scores overflowed float32 (NaN or Infinity) — the features are far outside the range the model was fitted on. Check that the images are normalised like the training images.',
      { code: 'E_NON_FINITE' },
    );
  }
  return scores;
}

function checkFinite(where: string, tensor: tf.Tensor, what: string): void {
  const finite = tf.tidy(() => tf.all(tf.isFinite(tensor)).dataSync()[0]);
  if (finite !== 1) {
    throw new InvalidArgumentError(`${where}: ${what} holds NaN or Infinity values. Check the images or features that produced it.`, {
      code: 'E_NON_FINITE',
    });
  }
}
