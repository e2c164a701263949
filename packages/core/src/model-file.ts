import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import {
  type EncodableTensor,
  encodeSafetensors,
  loadSafetensors,
  resolveWeights,
  type SafetensorsTensor,
  type WeightsSpec,
  writeFileAtomic,
} from '@dfm/backbone';
import { CorruptFileError, DfmError, PCA, SingleClassGaussian } from '@dfm/linalg';
import { type DFMModelConfig, DFMModel } from './dfm-model';
import { IncompatibleModelError } from './errors';
import type { FeatureShape } from './feature-pooling';
import { VERSION } from './version';

/**
 * The `.dfm` model file: one safetensors file whose tensors hold the fitted PCA (and Gaussian)
 * and whose `__metadata__` holds the rest as JSON strings:
 *
 * | key | value |
 * |---|---|
 * | `format` | `"dfm"` |
 * | `format_version` | {@link MODEL_FORMAT_VERSION} |
 * | `package_version` | the `@dfm/core` version that wrote it |
 * | `config` | {@link DFMModelConfig} |
 * | `backbone` | `{ name, layer, weightsId, weightsSha256, weightsSource }` |
 * | `image_size`, `feature_shape`, `n_samples` | what the model was fitted on |
 * | `pca`, `gaussian` | the estimators' state; typed arrays are stored as tensors named `pca.<field>` |
 * | `user` | free JSON the caller attached (thresholds, normalisation stats) |
 *
 * Float32 state is stored as F32 and float64 state as F64, so a loaded model scores exactly like
 * the saved one.
 */
export const MODEL_FORMAT_VERSION = '1';

/** What the file records about the backbone the model was fitted with. */
export interface BackboneRecord {
  name: string;
  layer: string;
  weightsId: string;
  weightsSha256: string | null;
  /** The spec to resolve the weights from again (a path, URL, hub id or `'imagenet'`); null = random init. */
  weightsSource: string | null;
}

/** Everything a `.dfm` file holds besides the estimator tensors. */
export interface ModelFileMetadata {
  formatVersion: string;
  packageVersion: string;
  config: DFMModelConfig;
  backbone: BackboneRecord;
  imageSize: [number, number] | null;
  featureShape: FeatureShape | null;
  nSamples: number;
  user: Record<string, unknown>;
}

type Tensors = Record<string, EncodableTensor>;
type Packed = Record<string, unknown>;

/** Moves the typed arrays of an estimator state into `tensors` (named `<prefix>.<field>`), leaving references. */
function pack(prefix: string, state: object, tensors: Tensors): Packed {
  const packed: Packed = {};
  for (const [key, value] of Object.entries(state)) {
    if (value instanceof Float32Array || value instanceof Float64Array) {
      const name = `${prefix}.${key}`;
      tensors[name] = { shape: [value.length], data: value };
      packed[key] = { $tensor: name };
    } else {
      packed[key] = value;
    }
  }
  return packed;
}

/** The inverse of {@link pack}: F32 tensors come back as Float32Array, F64 as Float64Array. */
function unpack(packed: Packed, tensors: Map<string, SafetensorsTensor>, file: string): Record<string, unknown> {
  const state: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(packed)) {
    if (value !== null && typeof value === 'object' && '$tensor' in value) {
      const name = String((value as { $tensor: unknown }).$tensor);
      const tensor = tensors.get(name);
      if (tensor === undefined) {
        throw new CorruptFileError(`DFMModel.load(): ${file} lacks the tensor '${name}'. The file is damaged; save the model again.`, { file });
      }
      state[key] = tensor.data;
    } else {
      state[key] = value;
    }
  }
  return state;
}

/** Encodes a fitted model as `.dfm` bytes (see {@link MODEL_FORMAT_VERSION} for the layout). */
export async function encodeModel(model: DFMModel, user: Record<string, unknown> = {}): Promise<Uint8Array> {
  const state = model.exportState();
  const backbone = model.backbone;
  const source = model.weightsSpec;
  // A local weights file is recorded by absolute path, so loading works from any folder.
  const weightsSource = typeof source === 'string' ? (existsSync(source) ? resolvePath(source) : source) : null;
  let weightsId: string;
  let weightsSha256: string | null;
  if (backbone !== undefined) {
    weightsId = backbone.weightsId;
    weightsSha256 = backbone.weightsSha256;
  } else {
    const resolved = await resolveWeights(source, { architecture: model.config.backbone, seed: model.config.seed });
    weightsId = resolved.id;
    weightsSha256 = resolved.sha256;
  }
  const tensors: Tensors = {};
  const pca = pack('pca', state.pca.getState(), tensors);
  const gaussian = state.gaussian === null ? null : pack('gaussian', state.gaussian.getState(), tensors);
  const record: BackboneRecord = {
    name: model.config.backbone,
    layer: model.config.layer,
    weightsId,
    weightsSha256,
    weightsSource,
  };
  const metadata: Record<string, string> = {
    format: 'dfm',
    format_version: MODEL_FORMAT_VERSION,
    package_version: VERSION,
    config: JSON.stringify(model.config),
    backbone: JSON.stringify(record),
    image_size: JSON.stringify(state.imageSize),
    feature_shape: JSON.stringify(state.featureShape),
    n_samples: String(state.nSamples),
    pca: JSON.stringify(pca),
    gaussian: JSON.stringify(gaussian),
    user: JSON.stringify(user),
  };
  return encodeSafetensors(tensors, metadata);
}

/** Reads the metadata of a `.dfm` file (no backbone is loaded). */
export function readModelMetadata(bytes: Uint8Array, file: string): ModelFileMetadata {
  const { metadata } = loadSafetensors(bytes, { label: file });
  return parseMetadata(metadata, file);
}

function parseMetadata(metadata: Record<string, string> | undefined, file: string): ModelFileMetadata {
  if (metadata === undefined || metadata.format !== 'dfm') {
    throw new CorruptFileError(
      `DFMModel.load(): ${file} is a safetensors file but not a .dfm model (no format: "dfm" in its metadata). Pass a file written by model.save().`,
      { file },
    );
  }
  if (metadata.format_version !== MODEL_FORMAT_VERSION) {
    throw new IncompatibleModelError(
      `DFMModel.load(): ${file} has model format version ${metadata.format_version} (written by @dfm/core ${metadata.package_version ?? 'unknown'}), this is @dfm/core ${VERSION} reading format ${MODEL_FORMAT_VERSION}. Refit the model with this version, or load it with the version that wrote it.`,
      { file },
    );
  }
  const json = (key: string): unknown => {
    const text = metadata[key];
    if (text === undefined) {
      throw new CorruptFileError(`DFMModel.load(): ${file} lacks the metadata entry '${key}'. The file is damaged; save the model again.`, { file });
    }
    try {
      return JSON.parse(text);
    } catch (cause) {
      throw new CorruptFileError(`DFMModel.load(): ${file} has unreadable JSON in metadata '${key}'. The file is damaged; save the model again.`, { file, cause });
    }
  };
  return {
    formatVersion: metadata.format_version,
    packageVersion: metadata.package_version ?? 'unknown',
    config: json('config') as DFMModelConfig,
    backbone: json('backbone') as BackboneRecord,
    imageSize: json('image_size') as [number, number] | null,
    featureShape: json('feature_shape') as FeatureShape | null,
    nSamples: Number(metadata.n_samples),
    user: (json('user') ?? {}) as Record<string, unknown>,
  };
}

/** Options of {@link loadModel}. */
export interface LoadModelOptions {
  /**
   * Where to get the backbone weights, when not from the spec recorded at save time (for example
   * the model was fitted on another machine). Their sha256 must equal the recorded one.
   */
  weights?: WeightsSpec;
}

/** A model read from a `.dfm` file, with the caller's free metadata. */
export interface LoadedModel {
  model: DFMModel;
  metadata: ModelFileMetadata;
}

/** Reads a `.dfm` file, restores the estimators, loads the backbone and checks it is the recorded one. */
export async function loadModel(path: string, options: LoadModelOptions = {}): Promise<LoadedModel> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (cause) {
    throw new DfmError(`DFMModel.load(): cannot read ${path} (${(cause as Error).message}). Check the path.`, { cause });
  }
  const { tensors, metadata: raw } = loadSafetensors(bytes, { label: path });
  const metadata = parseMetadata(raw, path);
  const { config, backbone: record } = metadata;
  let pca: PCA;
  let gaussian: SingleClassGaussian | null = null;
  try {
    pca = PCA.fromState(unpack(JSON.parse(raw?.pca ?? 'null'), tensors, path) as never);
    const gaussianPacked = JSON.parse(raw?.gaussian ?? 'null');
    if (gaussianPacked !== null) gaussian = SingleClassGaussian.fromState(unpack(gaussianPacked, tensors, path) as never);
  } catch (cause) {
    if (cause instanceof CorruptFileError) throw cause;
    throw new CorruptFileError(
      `DFMModel.load(): ${path} holds an estimator state that does not fit together (${(cause as Error).message}). The file is damaged; save the model again.`,
      { file: path, cause },
    );
  }
  if (config.scoreType === 'nll' && gaussian === null) {
    pca.dispose();
    throw new CorruptFileError(`DFMModel.load(): ${path} is an NLL model without its Gaussian. The file is damaged; save the model again.`, { file: path });
  }
  const weights = options.weights !== undefined ? options.weights : record.weightsSource;
  const model = new DFMModel({ ...config, weights });
  model.restoreState({ pca, gaussian, featureShape: metadata.featureShape, imageSize: metadata.imageSize, nSamples: metadata.nSamples });
  try {
    const backbone = await model.ready();
    if (record.weightsSha256 !== null && backbone.weightsSha256 !== record.weightsSha256) {
      throw new IncompatibleModelError(
        `DFMModel.load(): ${path} was fitted with ${record.name} weights ${record.weightsId} (sha256 ${record.weightsSha256}) — the weights given are ${backbone.weightsId} (sha256 ${backbone.weightsSha256}). Pass { weights } pointing at the file the model was fitted with.`,
        { file: path },
      );
    }
  } catch (error) {
    model.dispose();
    if (error instanceof IncompatibleModelError) throw error;
    throw new IncompatibleModelError(
      `DFMModel.load(): ${path} needs ${record.name} weights ${record.weightsId}${record.weightsSha256 ? ` (sha256 ${record.weightsSha256})` : ''}, which could not be loaded: ${(error as Error).message} Pass { weights } pointing at that file.`,
      { file: path, cause: error },
    );
  }
  return { model, metadata };
}

/** Writes a fitted model to `path` atomically (temp file + rename: an interrupted save leaves the old file). */
export async function saveModel(model: DFMModel, path: string, user: Record<string, unknown> = {}): Promise<void> {
  const bytes = await encodeModel(model, user);
  writeFileAtomic(path, bytes);
}
