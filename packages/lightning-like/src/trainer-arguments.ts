/** Trainer settings a model may ask for (anomalib's `trainer_arguments`), in camelCase. */
export interface TrainerArguments {
  /** Epochs over the training data. Memory-bank models need 1. */
  maxEpochs: number;
  /** Gradient clipping (0 = none; DFM has no gradients). */
  gradientClipVal: number;
  /** Validation batches run before training as a sanity check (0 = none). */
  numSanityValSteps: number;
}

/** The defaults when neither the user nor the model sets an argument. */
export const DEFAULT_TRAINER_ARGUMENTS: TrainerArguments = { maxEpochs: 1, gradientClipVal: 0, numSanityValSteps: 0 };

/** A model argument the user also set to another value (the user's value is used). */
export interface TrainerArgumentConflict {
  name: keyof TrainerArguments;
  user: number;
  model: number;
}

/**
 * Merges trainer arguments: the user's win, then the model's, then the defaults. Unlike anomalib,
 * a model never silently overrides the user: every argument both set differently is returned in
 * `conflicts`, and the Engine reports each one to its callbacks.
 */
export function mergeTrainerArguments(
  user: Partial<TrainerArguments>,
  model: Partial<TrainerArguments>,
): { merged: TrainerArguments; conflicts: TrainerArgumentConflict[] } {
  const merged = { ...DEFAULT_TRAINER_ARGUMENTS };
  const conflicts: TrainerArgumentConflict[] = [];
  for (const name of Object.keys(DEFAULT_TRAINER_ARGUMENTS) as (keyof TrainerArguments)[]) {
    const fromUser = user[name];
    const fromModel = model[name];
    if (fromUser !== undefined) {
      merged[name] = fromUser;
      if (fromModel !== undefined && fromModel !== fromUser) conflicts.push({ name, user: fromUser, model: fromModel });
    } else if (fromModel !== undefined) {
      merged[name] = fromModel;
    }
  }
  return { merged, conflicts };
}
