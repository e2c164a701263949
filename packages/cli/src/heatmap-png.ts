import { type DetectorInfo, type DetectorResult, pixelScaling, scaleInto } from '@dfm/core';
import { loadImage, type ResizeKernel } from '@dfm/data';
import { renderHeatmapOverlay, scaleMapToUnitRange } from '@dfm/lightning-like';

/**
 * The heatmap PNG of one image `dfm predict --output` writes, made from the Detector's result with
 * the look of `dfm test`'s images (lightning-like's `renderHeatmapOverlay`): the image as the model
 * saw it (resized as at training, before normalisation) | the anomaly map as a jet heatmap over it |
 * the predicted mask's contour in red. The map is drawn on the model's pixel-threshold scale (0.5 =
 * threshold) and the mask is the Detector's `predMask`; a model without pixel thresholds gets each
 * map on its own range and the mask `map > middle of that range`.
 *
 * @returns PNG bytes, or null when the result has no anomaly map (an NLL model, or `{ map: false }`)
 */
export async function heatmapPng(imagePath: string, result: DetectorResult, info: DetectorInfo): Promise<Buffer | null> {
  const map = result.anomalyMap;
  if (map === undefined) return null;
  const { width, height, data } = map;
  const { imageSize, resizeKernel } = info.preProcessing;
  // The image at the map's size in [0, 1]: decoded and resized as the Detector did, without the normalisation.
  const image = await loadImage(imagePath, imageSize === null ? {} : { size: [height, width], kernel: resizeKernel as ResizeKernel });
  const scaling = info.postProcessing === null ? null : pixelScaling(info.postProcessing);
  const anomalyMap = scaling === null ? scaleMapToUnitRange(data) : scaleInto(data, scaling, new Float32Array(data.length), undefined);
  return renderHeatmapOverlay({
    image: image.data,
    anomalyMap,
    ...(scaling !== null && result.predMask !== undefined ? { predMask: result.predMask.data } : {}),
    height,
    width,
  });
}
