/**
 * `@dfm/data/pixels`: the pixel arithmetic of the image loader without the decoder, so it runs
 * anywhere (browsers included; no sharp, no Node built-in): the antialiased bilinear resize with
 * the normalisation folded in, the nearest resize of masks, and the RGB expansion. `@dfm/core`'s
 * Detector pre-processes pixels decoded elsewhere (a canvas, an upload) with exactly these.
 *
 * @packageDocumentation
 */
export { type Normalization, normalizationAffine } from './normalization';
export { type ResizeAffine, resizeBilinearAntialiased, resizeNearest } from './resize';
export { type PixelArray, toRgb } from './to-rgb';
