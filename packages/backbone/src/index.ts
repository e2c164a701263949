export {
  ARCHITECTURES,
  type ArchitectureSpec,
  BACKBONE_NAMES,
  type BackboneName,
  featureSize,
  LAYER_NAMES,
  type LayerInfo,
  type LayerName,
  layerInfo,
  MIN_INPUT_SIZE,
} from './architectures';
export { type AssetsLocation, type FindAssetsOptions, findAssetsDir, findWorkspaceRoot } from './assets';
export { type Backbone, type CreateBackboneOptions, createBackbone } from './create-backbone';
export {
  type LoadedOnnxruntime,
  type LoadOnnxruntimeOptions,
  loadOnnxruntime,
  ONNXRUNTIME_PACKAGES,
  type OnnxruntimePackage,
} from './onnx/load-onnxruntime';
export { encodeOnnxModel, ONNX_IR_VERSION, ONNX_OPSET, type OnnxGraph, type OnnxNode } from './onnx/onnx-model';
export { ONNX_INPUT_NAME, type ResnetOnnxOptions, resnetOnnxGraph, resnetOnnxModel } from './onnx/resnet-onnx';
export { ENGINE_CHOICES, type EngineChoice, type EngineName, type SelectEngineOptions, type SelectEngineResult, selectEngine } from './select-engine';
export { defaultWorkerCount, TfjsWorkerPool, type TfjsWorkerPoolOptions, tfjsWorkerEntry } from './workers/worker-pool';
export { type BackboneFlops, backboneFlops } from './flops';
export { type EncodableTensor, encodeSafetensors } from './encode-safetensors';
export {
  type LoadSafetensorsOptions,
  type LoadSafetensorsResult,
  loadSafetensors,
  type SafetensorsDtype,
  type SafetensorsTensor,
} from './load-safetensors';
export { IMAGENET_MEAN, IMAGENET_STD, normalizeImageNet } from './normalize-imagenet';
export { RandomStream, randomNormal, randomUniform } from './random';
export {
  type RandomBatchNorm,
  type RandomResnetWeightsOptions,
  randomResnetWeights,
  type StateTensor,
} from './random-weights';
export {
  cacheDirectory,
  type DownloadProgress,
  hubUrl,
  imagenetHubId,
  type ResolveWeightsOptions,
  type ResolveWeightsResult,
  resolveWeights,
  type WeightsSpec,
} from './resolve-weights';
export { BACKEND_CHOICES, type BackendChoice, type SetBackendOptions, type SetBackendResult, setBackend } from './set-backend';
export { VERSION } from './version';
export { writeFileAtomic } from './write-file-atomic';
