export { type MinMaxNormalizeOptions, minMaxNormalize } from './min-max-normalize';
export {
  computeNormalizationStats,
  type NormalizationInput,
  type NormalizationStats,
  type NormalizationStatsResult,
} from './normalization-stats';
export {
  type PostProcessInput,
  type PostProcessorFitInput,
  type PostProcessorJSON,
  type PostProcessResult,
  PostProcessor,
} from './post-processor';
