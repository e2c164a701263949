import { imageScaling, type PostProcessing, pixelScaling, scaleInto } from '@dfm/core';
import { computePostProcessing, type PostProcessingInput } from './compute-post-processing';
import { InvalidArgumentError, NotFittedError } from '@dfm/errors';

/** What {@link PostProcessor.apply} takes: raw model outputs for one image or a batch. */
export interface PostProcessInput<S extends number | Float32Array | Float64Array> {
  /** Raw image score, or `[B]` scores. */
  predScore: S;
  /** Raw anomaly map `[H·W]`, or `[B·H·W]` for a batch, flattened. */
  anomalyMap?: Float32Array | Float64Array;
}

/** What {@link PostProcessor.apply} returns; a batch gives arrays. */
export interface PostProcessResult<S extends number | Float32Array | Float64Array> {
  /** Normalised score(s) in [0, 1]; 0.5 is the image threshold. */
  predScore: S;
  /** `normalised > 0.5`: a boolean for one image, `[B]` 0/1 for a batch. */
  predLabel: S extends number ? boolean : Uint8Array;
  /** Normalised map in [0, 1], same array type as the input (when a map was given). */
  anomalyMap?: Float32Array | Float64Array;
  /** `normalised map > 0.5`, 0/1 per pixel (when a map was given). */
  predMask?: Uint8Array;
}

/** The serialised form of a {@link PostProcessor}, stored in the `.dfm` model file's metadata. */
export interface PostProcessorJSON {
  format: 'dfm-post-processor';
  version: 1;
  stats: PostProcessing;
  notes: string[];
  /** Which data split the statistics were fitted on, when the caller said (e.g. 'val', 'test'). */
  split?: string;
}

/** Input of {@link PostProcessor.fit}: validation outputs and, optionally, the split's name. */
export interface PostProcessorFitInput extends PostProcessingInput {
  /** Name of the split the outputs come from (e.g. 'val'); stored and serialised for reports. */
  split?: string;
}

/**
 * DESIGN step 6: F1-adaptive thresholds and min-max normalisation, fitted on validation outputs
 * and applied to every prediction. Normalised scores put the threshold at 0.5; labels are
 * `normalised > 0.5` (as anomalib). Note the boundary: the F1 threshold is chosen for
 * `score ≥ threshold`, so a score exactly equal to the threshold is labelled normal here.
 *
 * @example
 * const post = new PostProcessor().fit({ imageScores, imageLabels, anomalyMaps, masks });
 * post.notes; // fallbacks taken, e.g. when validation had no anomalies
 * const { predScore, predLabel, anomalyMap, predMask } = post.apply({ predScore: 31.2, anomalyMap });
 * const json = post.toJSON(); // store with the model; PostProcessor.fromJSON(json) restores it
 */
export class PostProcessor {
  #stats: PostProcessing | undefined;
  #notes: string[];
  #split: string | undefined;

  constructor(stats?: PostProcessing, notes: readonly string[] = [], split?: string) {
    this.#stats = stats ? { ...stats } : undefined;
    this.#notes = [...notes];
    this.#split = split;
  }

  /** The split the statistics were fitted on, when given to {@link fit}. */
  get split(): string | undefined {
    return this.#split;
  }

  /** The fitted statistics (a copy), or `undefined` before {@link fit}. */
  get stats(): PostProcessing | undefined {
    return this.#stats ? { ...this.#stats } : undefined;
  }

  /** Fallbacks taken while fitting, in plain words (see {@link computePostProcessing}). */
  get notes(): readonly string[] {
    return [...this.#notes];
  }

  get isFitted(): boolean {
    return this.#stats !== undefined;
  }

  /** Fits thresholds and ranges on validation outputs; replaces any previous fit. */
  fit(input: PostProcessorFitInput): this {
    const { stats, notes } = computePostProcessing(input);
    this.#stats = stats;
    this.#notes = notes;
    this.#split = input.split;
    return this;
  }

  /** Normalises and labels raw predictions. Inputs are not modified. */
  apply(input: PostProcessInput<number>): PostProcessResult<number>;
  apply(input: PostProcessInput<Float32Array>): PostProcessResult<Float32Array>;
  apply(input: PostProcessInput<Float64Array>): PostProcessResult<Float64Array>;
  apply(
    input: PostProcessInput<number | Float32Array | Float64Array>,
  ): PostProcessResult<number | Float32Array | Float64Array> {
    const stats = this.#stats;
    if (!stats) {
      throw new NotFittedError(
        'PostProcessor.apply(): a fitted post-processor was expected — got one with no statistics. ' +
          'Call fit() on validation outputs first, or restore one with PostProcessor.fromJSON().',
      );
    }
    const { predScore, anomalyMap } = input;
    let result: PostProcessResult<number | Float32Array | Float64Array>;
    if (typeof predScore === 'number') {
      const labels = new Uint8Array(1);
      const scaled = scaleInto([predScore], imageScaling(stats), new Float64Array(1), labels);
      result = { predScore: scaled[0]!, predLabel: labels[0] === 1 };
    } else {
      const labels = new Uint8Array(predScore.length);
      const scores = scaleInto(predScore, imageScaling(stats), new (predScore instanceof Float32Array ? Float32Array : Float64Array)(predScore.length), labels);
      result = { predScore: scores, predLabel: labels };
    }
    if (anomalyMap) {
      const scaling = pixelScaling(stats);
      if (scaling === null) {
        throw new InvalidArgumentError(
          'PostProcessor.apply(): pixel statistics were expected for an anomalyMap — got a post-processor fitted ' +
            'without anomaly maps. Fit with anomalyMaps (and masks), or omit anomalyMap.',
        );
      }
      const mask = new Uint8Array(anomalyMap.length);
      result.anomalyMap = scaleInto(anomalyMap, scaling, new (anomalyMap instanceof Float32Array ? Float32Array : Float64Array)(anomalyMap.length), mask);
      result.predMask = mask;
    }
    return result;
  }

  /** A JSON-safe snapshot for the model file. */
  toJSON(): PostProcessorJSON {
    const stats = this.#stats;
    if (!stats) {
      throw new NotFittedError('PostProcessor.toJSON(): a fitted post-processor was expected — got none. Call fit() first.');
    }
    const json: PostProcessorJSON = { format: 'dfm-post-processor', version: 1, stats: { ...stats }, notes: [...this.#notes] };
    if (this.#split !== undefined) json.split = this.#split;
    return json;
  }

  /** Restores a post-processor from {@link toJSON}'s output (validated). */
  static fromJSON(json: unknown): PostProcessor {
    const fail = (got: string): never => {
      throw new InvalidArgumentError(
        `PostProcessor.fromJSON(): an object from PostProcessor.toJSON() (format 'dfm-post-processor', version 1) ` +
          `was expected — ${got}. Re-fit the post-processor, or check the model file.`,
      );
    };
    if (typeof json !== 'object' || json === null) return fail(`got ${json === null ? 'null' : typeof json}`);
    const { format, version, stats, notes, split } = json as Partial<PostProcessorJSON>;
    if (format !== 'dfm-post-processor' || version !== 1) return fail(`got format ${String(format)}, version ${String(version)}`);
    if (typeof stats !== 'object' || stats === null) return fail('got no stats');
    for (const key of ['imageThreshold', 'imageMin', 'imageMax'] as const) {
      if (!Number.isFinite(stats[key])) fail(`got stats.${key} = ${String(stats[key])}`);
    }
    const pixel = [stats.pixelThreshold, stats.pixelMin, stats.pixelMax];
    const allNull = pixel.every((v) => v === null);
    if (!allNull && !pixel.every((v) => Number.isFinite(v))) {
      fail(`got pixel stats ${JSON.stringify(pixel)}; they must be all numbers or all null`);
    }
    if (notes !== undefined && !(Array.isArray(notes) && notes.every((note) => typeof note === 'string'))) {
      fail('got notes that are not an array of strings');
    }
    if (split !== undefined && typeof split !== 'string') fail(`got split ${String(split)}, not a string`);
    return new PostProcessor(
      {
        imageThreshold: stats.imageThreshold,
        imageMin: stats.imageMin,
        imageMax: stats.imageMax,
        pixelThreshold: stats.pixelThreshold,
        pixelMin: stats.pixelMin,
        pixelMax: stats.pixelMax,
      },
      notes ?? [],
      split,
    );
  }
}
