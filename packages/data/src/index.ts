export { type Batch, type BatchOptions, type BatchStats, type BatchStream, batches } from './batches';
export type { AnomalyDataset } from './dataset';
export { type DecodedPixels, type DecodeImagePixelsOptions, decodeImagePixels } from './decode-pixels';
export {
  type BadFile,
  BadImagesError,
  ImageDecodeError,
  ImageTooLargeError,
  MaskMismatchError,
  MissingMaskError,
} from './errors';
export { Folder, type FolderOptions } from './folder';
export {
  DEFAULT_PIXEL_LIMIT,
  type DecodedImage,
  type ImageHeader,
  type ImageSize,
  type LoadImageOptions,
  loadImage,
  readImageHeader,
  RESIZE_KERNELS,
  type ResizeKernel,
  SUPPORTED_FORMATS,
} from './load-image';
export { type DecodedMask, type LoadMaskOptions, loadMask } from './load-mask';
export { MVTecAD, type MVTecADOptions } from './mvtec-ad';
export { type Normalization, normalizationAffine } from './normalization';
export { type ResizeAffine, resizeBilinearAntialiased, resizeNearest } from './resize';
export { type PixelArray, toRgb } from './to-rgb';
export { hasImageExtension, IMAGE_EXTENSIONS, type Sample } from './sample';
export type { SplitInfo, SplitOptions, TestSplitMode, ValSplitMode } from './splits';
export { createSyntheticAnomaly, type SyntheticAnomaly } from './synthetic-anomaly';
export { type ValidateSamplesOptions, type ValidationReport, validateSamples } from './validate-samples';
export { VERSION } from './version';
export { DfmError, type DfmErrorCode, isDfmError } from '@dfm/errors';
