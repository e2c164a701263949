/**
 * Internals shared by the `@dfm/*` packages: the ONNX model encoder, the seeded PRNG and random
 * weights for tests, the worker pool, FLOP counts, atomic writes and the development-assets finder.
 * Not part of the public API: `@dfm/backbone/internal` may change in any release.
 *
 * @packageDocumentation
 */
export { type AssetsLocation, type FindAssetsOptions, findAssetsDir, findWorkspaceRoot } from './assets';
export { type BackboneFlops, backboneFlops } from './flops';
export { nodeBuiltin, isNode } from './node-builtin';
export {
  decodeOnnxModel,
  type EncodeOnnxOptions,
  encodeOnnxModel,
  ONNX_IR_VERSION,
  ONNX_OPSET,
  type OnnxElementType,
  type OnnxGraph,
  type OnnxInitializer,
  type OnnxNode,
  type OnnxValueInfo,
} from './onnx/onnx-model';
export { RandomStream, randomNormal, randomUniform } from './random';
export { type RandomBatchNorm, type RandomResnetWeightsOptions, randomResnetWeights, type StateTensor } from './random-weights';
export { defaultWorkerCount, TfjsWorkerPool, type TfjsWorkerPoolOptions, tfjsWorkerEntry } from './workers/worker-pool';
export { sha256Hex } from './resolve-weights';
export { loadOnnxruntime, type LoadedOnnxruntime, type OrtModule, type OrtSession, type OrtTensor } from './onnx/load-onnxruntime';
export { type OnnxOutputData, OnnxRunner, type OnnxRunnerOptions, type OnnxThread } from './onnx/onnx-runner';
export { writeFileAtomic } from './write-file-atomic';
