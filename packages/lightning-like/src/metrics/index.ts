export { type AuproOptions, aupro } from './aupro';
export { auroc } from './auroc';
export type { BinaryLabels, Scores } from './binary-inputs';
export {
  type ConnectedComponentsOptions,
  type ConnectedComponentsResult,
  labelConnectedComponents,
} from './connected-components';
export { type F1AdaptiveThresholdResult, f1AdaptiveThreshold } from './f1-adaptive-threshold';
export { f1Score } from './f1-score';
export { type PrecisionRecallCurveResult, precisionRecallCurve } from './precision-recall-curve';
export { type RocCurveResult, rocCurve } from './roc-curve';
