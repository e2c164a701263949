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
export { type Backbone, type CalibrateInt8Options, type CreateBackboneOptions, createBackbone, PRECISIONS, type Precision } from './create-backbone';
export { CALIBRATION_METHODS, type CalibrationMethod, type Int8Calibration, quantizeGraph, quantizedTensors } from './onnx/quantize';
export {
  type LoadedOnnxruntime,
  type LoadOnnxruntimeOptions,
  loadOnnxruntime,
  ONNXRUNTIME_PACKAGES,
  type OnnxruntimePackage,
} from './onnx/load-onnxruntime';
export { ONNX_INPUT_NAME, type ResnetOnnxOptions, resnetOnnxGraph, resnetOnnxModel } from './onnx/resnet-onnx';
export {
  type MatrixProductRequest,
  type OnnxMatrixProducts,
  type OnnxMatrixProductsOptions,
  onnxMatrixProducts,
} from './onnx/matrix-products';
export type { OnnxAttribute, OnnxElementType, OnnxGraph, OnnxInitializer, OnnxNode, OnnxValueInfo } from './onnx/onnx-model';
export { RUNTIME_CHOICES, type RuntimeChoice, type RuntimeName, type SelectRuntimeOptions, type SelectRuntimeResult, selectRuntime } from './select-runtime';
export { type EncodableTensor, encodeSafetensors } from './encode-safetensors';
export {
  type LoadSafetensorsOptions,
  type LoadSafetensorsResult,
  loadSafetensors,
  type SafetensorsDtype,
  type SafetensorsTensor,
} from './load-safetensors';
export { IMAGENET_MEAN, IMAGENET_STD, type ImageNormalization, normalizeImageNet, normalizeImages } from './normalize-imagenet';
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
export { UnknownBackboneError } from './errors';
export { DfmError, type DfmErrorCode, isDfmError } from '@dfm/errors';
