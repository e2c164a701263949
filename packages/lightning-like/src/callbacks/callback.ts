import type { TrainerArguments } from '../trainer-arguments';

/** Progress through a stage's batches. */
export interface StageProgress {
  stage: 'calibrate' | 'train' | 'validate' | 'test' | 'predict';
  /** 1-based epoch (train only; 1 otherwise). */
  epoch: number;
  /** Batches done. */
  batch: number;
  /** Images done. */
  samples: number;
  /** Images in the stage. */
  total: number;
}

/**
 * Progress of the model's fit after the training batches (DFM: the PCA): `'accumulating'` the second
 * moments (with `fraction` done), then `'solving'` the eigenproblem (`iteration` of the eigensolver).
 * The same shape as `@dfm/linalg`'s `PCAProgress`.
 */
export interface FitPhaseProgress {
  phase: 'accumulating' | 'solving';
  fraction?: number;
  iteration?: number;
}

/**
 * Hooks the Engine calls as it works. Every hook is optional and synchronous; a callback that
 * needs the result of a stage reads it from the `...End` hook's argument.
 */
export interface Callback {
  onStageStart?(stage: StageProgress['stage'], info: { total: number; trainerArguments?: TrainerArguments }): void;
  onBatchEnd?(progress: StageProgress): void;
  onStageEnd?(stage: StageProgress['stage'], info: { seconds: number; samples: number }): void;
  /** The fit after the training batches is working (DFM: "PCA: accumulating", "PCA: solving"). */
  onFitProgress?(progress: FitPhaseProgress): void;
  /** Something the user should know that did not stop the run (argument conflicts, skipped files, fallbacks). */
  onWarning?(message: string): void;
  /** A model file was written. */
  onCheckpoint?(path: string): void;
}
