export { residualToMap, upsampleMap } from './anomaly-map';
export {
  DFMModel,
  type DFMModelConfig,
  type DFMModelOptions,
  type DFMModelState,
  type FeatureResult,
  type FitInput,
  type FitOptions,
  type FitProgress,
  type FitResult,
  type InferenceBatch,
  type ScoreResult,
  type ScoreType,
} from './dfm-model';
export { IncompatibleModelError } from './errors';
export { type FeatureShape, poolAndFlatten } from './feature-pooling';
export {
  type BackboneRecord,
  encodeModel,
  type LoadedModel,
  type LoadModelOptions,
  loadModel,
  MODEL_FORMAT_VERSION,
  type ModelFileMetadata,
  readModelMetadata,
  saveModel,
} from './model-file';
export { VERSION } from './version';
