export { type EighOptions, type EighResult, eigh } from './eigh';
export {
  createMatrix64,
  isMatrix64,
  type Matrix64,
  type MatrixLike,
  matrix64ToArray,
  multiplyMatrix64,
  toMatrix64,
  transposeMatrix64,
} from './matrix64';
export {
  checkNComponents,
  type NComponents,
  PCA,
  type PCAAsyncFitOptions,
  type PCAFitOptions,
  type PCAJSON,
  type PCAOptions,
  type PCAProgress,
  type PCAProgressCallback,
  type PCAState,
  ZERO_EIGENVALUE_TOLERANCE,
} from './pca';
export {
  PCAStatistics,
  type PCAStatisticsOptions,
  type PCAStatisticsStorage,
  type PCAStatisticsUpdateOptions,
  type ProjectedMoments,
} from './pca-statistics';
export {
  SingleClassGaussian,
  type SingleClassGaussianJSON,
  type SingleClassGaussianOptions,
  type SingleClassGaussianState,
} from './single-class-gaussian';
export type { MatrixProducts, ProductPrecision, ProductRequest } from './products';
export { type SvdOptions, type SvdResult, svd } from './svd';
export { VERSION } from './version';
export { DfmError, type DfmErrorCode, isDfmError } from '@dfm/errors';
