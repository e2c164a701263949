import { loadOnnxruntime, type OnnxOutputData, OnnxRunner, type OnnxThread } from '@dfm/backbone/internal';
import { DfmError, InvalidArgumentError } from '@dfm/errors';
import type { DetectorEngine, DetectorInfo, DetectorResult } from './detector';
import { ONNX_EXPORT_INPUT } from './onnx-graph';
import type { OnnxExportMetadata } from './onnx-export';

/** Options of {@link loadOnnxEngine}: which onnxruntime, and how it runs. */
export interface OnnxEngineOptions {
  onnxruntimeModule?: unknown;
  onnxruntimePackage?: 'onnxruntime-node' | 'onnxruntime-web';
  threads?: number;
  /** onnxruntime-node: `'worker'` (default: the event loop stays free) or `'main'`. */
  onnxThread?: OnnxThread;
}

/** An exported whole-model graph in one onnxruntime session: every output comes from the graph. */
class OnnxEngine implements DetectorEngine {
  readonly layout = 'nchw';
  readonly affine = undefined;

  constructor(
    private readonly runner: OnnxRunner,
    private readonly outputs: readonly string[],
  ) {}

  async run(input: Float32Array, count: number, height: number, width: number, wantMap: boolean): Promise<DetectorResult[]> {
    const buffer = this.runner.inputBuffer(input.length);
    buffer.set(input);
    const out = await this.runner.run(buffer, [count, 3, height, width]);
    const get = (name: string): OnnxOutputData | undefined => out[name]?.data;
    const scores = get('pred_score') as Float32Array;
    const normalized = get('normalized_score') as Float32Array | undefined;
    const labels = get('pred_label');
    const maps = wantMap ? (get('anomaly_map') as Float32Array | undefined) : undefined;
    const masks = wantMap ? get('pred_mask') : undefined;
    const size = height * width;
    return Array.from({ length: count }, (_, i) => {
      const result: DetectorResult = {
        predScore: scores[i] as number,
        normalizedScore: normalized === undefined ? null : (normalized[i] as number),
        predLabel: labels === undefined ? null : labels[i] ? 1 : 0,
      };
      if (maps !== undefined) result.anomalyMap = { width, height, data: maps.slice(i * size, (i + 1) * size) };
      if (masks !== undefined) result.predMask = { width, height, data: Uint8Array.from(masks.subarray(i * size, (i + 1) * size), (v) => (v ? 1 : 0)) };
      return result;
    });
  }

  dispose(): Promise<void> {
    return this.runner.release();
  }
}

/**
 * One onnxruntime session on an exported `model.onnx` (`dfm export --export-type onnx`), for the
 * Detector: the graph normalises, scores, scales and thresholds; the Detector only decodes and
 * resizes. Returns the engine and the {@link DetectorInfo} read from `metadata.json`.
 *
 * @throws DfmError `E_RUNTIME_UNAVAILABLE` when no onnxruntime can be loaded
 */
export async function loadOnnxEngine(
  onnx: Uint8Array,
  metadata: OnnxExportMetadata,
  options: OnnxEngineOptions,
): Promise<{ engine: DetectorEngine; info: DetectorInfo }> {
  const where = 'loadDetector()';
  const loaded = await loadOnnxruntime({ onnxruntimeModule: options.onnxruntimeModule, onnxruntimePackage: options.onnxruntimePackage });
  if (typeof loaded === 'string') {
    throw new DfmError(
      `${where}: an ONNX export runs on onnxruntime — ${loaded}. Install onnxruntime-node (Node) or pass onnxruntimeModule (import * as ort from 'onnxruntime-web').`,
      { code: 'E_RUNTIME_UNAVAILABLE' },
    );
  }
  const outputs = metadata.outputs.map((o) => o.name);
  if (!outputs.includes('pred_score')) throw new InvalidArgumentError(`${where}: the export's metadata lists no pred_score output. Export the model again.`);
  const runner = await OnnxRunner.create(loaded, {
    model: onnx,
    inputName: ONNX_EXPORT_INPUT,
    outputNames: outputs,
    caller: where,
    threads: options.threads,
    thread: options.onnxThread,
  });
  const info: DetectorInfo = {
    config: { ...metadata.config },
    preProcessing: structuredClone(metadata.preProcessing),
    postProcessing: metadata.postProcessing === null ? null : { ...metadata.postProcessing },
    imageSize: [metadata.imageSize[0], metadata.imageSize[1]],
    backbone: { ...metadata.backbone },
    runtime: 'onnxruntime',
    runtimeDetail: `the exported graph (${metadata.model.file}, opset ${metadata.model.opset}) in one session: ${runner.detail}`,
    packageVersion: metadata.packageVersion,
  };
  return { engine: new OnnxEngine(runner, outputs), info };
}
