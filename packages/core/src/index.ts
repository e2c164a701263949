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
export { IncompatibleModelError, WeightsMismatchError } from './errors';
export { FeatureBank } from './feature-bank';
export { type FeatureShape, poolAndFlatten } from './feature-pooling';
export {
  type BackboneRecord,
  encodeModel,
  type LoadedModel,
  type LoadModelOptions,
  loadModel,
  MODEL_FORMAT_VERSION,
  type ModelFileMetadata,
  type ModelSource,
  readModelMetadata,
  saveModel,
} from './model-file';
export { VERSION } from './version';
export {
  checkPostProcessing,
  imageScaling,
  type MinMaxScaleOptions,
  minMaxScale,
  type PostProcessing,
  pixelScaling,
  scaleInto,
} from './post-processing';
export {
  checkPreProcessing,
  DEFAULT_RESIZE_KERNEL,
  defaultPreProcessing,
  type PixelNormalization,
  type PreProcessing,
} from './pre-processing';
export { DfmError, type DfmErrorCode, isDfmError } from '@dfm/errors';
