import type { Batch, Sample } from '@dfm/data';
import type * as tf from '@tensorflow/tfjs-core';
import type { FitPhaseProgress } from './callbacks/callback';
import type { Evaluator } from './evaluator';
import type { PostProcessor } from './post-processing/post-processor';
import type { PreProcessor } from './pre-processor';
import type { TrainerArguments } from './trainer-arguments';
import type { Visualizer } from './visualizer';

/** How a model learns: DFM sees only normal images. */
export type LearningType = 'one_class' | 'zero_shot' | 'few_shot' | 'fully_supervised';

/** A decoded batch with its pre-processed tensor. */
export interface ModelBatch {
  /** `[B, H, W, 3]` normalised images (owned by the Engine, disposed after the step). */
  images: tf.Tensor4D;
  /** The decoded batch (raw pixels in [0, 1], masks, samples). */
  batch: Batch;
}

/** What a validation, test or predict step returns, as plain arrays. */
export interface StepOutput {
  /** `[B]` raw image scores. */
  predScore: Float32Array;
  /** `[B, H, W]` raw anomaly maps, when the model makes them. */
  anomalyMap?: Float32Array;
}

/**
 * Base of every anomaly model driven by the {@link Engine} (anomalib's `AnomalyModule`): hooks for
 * the training, validation, test and predict steps, plus the pre-processing, post-processing,
 * evaluation and visualisation it carries (each on by default, each can be switched off).
 */
export abstract class AnomalyModule {
  abstract readonly learningType: LearningType;
  /** Short name used in the results path (`results/<name>/...`). */
  abstract readonly name: string;
  abstract readonly preProcessor: PreProcessor;
  abstract readonly postProcessor: PostProcessor | null;
  abstract readonly evaluator: Evaluator | null;
  abstract readonly visualizer: Visualizer | null;

  /**
   * Set by the {@link Engine} while it fits this module: where the fit reports the PCA's progress
   * (`'accumulating'` / `'solving'`); it forwards to the callbacks' `onFitProgress`. `null` otherwise.
   */
  onFitProgress: ((progress: FitPhaseProgress) => void) | null = null;

  /** Trainer arguments this model asks for; the user's own arguments win (conflicts are reported). */
  get trainerArguments(): Partial<TrainerArguments> {
    return {};
  }

  /** Optimisers: none for models that learn without gradients. */
  configureOptimizers(): null {
    return null;
  }

  abstract trainingStep(batch: ModelBatch): Promise<void>;
  abstract validationStep(batch: ModelBatch): Promise<StepOutput>;

  testStep(batch: ModelBatch): Promise<StepOutput> {
    return this.validationStep(batch);
  }

  predictStep(batch: ModelBatch): Promise<StepOutput> {
    return this.validationStep(batch);
  }

  /**
   * Called by the Engine once before a fit's first training batch, with the training samples and a
   * loader that decodes and pre-processes samples as the training stage does (e.g. an int8 model
   * measures its activation ranges on some of them). `mode`: `'fit'` (a whole fit), `'shard'`
   * (`Engine.collectStatistics` on a shard) or `'merge'` (a fit from shards' statistics). Default: nothing.
   */
  async prepareFit(_train: readonly Sample[], _load: (samples: readonly Sample[]) => Promise<tf.Tensor4D[]>, _mode: 'fit' | 'shard' | 'merge'): Promise<void> {}
  /** Called by the Engine before the first training batch of each epoch. */
  async onTrainEpochStart(_epoch: number): Promise<void> {}
  /** Called by the Engine after the last training batch of each epoch. */
  async onTrainEpochEnd(_epoch: number): Promise<void> {}
  /** Called by the Engine before validation, test or predict steps run. */
  async onValidationStart(): Promise<void> {}

  /** Writes the model to `path` with `metadata` (thresholds, normalisation) beside its weights. */
  abstract save(path: string, metadata: Record<string, unknown>): Promise<void>;

  /** Frees tensors. */
  abstract dispose(): void;
}
