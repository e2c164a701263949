import { resizeBilinearAntialiased } from '@dfm/data/pixels';
import { InvalidArgumentError, ShapeMismatchError } from '@dfm/errors';
import { jetColormap } from './jet-colormap';
import { describeValue, type RawPixels, rawPixelsToRgb } from './raw-pixels';

/** An anomaly map: `[height·width]` raw or scaled values, row-major (a {@link DetectorResult}'s `anomalyMap`). */
export interface AnomalyMapImage {
  width: number;
  height: number;
  data: Float32Array;
}

/** Options of {@link renderHeatmap}. */
export interface RenderHeatmapOptions {
  /**
   * Map values drawn as the lowest and highest colour (values outside are clamped). Default: the
   * map's own minimum and maximum (NaN ignored). `[0, 1]` for a map already min-max scaled with the
   * model's thresholds (0.5 = threshold, as the CLI's heatmaps); `[t − (max − min)/2, t + (max − min)/2]`
   * with `t = pixelThreshold` and `max, min = pixelMax, pixelMin` draws a raw map on that same scale.
   */
  range?: [number, number];
  /** Weight of the heatmap over the image (0 = image only, 1 = heatmap only). Default 0.4. */
  alpha?: number;
}

/** RGBA pixels, 4 bytes per pixel, opaque: `new ImageData(result.data, result.width, result.height)` in a browser. */
export interface HeatmapImage {
  width: number;
  height: number;
  data: Uint8ClampedArray;
}

/** The default {@link RenderHeatmapOptions.alpha}: the CLI's heatmap overlay. */
export const HEATMAP_ALPHA = 0.4;

/**
 * Colours an anomaly map with the jet colour map (blue = low, red = high) and, when `image` is
 * given, lays it over the image: `round((1 − alpha)·pixel + alpha·colour)` per channel. The image
 * is resized to the map's size (antialiased bilinear) when its size differs. The single
 * implementation of the heatmaps: the CLI's PNGs and the browser page draw with it.
 *
 * @param anomalyMap `{ width, height, data: Float32Array }`, e.g. `(await detector.predict(x)).anomalyMap`
 * @param image the picture under it: raw pixels (`ImageData` fits: pass `{ ...imageData, channels: 4 }`)
 * @returns RGBA, `width·height·4` bytes, alpha 255
 * @throws InvalidArgumentError / ShapeMismatchError naming the bad argument
 *
 * @example
 * const { anomalyMap } = await detector.predict(imageData);
 * const heat = renderHeatmap(anomalyMap, { data: imageData.data, width: imageData.width, height: imageData.height, channels: 4 });
 * canvas.getContext('2d').putImageData(new ImageData(heat.data, heat.width, heat.height), 0, 0);
 */
export function renderHeatmap(anomalyMap: AnomalyMapImage, image?: RawPixels, options: RenderHeatmapOptions = {}): HeatmapImage {
  const where = 'renderHeatmap()';
  const { width, height, data } = (anomalyMap ?? {}) as Partial<AnomalyMapImage>;
  if (!(data instanceof Float32Array) || !Number.isSafeInteger(width) || !Number.isSafeInteger(height) || width! < 1 || height! < 1) {
    throw new InvalidArgumentError(
      `${where}: anomalyMap must be { width, height, data: Float32Array } (a DetectorResult's anomalyMap) — got ${describeValue(anomalyMap)} with data ${describeValue(data)}, width ${describeValue(width)}, height ${describeValue(height)}.`,
    );
  }
  const w = width as number;
  const h = height as number;
  const size = w * h;
  if (data.length !== size) {
    throw new ShapeMismatchError(`${where}: anomalyMap.data must hold width·height = ${w}·${h} = ${size} values — got ${data.length}.`);
  }
  const { alpha = HEATMAP_ALPHA } = options;
  if (typeof alpha !== 'number' || !(alpha >= 0 && alpha <= 1)) {
    throw new InvalidArgumentError(`${where}: alpha must be a number in [0, 1] — got ${describeValue(alpha)}. Use 0.4 (the default).`);
  }
  const [low, high] = options.range ?? ownRange(data);
  if (options.range !== undefined && (!Array.isArray(options.range) || options.range.length !== 2 || !Number.isFinite(low) || !Number.isFinite(high) || low > high)) {
    throw new InvalidArgumentError(`${where}: range must be [low, high] with finite numbers, low ≤ high — got ${JSON.stringify(options.range)}.`);
  }
  const scale = high > low ? 1 / (high - low) : 0;
  let pixels: Float32Array | undefined;
  if (image !== undefined) {
    const rgb = rawPixelsToRgb(image, where, 'image');
    // At the same size this only scales to [0, 1] (exact for float input).
    pixels = resizeBilinearAntialiased(rgb.data, rgb.height, rgb.width, 3, h, w, 1 / rgb.maxValue);
  }
  const out = new Uint8ClampedArray(size * 4);
  const rgb = [0, 0, 0];
  for (let p = 0; p < size; p++) {
    const heat = jetColormap((data[p]! - low) * scale);
    const o = p * 4;
    if (pixels === undefined) {
      out[o] = heat[0];
      out[o + 1] = heat[1];
      out[o + 2] = heat[2];
    } else {
      for (let c = 0; c < 3; c++) {
        rgb[c] = Math.round(255 * Math.min(1, Math.max(0, pixels[p * 3 + c]!)));
        out[o + c] = Math.round((1 - alpha) * rgb[c]! + alpha * heat[c]!);
      }
    }
    out[o + 3] = 255;
  }
  return { width: w, height: h, data: out };
}

/** The smallest and largest finite value (NaN and ±Infinity ignored); [0, 0] when there is none. */
function ownRange(data: Float32Array): [number, number] {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v < min && v > Number.NEGATIVE_INFINITY) min = v;
    if (v > max && v < Number.POSITIVE_INFINITY) max = v;
  }
  return min <= max ? [min, max] : [0, 0];
}
