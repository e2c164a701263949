import * as tf from '@tensorflow/tfjs-core';
import {
  allTensorNames,
  architectureOf,
  type BackboneName,
  BACKBONE_NAMES,
  checkLayerName,
  expectedTensors,
  LAYER_NAMES,
  type LayerInfo,
  type LayerName,
  layerInfo,
  MIN_INPUT_SIZE,
  networkPlan,
  stageOf,
} from './architectures';
import { loadSafetensors } from './load-safetensors';
import { type RandomBatchNorm, randomResnetWeights } from './random-weights';
import { type DownloadProgress, resolveWeights, type WeightsSpec } from './resolve-weights';
import { isNode } from './node-builtin';
import { checkOnnxruntimeOptions, type OnnxruntimePackage } from './onnx/load-onnxruntime';
import { OnnxRunner } from './onnx/onnx-runner';
import type { OnnxGraph } from './onnx/onnx-model';
import { ONNX_INPUT_NAME, resnetOnnxGraph } from './onnx/resnet-onnx';
import { encodeOnnxModel } from './onnx/onnx-model';
import { CALIBRATION_METHODS, type CalibrationMethod, calibrationGraph, extremesOutputs, type Int8Calibration, measureRanges, quantizedTensors, quantizeGraph } from './onnx/quantize';
import { ResNetGraph } from './resnet';
import { runResnet } from './run-resnet';
import { type RuntimeChoice, type RuntimeName, selectRuntime } from './select-runtime';
import { setBackend } from './set-backend';
import { defaultWorkerCount, TfjsWorkerPool } from './workers/worker-pool';
import { CorruptFileError, DfmError, InvalidArgumentError, ShapeMismatchError } from '@dfm/errors';

export interface CreateBackboneOptions {
  /** See `WeightsSpec`: path, URL, hub id, 'imagenet', safetensors bytes, or null (random, seeded). */
  weights: WeightsSpec;
  /** Layers to extract, among layer1..layer4 and avgpool. Only the stages they need are built. */
  layers: readonly LayerName[];
  /** Seed of the random initialisation when `weights` is null. Default 0. */
  seed?: number;
  /** BatchNorm parameters of the random initialisation (tests of BN folding). Default `identity`. */
  randomBatchNorm?: RandomBatchNorm;
  /** Download progress (default: a bar on stderr when it is a TTY). */
  onProgress?: (progress: DownloadProgress) => void;
  /** Cache folder for downloads. Default `$DFM_CACHE_DIR`, else `~/.cache/dfm`. */
  cacheDir?: string;
  /** Expected sha256 of the weights file. */
  sha256?: string;
  /**
   * Runtime: what executes the network. `'tfjs'` (default): tfjs-core on the current backend; `extract` and
   * `extractAsync` both work. `'onnxruntime'`: the same network and weights as an ONNX graph run
   * by onnxruntime-node (onnxruntime-web in a browser; see `onnxruntimePackage`); only
   * `extractAsync` works. `'auto'`: tfjs when @tensorflow/tfjs-node-gpu is installed, else
   * onnxruntime when installed, else tfjs. The backbone's `runtime` and `runtimeDetail` say what runs.
   */
  runtime?: RuntimeChoice;
  /**
   * Which onnxruntime the `onnxruntime` runtime (and `auto`) uses: `'onnxruntime-node'` (native,
   * CPU EP, in a worker thread; Node only) or `'onnxruntime-web'` (WebAssembly EP, in this thread;
   * browsers, and Node where onnxruntime-node has no binding for the platform). Default:
   * onnxruntime-node in Node, onnxruntime-web elsewhere.
   */
  onnxruntimePackage?: OnnxruntimePackage;
  /**
   * An onnxruntime module you imported (`import * as ort from 'onnxruntime-web'`), used instead of
   * importing one by name. A browser bundle needs it: bundlers do not follow this package's
   * import of the optional onnxruntime (see docs/browser.md). Its package is read from the module.
   */
  onnxruntimeModule?: unknown;
  /**
   * onnxruntime threads. onnxruntime-node: intra-op threads, default one per core.
   * onnxruntime-web: sets its global `env.wasm.numThreads` (read once, when it first initialises;
   * more than 1 needs a cross-origin isolated page), default onnxruntime-web's own.
   */
  threads?: number;
  /** Extra onnxruntime session options, merged over ours (advanced; see onnxruntime's `SessionOptions`). */
  onnxSessionOptions?: Record<string, unknown>;
  /**
   * Where onnxruntime runs. `'worker'` (default for onnxruntime-node): a worker thread, because
   * onnxruntime-node's run() blocks its thread for the whole inference; the event loop stays free
   * to decode the next images. `'main'`: the calling thread (the only choice for onnxruntime-web
   * and for a module passed as `onnxruntimeModule`).
   */
  onnxThread?: 'worker' | 'main';
  /**
   * tfjs runtime: worker threads `extractAsync` splits each batch across (one wasm instance each).
   * `'auto'` (default): one per core when the tfjs backend is wasm in Node and there are ≥ 2 cores, else 0.
   * 0 = run in this thread. `extract` always runs in this thread.
   */
  workers?: number | 'auto';
  /** Folder the optional runtimes (onnxruntime-node, tfjs-node-gpu) are resolved from. Default: this package. */
  resolveFrom?: string;
  /**
   * Numeric precision of the network. `'fp32'` (default): float32 everywhere. `'int8'`: the ONNX
   * graph quantized after training (QDQ: per-channel symmetric int8 weights, uint8 activations with
   * the ranges of `int8Calibration`), which onnxruntime runs on its integer kernels (VNNI / AMX-INT8
   * on x86; a 2.5× faster backbone than fp32 for resnet18 on this project's bench machine). Needs the
   * onnxruntime runtime and `int8Calibration`.
   */
  precision?: Precision;
  /** The activation ranges of an int8 backbone: `calibrateInt8()` of a backbone of the same network and weights. */
  int8Calibration?: Int8Calibration;
}

/** Numeric precision of a backbone's network. */
export type Precision = 'fp32' | 'int8';
export const PRECISIONS: readonly Precision[] = ['fp32', 'int8'];

/** Options of {@link Backbone.calibrateInt8}. */
export interface CalibrateInt8Options {
  /**
   * How a range is taken from an activation's values: `'minmax'` (default: the extremes) or
   * `'percentile'` (the 0.01 % and 99.99 % quantiles: rare outliers clipped, finer steps for the rest).
   */
  method?: CalibrationMethod;
}

/**
 * The float32 values of a tensor to copy from: on tfjs-wasm a view of the wasm heap (no copy of its
 * own; `typedArrayFromHeap` is public on the wasm backend), elsewhere `data()` (on the cpu backend
 * that is the tensor's own storage, which the caller must only read).
 */
async function readFloats(tensor: tf.Tensor): Promise<Float32Array> {
  const backend = tf.backend() as unknown as {
    typedArrayFromHeap?: (info: tf.TensorInfo) => Float32Array;
    dataIdMap?: { has(dataId: object): boolean };
  };
  if (tensor.dtype === 'float32' && typeof backend.typedArrayFromHeap === 'function' && backend.dataIdMap?.has(tensor.dataId)) {
    return backend.typedArrayFromHeap(tensor);
  }
  return (await tensor.data()) as Float32Array;
}

/** A feature extractor. Owns its weight tensors until `dispose()`. */
export interface Backbone {
  readonly name: BackboneName;
  /** The layers `extract` returns, in the order requested. */
  readonly layers: readonly LayerName[];
  /** Where the weights came from: file basename, URL, hub id, `bytes:<sha256 prefix>` or `random:<seed>`. */
  readonly weightsId: string;
  /** sha256 of the weights file; null for random weights. */
  readonly weightsSha256: string | null;
  /** The runtime that executes the network: `tfjs` or `onnxruntime`. */
  readonly runtime: RuntimeName;
  /** One line: why this runtime, and on what (backend, threads, workers). */
  readonly runtimeDetail: string;
  /**
   * Features of a batch of normalised images, computed in this thread (tfjs runtime only; the
   * onnxruntime runtime throws: use {@link extractAsync}).
   *
   * @param batch `[B, H, W, 3]` float32, normalised (see `normalizeImageNet`), H, W ≥ 32; not modified
   * @returns per requested layer `[B, h, w, C]` (NHWC), and `[B, C]` for avgpool; owned by the caller
   */
  extract(batch: tf.Tensor4D): Record<LayerName, tf.Tensor4D | tf.Tensor2D>;
  /**
   * Features of a batch of normalised images, on any runtime: onnxruntime, tfjs worker threads, or
   * tfjs in this thread. Same contract as {@link extract}.
   */
  extractAsync(batch: tf.Tensor4D): Promise<Record<LayerName, tf.Tensor4D | tf.Tensor2D>>;
  /** Channels and stride (input pixels per feature cell; 0 for avgpool) of a layer. */
  layerInfo(layer: LayerName): LayerInfo;
  /**
   * The network up to `layer` as an ONNX graph with these weights folded in (as every runtime runs
   * them), NCHW in (`inputName`, `[B, 3, H, W]`, normalised) and out (`[B, C, h, w]` named after the
   * layer): the building block of whole-model exports (`@dfm/core`'s `exportOnnx`). Encode it with
   * `encodeOnnxModel` of `@dfm/backbone/internal`, or add nodes first.
   */
  onnxGraph(options: { layer: LayerName; inputName: string }): OnnxGraph;
  /** `'fp32'`, or `'int8'` for a quantized network (see {@link CreateBackboneOptions.precision}). */
  readonly precision: Precision;
  /** The activation ranges an int8 backbone runs with; null for fp32. */
  readonly int8Calibration: Int8Calibration | null;
  /**
   * Measures the activation ranges an int8 form of this network needs, on calibration images (a few
   * dozen training images suffice): the float network runs on each batch, recording every quantized
   * activation. Pass the result as `int8Calibration` with `precision: 'int8'` to `createBackbone`.
   * Needs onnxruntime (any runtime of this backbone; the float graph runs in its own session).
   *
   * @param batches normalised NHWC batches `[B, H, W, 3]` (as `extract` takes), not disposed
   */
  calibrateInt8(batches: readonly tf.Tensor4D[], options?: CalibrateInt8Options): Promise<Int8Calibration>;
  dispose(): void;
}

/**
 * Builds a torchvision/timm ResNet up to the deepest requested layer, loading (and checking by
 * name and shape) exactly the tensors it needs, with BatchNorm folded into the convs.
 *
 * @example
 * const backbone = await createBackbone('resnet18', { weights: 'imagenet', layers: ['layer2', 'layer3'] });
 * const { layer3 } = backbone.extract(normalizeImageNet(images)); // [B, 16, 16, 256] for 256×256
 */
export async function createBackbone(name: BackboneName, options: CreateBackboneOptions): Promise<Backbone> {
  const spec = architectureOf(name);
  if (options === undefined || options === null || typeof options !== 'object') {
    throw new InvalidArgumentError(
      `createBackbone('${name}'): options must be { weights, layers } — got ${String(options)}. Pass e.g. { weights: 'imagenet', layers: ['layer3'] }.`,
    );
  }
  const { weights, seed = 0, randomBatchNorm = 'identity', runtime: runtimeChoice = 'tfjs', workers = 'auto' } = options;
  if (!(workers === 'auto' || (Number.isInteger(workers) && workers >= 0))) {
    throw new InvalidArgumentError(
      `createBackbone('${name}'): workers must be 'auto' or an integer ≥ 0 — got ${JSON.stringify(workers)}. Use 0 to run in this thread.`,
    );
  }
  const { precision = 'fp32', int8Calibration } = options;
  if (!PRECISIONS.includes(precision)) {
    throw new InvalidArgumentError(`createBackbone('${name}'): precision must be ${PRECISIONS.map((p) => `'${p}'`).join(' or ')} — got ${JSON.stringify(precision)}.`);
  }
  if (precision === 'int8' && (typeof int8Calibration !== 'object' || int8Calibration === null || typeof int8Calibration.ranges !== 'object')) {
    throw new InvalidArgumentError(
      `createBackbone('${name}'): precision 'int8' needs int8Calibration (the activation ranges) — got ${int8Calibration === undefined ? 'none' : JSON.stringify(int8Calibration)}. Measure them with (await createBackbone('${name}', { …, runtime: 'onnxruntime' })).calibrateInt8(images).`,
    );
  }
  if (!Array.isArray(options.layers) || options.layers.length === 0) {
    throw new InvalidArgumentError(
      `createBackbone('${name}'): layers must be a non-empty list among ${LAYER_NAMES.join(', ')} — got ${JSON.stringify(options.layers)}. Pass e.g. ['layer2', 'layer3'].`,
    );
  }
  checkOnnxruntimeOptions(options, `createBackbone('${name}')`);
  const layers = [...new Set(options.layers.map((layer) => checkLayerName(layer, `createBackbone('${name}')`)))];
  const stages = Math.max(...layers.map(stageOf));
  const plan = networkPlan(spec, stages);
  const expected = expectedTensors(plan);

  const selected = await selectRuntime(runtimeChoice, {
    resolveFrom: options.resolveFrom,
    onnxruntimePackage: options.onnxruntimePackage,
    onnxruntimeModule: options.onnxruntimeModule,
  });
  if (precision === 'int8' && selected.runtime !== 'onnxruntime') {
    throw new DfmError(
      `createBackbone('${name}'): precision 'int8' runs on the onnxruntime runtime only — got runtime ${selected.runtime} (${selected.reason}). Install onnxruntime-node (or pass onnxruntimeModule in a browser) and use runtime 'onnxruntime' or 'auto'.`,
      { code: 'E_RUNTIME_UNAVAILABLE' },
    );
  }
  if (Object.keys(tf.engine().registryFactory).length === 0) await setBackend();
  if (selected.tfjsBackend === 'tensorflow' && tf.getBackend() !== 'tensorflow') {
    await setBackend('tensorflow', { resolveFrom: options.resolveFrom });
  }

  let lookup: (tensorName: string) => Float32Array;
  let weightsId: string;
  let weightsSha256: string | null;
  if (weights === null) {
    const random = randomResnetWeights(name, { seed, stages, batchNorm: randomBatchNorm });
    lookup = (tensorName) => (random.get(tensorName) as { data: Float32Array }).data;
    weightsId = randomBatchNorm === 'identity' ? `random:${seed}` : `random-bn:${seed}`;
    weightsSha256 = null;
  } else {
    const resolved = await resolveWeights(weights, {
      architecture: name,
      seed,
      onProgress: options.onProgress,
      cacheDir: options.cacheDir,
      sha256: options.sha256,
    });
    const file = resolved.path ?? resolved.id;
    const { tensors, metadata } = loadSafetensors(resolved.path ?? resolved.bytes ?? (weights as Uint8Array), { label: resolved.id });
    const declared = metadata?.architecture;
    if (declared !== undefined && (BACKBONE_NAMES as readonly string[]).includes(declared) && declared !== name) {
      throw new InvalidArgumentError(
        `createBackbone('${name}'): weights must be for ${name} — ${file} declares architecture ${declared}. Use createBackbone('${declared}') or other weights.`,
      );
    }
    const known = allTensorNames(spec);
    const unknown = [...tensors.keys()].filter((tensorName) => !known.has(tensorName));
    if (unknown.length > 0) {
      throw new InvalidArgumentError(
        `createBackbone('${name}'): weights must hold only ${name} tensors — ${file} has ${unknown.length} unknown: ${listNames(unknown)}. Check that the file is for ${name}.`,
      );
    }
    const missing = [...expected.keys()].filter((tensorName) => !tensors.has(tensorName));
    if (missing.length > 0) {
      throw new InvalidArgumentError(
        `createBackbone('${name}'): layers ${layers.join(', ')} need conv1..layer${stages} — ${file} lacks ${missing.length} tensors: ${listNames(missing)}. Request shallower layers or use a complete weights file.`,
      );
    }
    for (const [tensorName, shape] of expected) {
      const tensor = tensors.get(tensorName) as { shape: number[]; data: Float32Array | Float64Array };
      if (tensor.shape.length !== shape.length || tensor.shape.some((d, i) => d !== shape[i])) {
        throw new ShapeMismatchError(
          `createBackbone('${name}'): tensor ${tensorName} must have shape [${shape.join(',')}] — ${file} has [${tensor.shape.join(',')}]. Check that the file is for ${name}.`,
        );
      }
      for (const value of tensor.data) {
        if (!Number.isFinite(value)) {
          throw new CorruptFileError(
            `createBackbone('${name}'): weights must be finite — tensor ${tensorName} of ${file} holds ${value}. The file is damaged: download it again.`,
            { file },
          );
        }
      }
    }
    lookup = (tensorName) => {
      const data = (tensors.get(tensorName) as { data: Float32Array | Float64Array }).data;
      return data instanceof Float32Array ? data : Float32Array.from(data);
    };
    weightsId = resolved.id;
    weightsSha256 = resolved.sha256;
  }

  const checkAlive = (what: string) => {
    if (disposed) {
      throw new InvalidArgumentError(
        `Backbone.${what}(): the backbone must not be disposed — ${name} was. Create a new one with createBackbone().`,
      );
    }
  };
  const toTensors = (outputs: Record<string, { data: Float32Array | Uint8Array; shape: number[] }>) => {
    const out: Partial<Record<LayerName, tf.Tensor4D | tf.Tensor2D>> = {};
    for (const layer of layers) {
      const { data, shape } = outputs[layer] as { data: Float32Array; shape: number[] };
      out[layer] = tf.tensor(data, shape as [number, number], 'float32') as tf.Tensor4D | tf.Tensor2D;
    }
    return out as Record<LayerName, tf.Tensor4D | tf.Tensor2D>;
  };
  let disposed = false;
  const base = {
    name,
    layers,
    weightsId,
    weightsSha256,
    onnxGraph(graphOptions: { layer: LayerName; inputName: string }): OnnxGraph {
      checkAlive('onnxGraph');
      const layer = checkLayerName(graphOptions?.layer, 'Backbone.onnxGraph()');
      if (!layers.includes(layer)) {
        throw new InvalidArgumentError(`Backbone.onnxGraph(): layer must be one the backbone computes (${layers.join(', ')}) — got ${layer}. Create the backbone with that layer.`);
      }
      if (typeof graphOptions.inputName !== 'string' || graphOptions.inputName.length === 0) {
        throw new InvalidArgumentError(`Backbone.onnxGraph(): inputName must be a non-empty string — got ${JSON.stringify(graphOptions.inputName)}.`);
      }
      const graph = resnetOnnxGraph(plan, lookup, { layers: [layer], stages, layout: 'nchw', inputName: graphOptions.inputName });
      return precision === 'int8' ? quantizeGraph(graph, int8Calibration as Int8Calibration) : graph;
    },
    precision,
    int8Calibration: precision === 'int8' ? (int8Calibration as Int8Calibration) : null,
    async calibrateInt8(batches: readonly tf.Tensor4D[], calibrateOptions: CalibrateInt8Options = {}): Promise<Int8Calibration> {
      checkAlive('calibrateInt8');
      const { method = 'minmax' } = calibrateOptions ?? {};
      if (!CALIBRATION_METHODS.includes(method)) {
        throw new InvalidArgumentError(`Backbone.calibrateInt8(): method must be ${CALIBRATION_METHODS.map((m) => `'${m}'`).join(' or ')} — got ${JSON.stringify(method)}.`);
      }
      if (!Array.isArray(batches) || batches.length === 0) {
        throw new InvalidArgumentError(`Backbone.calibrateInt8(): batches must be a non-empty array of normalised image batches [B, H, W, 3] — got ${Array.isArray(batches) ? 'an empty array' : typeof batches}. Pass a few dozen training images.`);
      }
      for (const batch of batches) checkBatch(batch, 'calibrateInt8');
      const onnxruntime = selected.onnxruntime ?? (await selectRuntime('onnxruntime', { resolveFrom: options.resolveFrom, onnxruntimePackage: options.onnxruntimePackage, onnxruntimeModule: options.onnxruntimeModule })).onnxruntime;
      const graph = resnetOnnxGraph(plan, lookup, { layers, stages });
      const tensors = quantizedTensors(graph);
      const ort = onnxruntime as NonNullable<typeof selected.onnxruntime>;
      const session = async (read: 'extremes' | 'values') =>
        OnnxRunner.create(ort, {
          model: encodeOnnxModel(calibrationGraph(graph, tensors, read)),
          inputName: ONNX_INPUT_NAME,
          outputNames: read === 'extremes' ? extremesOutputs(graph, tensors) : tensors,
          caller: 'Backbone.calibrateInt8()',
          threads: options.threads,
          // This thread: a one-off pass over a few batches, not worth starting a worker for (~0.5 s).
          thread: 'main',
        });
      const runners: OnnxRunner[] = [];
      const runOn = (runner: OnnxRunner) => async (i: number) => {
        const batch = batches[i] as tf.Tensor4D;
        const data = runner.inputBuffer(batch.size);
        data.set(await readFloats(batch));
        return (await runner.run(data, batch.shape)) as Record<string, { data: Float32Array }>;
      };
      try {
        const extremes = await session('extremes');
        runners.push(extremes);
        let values: OnnxRunner | undefined;
        const images = batches.reduce((n, b) => n + (b.shape[0] as number), 0);
        const ranges = await measureRanges(tensors, batches.length, runOn(extremes), async (i) => {
          if (values === undefined) {
            values = await session('values');
            runners.push(values);
          }
          return runOn(values)(i);
        }, method);
        return { method, images, ranges };
      } finally {
        await Promise.all(runners.map((r) => r.release()));
      }
    },
  };
  const info = (layer: LayerName) => layerInfo(name, checkLayerName(layer, 'Backbone.layerInfo()'));

  if (selected.runtime === 'onnxruntime') {
    const runner = await OnnxRunner.create(selected.onnxruntime as NonNullable<typeof selected.onnxruntime>, {
      model: encodeOnnxModel(
        (() => {
          const graph = resnetOnnxGraph(plan, lookup, { layers, stages, metadata: { architecture: name, weights: weightsId } });
          return precision === 'int8' ? quantizeGraph(graph, int8Calibration as Int8Calibration) : graph;
        })(),
      ),
      inputName: ONNX_INPUT_NAME,
      outputNames: layers,
      caller: 'createBackbone()',
      threads: options.threads,
      sessionOptions: options.onnxSessionOptions,
      thread: options.onnxThread,
    });
    const backbone: Backbone = {
      ...base,
      runtime: 'onnxruntime',
      runtimeDetail: `${selected.reason}: ${runner.detail}${precision === 'int8' ? `, int8 (QDQ, ${(int8Calibration as Int8Calibration).method} calibration)` : ''}`,
      layerInfo: info,
      extract(): never {
        checkAlive('extract');
        throw new InvalidArgumentError(
          `Backbone.extract(): the onnxruntime runtime runs asynchronously — ${name} was created with it. Use await backbone.extractAsync(batch), or createBackbone(..., { runtime: 'tfjs' }).`,
        );
      },
      async extractAsync(batch: tf.Tensor4D) {
        checkAlive('extractAsync');
        checkBatch(batch, 'extractAsync');
        // One copy, into a warm buffer the runner reuses batch after batch (then moved to its worker).
        const data = runner.inputBuffer(batch.size);
        data.set(await readFloats(batch));
        return toTensors(await runner.run(data, batch.shape));
      },
      dispose() {
        if (!disposed) void runner.release();
        disposed = true;
      },
    };
    return backbone;
  }

  const graph = new ResNetGraph(plan, lookup);
  const backend = tf.getBackend();
  const workerCount =
    workers === 'auto' ? (backend === 'wasm' && isNode() && defaultWorkerCount() > 1 ? defaultWorkerCount() : 0) : workers;
  let pool: Promise<TfjsWorkerPool> | undefined;
  const startPool = () => {
    pool ??= TfjsWorkerPool.start({
      plan,
      stages,
      layers,
      tensors: new Map([...expected.keys()].map((tensorName) => [tensorName, lookup(tensorName)])),
      size: workerCount,
    });
    return pool;
  };
  const extract = (batch: tf.Tensor4D) => {
    checkAlive('extract');
    checkBatch(batch);
    return runResnet(graph, batch, stages, layers);
  };
  const backbone: Backbone = {
    ...base,
    runtime: 'tfjs',
    runtimeDetail: `${selected.reason}: tfjs ${backend}${workerCount > 0 ? `, extractAsync on ${workerCount} worker thread${workerCount === 1 ? '' : 's'} (one wasm instance each)` : ''}`,
    layerInfo: info,
    extract,
    async extractAsync(batch: tf.Tensor4D) {
      if (workerCount === 0) return extract(batch);
      checkAlive('extractAsync');
      checkBatch(batch, 'extractAsync');
      const running = await startPool();
      const data = (await batch.data()) as Float32Array;
      return toTensors(await running.run(data, batch.shape as [number, number, number, number]));
    },
    dispose() {
      if (!disposed) {
        graph.dispose();
        if (pool !== undefined) void pool.then((p) => p.terminate(), () => undefined);
      }
      disposed = true;
    },
  };
  return backbone;
}

function listNames(names: readonly string[], limit = 12): string {
  const shown = names.slice(0, limit).join(', ');
  return names.length > limit ? `${shown}, … (${names.length - limit} more)` : shown;
}

function checkBatch(batch: tf.Tensor4D, method = 'extract'): void {
  const what = `Backbone.${method}(): batch must be a float32 tensor [B, H, W, 3] (NHWC, normalised) with H, W ≥ 32`;
  if (!(batch instanceof tf.Tensor)) {
    throw new InvalidArgumentError(`${what} — got ${typeof batch}. Pass a tf.Tensor4D.`);
  }
  if (batch.isDisposed) {
    throw new InvalidArgumentError(`${what} — got a disposed tensor. Keep the batch alive until extract() returns.`);
  }
  if (batch.rank !== 4 || batch.shape[3] !== 3) {
    throw new ShapeMismatchError(
      `${what} — got [${batch.shape.join(',')}]. Convert images to NHWC RGB (grey: repeat the channel; RGBA: drop alpha).`,
    );
  }
  if (batch.dtype !== 'float32') {
    throw new InvalidArgumentError(`${what} — got dtype ${batch.dtype}. Cast to float32 and normalise (normalizeImageNet).`);
  }
  const [, height, width] = batch.shape;
  if (height < MIN_INPUT_SIZE || width < MIN_INPUT_SIZE) {
    throw new ShapeMismatchError(`${what} — got ${height}×${width}. Resize the images to at least 32×32.`);
  }
  if (batch.shape[0] === 0) {
    throw new ShapeMismatchError(`${what} — got an empty batch [${batch.shape.join(',')}]. Pass at least one image.`);
  }
}

