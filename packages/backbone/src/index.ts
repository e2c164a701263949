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
