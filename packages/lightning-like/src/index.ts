export { AnomalyModule, type LearningType, type ModelBatch, type StepOutput } from './anomaly-module';
export * from './callbacks';
export { calibrationSample, DEFAULT_CALIBRATION_IMAGES, Dfm, type DfmOptions } from './dfm';
export {
  type CollectStatisticsResult,
  Engine,
  type EngineOptions,
  type FitOptions,
  type FitStatistics,
  type FitSummary,
  type Prediction,
  type PredictOptions,
  predictionsCsv,
  type TestResult,
} from './engine';
export {
  type EvaluationInput,
  type EvaluationResult,
  Evaluator,
  type EvaluatorOptions,
  type ImageMetricName,
  type PixelMetricName,
} from './evaluator';
export { isMemoryBankModule, MemoryBankMixin, type MemoryBankModule, type MemoryBankStatistics } from './memory-bank-mixin';
export * from './metrics';
export * from './post-processing';
export { PreProcessor, type PreProcessorOptions } from './pre-processor';
export {
  DEFAULT_TRAINER_ARGUMENTS,
  mergeTrainerArguments,
  type TrainerArgumentConflict,
  type TrainerArguments,
} from './trainer-arguments';
export { VERSION } from './version';
export * from './visualization';
export { heatmapName, scaleMapToUnitRange, Visualizer, type VisualizerOptions } from './visualizer';
export { DfmError, type DfmErrorCode, isDfmError } from '@dfm/errors';
