/**
 * Resampling on plain typed arrays (HWC, row-major).
 *
 * `resizeBilinearAntialiased` is PIL's `Image.resize(..., BILINEAR)` / torchvision's
 * `Resize(antialias=True)` bilinear: a triangle filter whose support grows with the downscale
 * factor, pixel centres at +0.5, the window clipped at the borders and the weights renormalised.
 * It runs in float64 and writes float32, so a float pipeline matches torchvision on float tensors.
 */

type Pixels = Uint8Array | Uint16Array | Float32Array;

interface Taps {
  start: Int32Array;
  count: Int32Array;
  weights: Float64Array;
  maxTaps: number;
}

function bilinearTaps(inSize: number, outSize: number): Taps {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filterScale; // bilinear support 1.0 × filterScale
  const maxTaps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float64Array(outSize * maxTaps);
  for (let i = 0; i < outSize; i++) {
    const center = (i + 0.5) * scale;
    const xMin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xMax = Math.min(Math.trunc(center + support + 0.5), inSize);
    let total = 0;
    const n = xMax - xMin;
    for (let k = 0; k < n; k++) {
      const t = Math.abs((k + xMin - center + 0.5) / filterScale);
      const w = t < 1 ? 1 - t : 0;
      weights[i * maxTaps + k] = w;
      total += w;
    }
    if (total !== 0) for (let k = 0; k < n; k++) weights[i * maxTaps + k]! /= total;
    start[i] = xMin;
    count[i] = n;
  }
  return { start, count, weights, maxTaps };
}

/**
 * Resizes an HWC image with antialiased bilinear filtering (PIL / torchvision `antialias=True`).
 * `valueScale` multiplies every input value (e.g. `1/255` to turn bytes into [0, 1]).
 *
 * @example
 * const out = resizeBilinearAntialiased(bytes, 512, 512, 3, 256, 256, 1 / 255); // Float32Array 256·256·3
 */
export function resizeBilinearAntialiased(
  source: Pixels,
  height: number,
  width: number,
  channels: number,
  outHeight: number,
  outWidth: number,
  valueScale = 1,
): Float32Array {
  // Horizontal pass: [height, outWidth, channels].
  const horizontal = new Float32Array(height * outWidth * channels);
  if (outWidth === width) {
    for (let i = 0; i < horizontal.length; i++) horizontal[i] = source[i]! * valueScale;
  } else {
    const taps = bilinearTaps(width, outWidth);
    for (let y = 0; y < height; y++) {
      const rowIn = y * width * channels;
      const rowOut = y * outWidth * channels;
      for (let x = 0; x < outWidth; x++) {
        const s = taps.start[x]!;
        const n = taps.count[x]!;
        const wBase = x * taps.maxTaps;
        for (let c = 0; c < channels; c++) {
          let sum = 0;
          for (let k = 0; k < n; k++) sum += taps.weights[wBase + k]! * source[rowIn + (s + k) * channels + c]!;
          horizontal[rowOut + x * channels + c] = sum * valueScale;
        }
      }
    }
  }
  if (outHeight === height) return horizontal;
  // Vertical pass: [outHeight, outWidth, channels].
  const out = new Float32Array(outHeight * outWidth * channels);
  const taps = bilinearTaps(height, outHeight);
  const rowLength = outWidth * channels;
  for (let y = 0; y < outHeight; y++) {
    const s = taps.start[y]!;
    const n = taps.count[y]!;
    const wBase = y * taps.maxTaps;
    const rowOut = y * rowLength;
    for (let k = 0; k < n; k++) {
      const w = taps.weights[wBase + k]!;
      const rowIn = (s + k) * rowLength;
      for (let i = 0; i < rowLength; i++) out[rowOut + i]! += w * horizontal[rowIn + i]!;
    }
  }
  return out;
}

/**
 * Nearest-neighbour resize of a single-channel [H, W] array, PyTorch `interpolate(mode='nearest')`
 * semantics: output pixel i reads input `floor(i · in / out)`.
 */
export function resizeNearest(
  source: Uint8Array,
  height: number,
  width: number,
  outHeight: number,
  outWidth: number,
): Uint8Array {
  if (outHeight === height && outWidth === width) return source.slice();
  const out = new Uint8Array(outHeight * outWidth);
  const xs = new Int32Array(outWidth);
  for (let x = 0; x < outWidth; x++) xs[x] = Math.min(Math.floor((x * width) / outWidth), width - 1);
  for (let y = 0; y < outHeight; y++) {
    const sy = Math.min(Math.floor((y * height) / outHeight), height - 1);
    const rowIn = sy * width;
    const rowOut = y * outWidth;
    for (let x = 0; x < outWidth; x++) out[rowOut + x] = source[rowIn + xs[x]!]!;
  }
  return out;
}
