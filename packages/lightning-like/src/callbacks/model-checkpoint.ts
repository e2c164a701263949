import type { Callback } from './callback';

/** Options of {@link ModelCheckpoint}. */
export interface ModelCheckpointOptions {
  /** Folder of the model file; default: the Engine's run folder `<results>/<model>/<dataset>/<category>/v<N>/` (`Engine.resultsDir`). */
  dirpath?: string;
  /** Default `'model.dfm'`. */
  filename?: string;
}

/**
 * Saves the fitted model (with its thresholds) as a `.dfm` file after `Engine.fit`, atomically.
 * The Engine adds one writing `model.dfm` into its run folder (a new `v<N>` per Engine, so an
 * earlier run's model is never replaced) unless given one, or `checkpoint: false`.
 */
export class ModelCheckpoint implements Callback {
  readonly dirpath: string | undefined;
  readonly filename: string;
  /** The last file written. */
  lastPath: string | undefined;

  constructor(options: ModelCheckpointOptions = {}) {
    this.dirpath = options.dirpath;
    this.filename = options.filename ?? 'model.dfm';
  }

  onCheckpoint(path: string): void {
    this.lastPath = path;
  }
}
