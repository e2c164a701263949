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
export {
  Detector,
  type DetectorInfo,
  type DetectorResult,
  type DetectorSource,
  type LoadDetectorOptions,
  loadDetector,
  type PredictBatchOptions,
  type PredictOptions,
} from './detector';
export type { BrowserImage, DetectorInput } from './detector-input';
export { IncompatibleModelError, WeightsMismatchError } from './errors';
export { EXPORT_MANIFEST_FORMAT, type ExportManifestFile, type ExportManifestFiles } from './export-manifest';
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
export { jetColormap } from './jet-colormap';
export {
  type ExportOnnxOptions,
  exportOnnx,
  ONNX_EXPORT_FILES,
  ONNX_EXPORT_FORMAT,
  type OnnxExport,
  type OnnxExportMetadata,
  parseOnnxMetadata,
  saveOnnxExport,
} from './onnx-export';
export { ONNX_EXPORT_INPUT, type OnnxExportOutput } from './onnx-graph';
export type { RawPixels } from './raw-pixels';
export { type AnomalyMapImage, HEATMAP_ALPHA, type HeatmapImage, type RenderHeatmapOptions, renderHeatmap } from './render-heatmap';
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
