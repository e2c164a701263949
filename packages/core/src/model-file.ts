import * as tf from '@tensorflow/tfjs-core';
import { BACKBONE_NAMES, CALIBRATION_METHODS, type CalibrationMethod, setBackend, type EncodableTensor, type Int8Calibration, type OnnxruntimePackage, type Precision, type RuntimeChoice, encodeSafetensors, loadSafetensors, resolveWeights, type SafetensorsTensor, type WeightsSpec } from '@dfm/backbone';
import { isNode, nodeBuiltin, writeFileAtomic } from '@dfm/backbone/internal';
import { PCA, SingleClassGaussian } from '@dfm/linalg';
import { type DFMModelConfig, DFMModel } from './dfm-model';
import { IncompatibleModelError, WeightsMismatchError } from './errors';
import type { FeatureShape } from './feature-pooling';
import { VERSION } from './version';
import { CorruptFileError, DfmError, InvalidArgumentError } from '@dfm/errors';
import { checkPostProcessing, type PostProcessing } from './post-processing';
import { checkPreProcessing, type PreProcessing } from './pre-processing';

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
 * | `pre_processing` | {@link PreProcessing}: resize size and kernel, pixel normalisation |
 * | `post_processing` | {@link PostProcessing} (thresholds, score ranges) or null |
 * | `pca`, `gaussian` | the estimators' state; typed arrays are stored as tensors named `pca.<field>` |
 * | `user` | free JSON the caller attached (dataset, split) |
 *
 * Float32 state is stored as F32 and float64 state as F64, so a loaded model scores exactly like
 * the saved one.
 */
export const MODEL_FORMAT_VERSION = '2';

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
  preProcessing: PreProcessing;
  postProcessing: PostProcessing | null;
  user: Record<string, unknown>;
  /** The int8 activation ranges (int8 models only). */
  int8Calibration: Int8Calibration | null;
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

/** The absolute path of a weights spec that names an existing file (Node only), else undefined. */
function localWeightsPath(spec: string): string | undefined {
  if (!isNode()) return undefined;
  const { existsSync } = nodeBuiltin('fs', 'encodeModel()');
  return existsSync(spec) ? nodeBuiltin('path', 'encodeModel()').resolve(spec) : undefined;
}

/** Encodes a fitted model as `.dfm` bytes (see {@link MODEL_FORMAT_VERSION} for the layout). */
export async function encodeModel(model: DFMModel, user: Record<string, unknown> = {}): Promise<Uint8Array> {
  const state = model.exportState();
  const backbone = model.backbone;
  const source = model.weightsSpec;
  // A local weights file is recorded by absolute path, so loading works from any folder.
  const weightsSource = typeof source === 'string' ? localWeightsPath(source) ?? source : null;
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
    pre_processing: JSON.stringify(model.preProcessing),
    post_processing: JSON.stringify(model.postProcessing),
    pca: JSON.stringify(pca),
    gaussian: JSON.stringify(gaussian),
    user: JSON.stringify(user),
  };
  if (model.config.precision === 'int8') {
    const calibration = model.int8Calibration;
    if (calibration === undefined) throw new InvalidArgumentError("model.save(): an int8 model must be calibrated (its activation ranges are part of the model) — this one is not. Call model.calibrateInt8(batches) before fitting.");
    metadata.int8_calibration = JSON.stringify(calibration);
  }
  return encodeSafetensors(tensors, metadata);
}

/**
 * Largest `.dfm` header accepted (the JSON metadata; the estimator arrays are tensors, not JSON).
 * Real headers are a few KB; the limit leaves room for large `user` metadata.
 */
export const MAX_MODEL_HEADER_BYTES = 16 * 2 ** 20;

/** Reads the metadata of a `.dfm` file (no backbone is loaded, no estimator is restored). */
export function readModelMetadata(bytes: Uint8Array, file: string): ModelFileMetadata {
  const { metadata } = loadSafetensors(bytes, { label: file, maxHeaderBytes: MAX_MODEL_HEADER_BYTES });
  return parseMetadata(metadata, file);
}

/** Deepest nesting of arrays and objects accepted in a metadata JSON value. */
const MAX_JSON_DEPTH = 64;

/** The nesting depth of a JSON text (brackets inside strings ignored), without parsing it. */
function jsonDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) deepest = Math.max(deepest, ++depth);
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return deepest;
}

/** A short, safe rendering of an untrusted value for messages. */
function preview(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Parses one metadata entry, refusing a missing entry, bad JSON or nesting beyond {@link MAX_JSON_DEPTH}. */
function metadataJson(metadata: Record<string, string> | undefined, key: string, file: string): unknown {
  const damaged = (what: string, cause?: unknown): CorruptFileError =>
    new CorruptFileError(`DFMModel.load(): ${file} ${what}. The file is damaged; save the model again.`, { file, cause });
  const text = metadata?.[key];
  if (text === undefined) throw damaged(`lacks the metadata entry '${key}'`);
  const depth = jsonDepth(text);
  if (depth > MAX_JSON_DEPTH) throw damaged(`has metadata '${key}' nested ${depth} levels deep (at most ${MAX_JSON_DEPTH})`);
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw damaged(`has unreadable JSON in metadata '${key}'`, cause);
  }
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);
const isPositiveIntegers = (value: unknown, length: number): value is number[] =>
  Array.isArray(value) && value.length === length && value.every((n) => Number.isSafeInteger(n) && n > 0);

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
  const damaged = (what: string, cause?: unknown): CorruptFileError =>
    new CorruptFileError(`DFMModel.load(): ${file} ${what}. The file is damaged; save the model again.`, { file, cause });
  const json = (key: string): unknown => metadataJson(metadata, key, file);

  const parsedConfig = json('config');
  if (!isPlainObject(parsedConfig)) throw damaged(`has metadata 'config' that is not an object (got ${preview(parsedConfig)})`);
  // Options that are objects or code paths at runtime never come from a file.
  const {
    backboneInstance: _instance,
    weights: _weights,
    runtime: _runtime,
    onnxruntimeModule: _module,
    onnxruntimePackage: _package,
    workers: _workers,
    threads: _threads,
    ...config
  } = parsedConfig;
  const backbone = json('backbone');
  if (
    !isPlainObject(backbone) ||
    typeof backbone.name !== 'string' ||
    typeof backbone.layer !== 'string' ||
    typeof backbone.weightsId !== 'string' ||
    !(backbone.weightsSha256 === null || (typeof backbone.weightsSha256 === 'string' && /^[0-9a-f]{64}$/.test(backbone.weightsSha256))) ||
    !(backbone.weightsSource === null || typeof backbone.weightsSource === 'string')
  ) {
    throw damaged("has metadata 'backbone' that is not { name, layer, weightsId, weightsSha256, weightsSource }");
  }
  if (backbone.name !== config.backbone || backbone.layer !== config.layer) {
    throw damaged(`records backbone ${String(backbone.name)}/${String(backbone.layer)} but its config says ${String(config.backbone)}/${String(config.layer)}`);
  }
  if (!(BACKBONE_NAMES as readonly string[]).includes(backbone.name)) {
    throw new IncompatibleModelError(
      `DFMModel.load(): ${file} needs backbone ${JSON.stringify(backbone.name)}, which this @dfm/core ${VERSION} does not know (it knows ${BACKBONE_NAMES.join(', ')}). Load it with the version that wrote it (${metadata.package_version ?? 'unknown'}).`,
      { file },
    );
  }
  const imageSize = json('image_size');
  if (!(imageSize === null || isPositiveIntegers(imageSize, 2))) throw damaged(`has image_size ${preview(imageSize)}, not [height, width] or null`);
  const featureShape = json('feature_shape');
  if (!(featureShape === null || isPositiveIntegers(featureShape, 3))) {
    throw damaged(`has feature_shape ${preview(featureShape)}, not [h, w, c] or null`);
  }
  const nSamples = Number(metadata.n_samples);
  if (!Number.isSafeInteger(nSamples) || nSamples < 2) throw damaged(`has n_samples ${preview(metadata.n_samples)}, not an integer ≥ 2`);
  const user = json('user') ?? {};
  if (!isPlainObject(user)) throw damaged("has metadata 'user' that is not an object");
  let preProcessing: PreProcessing;
  let postProcessing: PostProcessing | null;
  try {
    preProcessing = checkPreProcessing(json('pre_processing'), 'pre_processing');
    const post = json('post_processing');
    postProcessing = post === null ? null : checkPostProcessing(post, 'post_processing');
  } catch (cause) {
    if (cause instanceof CorruptFileError) throw cause;
    throw damaged(`has invalid metadata (${(cause as Error).message})`, cause);
  }
  if (preProcessing.imageSize !== null && imageSize !== null && (preProcessing.imageSize[0] !== imageSize[0] || preProcessing.imageSize[1] !== imageSize[1])) {
    throw damaged(`resizes to ${preProcessing.imageSize.join('×')} but was fitted on ${imageSize.join('×')} images`);
  }
  // Files written before precision existed are fp32.
  config.precision ??= 'fp32';
  let int8Calibration: Int8Calibration | null = null;
  if (config.precision === 'int8') {
    const calibration = json('int8_calibration');
    if (!isInt8Calibration(calibration)) throw damaged("is an int8 model without valid activation ranges (metadata 'int8_calibration': { method, images, ranges: { tensor: [min, max] } })");
    int8Calibration = calibration;
  } else if (config.precision !== 'fp32') {
    throw damaged(`has precision ${preview(config.precision)}, not 'fp32' or 'int8'`);
  }
  return {
    int8Calibration,
    formatVersion: metadata.format_version,
    packageVersion: metadata.package_version ?? 'unknown',
    config: config as unknown as DFMModelConfig,
    backbone: backbone as unknown as BackboneRecord,
    imageSize: imageSize as [number, number] | null,
    featureShape: featureShape as FeatureShape | null,
    nSamples,
    preProcessing,
    postProcessing,
    user,
  };
}

/** A `.dfm` file decoded and checked, before any backbone is loaded. The caller owns (and disposes) the estimators. */
export interface DecodedModelFile {
  metadata: ModelFileMetadata;
  pca: PCA;
  gaussian: SingleClassGaussian | null;
}

/**
 * Decodes and checks a `.dfm` file without loading its backbone: the safetensors layout (header
 * limit {@link MAX_MODEL_HEADER_BYTES}, offsets, shapes), every tensor finite, the metadata's types,
 * the estimators' states (lengths, finiteness, float32 range) and that they fit together (PCA
 * features = h·w·c of the feature shape, Gaussian features = PCA components, an NLL model has its
 * Gaussian) and with the config (which must construct a {@link DFMModel}). Throws
 * CorruptFileError (or IncompatibleModelError for another format version or an unknown backbone),
 * naming the file; never returns a model that would score NaN from its own state.
 */
export function decodeModelFile(bytes: Uint8Array, file: string): DecodedModelFile {
  const { tensors, metadata: raw } = loadSafetensors(bytes, { label: file, maxHeaderBytes: MAX_MODEL_HEADER_BYTES, requireFinite: true });
  const metadata = parseMetadata(raw, file);
  const damaged = (what: string, cause?: unknown): CorruptFileError =>
    new CorruptFileError(`DFMModel.load(): ${file} ${what}. The file is damaged; save the model again.`, { file, cause });
  try {
    new DFMModel({ ...metadata.config, weights: null }).dispose();
  } catch (cause) {
    throw damaged(`has an invalid config (${(cause as Error).message})`, cause);
  }
  let pca: PCA | undefined;
  let gaussian: SingleClassGaussian | null = null;
  try {
    const pcaPacked = metadataJson(raw, 'pca', file);
    if (!isPlainObject(pcaPacked)) throw damaged("has no PCA state (metadata 'pca')");
    pca = PCA.fromState(unpack(pcaPacked, tensors, file) as never);
    const gaussianPacked = metadataJson(raw, 'gaussian', file);
    if (gaussianPacked !== null) {
      if (!isPlainObject(gaussianPacked)) throw damaged("has metadata 'gaussian' that is not an object");
      gaussian = SingleClassGaussian.fromState(unpack(gaussianPacked, tensors, file) as never);
    }
    const { featureShape, config } = metadata;
    const nFeatures = pca.mean.shape[0];
    if (featureShape !== null && featureShape[0] * featureShape[1] * featureShape[2] !== nFeatures) {
      throw damaged(`has feature_shape [${featureShape.join(',')}] (${featureShape[0] * featureShape[1] * featureShape[2]} features) but a PCA over ${nFeatures} features`);
    }
    if (gaussian !== null && gaussian.getState().nFeatures !== pca.numComponents) {
      throw damaged(`has a Gaussian over ${gaussian.getState().nFeatures} features but a PCA with ${pca.numComponents} components`);
    }
    if (config.scoreType === 'nll' && gaussian === null) throw damaged('is an NLL model without its Gaussian');
    if (pca.getState().nSamples !== metadata.nSamples) {
      throw damaged(`records n_samples ${metadata.nSamples} but its PCA was fitted on ${pca.getState().nSamples}`);
    }
  } catch (cause) {
    pca?.dispose();
    gaussian?.dispose();
    if (cause instanceof CorruptFileError) throw cause;
    throw damaged(`holds an estimator state that does not fit together (${(cause as Error).message})`, cause);
  }
  return { metadata, pca, gaussian };
}

function isInt8Calibration(value: unknown): value is Int8Calibration {
  if (!isPlainObject(value) || !CALIBRATION_METHODS.includes(value.method as CalibrationMethod) || !Number.isSafeInteger(value.images) || !isPlainObject(value.ranges)) return false;
  return Object.values(value.ranges).every((r) => Array.isArray(r) && r.length === 2 && r.every(Number.isFinite) && (r[0] as number) <= (r[1] as number));
}

/** Options of {@link loadModel}. */
export interface LoadModelOptions {
  /**
   * The precision the caller means to score with; when given it must be the model's (a model fitted
   * on int8 features is only scored with int8 features, and fp32 likewise): `E_PRECISION_MISMATCH`
   * otherwise. Default: the model's own.
   */
  precision?: Precision;
  /**
   * Where to get the backbone weights, when not from the spec recorded at save time (for example
   * the model was fitted on another machine). Their sha256 must equal the recorded one.
   */
  weights?: WeightsSpec;
  /** Backbone runtime (what executes the network; not stored in the file). Default `'auto'`. */
  runtime?: RuntimeChoice;
  /** See `DFMModelOptions.onnxruntimeModule` (a browser passes `import * as ort from 'onnxruntime-web'`). */
  onnxruntimeModule?: unknown;
  /** See `DFMModelOptions.onnxruntimePackage`. */
  onnxruntimePackage?: OnnxruntimePackage;
  /** See `DFMModelOptions.workers`. */
  workers?: number | 'auto';
  /** See `DFMModelOptions.threads`. */
  threads?: number;
  /** The name of in-memory bytes in messages. Default `'<model bytes>'`. */
  label?: string;
}

/** A model read from a `.dfm` file, with the caller's free metadata. */
export interface LoadedModel {
  model: DFMModel;
  metadata: ModelFileMetadata;
}

/** A `.dfm` model: a file path (Node) or the file's bytes (anywhere, e.g. fetched in a browser). */
export type ModelSource = string | Uint8Array;

/** Reads a `.dfm` model, restores the estimators and pre/post-processing, loads the backbone and checks it is the recorded one. */
export async function loadModel(source: ModelSource, options: LoadModelOptions = {}): Promise<LoadedModel> {
  let bytes: Uint8Array;
  let path: string;
  if (source instanceof Uint8Array) {
    bytes = source;
    path = options.label ?? '<model bytes>';
  } else if (typeof source === 'string' && source.length > 0) {
    path = source;
    if (!isNode()) {
      throw new InvalidArgumentError(
        `DFMModel.load(): a path (${JSON.stringify(source)}) needs Node.js — this runtime has no file system. In a browser fetch the file and pass its bytes (Uint8Array), or use loadDetector(url).`,
      );
    }
    const { readFile } = nodeBuiltin('fs', `DFMModel.load(${JSON.stringify(source)})`).promises;
    try {
      bytes = await readFile(source);
    } catch (cause) {
      throw new DfmError(`DFMModel.load(): cannot read ${source} (${(cause as Error).message}). Check the path.`, { cause, code: 'E_FILE_NOT_READABLE' });
    }
  } else {
    throw new InvalidArgumentError(
      `DFMModel.load(): source must be a .dfm path or the file's bytes (Uint8Array) — got ${source === null ? 'null' : typeof source}.`,
    );
  }
  // The estimators are restored as tensors: start a backend first (a page that loads a model before
  // anything else has none running yet), so a missing backend is never reported as a damaged file.
  if (Object.keys(tf.engine().registryFactory).length === 0) await setBackend();
  else await tf.ready();
  const { metadata, pca, gaussian } = decodeModelFile(bytes, path);
  const { config, backbone: record } = metadata;
  if (options.precision !== undefined && options.precision !== config.precision) {
    pca.dispose();
    gaussian?.dispose();
    throw new DfmError(
      `DFMModel.load(): ${path} was fitted on ${config.precision} features — precision ${JSON.stringify(options.precision)} was asked for. Features of one precision are not scored against a fit on the other: drop the precision option, or fit the model again with precision '${options.precision}'.`,
      { code: 'E_PRECISION_MISMATCH' },
    );
  }
  const weights = options.weights !== undefined ? options.weights : record.weightsSource;
  const { runtime, onnxruntimeModule, onnxruntimePackage, workers, threads } = options;
  const model = new DFMModel({
    ...config,
    weights,
    runtime,
    onnxruntimeModule,
    onnxruntimePackage,
    workers,
    threads,
    preProcessing: metadata.preProcessing,
    ...(metadata.int8Calibration === null ? {} : { int8Calibration: metadata.int8Calibration }),
  });
  model.restoreState({ pca, gaussian, featureShape: metadata.featureShape, imageSize: metadata.imageSize, nSamples: metadata.nSamples });
  model.preProcessing = metadata.preProcessing;
  model.postProcessing = metadata.postProcessing;
  model.metadata = metadata.user;
  try {
    const backbone = await model.ready();
    if (record.weightsSha256 !== null && backbone.weightsSha256 !== record.weightsSha256) {
      throw new WeightsMismatchError(
        `DFMModel.load(): ${path} was fitted with ${record.name} weights ${record.weightsId} (sha256 ${record.weightsSha256}) — the weights given are ${backbone.weightsId} (sha256 ${backbone.weightsSha256}). Pass { weights } pointing at the file the model was fitted with.`,
        { file: path },
      );
    }
  } catch (error) {
    model.dispose();
    if (error instanceof WeightsMismatchError) throw error;
    // Not a mismatch: the weights could not be had (missing file, network, disk, a bug). Say which
    // weights the model needs and keep the cause's own code, so a download failure stays one.
    const code = error instanceof DfmError ? error.code : 'E_INTERNAL';
    throw new DfmError(
      `DFMModel.load(): ${path} needs ${record.name} weights ${record.weightsId}${record.weightsSha256 ? ` (sha256 ${record.weightsSha256})` : ''}, which could not be loaded: ${(error as Error).message} Pass { weights } pointing at that file, or fix the cause above.`,
      { code, cause: error },
    );
  }
  return { model, metadata };
}

/** Writes a fitted model to `path` atomically (temp file + rename: an interrupted save leaves the old file). */
export async function saveModel(model: DFMModel, path: string, user: Record<string, unknown> = {}): Promise<void> {
  const bytes = await encodeModel(model, user);
  writeFileAtomic(path, bytes);
}
