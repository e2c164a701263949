import { encodeOnnxModel, nodeBuiltin, ONNX_IR_VERSION, ONNX_OPSET, sha256Hex, writeFileAtomic } from '@dfm/backbone/internal';
import { CorruptFileError, DfmError, InvalidArgumentError } from '@dfm/errors';
import type { DFMModel, DFMModelConfig } from './dfm-model';
import { IncompatibleModelError } from './errors';
import type { FeatureShape } from './feature-pooling';
import { dfmOnnxGraph, ONNX_EXPORT_INPUT, type OnnxExportOutput, onnxExportOutputs } from './onnx-graph';
import { checkPostProcessing, type PostProcessing } from './post-processing';
import { checkPreProcessing, type PreProcessing } from './pre-processing';
import { describeValue } from './raw-pixels';
import { VERSION } from './version';

/** File names of an ONNX export folder. */
export const ONNX_EXPORT_FILES = { model: 'model.onnx', metadata: 'metadata.json' } as const;

/** The metadata format this version writes and reads. */
export const ONNX_EXPORT_FORMAT = { format: 'dfm-onnx', version: 1 } as const;

/**
 * `metadata.json` of an ONNX export: everything needed to feed the graph and read its outputs
 * without `@dfm/*` (anomalib's exports leave thresholds and normalisation to side files or code).
 * The same JSON, without `model`, is stored in `model.onnx` itself (metadata_props key `dfm`).
 */
export interface OnnxExportMetadata {
  format: 'dfm-onnx';
  version: 1;
  /** The graph file, its sha256 and size; ONNX IR version and default-domain opset. */
  model: { file: string; sha256: string; bytes: number; irVersion: number; opset: number };
  /** The one input and how to prepare it (see docs/deploy.md). */
  input: {
    name: string;
    shape: ['batch', 3, number, number];
    dtype: 'float32';
    layout: 'NCHW';
    channels: 'RGB';
    /** Pixel values divided by the maximum (255 for 8-bit, 65535 for 16-bit): [0, 1]. */
    range: [0, 1];
    /** Resize every image to `size` ([height, width]) with `kernel` before the graph; `inGraph` lists what the graph does itself. */
    resize: { size: [number, number]; kernel: string };
    inGraph: string[];
  };
  outputs: OnnxExportOutput[];
  /** The model's configuration (backbone, layer, pooling, PCA level, score type). */
  config: DFMModelConfig;
  /** Resize and pixel normalisation as at training (the normalisation runs inside the graph). */
  preProcessing: PreProcessing;
  /** Thresholds and score ranges (inside the graph too); null = raw scores only. */
  postProcessing: PostProcessing | null;
  imageSize: [number, number];
  featureShape: FeatureShape;
  nComponents: number;
  nSamples: number;
  /** The backbone and the exact weights folded into the graph. */
  backbone: { name: string; layer: string; weightsId: string; weightsSha256: string | null };
  /** The @dfm/core version that exported the graph. */
  packageVersion: string;
  /** Free fields (e.g. the dataset), from the caller. */
  user: Record<string, unknown>;
}

/** What {@link exportOnnx} returns: the graph's bytes and its metadata. */
export interface OnnxExport {
  /** The `model.onnx` bytes. */
  onnx: Uint8Array;
  metadata: OnnxExportMetadata;
}

/** Options of {@link exportOnnx}. */
export interface ExportOnnxOptions {
  /** Free fields stored in the metadata (`user`), e.g. `{ dataset: { name, category } }`. */
  user?: Record<string, unknown>;
}

/**
 * The whole fitted model as one ONNX graph (opset 17) and its metadata — runnable by any ONNX
 * runtime (Python, C#, C++, onnxruntime-web) with no `@dfm/*` code: normalisation, backbone,
 * pooling, PCA, the FRE score and map (or the NLL score), min-max scaling and thresholds. Only the
 * resize stays outside (see `metadata.input.resize`). Works in Node and browsers; write the folder
 * with {@link saveOnnxExport} and score it with `loadDetector(folder)`.
 *
 * @example
 * const model = await DFMModel.load('bottle.dfm');
 * const exported = await exportOnnx(model);
 * await saveOnnxExport('bottle-onnx/', exported);
 * @throws NotFittedError for an unfitted model; InvalidArgumentError for a model whose backbone is not loaded or whose image size is unknown
 */
export async function exportOnnx(model: DFMModel, options: ExportOnnxOptions = {}): Promise<OnnxExport> {
  const where = 'exportOnnx()';
  if (model === null || typeof model !== 'object' || typeof (model as DFMModel).exportState !== 'function') {
    throw new InvalidArgumentError(`${where}: model must be a fitted DFMModel — got ${describeValue(model)}. Load one with DFMModel.load(path).`);
  }
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError(`${where}: options must be an object — got ${describeValue(options)}.`);
  const user = options.user ?? {};
  if (user === null || typeof user !== 'object' || Array.isArray(user)) {
    throw new InvalidArgumentError(`${where}: options.user must be a plain object — got ${describeValue(user)}.`);
  }
  // The graph first: it refuses an unfitted model, or one without a backbone or an image size.
  const graph = dfmOnnxGraph(model);
  const backbone = model.backbone;
  const imageSize = model.imageSize;
  const featureShape = model.featureShape;
  const describe = (): Omit<OnnxExportMetadata, 'model'> => {
    const [height, width] = imageSize as [number, number];
    const { config, preProcessing, postProcessing } = model;
    const inGraph = [
      ...(preProcessing.normalization === null ? [] : ['pixel normalisation (x − mean) / std']),
      `${config.backbone} up to ${config.layer}`,
      ...(config.poolingKernelSize > 1 ? [`average pooling ${config.poolingKernelSize}×${config.poolingKernelSize}`] : []),
      config.scoreType === 'fre' ? 'PCA reconstruction error (score and map)' : 'PCA projection and Gaussian NLL',
      ...(postProcessing === null ? [] : ['min-max scaling and thresholds']),
    ];
    return {
      ...ONNX_EXPORT_FORMAT,
      input: {
        name: ONNX_EXPORT_INPUT,
        shape: ['batch', 3, height, width],
        dtype: 'float32',
        layout: 'NCHW',
        channels: 'RGB',
        range: [0, 1],
        resize: { size: [height, width], kernel: preProcessing.resizeKernel },
        inGraph,
      },
      outputs: onnxExportOutputs(config.scoreType, postProcessing, height, width),
      config: { ...config },
      preProcessing: structuredClone(preProcessing),
      postProcessing: postProcessing === null ? null : { ...postProcessing },
      imageSize: [height, width],
      featureShape: [...(featureShape as FeatureShape)] as FeatureShape,
      nComponents: model.numComponents,
      nSamples: model.exportState().nSamples,
      backbone: {
        name: config.backbone,
        layer: config.layer,
        weightsId: backbone?.weightsId ?? '',
        weightsSha256: backbone?.weightsSha256 ?? null,
      },
      packageVersion: VERSION,
      user: structuredClone(user),
    };
  };
  const described = describe();
  graph.metadata = { dfm: JSON.stringify(described) };
  const onnx = encodeOnnxModel(graph, { producer: '@dfm/core', producerVersion: VERSION, opset: ONNX_OPSET });
  const metadata: OnnxExportMetadata = {
    ...described,
    model: { file: ONNX_EXPORT_FILES.model, sha256: await sha256Hex(onnx), bytes: onnx.length, irVersion: ONNX_IR_VERSION, opset: ONNX_OPSET },
  };
  // Keep the documented key order: format, version, model, input, …
  const { format, version, model: file, ...rest } = metadata;
  return { onnx, metadata: { format, version, model: file, ...rest } };
}

/**
 * Writes an {@link exportOnnx} result into `dir` (Node): `model.onnx`, then `metadata.json`, each
 * atomically. `dir` is created when missing; files already there are never replaced.
 *
 * @returns the two paths written
 * @throws DfmError `E_OUTPUT_EXISTS` when `dir` already holds either file
 */
export async function saveOnnxExport(dir: string, exported: OnnxExport): Promise<{ model: string; metadata: string }> {
  const where = 'saveOnnxExport()';
  if (typeof dir !== 'string' || dir.length === 0) throw new InvalidArgumentError(`${where}: dir must be a folder path — got ${describeValue(dir)}.`);
  if (exported === null || typeof exported !== 'object' || !(exported.onnx instanceof Uint8Array) || exported.metadata?.format !== ONNX_EXPORT_FORMAT.format) {
    throw new InvalidArgumentError(`${where}: exported must be what exportOnnx() returned — got ${describeValue(exported)}.`);
  }
  const fs = nodeBuiltin('fs', where);
  const { join } = nodeBuiltin('path', where);
  const paths = { model: join(dir, ONNX_EXPORT_FILES.model), metadata: join(dir, ONNX_EXPORT_FILES.metadata) };
  for (const path of Object.values(paths)) {
    if (fs.existsSync(path)) {
      throw new DfmError(`${where}: ${path} already exists — nothing was written. Export into a new folder, or move the earlier export away.`, {
        code: 'E_OUTPUT_EXISTS',
      });
    }
  }
  fs.mkdirSync(dir, { recursive: true });
  writeFileAtomic(paths.model, exported.onnx);
  writeFileAtomic(paths.metadata, `${JSON.stringify(exported.metadata, null, 2)}\n`);
  return paths;
}

const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * Parses and checks an ONNX export's `metadata.json` (what the Detector needs of it).
 *
 * @param label its path or URL, for messages
 * @throws CorruptFileError (`E_CORRUPT_FILE`) for a file that is not such metadata
 * @throws IncompatibleModelError (`E_INCOMPATIBLE_MODEL`) for another format version
 */
export function parseOnnxMetadata(text: string, label: string): OnnxExportMetadata {
  const damaged = (what: string, cause?: unknown): CorruptFileError =>
    new CorruptFileError(`loadDetector(): ${label} ${what}. Export the model again with dfm export --export-type onnx.`, { file: label, cause });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw damaged('is not valid JSON', cause);
  }
  if (!isObject(json) || json.format !== ONNX_EXPORT_FORMAT.format) throw damaged(`is not ONNX export metadata (expected "format": "${ONNX_EXPORT_FORMAT.format}")`);
  if (json.version !== ONNX_EXPORT_FORMAT.version) {
    throw new IncompatibleModelError(
      `loadDetector(): ${label} has ONNX export metadata version ${JSON.stringify(json.version)}; this version reads ${ONNX_EXPORT_FORMAT.version}. Export the model again with this version's dfm export --export-type onnx.`,
      { file: label },
    );
  }
  const model = json.model;
  if (!isObject(model) || typeof model.file !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]*\.onnx$/.test(model.file) || typeof model.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(model.sha256)) {
    throw damaged('lacks a valid "model" entry ({ file: "model.onnx", sha256 })');
  }
  const input = json.input;
  if (!isObject(input) || input.name !== ONNX_EXPORT_INPUT || input.layout !== 'NCHW') throw damaged(`lacks the input description (expected name "${ONNX_EXPORT_INPUT}", layout NCHW)`);
  const size = json.imageSize;
  if (!Array.isArray(size) || size.length !== 2 || !size.every((v) => Number.isSafeInteger(v) && (v as number) > 0)) throw damaged('lacks a valid imageSize [height, width]');
  if (!Array.isArray(json.outputs) || !json.outputs.every((o) => isObject(o) && typeof o.name === 'string')) throw damaged('lacks the outputs list');
  const config = json.config;
  if (!isObject(config) || (config.scoreType !== 'fre' && config.scoreType !== 'nll')) throw damaged('lacks config.scoreType');
  const backbone = json.backbone;
  if (!isObject(backbone) || typeof backbone.name !== 'string' || typeof backbone.layer !== 'string') throw damaged('lacks the backbone record');
  try {
    json.preProcessing = checkPreProcessing(json.preProcessing, `loadDetector(): ${label}`);
    json.postProcessing = json.postProcessing === null ? null : checkPostProcessing(json.postProcessing, `loadDetector(): ${label}`);
  } catch (cause) {
    throw damaged(`has invalid pre- or post-processing (${(cause as Error).message})`, cause);
  }
  return json as unknown as OnnxExportMetadata;
}
