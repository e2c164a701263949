import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, renameSync, symlinkSync, unlinkSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { writeFileAtomic } from '@dfm/backbone/internal';
import { type AnomalyDataset, type Batch, batches, type Sample } from '@dfm/data';
import { AnomalyModule, type StepOutput } from './anomaly-module';
import { isMemoryBankModule, type MemoryBankModule, type MemoryBankStatistics } from './memory-bank-mixin';
import type { Callback, StageProgress } from './callbacks/callback';
import { ModelCheckpoint } from './callbacks/model-checkpoint';
import { ProgressBar } from './callbacks/progress-bar';
import { Timer } from './callbacks/timer';
import { rocCurve } from './metrics';
import type { PostProcessResult } from './post-processing/post-processor';
import { renderRocCurve, renderScoreHistogram } from './visualization';
import { type TrainerArguments, mergeTrainerArguments } from './trainer-arguments';
import { heatmapName } from './visualizer';
import { DfmError, InvalidArgumentError, ShapeMismatchError } from '@dfm/errors';

/** Options of {@link Engine}. */
export interface EngineOptions extends Partial<TrainerArguments> {
  /**
   * Results go to a new run folder `<defaultRootDir>/<model>/<dataset>/<category>/v<N>/` per Engine
   * (anomalib's layout; N = 1 + the highest existing), with a `latest` link to the newest. Default `'results'`.
   */
  defaultRootDir?: string;
  /**
   * `true` (default): each Engine writes into its own `v<N>` run folder, so no run replaces an earlier
   * run's results. `false`: into `<defaultRootDir>/<model>/<dataset>/<category>/` itself, replacing
   * the files an earlier run left there.
   */
  versioned?: boolean;
  /** Extra callbacks; a {@link ProgressBar} (TTY only) and a {@link Timer} are always added. */
  callbacks?: Callback[];
  /** `false`: no model file is written after fit. Default: `model.dfm` in the run folder ({@link Engine.resultsDir}). */
  checkpoint?: ModelCheckpoint | false;
  /** Images per batch. Default 16. */
  batchSize?: number;
  /** Batches decoded ahead of the model. Default 2. */
  prefetch?: number;
  /** `'error'` (default) stops at a bad file naming it; `'skip'` leaves it out and reports it. */
  onBadImage?: 'error' | 'skip';
  /** Largest image accepted, in pixels, checked from the header (decompression bombs). */
  pixelLimit?: number;
}

/** One test image's result, as written to `predictions.csv`. */
export interface Prediction {
  path: string;
  /** Ground truth (0 normal, 1 anomalous); absent for unlabelled predict inputs. */
  label?: 0 | 1;
  defectType?: string;
  /** Raw score. */
  predScore: number;
  /** Min-max normalised score in [0, 1] (threshold at 0.5); null without fitted thresholds. */
  normalizedScore: number | null;
  /** Predicted label; null without fitted thresholds. */
  predLabel: 0 | 1 | null;
}

/** Options of {@link Engine.predict}. */
export interface PredictOptions {
  /** Write an image with the heatmap per input here: `<outputDir>/<sub-folder>/<file name>.png` (`a.jpg` → `a.jpg.png`). */
  outputDir?: string;
  /**
   * With a list of paths: each heatmap goes into the sub-folder of `outputDir` that mirrors the
   * input's folder relative to this one (every path must lie inside it). Default: no sub-folders.
   * A dataset's images go into one sub-folder per defect type.
   */
  relativeTo?: string;
}

/** What {@link Engine.fit} did. */
export interface FitSummary {
  trainSamples: number;
  trainerArguments: TrainerArguments;
  /** Where thresholds came from (`'val'`, `'test'` or `'none'`) and the split's note. */
  thresholdSplit: AnomalyDataset['splitInfo']['thresholdSplit'];
  thresholdNote: string;
  /** The model file written, if any. */
  checkpointPath: string | null;
  /** The run folder the model file went into; null when it went elsewhere (`checkpoint.dirpath`) or was not written. */
  resultsDir: string | null;
  seconds: number;
  /** Seconds of the module's preparation before the first training batch (an int8 model's calibration: loading its images and measuring the ranges). */
  prepareSeconds: number;
  skipped: { path: string; reason: string }[];
}

/**
 * Bytes of decoded images the validation pass may keep for the test pass's result pictures (when
 * validation and test are the same images): 256 MiB, ~340 images at 256² (float32 RGB).
 */
const REPLAY_IMAGES_BUDGET = 256 * 2 ** 20;

async function* fromArray<T>(items: readonly T[]): AsyncIterable<T> {
  yield* items;
}

/** What {@link Engine.collectStatistics} returns: a shard's memory bank, ready to send and merge. */
export interface CollectStatisticsResult extends MemoryBankStatistics {
  /** Training images whose features the statistics hold (bad files skipped are not counted). */
  samples: number;
  /** Files left out (`onBadImage: 'skip'`). */
  skipped: { path: string; reason: string }[];
}

/**
 * What {@link FitOptions.statistics} resolves to: the shards' statistics merged (or one shard's), with
 * how many training images they hold. A {@link CollectStatisticsResult} is one.
 */
export interface FitStatistics extends MemoryBankStatistics {
  /** Training images the statistics hold: the summary's `trainSamples`. */
  samples: number;
  /** Files the shards left out; they are added to the summary's `skipped`. */
  skipped?: { path: string; reason: string }[];
}

/** Options of {@link Engine.fit}. */
export interface FitOptions {
  /**
   * A sharded fit's coordinator: called once in place of the training batches over `dataset.train`
   * (the training images are not read here); what it resolves to goes to the model's `addStatistics`,
   * then the epoch ends and the fit, thresholds and model file follow as without it. Typically merges
   * what {@link Engine.collectStatistics} returned on each shard. Only for memory-bank modules.
   */
  statistics?: () => Promise<FitStatistics>;
}

/** What {@link Engine.test} measured and wrote. */
export interface TestResult {
  metrics: Record<string, number>;
  notes: string[];
  predictions: Prediction[];
  resultsDir: string;
  seconds: number;
  skipped: { path: string; reason: string }[];
}

interface Gathered {
  predictions: Prediction[];
  scores: Float32Array;
  labels: Uint8Array;
  predLabels: Uint8Array | null;
  maps: Float32Array | null;
  masks: Uint8Array | null;
  predMasks: Uint8Array | null;
  height: number;
  width: number;
  seconds: number;
  skipped: { path: string; reason: string }[];
}

/**
 * Drives an {@link AnomalyModule} over a dataset like Lightning's Trainer and anomalib's Engine:
 * `fit` (training epoch(s) → memory bank fitted → thresholds from the validation split → model
 * file), `validate`, `test` (scores, post-processing, metrics, images, results files) and
 * `predict`. A model's trainer arguments apply unless the user set the same argument; every
 * conflict is reported to the callbacks' `onWarning`.
 */
export class Engine {
  readonly defaultRootDir: string;
  readonly callbacks: Callback[];
  readonly timer: Timer;
  readonly checkpoint: ModelCheckpoint | null;
  readonly batchSize: number;
  private readonly userTrainerArguments: Partial<TrainerArguments>;
  private readonly prefetch: number;
  private readonly onBadImage: 'error' | 'skip';
  private readonly pixelLimit: number | undefined;
  readonly versioned: boolean;
  /** The run folder of each `<model>/<dataset>/<category>` this Engine has written to. */
  private readonly runFolders = new Map<string, string>();
  /**
   * The last validation pass's raw scores and maps (its own arrays, no copies) and the row of each image,
   * kept for a test pass over the same images by the same fitted model (`valSplitMode: 'same_as_test'`
   * scores each image once, not twice); dropped once a gather starts.
   */
  private scoreCache: {
    model: AnomalyModule;
    fitCount: number;
    paths: string;
    rows: Map<string, number>;
    scores: Float32Array;
    maps: Float32Array | null;
    pixels: number;
    /** The validation pass's decoded batches (for the test pass's result pictures), when they fit {@link REPLAY_IMAGES_BUDGET}. */
    decoded: { batches: Batch[]; skipped: { path: string; reason: string }[]; withMasks: boolean } | null;
  } | null = null;

  constructor(options: EngineOptions = {}) {
    const { defaultRootDir = 'results', versioned = true, callbacks = [], checkpoint, batchSize = 16, prefetch = 2, onBadImage = 'error', pixelLimit } = options;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new InvalidArgumentError(`new Engine(): batchSize must be a positive integer — got ${JSON.stringify(batchSize)}.`);
    }
    if (onBadImage !== 'error' && onBadImage !== 'skip') {
      throw new InvalidArgumentError(`new Engine(): onBadImage must be 'error' or 'skip' — got ${JSON.stringify(onBadImage)}.`);
    }
    this.defaultRootDir = defaultRootDir;
    this.versioned = versioned;
    this.timer = new Timer();
    this.checkpoint = checkpoint === false ? null : (checkpoint ?? new ModelCheckpoint());
    this.callbacks = [new ProgressBar(), this.timer, ...(this.checkpoint ? [this.checkpoint] : []), ...callbacks];
    this.batchSize = batchSize;
    this.prefetch = prefetch;
    this.onBadImage = onBadImage;
    this.pixelLimit = pixelLimit;
    this.userTrainerArguments = {};
    for (const key of ['maxEpochs', 'gradientClipVal', 'numSanityValSteps'] as const) {
      if (options[key] !== undefined) this.userTrainerArguments[key] = options[key];
    }
  }

  /** `<defaultRootDir>/<model>/<dataset>/<category>` (absolute): the folder holding the run folders `v1`, `v2`, … and `latest`. */
  runsDir(model: AnomalyModule, dataset: AnomalyDataset): string {
    return resolve(this.defaultRootDir, model.name, dataset.name, dataset.category);
  }

  /**
   * This Engine's run folder for the model and dataset (absolute), created on the first call:
   * `<runsDir>/v<N>/` with N = 1 + the highest existing `v<N>`, and `<runsDir>/latest` pointed at it
   * (a symlink replaced atomically). Every later call of the same Engine (fit, then test) returns the
   * same folder; another Engine makes the next version. With `versioned: false`, `runsDir` itself.
   */
  resultsDir(model: AnomalyModule, dataset: AnomalyDataset): string {
    const parent = this.runsDir(model, dataset);
    const known = this.runFolders.get(parent);
    if (known !== undefined) return known;
    let dir = parent;
    mkdirSync(parent, { recursive: true });
    if (this.versioned) {
      dir = createRunFolder(parent);
      const problem = pointLatestAt(parent, basename(dir));
      if (problem !== null) this.warn(`results: ${join(parent, 'latest')} still points at an older run (${problem}); this run's results are in ${dir}.`);
    }
    this.runFolders.set(parent, dir);
    return dir;
  }

  /**
   * Trains the model on `dataset.train` (one epoch fills and fits the memory bank), then fits the
   * post-processor's thresholds on the split `dataset.splitInfo.thresholdSplit` names, then writes
   * the model file. Fails before any model work when the training set is empty.
   *
   * With `options.statistics` (a sharded fit of a memory-bank module, see {@link collectStatistics}) the
   * training batches are replaced by one call of that function: its statistics are added to the
   * model's memory bank, then the epoch ends (the bank is fitted) and everything after is as above.
   * `dataset.train` is not read then (it may be empty); `trainSamples` is the statistics' `samples`.
   *
   * @example
   * // each worker, on its shard of dataset.train:
   * const { statistics, featureShape, imageSize, samples } = await engine.collectStatistics(new Dfm(options), shard);
   * send({ bytes: statistics.toBytes(), featureShape, imageSize, samples });
   * // the coordinator, with the shards' messages in order:
   * const merged = PCAStatistics.fromBytes(messages[0].bytes);
   * for (const m of messages.slice(1)) merged.merge(PCAStatistics.fromBytes(m.bytes));
   * const samples = messages.reduce((n, m) => n + m.samples, 0);
   * const { featureShape, imageSize } = messages[0];
   * await engine.fit(new Dfm(options), dataset, { statistics: async () => ({ statistics: merged, featureShape, imageSize, samples }) });
   */
  async fit(model: AnomalyModule, dataset: AnomalyDataset, options: FitOptions = {}): Promise<FitSummary> {
    const sharded = checkFitOptions(model, options);
    if (sharded === null && dataset.train.length === 0) {
      throw new InvalidArgumentError(
        `Engine.fit(): the dataset ${dataset.name}/${dataset.category} has no training images. Put normal images in its training folder.`,
      );
    }
    const { merged, conflicts } = mergeTrainerArguments(this.userTrainerArguments, model.trainerArguments);
    for (const c of conflicts) {
      this.warn(
        `trainer argument ${c.name}: the model asks for ${c.model}, you set ${c.user}; using yours (${c.user}).` +
          (c.name === 'maxEpochs' && model.learningType === 'one_class' ? ' A memory-bank model learns in its first epoch; later epochs are skipped.' : ''),
      );
    }
    const started = performance.now();
    const skipped: { path: string; reason: string }[] = [];
    let samples = 0;
    await model.prepareFit(dataset.train, (chosen) => this.loadImages('calibrate', chosen, model, skipped), sharded === null ? 'fit' : 'merge');
    const prepareSeconds = (performance.now() - started) / 1000;
    for (let epoch = 1; epoch <= merged.maxEpochs; epoch += 1) {
      if (epoch > 1 && (model as { isFitted?: boolean }).isFitted === true) {
        this.warn(`epoch ${epoch}: the memory bank is already fitted; nothing to learn, epoch skipped.`);
        continue;
      }
      await model.onTrainEpochStart(epoch);
      samples = 0;
      if (sharded === null) {
        await this.runStage('train', dataset.train, model, false, epoch, skipped, async (images) => {
          await model.trainingStep(images);
        }, (n) => {
          samples += n;
        });
      } else {
        samples = await this.addShardStatistics(sharded.model, sharded.statistics, dataset.train.length, skipped);
      }
      model.onFitProgress = (progress) => {
        for (const callback of this.callbacks) callback.onFitProgress?.(progress);
      };
      try {
        await model.onTrainEpochEnd(epoch);
      } finally {
        model.onFitProgress = null;
      }
    }
    const { thresholdSplit, note } = dataset.splitInfo;
    if (model.postProcessor !== null) {
      const source = thresholdSplit === 'val' ? dataset.val : thresholdSplit === 'test' ? dataset.test : [];
      if (source.length > 0) {
        const gathered = await this.gather('validate', model, source, dataset.hasMasks, null, skipped);
        let masks = gathered.masks ?? undefined;
        if (gathered.maps !== null && masks === undefined && gathered.labels.includes(1)) {
          // No ground truth: infer pixel labels from image labels, so the pixel threshold sits on the
          // map's own scale (the anomalib fallback, pixel threshold = image threshold, is ~h·w times too
          // high for FRE maps and leaves every heatmap blank). Only maps and predicted masks use it.
          masks = weakPixelLabels(gathered.labels, gathered.height * gathered.width);
          this.warn(
            'thresholds: the dataset has no ground-truth masks; the pixel threshold is the best-F1 threshold with every pixel of an anomalous validation image counted as anomalous (used for heatmaps and predicted masks only).',
          );
        }
        model.postProcessor.fit({
          imageScores: gathered.scores,
          imageLabels: gathered.labels,
          anomalyMaps: gathered.maps ?? undefined,
          // Masks only go with maps: an NLL model has no maps, and its thresholds are image-level only.
          masks: gathered.maps === null ? undefined : masks,
        });
        for (const message of model.postProcessor.notes) this.warn(`thresholds: ${message}`);
      } else {
        this.warn(`thresholds: not fitted — ${note}`);
      }
    }
    let checkpointPath: string | null = null;
    let resultsDir: string | null = null;
    if (this.checkpoint !== null) {
      if (this.checkpoint.dirpath === undefined) resultsDir = this.resultsDir(model, dataset);
      const dir = this.checkpoint.dirpath ?? (resultsDir as string);
      checkpointPath = join(dir, this.checkpoint.filename);
      await model.save(checkpointPath, this.modelMetadata(model, dataset));
      for (const callback of this.callbacks) callback.onCheckpoint?.(checkpointPath);
    }
    this.reportSkipped('fit', skipped);
    return {
      trainSamples: samples,
      trainerArguments: merged,
      thresholdSplit,
      thresholdNote: note,
      checkpointPath,
      resultsDir,
      seconds: (performance.now() - started) / 1000,
      prepareSeconds,
      skipped,
    };
  }

  /**
   * A shard's part of a sharded (distributed) fit of a memory-bank module: runs the training stage of
   * {@link fit} — the same batching, pre-processing, `trainingStep`s, bad-image handling and stage
   * callbacks — over `samples` only, and returns the memory bank's statistics without fitting them.
   * The model is left unfitted with an empty bank (emptied too when a batch fails), so it can collect
   * the next shard; the statistics belong to the caller and hold no tensors (send them with
   * `statistics.toBytes()`). A coordinator merges the shards and finishes with
   * `fit(model, dataset, { statistics })` (see its example).
   *
   * @param model A memory-bank module ({@link MemoryBankMixin}, e.g. {@link Dfm}), not fitted. Rows its
   * bank already holds are included.
   * @param samples This shard's training samples, e.g. a slice of `dataset.train`.
   * @throws InvalidArgumentError when the model has no memory bank or is fitted, `samples` is empty, or
   * every image was skipped; the errors of {@link fit}'s training stage otherwise.
   */
  async collectStatistics(model: AnomalyModule, samples: readonly Sample[]): Promise<CollectStatisticsResult> {
    const where = 'Engine.collectStatistics()';
    if (!isMemoryBankModule(model)) {
      throw new InvalidArgumentError(
        `${where}: model must be a memory-bank module (built with MemoryBankMixin, e.g. Dfm) — got ${describeModel(model)}, which has no takeStatistics()/addStatistics(). Shard the fit of a memory-bank model only; train others with engine.fit().`,
      );
    }
    if (!Array.isArray(samples)) {
      throw new InvalidArgumentError(
        `${where}: samples must be an array of training samples — got ${samples === null ? 'null' : typeof samples}. Pass this shard's part of dataset.train.`,
      );
    }
    if (samples.length === 0) {
      throw new InvalidArgumentError(
        `${where}: samples must hold at least one training image — got an empty list. Give every shard part of dataset.train, or leave the empty shard out.`,
      );
    }
    if (model.isFitted) {
      throw new InvalidArgumentError(
        `${where}: the model must not be fitted yet — got a fitted ${model.constructor.name}, whose training steps collect nothing. Use a new model for each shard.`,
      );
    }
    const skipped: { path: string; reason: string }[] = [];
    let count = 0;
    try {
      await model.onTrainEpochStart(1);
      await model.prepareFit(samples, (chosen) => this.loadImages('calibrate', chosen, model, skipped), 'shard');
      await this.runStage('train', samples, model, false, 1, skipped, async (images) => {
        await model.trainingStep(images);
      }, (n) => {
        count += n;
      }, 'collectStatistics');
      if (count === 0) {
        throw new InvalidArgumentError(
          `${where}: samples must give at least one readable training image — got ${samples.length}, every one skipped as a bad file. Check the shard's files (the skipped ones are listed in the warnings).`,
        );
      }
    } catch (error) {
      this.reportSkipped('collectStatistics', skipped);
      discardMemoryBank(model);
      throw error;
    }
    this.reportSkipped('collectStatistics', skipped);
    return { ...model.takeStatistics(), samples: count, skipped };
  }

  /** Scores the validation split and returns its metrics (no files written). */
  async validate(model: AnomalyModule, dataset: AnomalyDataset): Promise<{ metrics: Record<string, number>; notes: string[] }> {
    if (dataset.val.length === 0) {
      throw new InvalidArgumentError(
        `Engine.validate(): the dataset has no validation split (valSplitMode '${dataset.splitInfo.valSplitMode}'). Use valSplitMode 'from_test' or 'same_as_test'.`,
      );
    }
    const skipped: { path: string; reason: string }[] = [];
    const gathered = await this.gather('validate', model, dataset.val, dataset.hasMasks, null, skipped);
    this.reportSkipped('validate', skipped);
    return this.evaluate(model, gathered, dataset);
  }

  /**
   * Scores `dataset.test`, applies the thresholds and normalisation, computes the metrics, writes
   * an image per test sample and `metrics.json`, `predictions.csv`, `roc.png` and
   * `score-histogram.png` into the results directory, and returns it all.
   */
  async test(model: AnomalyModule, dataset: AnomalyDataset): Promise<TestResult> {
    if (dataset.test.length === 0) {
      throw new InvalidArgumentError(
        `Engine.test(): needs test images — the dataset ${dataset.name}/${dataset.category} has none (testSplitMode '${dataset.splitInfo.testSplitMode}'). Give it anomalous test images (Folder abnormalDir, MVTec test/), or use testSplitMode 'synthetic'.`,
      );
    }
    const dir = this.resultsDir(model, dataset);
    const skipped: { path: string; reason: string }[] = [];
    const gathered = await this.gather('test', model, dataset.test, dataset.hasMasks, join(dir, 'images'), skipped);
    const { metrics, notes } = this.evaluate(model, gathered, dataset);
    notes.push(`thresholds: ${dataset.splitInfo.note}`);
    this.reportSkipped('test', skipped);
    writeFileAtomic(
      join(dir, 'metrics.json'),
      `${JSON.stringify(
        {
          metrics,
          notes,
          model: model.name,
          dataset: { name: dataset.name, category: dataset.category, split: dataset.splitInfo },
          counts: { test: gathered.predictions.length, skipped: skipped.length },
          seconds: { test: gathered.seconds },
          skipped,
        },
        null,
        2,
      )}\n`,
    );
    writeFileAtomic(join(dir, 'predictions.csv'), predictionsCsv(gathered.predictions));
    if (gathered.labels.includes(0) && gathered.labels.includes(1)) {
      const curve = rocCurve(gathered.scores, gathered.labels);
      writeFileAtomic(join(dir, 'roc.png'), await renderRocCurve({ fpr: curve.fpr, tpr: curve.tpr, auroc: metrics.image_AUROC ?? Number.NaN }));
      const normal = gathered.scores.filter((_, i) => gathered.labels[i] === 0);
      const anomalous = gathered.scores.filter((_, i) => gathered.labels[i] === 1);
      const threshold = model.postProcessor?.stats?.imageThreshold;
      writeFileAtomic(join(dir, 'score-histogram.png'), await renderScoreHistogram({ normalScores: normal, anomalousScores: anomalous, threshold }));
    }
    return { metrics, notes, predictions: gathered.predictions, resultsDir: dir, seconds: gathered.seconds, skipped };
  }

  /**
   * Scores images without labels (a dataset's test split, or a list of paths): raw and normalised
   * scores, predicted labels and, with `outputDir`, an image with the heatmap per input (see
   * {@link PredictOptions}; two inputs that would share a heatmap file are refused before scoring).
   */
  async predict(model: AnomalyModule, input: AnomalyDataset | readonly string[], options: PredictOptions = {}): Promise<Prediction[]> {
    const paths = isPathList(input) ? input : null;
    const samples: readonly Sample[] = paths !== null ? paths.map((path) => pathSample(path, options.relativeTo)) : (input as AnomalyDataset).test;
    if (samples.length === 0) {
      throw new InvalidArgumentError('Engine.predict(): no images to score — got an empty list. Pass image paths or a dataset with test images.');
    }
    if (options.outputDir !== undefined) {
      const seen = new Map<string, string>();
      for (const sample of samples) {
        const file = join(sample.defectType, heatmapName(sample.path));
        const other = seen.get(file);
        if (other !== undefined && other !== sample.path) {
          throw new InvalidArgumentError(
            `Engine.predict(): every input needs its own heatmap file — ${other} and ${sample.path} would both write ${join(options.outputDir, file)}. Pass relativeTo (a folder holding both) so heatmaps mirror the input folders.`,
          );
        }
        seen.set(file, sample.path);
      }
    }
    const skipped: { path: string; reason: string }[] = [];
    const gathered = await this.gather('predict', model, samples, false, options.outputDir ?? null, skipped);
    this.reportSkipped('predict', skipped);
    if (paths !== null) {
      for (const p of gathered.predictions) {
        delete p.label;
        delete p.defectType;
      }
    }
    return gathered.predictions;
  }

  private evaluate(model: AnomalyModule, gathered: Gathered, dataset: AnomalyDataset): { metrics: Record<string, number>; notes: string[] } {
    if (model.evaluator === null) return { metrics: {}, notes: ['evaluation switched off'] };
    if (!(gathered.labels.includes(0) && gathered.labels.includes(1))) {
      return { metrics: {}, notes: ['metrics: not computed — the split needs both normal and anomalous images.'] };
    }
    const pixels = dataset.hasMasks && gathered.maps !== null && gathered.masks !== null;
    return model.evaluator.compute({
      imageScores: gathered.scores,
      imageLabels: gathered.labels,
      predLabels: gathered.predLabels ?? undefined,
      ...(pixels
        ? {
            anomalyMaps: gathered.maps ?? undefined,
            masks: gathered.masks ?? undefined,
            predMasks: gathered.predMasks ?? undefined,
            height: gathered.height,
            width: gathered.width,
          }
        : {
            pixelMetricsReason:
              dataset.pixelMetricsReason ?? 'the model gives no anomaly maps (scoreType nll scores images only).',
          }),
    });
  }

  /** Runs a scoring stage over `samples`, post-processing and (with `imagesDir`) visualising each batch. */
  private async gather(
    stage: 'validate' | 'test' | 'predict',
    model: AnomalyModule,
    samples: readonly Sample[],
    withMasks: boolean,
    imagesDir: string | null,
    skipped: { path: string; reason: string }[],
  ): Promise<Gathered> {
    await model.onValidationStart();
    if (imagesDir !== null) model.visualizer?.reset();
    // The maps' size: the pre-processor's, or (no resizing) the first batch's, which every batch must share.
    let [height, width] = model.preProcessor.imageSize ?? [0, 0];
    const n = samples.length;
    let pixels = height * width;
    const predictions: Prediction[] = [];
    const scores = new Float32Array(n);
    const labels = new Uint8Array(n);
    const post = model.postProcessor?.isFitted ? model.postProcessor : null;
    const predLabels = post ? new Uint8Array(n) : null;
    let maps: Float32Array | null = null;
    let masks: Uint8Array | null = null;
    let predMasks: Uint8Array | null = null;
    let count = 0;
    const started = performance.now();
    // Same images, same fitted model, a test step that is the validation step: the validation pass's outputs are this pass's.
    const fitCount = isMemoryBankModule(model) ? model.fitCount : -1;
    const paths = samples.map((sample) => sample.path).join('\0');
    const cache = this.scoreCache;
    const replay =
      stage === 'test' && cache !== null && fitCount > 0 && cache.model === model && cache.fitCount === fitCount && cache.paths === paths && model.testStep === AnomalyModule.prototype.testStep
        ? cache
        : null;
    this.scoreCache = null;
    // The validation pass keeps its decoded batches when the test pass may draw pictures of the same
    // images (so they are decoded once), within a memory budget.
    const keep =
      stage === 'validate' && fitCount > 0 && model.visualizer !== null && n * (model.preProcessor.imageSize ?? [0, 0]).reduce((a, b) => a * b, 1) * 3 * 4 <= REPLAY_IMAGES_BUDGET
        ? ([] as Batch[])
        : null;
    const skippedBefore = skipped.length;
    // Result pictures of up to two batches encode while the next batches are scored.
    const drawing: Promise<void>[] = [];
    let drawError: { error: unknown } | null = null;
    const draw = (promise: Promise<unknown>) =>
      drawing.push(
        promise.then(
          () => undefined,
          (error: unknown) => {
            drawError ??= { error };
          },
        ),
      );
    try {
    await this.runStage(stage, samples, model, withMasks, 1, skipped, async (modelBatch) => {
      const { batch } = modelBatch;
      keep?.push(batch);
      const rows = replay === null ? null : batch.samples.map((sample) => replay.rows.get(sample.path));
      let output: StepOutput;
      if (replay !== null && rows?.every((row) => row !== undefined)) {
        output = { predScore: Float32Array.from(rows, (row) => replay.scores[row!] as number) };
        if (replay.maps !== null) {
          const size = replay.pixels;
          const anomalyMap = new Float32Array(size * rows.length);
          rows.forEach((row, i) => {
            anomalyMap.set(replay.maps!.subarray(row! * size, (row! + 1) * size), i * size);
          });
          output.anomalyMap = anomalyMap;
        }
      } else {
        output = stage === 'test' ? await model.testStep(modelBatch) : stage === 'predict' ? await model.predictStep(modelBatch) : await model.validationStep(modelBatch);
      }
      if (pixels === 0) {
        [height, width] = [batch.height, batch.width];
        pixels = height * width;
      } else if (batch.height !== height || batch.width !== width) {
        throw new ShapeMismatchError(
          `Engine.${stage}(): every image must have one size when the pre-processor does not resize — got ${batch.height}×${batch.width} after ${height}×${width} (${basename(batch.samples[0]?.path ?? '')}). Give the PreProcessor an imageSize.`,
        );
      }
      if (withMasks) masks ??= new Uint8Array(n * pixels);
      const canMap = output.anomalyMap !== undefined && post?.stats?.pixelThreshold !== null;
      const processed: PostProcessResult<Float32Array> | null = post
        ? post.apply({ predScore: output.predScore, anomalyMap: canMap ? output.anomalyMap : undefined })
        : null;
      // Maps are kept for pixel metrics (with masks) and for fitting the pixel normalisation (validate).
      if (output.anomalyMap !== undefined && (withMasks || stage === 'validate')) {
        maps ??= new Float32Array(n * pixels);
        maps.set(output.anomalyMap, count * pixels);
        if (batch.masks !== null) masks?.set(batch.masks, count * pixels);
        if (processed?.predMask !== undefined) {
          predMasks ??= new Uint8Array(n * pixels);
          predMasks.set(processed.predMask, count * pixels);
        }
      }
      for (let i = 0; i < batch.batchSize; i += 1) {
        const sample = batch.samples[i] as Sample;
        const index = count + i;
        scores[index] = output.predScore[i] as number;
        labels[index] = sample.label;
        if (predLabels && processed) predLabels[index] = processed.predLabel[i] as number;
        predictions.push({
          path: sample.path,
          label: sample.label,
          defectType: sample.defectType,
          predScore: output.predScore[i] as number,
          normalizedScore: processed ? (processed.predScore[i] as number) : null,
          predLabel: processed ? ((processed.predLabel[i] as number) === 1 ? 1 : 0) : null,
        });
      }
      if (imagesDir !== null && model.visualizer !== null) {
        draw(model.visualizer.visualizeBatch({ batch, output, processed, outputDir: imagesDir }));
        if (drawing.length > 2) await drawing.shift();
        if (drawError !== null) throw (drawError as { error: unknown }).error;
      }
      count += batch.batchSize;
    }, () => {}, stage, replay?.decoded?.withMasks === withMasks ? replay.decoded : null);
    } finally {
      await Promise.all(drawing);
    }
    if (drawError !== null) throw (drawError as { error: unknown }).error;
    // Skipped files leave the tail of the preallocated arrays unused.
    const used = count;
    if (maps !== null) maps = (maps as Float32Array).subarray(0, used * pixels);
    if (masks !== null) masks = (masks as Uint8Array).subarray(0, used * pixels);
    if (predMasks !== null) predMasks = (predMasks as Uint8Array).subarray(0, used * pixels);
    if (stage === 'validate' && fitCount > 0) {
      // Validation keeps every map (for the pixel thresholds): the test pass over the same images can take them from here.
      const rows = new Map(predictions.map((p, i) => [p.path, i]));
      this.scoreCache = { model, fitCount, paths, rows, scores: scores.subarray(0, used), maps, pixels, decoded: keep === null ? null : { batches: keep, skipped: skipped.slice(skippedBefore), withMasks } };
    }
    return {
      predictions,
      scores: scores.subarray(0, used),
      labels: labels.subarray(0, used),
      predLabels: predLabels?.subarray(0, used) ?? null,
      maps,
      masks,
      predMasks,
      height,
      width,
      seconds: (performance.now() - started) / 1000,
      skipped,
    };
  }

  /** `samples` decoded and pre-processed as the training stage does, as batches the caller owns (a stage of its own for progress). */
  private async loadImages(stage: StageProgress['stage'], samples: readonly Sample[], model: AnomalyModule, skipped: { path: string; reason: string }[]) {
    const loaded: import('@tensorflow/tfjs-core').Tensor4D[] = [];
    try {
      await this.runStage(stage, samples, model, false, 1, skipped, async ({ images }) => {
        loaded.push(images.clone());
      }, () => undefined);
    } catch (error) {
      for (const images of loaded) images.dispose();
      throw error;
    }
    return loaded;
  }

  /** Streams `samples` in batches through `step`, with progress callbacks and bad-file handling. */
  private async runStage(
    stage: StageProgress['stage'],
    samples: readonly Sample[],
    model: AnomalyModule,
    withMasks: boolean,
    epoch: number,
    skipped: { path: string; reason: string }[],
    step: (batch: { images: import('@tensorflow/tfjs-core').Tensor4D; batch: Batch }) => Promise<void>,
    onSamples: (n: number) => void,
    caller: string = stage === 'train' ? 'fit' : stage,
    decoded: { batches: readonly Batch[]; skipped: readonly { path: string; reason: string }[] } | null = null,
  ): Promise<void> {
    const total = samples.length;
    for (const callback of this.callbacks) callback.onStageStart?.(stage, { total });
    const started = performance.now();
    if (decoded !== null) skipped.push(...decoded.skipped);
    const stream: AsyncIterable<Batch> = decoded !== null ? fromArray(decoded.batches) : batches(samples, {
      batchSize: this.batchSize,
      ...model.preProcessor.batchOptions(),
      prefetch: this.prefetch,
      onBadImage: this.onBadImage,
      pixelLimit: this.pixelLimit,
      withMasks,
      onSkip: (path, error) => skipped.push({ path, reason: error.message }),
    });
    let done = 0;
    let index = 0;
    for await (const batch of stream) {
      index += 1;
      const images = model.preProcessor.transform(batch);
      try {
        await step({ images, batch });
      } catch (error) {
        if (error instanceof DfmError) throw error;
        throw new DfmError(
          `Engine.${caller}(): batch ${index} (${batch.samples.map((s) => basename(s.path)).slice(0, 3).join(', ')}${batch.batchSize > 3 ? ', …' : ''}) failed: ${(error as Error).message}`,
          { cause: error, code: 'E_INTERNAL' },
        );
      } finally {
        images.dispose();
      }
      done += batch.batchSize;
      onSamples(batch.batchSize);
      for (const callback of this.callbacks) callback.onBatchEnd?.({ stage, epoch, batch: index, samples: done, total });
    }
    const seconds = (performance.now() - started) / 1000;
    for (const callback of this.callbacks) callback.onStageEnd?.(stage, { seconds, samples: done });
  }

  /**
   * The training stage of a sharded {@link fit}: one call of `statistics` in place of the batches, its
   * result added to the model's memory bank (the train stage's callbacks still start and end).
   * Returns the training images the statistics hold.
   */
  private async addShardStatistics(
    model: AnomalyModule & MemoryBankModule,
    statistics: () => Promise<FitStatistics>,
    total: number,
    skipped: { path: string; reason: string }[],
  ): Promise<number> {
    for (const callback of this.callbacks) callback.onStageStart?.('train', { total });
    const started = performance.now();
    const result = await statistics();
    if (result === null || typeof result !== 'object') {
      throw new InvalidArgumentError(
        `Engine.fit(): options.statistics() must resolve to { statistics, featureShape, imageSize, samples } — got ${result === null ? 'null' : typeof result}. Return the merged shards (see Engine.collectStatistics).`,
      );
    }
    const { samples } = result;
    if (!(Number.isSafeInteger(samples) && samples >= 1)) {
      throw new InvalidArgumentError(
        `Engine.fit(): options.statistics() must resolve to samples, the training images the statistics hold, a positive integer — got ${JSON.stringify(samples)}. Add up the shards' samples.`,
      );
    }
    if (result.skipped !== undefined && !Array.isArray(result.skipped)) {
      throw new InvalidArgumentError(
        `Engine.fit(): options.statistics() must resolve to skipped as an array of { path, reason }, or without it — got ${typeof result.skipped}. Concatenate the shards' skipped lists.`,
      );
    }
    await model.addStatistics({ statistics: result.statistics, featureShape: result.featureShape, imageSize: result.imageSize ?? null });
    skipped.push(...(result.skipped ?? []));
    const seconds = (performance.now() - started) / 1000;
    for (const callback of this.callbacks) callback.onStageEnd?.('train', { seconds, samples });
    return samples;
  }

  /** Free metadata saved with the model; thresholds are not here (the model file records its post-processing). */
  private modelMetadata(_model: AnomalyModule, dataset: AnomalyDataset): Record<string, unknown> {
    return {
      dataset: { name: dataset.name, category: dataset.category },
      split: dataset.splitInfo,
    };
  }

  private warn(message: string): void {
    for (const callback of this.callbacks) callback.onWarning?.(message);
  }

  private reportSkipped(stage: string, skipped: { path: string; reason: string }[]): void {
    if (skipped.length === 0) return;
    this.warn(`${stage}: skipped ${skipped.length} bad file${skipped.length > 1 ? 's' : ''}: ${skipped.map((s) => s.path).join(', ')}`);
  }
}

/**
 * Validates {@link Engine.fit}'s options before any work: null without `statistics`, else the model as a
 * memory-bank module (unfitted) with the function.
 */
function checkFitOptions(
  model: AnomalyModule,
  options: FitOptions,
): { model: AnomalyModule & MemoryBankModule; statistics: () => Promise<FitStatistics> } | null {
  if (options === null || typeof options !== 'object') {
    throw new InvalidArgumentError(
      `Engine.fit(): options must be an object such as { statistics } — got ${options === null ? 'null' : typeof options}. Omit it for an ordinary fit.`,
    );
  }
  const { statistics } = options;
  if (statistics === undefined) return null;
  if (typeof statistics !== 'function') {
    throw new InvalidArgumentError(
      `Engine.fit(): options.statistics must be a function resolving to { statistics, featureShape, imageSize, samples } — got ${statistics === null ? 'null' : typeof statistics}. Pass async () => the merged shards (see Engine.collectStatistics), or omit it.`,
    );
  }
  if (!isMemoryBankModule(model)) {
    throw new InvalidArgumentError(
      `Engine.fit(): options.statistics needs a memory-bank module (built with MemoryBankMixin, e.g. Dfm) — got ${describeModel(model)}, which has no addStatistics(). Leave options.statistics out to train it on dataset.train.`,
    );
  }
  if (model.isFitted) {
    throw new InvalidArgumentError(
      `Engine.fit(): options.statistics needs a model that is not fitted yet — got a fitted ${model.constructor.name}. Use a new model, or leave options.statistics out to refit the thresholds only.`,
    );
  }
  return { model, statistics };
}

/** Empties a memory bank after a failed collection (an empty bank throws; nothing to discard then). */
function discardMemoryBank(model: MemoryBankModule): void {
  try {
    model.takeStatistics();
  } catch {
    // already empty
  }
}

function describeModel(model: unknown): string {
  if (model === null || typeof model !== 'object') return model === null ? 'null' : typeof model;
  return `a ${(model as object).constructor?.name ?? 'object'}`;
}

function isPathList(input: AnomalyDataset | readonly string[]): input is readonly string[] {
  return Array.isArray(input);
}

/** A sample for an unlabelled path; its `defectType` is the heatmap sub-folder (the folder relative to `relativeTo`, or `'.'`). */
function pathSample(path: string, relativeTo: string | undefined): Sample {
  const absolute = resolve(path);
  let folder = '.';
  if (relativeTo !== undefined) {
    const base = resolve(relativeTo);
    const inside = relative(base, dirname(absolute));
    if (inside.startsWith('..') || isAbsolute(inside)) {
      throw new InvalidArgumentError(
        `Engine.predict(): relativeTo must hold every input — ${absolute} is outside ${base}. Pass the folder the inputs were listed from, or leave relativeTo out.`,
      );
    }
    folder = inside === '' ? '.' : inside;
  }
  return { path: absolute, label: 0, defectType: folder, maskPath: null };
}

/** Creates the next run folder `v<N>` in `parent` (N = 1 + the highest existing; retried if another run takes it first). */
function createRunFolder(parent: string): string {
  for (;;) {
    const dir = join(parent, `v${highestVersion(parent) + 1}`);
    try {
      mkdirSync(dir);
      return dir;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}

function highestVersion(parent: string): number {
  let highest = 0;
  for (const name of readdirSync(parent)) {
    const match = /^v(\d+)$/.exec(name);
    if (match) highest = Math.max(highest, Number(match[1]));
  }
  return highest;
}

/**
 * Points `<parent>/latest` at the run folder `name`: a new symlink under a temporary name renamed
 * over the old one (atomic; readers see the old or the new link, never none). Leaves it alone when a
 * newer run already exists. Returns null, or why the link was not updated (nothing is deleted).
 */
function pointLatestAt(parent: string, name: string): string | null {
  const version = Number(name.slice(1));
  if (highestVersion(parent) > version) return `a newer run v${highestVersion(parent)} exists`;
  const temporary = join(parent, `.latest.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    if (process.platform === 'win32') symlinkSync(join(parent, name), temporary, 'junction');
    else symlinkSync(name, temporary, 'dir');
    renameSync(temporary, join(parent, 'latest'));
    return null;
  } catch (error) {
    try {
      unlinkSync(temporary);
    } catch {
      // the temporary link was never made
    }
    return (error as Error).message;
  }
}

/** `[N·pixels]` masks that are all 1 for anomalous images and all 0 for normal ones. */
function weakPixelLabels(labels: Uint8Array, pixels: number): Uint8Array {
  const masks = new Uint8Array(labels.length * pixels);
  labels.forEach((label, i) => {
    if (label === 1) masks.fill(1, i * pixels, (i + 1) * pixels);
  });
  return masks;
}

function csvField(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '';
  const text = String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** `predictions.csv`: path, label, score, normalised score, predicted label (one row per image). */
export function predictionsCsv(predictions: readonly Prediction[]): string {
  const rows = ['path,label,defect_type,score,normalized_score,pred_label'];
  for (const p of predictions) {
    rows.push([p.path, p.label, p.defectType, p.predScore, p.normalizedScore, p.predLabel].map(csvField).join(','));
  }
  return `${rows.join('\n')}\n`;
}
