import { HEATMAP_ALPHA, renderHeatmap } from '@dfm/core';
import sharp from 'sharp';
import { maskContour } from './mask-contour';
import type { Rgb } from './rgba-canvas';
import { ShapeMismatchError } from '@dfm/errors';

/** Input of {@link renderHeatmapOverlay}. */
export interface HeatmapOverlayOptions {
  /** `[height·width·3]` RGB in [0, 1], HWC (un-normalised, i.e. before the ImageNet mean/std). */
  image: Float32Array;
  /** `[height·width]` normalised anomaly map in [0, 1] (0.5 = threshold). */
  anomalyMap: Float32Array;
  /** `[height·width]` predicted mask, 1 = anomalous. Default: `anomalyMap > 0.5`. */
  predMask?: Uint8Array;
  /** `[height·width]` ground-truth mask, 1 = anomalous. Adds the last panel. */
  gtMask?: Uint8Array;
  height: number;
  width: number;
}

const GAP = 4;
const PRED_COLOR: Rgb = [255, 0, 0];
const GT_COLOR: Rgb = [0, 255, 0];

/**
 * One PNG with panels side by side (4-pixel white gaps): the image | the anomaly map as a jet
 * heatmap over the image (alpha 0.4; `@dfm/core`'s `renderHeatmap` with range [0, 1]) | the
 * predicted mask's contour on the image (red) | the ground-truth mask's contour on the image
 * (green; only when `gtMask` is given).
 *
 * @returns PNG bytes, `(panels·width + gaps) × height`, RGB.
 * @throws ShapeMismatchError when an array does not match `height` and `width`.
 * @example
 * await writeFile('000.png', await renderHeatmapOverlay({ image, anomalyMap, gtMask, height: 256, width: 256 }));
 */
export function renderHeatmapOverlay(options: HeatmapOverlayOptions): Promise<Buffer> {
  // The pixels are drawn now, synchronously; only the PNG encoding is left to the promise.
  try {
    return sharp(drawPanels(options), { raw: { width: panelsWidth(options), height: options.height, channels: 3 } }).png().toBuffer();
  } catch (error) {
    return Promise.reject(error);
  }
}

function panelsWidth({ gtMask, width }: HeatmapOverlayOptions): number {
  const panels = gtMask ? 4 : 3;
  return panels * width + (panels - 1) * GAP;
}

/** The panels' RGB pixels, drawn synchronously (the caller's arrays are read before this returns). */
function drawPanels(options: HeatmapOverlayOptions): Buffer {
  const { image, anomalyMap, gtMask, height, width } = options;
  const size = height * width;
  const check = (name: string, length: number, expected: number, shape: string) => {
    if (length !== expected) {
      throw new ShapeMismatchError(
        `renderHeatmapOverlay(): ${name} must be ${shape} = ${expected} values — got ${length}. ` +
          `Pass ${name} at the map size (resize first).`,
      );
    }
  };
  check('image', image.length, size * 3, `[${height}·${width}·3]`);
  check('anomalyMap', anomalyMap.length, size, `[${height}·${width}]`);
  if (options.predMask) check('predMask', options.predMask.length, size, `[${height}·${width}]`);
  if (gtMask) check('gtMask', gtMask.length, size, `[${height}·${width}]`);
  const predMask = options.predMask ?? Uint8Array.from(anomalyMap, (v) => (v > 0.5 ? 1 : 0));

  const panels = gtMask ? 4 : 3;
  const outWidth = panels * width + (panels - 1) * GAP;
  const out = new Uint8Array(outWidth * height * 3).fill(255);
  const put = (panel: number, pixel: number, rgb: ArrayLike<number>) => {
    const y = Math.floor(pixel / width);
    const o = (y * outWidth + panel * (width + GAP) + (pixel - y * width)) * 3;
    out[o] = rgb[0]!;
    out[o + 1] = rgb[1]!;
    out[o + 2] = rgb[2]!;
  };
  const predContour = maskContour(predMask, { height, width });
  const gtContour = gtMask ? maskContour(gtMask, { height, width }) : undefined;
  // The map is already scaled to [0, 1] (0.5 = threshold): drawn on that range, not its own.
  const heatmap = renderHeatmap({ width, height, data: anomalyMap }, { data: image, width, height, channels: 3 }, { range: [0, 1], alpha: HEATMAP_ALPHA }).data;
  const rgb = [0, 0, 0];
  for (let p = 0; p < size; p++) {
    for (let c = 0; c < 3; c++) rgb[c] = Math.round(255 * Math.min(1, Math.max(0, image[p * 3 + c]!)));
    put(0, p, rgb);
    put(1, p, heatmap.subarray(p * 4, p * 4 + 3));
    put(2, p, predContour[p] ? PRED_COLOR : rgb);
    if (gtContour) put(3, p, gtContour[p] ? GT_COLOR : rgb);
  }
  return Buffer.from(out.buffer);
}
