export {
  computePostProcessing,
  type PostProcessingInput,
  type PostProcessingResult,
} from './compute-post-processing';
export {
  type PostProcessInput,
  type PostProcessorFitInput,
  type PostProcessorJSON,
  type PostProcessResult,
  PostProcessor,
} from './post-processor';
