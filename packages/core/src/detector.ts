import { isNode, nodeBuiltin } from '@dfm/backbone/internal';
import { normalizationAffine, type ResizeAffine, resizeBilinearAntialiased } from '@dfm/data/pixels';
import { DfmError, InvalidArgumentError, ShapeMismatchError } from '@dfm/errors';
import * as tf from '@tensorflow/tfjs-core';
import type { DFMModel, DFMModelConfig } from './dfm-model';
import { type DecodedInput, type DetectorInput, decodeDetectorInput, loadDataModule, type SharpResize } from './detector-input';
import { IncompatibleModelError } from './errors';
import { checkExportFile, type ExportManifestFile, parseExportManifest } from './export-manifest';
import { type LoadModelOptions, loadModel, readModelMetadata } from './model-file';
import { imageScaling, type PostProcessing, pixelScaling, scaleInto } from './post-processing';
import { DEFAULT_RESIZE_KERNEL, type PreProcessing } from './pre-processing';
import { loadOnnxEngine } from './onnx-engine';
import { ONNX_EXPORT_FILES, type OnnxExportMetadata, parseOnnxMetadata } from './onnx-export';
import { describeValue } from './raw-pixels';

/**
 * Where a fitted model is: a `.dfm` path (Node), an export folder (a folder holding
 * `manifest.json`, Node), an http(s) URL — or, in a browser, a URL starting with `/`, `./` or `../` —
 * of a `.dfm` file or of an export folder (ending with `/`, or naming its `manifest.json`), a `URL`,
 * or the `.dfm` file's bytes.
 */
export type DetectorSource = string | URL | Uint8Array;

/**
 * Options of {@link loadDetector}: the model loader's (`weights` — where the backbone weights are when
 * not where the model file or export folder says, sha256 checked; `runtime`; `onnxruntimeModule` /
 * `onnxruntimePackage`; `workers`; `threads`), and:
 */
export interface LoadDetectorOptions extends Omit<LoadModelOptions, 'label'> {
  /** `fetch` for URLs (default `globalThis.fetch`). */
  fetch?: typeof fetch;
  /**
   * Refuse images with more pixels than this (decompression bombs). Files and bytes decoded in
   * Node are checked from their header, before decoding; default @dfm/data's (178,956,970). Other
   * inputs are checked once decoded; default none.
   */
  pixelLimit?: number;
}

/** What a {@link Detector} returns for one image: plain numbers and arrays, nothing to dispose. */
export interface DetectorResult {
  /** Raw score: the feature reconstruction error (FRE) or the negative log-likelihood (NLL). */
  predScore: number;
  /** `predScore` min-max scaled with the model's thresholds, in [0, 1], 0.5 = threshold; null when the model has none. */
  normalizedScore: number | null;
  /** 1 = anomalous (`predScore > imageThreshold`), 0 = normal; null when the model has no thresholds. */
  predLabel: 0 | 1 | null;
  /** Raw FRE map at the pre-processed size (FRE models, unless `{ map: false }`). */
  anomalyMap?: { width: number; height: number; data: Float32Array };
  /** 1 where the map is above the pixel threshold (when the model has pixel thresholds and a map). */
  predMask?: { width: number; height: number; data: Uint8Array };
}

/** What a {@link Detector} runs: the model file's records and the runtime chosen. */
export interface DetectorInfo {
  config: DFMModelConfig;
  /** Resize (size, kernel) and pixel normalisation, as at training. */
  preProcessing: PreProcessing;
  /** Thresholds and score ranges; null = raw scores only. */
  postProcessing: PostProcessing | null;
  /** `[height, width]` of the images the model was fitted on (after pre-processing), when known. */
  imageSize: [number, number] | null;
  /** The backbone the model file records (weights checked by sha256 at load). */
  backbone: { name: string; layer: string; weightsId: string; weightsSha256: string | null };
  /** What executes the network: `'tfjs'` or `'onnxruntime'`. */
  runtime: string;
  /** Why this runtime, and on what (backend, threads, workers). */
  runtimeDetail: string;
  /** The `@dfm/core` version that wrote the model file. */
  packageVersion: string;
}

/** Options of {@link Detector.predict}. */
export interface PredictOptions {
  /** Compute the anomaly map (FRE models). Default true; false is faster when only scores are needed. */
  map?: boolean;
}

/** Options of {@link Detector.predictBatch}. */
export interface PredictBatchOptions extends PredictOptions {
  /** Images per backbone call (default 8); the next batch is decoded while one runs. */
  batchSize?: number;
}

/** A pre-processed image, ready for the backbone. */
interface Prepared {
  data: Float32Array;
  height: number;
  width: number;
}

const DEFAULT_BATCH_SIZE = 8;

/**
 * A fitted model ready to score images anywhere JavaScript runs — the front door for scoring
 * (anomalib's inferencers): the model file's pre-processing (the same antialiased resize and
 * normalisation as training, never a canvas resize), the model, and its thresholds. Results are
 * plain objects. Create one with {@link loadDetector}.
 *
 * @example
 * const detector = await loadDetector('bottle.dfm');
 * const { predScore, normalizedScore, predLabel, anomalyMap } = await detector.predict('000.png');
 * await detector.close();
 */
export class Detector {
  readonly info: DetectorInfo;
  readonly #engine: DetectorEngine;
  readonly #sharpResize: SharpResize | undefined;
  readonly #pixelLimit: number | undefined;
  readonly #running = new Set<Promise<unknown>>();
  #disposed = false;

  /** @internal Use {@link loadDetector}. */
  constructor(engine: DetectorEngine, info: DetectorInfo, options: { pixelLimit?: number } = {}) {
    this.#engine = engine;
    const { imageSize, resizeKernel } = info.preProcessing;
    this.#sharpResize =
      imageSize !== null && resizeKernel !== DEFAULT_RESIZE_KERNEL
        ? { height: imageSize[0], width: imageSize[1], kernel: resizeKernel as SharpResize['kernel'] }
        : undefined;
    this.#pixelLimit = options.pixelLimit;
    this.info = info;
  }

  /**
   * Scores one image: decoded (sharp in Node, the browser elsewhere), pre-processed as at training,
   * run through the model, scaled and labelled with the model's thresholds.
   *
   * @throws InvalidArgumentError (`E_INVALID_ARGUMENT`) for an input of the wrong kind, saying what was expected
   * @throws DfmError `E_IMAGE_DECODE` / `E_IMAGE_TOO_LARGE` for an image that cannot be decoded or is too large
   * @throws ShapeMismatchError (`E_IMAGE_SIZE_MISMATCH`) for a model without resizing and an image of another size
   */
  async predict(input: DetectorInput, options: PredictOptions = {}): Promise<DetectorResult> {
    const [result] = await this.#track(this.#predict([input], options, 'Detector.predict()', true));
    return result as DetectorResult;
  }

  /** Scores several images, `batchSize` per backbone call; results in input order. Same errors as {@link predict}, naming `inputs[i]`. */
  async predictBatch(inputs: readonly DetectorInput[], options: PredictBatchOptions = {}): Promise<DetectorResult[]> {
    if (!Array.isArray(inputs)) {
      throw new InvalidArgumentError(`Detector.predictBatch(): inputs must be an array of images — got ${describeValue(inputs)}. For one image use predict().`);
    }
    return this.#track(this.#predict(inputs, options, 'Detector.predictBatch()', false));
  }

  /** Frees the model and its backbone (or onnxruntime session) now; a later predict fails with `E_DISPOSED`. */
  dispose(): void {
    this.#disposed = true;
    void this.#engine.dispose();
  }

  /** Waits for the predictions under way, then frees the model and its backbone (or onnxruntime session). */
  async close(): Promise<void> {
    this.#disposed = true;
    await Promise.allSettled([...this.#running]);
    await this.#engine.dispose();
  }

  async #track<T>(promise: Promise<T>): Promise<T> {
    this.#running.add(promise);
    try {
      return await promise;
    } finally {
      this.#running.delete(promise);
    }
  }

  async #predict(inputs: readonly DetectorInput[], options: PredictBatchOptions, where: string, single: boolean): Promise<DetectorResult[]> {
    if (this.#disposed) throw new DfmError(`${where}: the detector was closed or disposed. Load it again with loadDetector().`, { code: 'E_DISPOSED' });
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError(`${where}: options must be an object — got ${describeValue(options)}.`);
    const { map = true, batchSize = DEFAULT_BATCH_SIZE } = options;
    if (typeof map !== 'boolean') throw new InvalidArgumentError(`${where}: map must be true or false — got ${describeValue(map)}.`);
    if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new InvalidArgumentError(`${where}: batchSize must be an integer ≥ 1 — got ${describeValue(batchSize)}.`);
    const wantMap = map && this.info.config.scoreType === 'fre';
    const prepareChunk = (start: number) =>
      Promise.all(inputs.slice(start, start + batchSize).map((input, k) => this.#prepare(input, where, single ? 'input' : `inputs[${start + k}]`)));
    const results: DetectorResult[] = [];
    let next: Promise<Prepared[]> | undefined = inputs.length > 0 ? prepareChunk(0) : undefined;
    for (let start = 0; next !== undefined; start += batchSize) {
      const prepared: Prepared[] = await next;
      // Decode the next chunk while this one runs; its failure surfaces when it is awaited.
      next = start + batchSize < inputs.length ? prepareChunk(start + batchSize) : undefined;
      next?.catch(() => undefined);
      if (this.#disposed) throw new DfmError(`${where}: the detector was closed or disposed while images were decoded.`, { code: 'E_DISPOSED' });
      // Images of one size go through the backbone together (sizes differ only without resizing).
      for (let i = 0; i < prepared.length; ) {
        let j = i + 1;
        while (j < prepared.length && prepared[j]!.height === prepared[i]!.height && prepared[j]!.width === prepared[i]!.width) j++;
        results.push(...(await this.#run(prepared.slice(i, j), wantMap)));
        i = j;
      }
    }
    return results;
  }

  /** Decodes one input and applies the model's pre-processing: RGB → antialiased resize + normalisation, as training did. */
  async #prepare(input: DetectorInput, where: string, what: string): Promise<Prepared> {
    const pixels: DecodedInput = await decodeDetectorInput(input, { where, what, pixelLimit: this.#pixelLimit, sharpResize: this.#sharpResize });
    const { imageSize, resizeKernel } = this.info.preProcessing;
    if (imageSize !== null && resizeKernel !== DEFAULT_RESIZE_KERNEL && !pixels.resizedBySharp) {
      throw new InvalidArgumentError(
        `${where}: this model resizes with sharp's '${resizeKernel}' kernel, which only runs on encoded images in Node — ${what} is already decoded. Pass the image file's path or bytes, or use a model fitted with resizeKernel 'bilinear-antialiased'.`,
      );
    }
    let height = pixels.height;
    let width = pixels.width;
    if (imageSize !== null) {
      [height, width] = imageSize;
    } else {
      const fitted = this.info.imageSize;
      if (fitted !== null && (pixels.height !== fitted[0] || pixels.width !== fitted[1])) {
        throw new ShapeMismatchError(
          `${where}: this model does not resize (its pre-processing has imageSize null) and was fitted on ${fitted[1]}×${fitted[0]} (w×h) images — ${what} is ${pixels.width}×${pixels.height}. Resize the image to ${fitted[1]}×${fitted[0]} first, as the training images were.`,
          { code: 'E_IMAGE_SIZE_MISMATCH' },
        );
      }
    }
    const data = resizeBilinearAntialiased(pixels.data, pixels.height, pixels.width, 3, height, width, 1 / pixels.maxValue, this.#engine.affine);
    return { data, height, width };
  }

  /** One engine call for images of one size: the batch packed as the engine takes it (NHWC, or NCHW for an ONNX graph). */
  async #run(images: readonly Prepared[], wantMap: boolean): Promise<DetectorResult[]> {
    const { height, width } = images[0]!;
    const size = height * width;
    let input: Float32Array;
    if (this.#engine.layout === 'nchw') {
      input = new Float32Array(images.length * size * 3);
      images.forEach((image, i) => {
        const { data } = image;
        const base = i * size * 3;
        for (let p = 0; p < size; p++) {
          input[base + p] = data[p * 3] as number;
          input[base + size + p] = data[p * 3 + 1] as number;
          input[base + 2 * size + p] = data[p * 3 + 2] as number;
        }
      });
    } else if (images.length === 1) {
      input = images[0]!.data;
    } else {
      input = new Float32Array(images.length * size * 3);
      images.forEach((image, i) => {
        input.set(image.data, i * size * 3);
      });
    }
    return this.#engine.run(input, images.length, height, width, wantMap);
  }
}

/** What scores a packed batch behind a {@link Detector}: a {@link DFMModel}, or an exported graph in onnxruntime. */
export interface DetectorEngine {
  /** Folded into the resize: the DFMModel path normalises there; an ONNX graph normalises itself (undefined). */
  readonly affine: ResizeAffine | undefined;
  /** How {@link DetectorEngine.run} takes the batch: `[B, H, W, 3]` or `[B, 3, H, W]`. */
  readonly layout: 'nhwc' | 'nchw';
  run(input: Float32Array, count: number, height: number, width: number, wantMap: boolean): Promise<DetectorResult[]>;
  dispose(): void | Promise<void>;
}

/** A {@link DFMModel} (its backbone on tfjs or onnxruntime), then the thresholds applied here. */
class ModelEngine implements DetectorEngine {
  readonly layout = 'nhwc';
  readonly affine: ResizeAffine | undefined;

  constructor(
    private readonly model: DFMModel,
    private readonly post: PostProcessing | null,
  ) {
    const { normalization } = model.preProcessing;
    this.affine = normalization === null ? undefined : normalizationAffine(normalization, 'loadDetector()');
  }

  /** One backbone call; every tensor freed here. */
  async run(input: Float32Array, count: number, height: number, width: number, wantMap: boolean): Promise<DetectorResult[]> {
    const size = height * width;
    const batch = tf.tensor4d(input, [count, height, width, 3]);
    let output: Awaited<ReturnType<DFMModel['predict']>>;
    try {
      output = await this.model.predict(batch, { map: wantMap });
    } finally {
      batch.dispose();
    }
    let scores: Float32Array;
    let maps: Float32Array | undefined;
    try {
      scores = (await output.predScore.data()) as Float32Array;
      maps = output.anomalyMap === undefined ? undefined : ((await output.anomalyMap.data()) as Float32Array);
    } finally {
      output.predScore.dispose();
      output.anomalyMap?.dispose();
    }
    const { post } = this;
    const pixel = post === null ? null : pixelScaling(post);
    return Array.from({ length: count }, (_, i) => {
      const predScore = scores[i]!;
      const result: DetectorResult = { predScore, normalizedScore: null, predLabel: null };
      if (post !== null) {
        const label = new Uint8Array(1);
        result.normalizedScore = scaleInto([predScore], imageScaling(post), new Float64Array(1), label)[0]!;
        result.predLabel = label[0] === 1 ? 1 : 0;
      }
      if (maps !== undefined) {
        const data = maps.slice(i * size, (i + 1) * size);
        result.anomalyMap = { width, height, data };
        if (pixel !== null) {
          const mask = new Uint8Array(size);
          scaleInto(data, pixel, new Float32Array(size), mask);
          result.predMask = { width, height, data: mask };
        }
      }
      return result;
    });
  }

  dispose(): void {
    this.model.dispose();
  }
}

/** The model file's bytes (or its path in Node), the weights an export folder brings, and a label for messages. */
interface ResolvedModel {
  kind: 'dfm';
  model: Uint8Array | string;
  weights: Uint8Array | undefined;
  label: string;
}

/** An ONNX export: the graph (sha256 checked against its metadata) and the metadata. */
interface ResolvedOnnx {
  kind: 'onnx';
  onnx: Uint8Array;
  metadata: OnnxExportMetadata;
  label: string;
}

type ResolvedSource = ResolvedModel | ResolvedOnnx;

const isHttpUrl = (value: string) => /^https?:\/\//i.test(value);

/**
 * Loads a fitted model for scoring: reads the `.dfm` (a path, URL or bytes) or an export folder
 * (`manifest.json` + `model.dfm` + weights, each checked against the manifest's sha256), loads the
 * backbone on the runtime chosen, and checks that its weights have the sha256 the model file records.
 *
 * @throws CorruptFileError (`E_CORRUPT_FILE`) for a damaged model file, manifest, or a file whose sha256 differs from the manifest's
 * @throws WeightsMismatchError (`E_WEIGHTS_MISMATCH`) for weights other than the model's
 * @throws IncompatibleModelError (`E_INCOMPATIBLE_MODEL`) for another format version, or (in a browser) a model resizing with a sharp kernel
 * @throws DfmError `E_FILE_NOT_READABLE` (a path), `E_DOWNLOAD_FAILED` (a URL)
 *
 * @example
 * // Node
 * const detector = await loadDetector('bottle.dfm');
 * // Browser (an export folder served statically, onnxruntime-web imported by the page)
 * const detector = await loadDetector('./model/', { runtime: 'onnxruntime', onnxruntimeModule: ort });
 * const { predScore, predLabel } = await detector.predict(file); // a File from <input type=file>
 */
export async function loadDetector(source: DetectorSource, options: LoadDetectorOptions = {}): Promise<Detector> {
  const where = 'loadDetector()';
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError(`${where}: options must be an object — got ${describeValue(options)}.`);
  const { weights, runtime, onnxruntimeModule, onnxruntimePackage, workers, threads, pixelLimit, precision } = options;
  const fetchImpl = options.fetch ?? (globalThis.fetch as typeof fetch | undefined);
  if (options.fetch !== undefined && typeof options.fetch !== 'function') {
    throw new InvalidArgumentError(`${where}: fetch must be a function like globalThis.fetch — got ${describeValue(options.fetch)}.`);
  }
  if (pixelLimit !== undefined && !(typeof pixelLimit === 'number' && pixelLimit > 0)) {
    throw new InvalidArgumentError(`${where}: pixelLimit must be a positive number of pixels (or Infinity) — got ${describeValue(pixelLimit)}.`);
  }
  const resolved = await resolveSource(source, { fetchImpl, needWeights: weights === undefined });
  if (resolved.kind === 'onnx') {
    if (runtime !== undefined && runtime !== 'auto' && runtime !== 'onnxruntime') {
      throw new InvalidArgumentError(
        `${where}: ${resolved.label} is an ONNX export, which runs on onnxruntime — got runtime ${JSON.stringify(runtime)}. Omit runtime (or pass 'onnxruntime'), or load the .dfm model to run on tfjs.`,
      );
    }
    if (weights !== undefined) {
      throw new InvalidArgumentError(`${where}: ${resolved.label} is an ONNX export, whose weights are inside the graph — got options.weights. Omit weights.`);
    }
    checkResizeKernel(resolved.metadata.preProcessing, resolved.label);
    const fitted = resolved.metadata.config.precision ?? 'fp32';
    if (precision !== undefined && precision !== fitted) {
      throw new DfmError(
        `${where}: ${resolved.label} was fitted on ${fitted} features — precision ${JSON.stringify(precision)} was asked for. Features of one precision are not scored against a fit on the other: drop the precision option, or export a model fitted with precision '${precision}'.`,
        { code: 'E_PRECISION_MISMATCH' },
      );
    }
    const { engine, info } = await loadOnnxEngine(resolved.onnx, resolved.metadata, { onnxruntimeModule, onnxruntimePackage, threads });
    return new Detector(engine, info, { pixelLimit });
  }
  if (resolved.model instanceof Uint8Array) {
    // Refuse before loading (downloading) the backbone what this runtime cannot pre-process.
    checkResizeKernel(readModelMetadata(resolved.model, resolved.label).preProcessing, resolved.label);
  }
  const loadOptions: LoadModelOptions = { label: resolved.label, runtime, onnxruntimeModule, onnxruntimePackage, workers, threads, ...(precision === undefined ? {} : { precision }) };
  const chosenWeights = weights !== undefined ? weights : resolved.weights;
  if (chosenWeights !== undefined) loadOptions.weights = chosenWeights;
  const { model, metadata } = await loadModel(resolved.model, loadOptions);
  try {
    checkResizeKernel(metadata.preProcessing, resolved.label);
    const { imageSize, resizeKernel } = metadata.preProcessing;
    if (imageSize !== null && resizeKernel !== DEFAULT_RESIZE_KERNEL) {
      const { RESIZE_KERNELS } = await loadDataModule(where);
      if (!RESIZE_KERNELS.includes(resizeKernel)) {
        throw new IncompatibleModelError(
          `${where}: ${resolved.label} resizes with the kernel ${JSON.stringify(resizeKernel)}, which this version does not know (it knows ${RESIZE_KERNELS.join(', ')}). Load it with the version that wrote it (${metadata.packageVersion}).`,
          { file: resolved.label },
        );
      }
    }
    const backbone = model.backbone;
    if (backbone === undefined || !model.isFitted) throw new DfmError(`${where}: the loaded model has no backbone or is not fitted. Report this as a bug.`, { code: 'E_INTERNAL' });
    const { preProcessing, postProcessing } = model;
    const record = metadata.backbone;
    const info: DetectorInfo = {
      config: { ...model.config },
      preProcessing: structuredClone(preProcessing),
      postProcessing: postProcessing === null ? null : { ...postProcessing },
      imageSize: metadata.imageSize === null ? null : [metadata.imageSize[0], metadata.imageSize[1]],
      backbone: { name: record.name, layer: record.layer, weightsId: record.weightsId, weightsSha256: record.weightsSha256 },
      runtime: backbone.runtime,
      runtimeDetail: backbone.runtimeDetail,
      packageVersion: metadata.packageVersion,
    };
    return new Detector(new ModelEngine(model, info.postProcessing), info, { pixelLimit });
  } catch (error) {
    model.dispose();
    throw error;
  }
}

/** Outside Node only the antialiased bilinear resize exists (sharp's kernels need Node). */
function checkResizeKernel(preProcessing: PreProcessing, label: string): void {
  if (isNode() || preProcessing.imageSize === null || preProcessing.resizeKernel === DEFAULT_RESIZE_KERNEL) return;
  throw new IncompatibleModelError(
    `loadDetector(): ${label} resizes images with sharp's '${preProcessing.resizeKernel}' kernel, which runs only in Node.js — a browser resizes with '${DEFAULT_RESIZE_KERNEL}' only, and another kernel would give other scores than training. Fit the model with resizeKernel '${DEFAULT_RESIZE_KERNEL}' (the default) to use it here.`,
    { file: label },
  );
}

/** Turns a {@link DetectorSource} into the model's bytes or path, and an export folder's weights. */
async function resolveSource(
  source: DetectorSource,
  context: { fetchImpl: typeof fetch | undefined; needWeights: boolean },
): Promise<ResolvedSource> {
  const where = 'loadDetector()';
  if (source instanceof Uint8Array) return { kind: 'dfm', model: source, weights: undefined, label: '<model bytes>' };
  let url: URL | undefined;
  if (isUrlObject(source)) {
    if (source.protocol === 'file:' && isNode()) return resolvePath(nodeBuiltin('url', where).fileURLToPath(source.href), context);
    url = new URL(source.href);
  } else if (typeof source === 'string' && source.length > 0) {
    if (isHttpUrl(source)) url = new URL(source);
    else if (isNode()) return resolvePath(source, context);
    else if (/^\.{0,2}\//.test(source)) {
      const page = (globalThis as { location?: { href?: string } }).location?.href;
      if (page === undefined) {
        throw new InvalidArgumentError(`${where}: the relative URL ${JSON.stringify(source)} needs a page to resolve against — this runtime has no location. Pass an absolute http(s) URL.`);
      }
      url = new URL(source, page);
    } else {
      throw new InvalidArgumentError(
        `${where}: source must be, outside Node.js, an http(s) URL, a URL starting with / ./ or ../, a URL object or the .dfm bytes — got ${JSON.stringify(source)}. For a file beside the page write ./${source}.`,
      );
    }
  } else {
    throw new InvalidArgumentError(
      `${where}: source must be a .dfm path or export folder (Node), an http(s) URL of a .dfm file or of an export folder (ending with /), a URL object, or the .dfm file's bytes (Uint8Array) — got ${describeValue(source)}.`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidArgumentError(`${where}: a URL source must be http(s)${isNode() ? ' or file:' : ''} — got ${url.protocol} (${url.href}).`);
  }
  if (context.fetchImpl === undefined) {
    throw new DfmError(`${where}: loading ${url.href} needs fetch — this runtime has none. Pass options.fetch, or the .dfm bytes.`, { code: 'E_RUNTIME_UNAVAILABLE' });
  }
  const get = (target: URL, what: string) => fetchBytes(target, context.fetchImpl as typeof fetch, what);
  const path = url.pathname;
  const onnxFolder = async (metadataUrl: URL): Promise<ResolvedOnnx> => {
    const metadata = parseOnnxMetadata(new TextDecoder().decode(await get(metadataUrl, 'the ONNX export metadata')), metadataUrl.href);
    const onnxUrl = new URL(metadata.model.file, metadataUrl);
    const onnx = await get(onnxUrl, 'the ONNX model');
    await checkExportFile(onnx, { path: metadata.model.file, sha256: metadata.model.sha256 }, onnxUrl.href, metadataUrl.href);
    return { kind: 'onnx', onnx, metadata, label: onnxUrl.href };
  };
  if (path.endsWith('/metadata.json') || path.endsWith('.onnx')) return onnxFolder(new URL(ONNX_EXPORT_FILES.metadata, url));
  if (!(path.endsWith('/') || path === 'manifest.json' || path.endsWith('/manifest.json'))) {
    return { kind: 'dfm', model: await get(url, 'the model file'), weights: undefined, label: url.href };
  }
  const manifestUrl = path.endsWith('/') ? new URL('manifest.json', url) : url;
  // A folder URL: a dfm export (manifest.json), else an ONNX export (metadata.json).
  const manifestBytes = path.endsWith('/') ? await fetchBytes(manifestUrl, context.fetchImpl, 'the export manifest', true) : await get(manifestUrl, 'the export manifest');
  if (manifestBytes === null) return onnxFolder(new URL(ONNX_EXPORT_FILES.metadata, url));
  const manifestText = new TextDecoder().decode(manifestBytes);
  const files = parseExportManifest(manifestText, manifestUrl.href);
  const fetchChecked = async (entry: ExportManifestFile, what: string) => {
    const fileUrl = new URL(entry.path, manifestUrl);
    const bytes = await get(fileUrl, what);
    await checkExportFile(bytes, entry, fileUrl.href, manifestUrl.href);
    return { bytes, label: fileUrl.href };
  };
  const [model, weights] = await Promise.all([
    fetchChecked(files.model, 'the model file'),
    files.weights !== null && context.needWeights ? fetchChecked(files.weights, 'the weights') : undefined,
  ]);
  return { kind: 'dfm', model: model.bytes, weights: weights?.bytes, label: model.label };
}

/** A `URL` (also one from another realm). */
function isUrlObject(value: unknown): value is URL {
  return value instanceof URL || Object.prototype.toString.call(value) === '[object URL]';
}

/** Node: a `.dfm` path, an export folder, or its `manifest.json`. */
async function resolvePath(path: string, context: { needWeights: boolean }): Promise<ResolvedSource> {
  const where = 'loadDetector()';
  const fs = nodeBuiltin('fs', where);
  const { basename, dirname, join, sep } = nodeBuiltin('path', where);
  let folder: string | undefined;
  let onnxExport = false;
  if (basename(path) === 'manifest.json') folder = dirname(path);
  else if (basename(path) === ONNX_EXPORT_FILES.metadata || path.toLowerCase().endsWith('.onnx')) [folder, onnxExport] = [dirname(path), true];
  else if (fs.existsSync(path) && fs.statSync(path).isDirectory()) {
    folder = path;
    // A dfm export has manifest.json; an ONNX export metadata.json.
    onnxExport = !fs.existsSync(join(path, 'manifest.json')) && fs.existsSync(join(path, ONNX_EXPORT_FILES.metadata));
  }
  if (folder === undefined) return { kind: 'dfm', model: path, weights: undefined, label: path }; // a .dfm: loadModel reads it
  const manifestPath = join(folder, 'manifest.json');
  const read = async (file: string, what: string): Promise<Uint8Array> => {
    try {
      return await fs.promises.readFile(file);
    } catch (cause) {
      const missing = (cause as NodeJS.ErrnoException).code === 'ENOENT';
      throw new DfmError(
        `${where}: cannot read ${what} ${file} (${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}).${missing && what === 'the export manifest' ? ' Pass a .dfm file, or a folder written by dfm export.' : ' Copy the export folder again.'}`,
        { code: 'E_FILE_NOT_READABLE', cause },
      );
    }
  };
  if (onnxExport) {
    const metadataPath = join(folder, ONNX_EXPORT_FILES.metadata);
    const metadata = parseOnnxMetadata(new TextDecoder().decode(await read(metadataPath, 'the ONNX export metadata')), metadataPath);
    const onnxPath = join(folder, metadata.model.file);
    const onnx = await read(onnxPath, 'the ONNX model');
    await checkExportFile(onnx, { path: metadata.model.file, sha256: metadata.model.sha256 }, onnxPath, metadataPath);
    return { kind: 'onnx', onnx, metadata, label: onnxPath };
  }
  const files = parseExportManifest(new TextDecoder().decode(await read(manifestPath, 'the export manifest')), manifestPath);
  const readChecked = async (entry: ExportManifestFile, what: string) => {
    const file = join(folder as string, ...entry.path.split('/'));
    const bytes = await read(file, what);
    await checkExportFile(bytes, entry, file, manifestPath);
    return bytes;
  };
  const model = await readChecked(files.model, 'the model file');
  const weights = files.weights !== null && context.needWeights ? await readChecked(files.weights, 'the weights') : undefined;
  return { kind: 'dfm', model, weights, label: `${folder.endsWith(sep) ? folder : folder + sep}${files.model.path}` };
}

/** `fetch` into memory; network errors and HTTP errors become `E_DOWNLOAD_FAILED` (with `optional`, a 404 gives null). */
async function fetchBytes(url: URL, fetchImpl: typeof fetch, what: string): Promise<Uint8Array>;
async function fetchBytes(url: URL, fetchImpl: typeof fetch, what: string, optional: true): Promise<Uint8Array | null>;
async function fetchBytes(url: URL, fetchImpl: typeof fetch, what: string, optional = false): Promise<Uint8Array | null> {
  const where = 'loadDetector()';
  let response: Response;
  try {
    response = await fetchImpl(url.href);
  } catch (cause) {
    throw new DfmError(`${where}: cannot fetch ${what} ${url.href} (${(cause as Error).message}). Check the URL and that the server is up.`, {
      code: 'E_DOWNLOAD_FAILED',
      cause,
    });
  }
  if (optional && response.status === 404) return null;
  if (!response.ok) {
    throw new DfmError(`${where}: fetching ${what} ${url.href} failed with HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}. Check the URL.`, {
      code: 'E_DOWNLOAD_FAILED',
    });
  }
  return new Uint8Array(await response.arrayBuffer());
}
