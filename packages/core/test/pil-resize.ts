/**
 * Pillow's `Image.resize(size, Image.BILINEAR)` on 8-bit images, exactly: the pixels the PyTorch
 * reference (scripts/make-reference-scores.py) feeds its backbone. Written from Pillow's
 * `libImaging/Resample.c` (9.x): `precompute_coeffs` with the bilinear filter, coefficients in
 * fixed point with 22 fraction bits (`normalize_coeffs_8bpc`), a horizontal pass to a uint8
 * intermediate image over the rows the vertical pass reads, then the vertical pass, each output
 * rounded half up and clamped to 0..255.
 *
 * Our loader (`@dfm/data` `loadImage`) uses the same filter in float64 and keeps float32 output,
 * so it differs from this by the two uint8 roundings: at most one grey level per pixel. Tests use
 * this to compare the network, PCA and scores with PyTorch on identical inputs.
 */
import { loadImage } from '@dfm/data';

const PRECISION_BITS = 32 - 8 - 2;

interface Coefficients {
  /** First input index and tap count of each output index. */
  bounds: Int32Array;
  /** `ksize` fixed-point weights per output index. */
  weights: Int32Array;
  ksize: number;
}

function precomputeCoefficients(inSize: number, outSize: number): Coefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filterScale; // the bilinear filter's support is 1
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const weights = new Int32Array(outSize * ksize);
  const taps = new Float64Array(ksize);
  for (let out = 0; out < outSize; out += 1) {
    const center = (out + 0.5) * scale;
    const xMin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xMax = Math.min(Math.trunc(center + support + 0.5), inSize) - xMin;
    let total = 0;
    taps.fill(0);
    for (let x = 0; x < xMax; x += 1) {
      const t = Math.abs((x + xMin - center + 0.5) / filterScale);
      const w = t < 1 ? 1 - t : 0;
      taps[x] = w;
      total += w;
    }
    for (let x = 0; x < ksize; x += 1) {
      const w = total !== 0 && x < xMax ? (taps[x] as number) / total : 0;
      weights[out * ksize + x] = Math.trunc(w < 0 ? -0.5 + w * 2 ** PRECISION_BITS : 0.5 + w * 2 ** PRECISION_BITS);
    }
    bounds[out * 2] = xMin;
    bounds[out * 2 + 1] = xMax;
  }
  return { bounds, weights, ksize };
}

/** `(sum + 2^21) >> 22`, clamped to a byte (Pillow's `clip8`). */
function clip8(sum: number): number {
  const v = Math.floor(sum / 2 ** PRECISION_BITS);
  return Math.min(Math.max(v, 0), 255);
}

/**
 * Resizes an 8-bit HWC image as Pillow's `resize((outWidth, outHeight), BILINEAR)` does.
 * Returns a new `[outHeight, outWidth, channels]` Uint8Array; the input is not modified.
 */
export function pilResizeBilinear(
  input: Uint8Array,
  height: number,
  width: number,
  channels: number,
  outHeight: number,
  outWidth: number,
): Uint8Array {
  const horizontal = precomputeCoefficients(width, outWidth);
  const vertical = precomputeCoefficients(height, outHeight);
  let source = input;
  let rowOffset = 0; // first input row held by `source`
  let sourceWidth = width;
  if (outWidth !== width) {
    const first = vertical.bounds[0] as number;
    const last = (vertical.bounds[outHeight * 2 - 2] as number) + (vertical.bounds[outHeight * 2 - 1] as number);
    const rows = outHeight !== height ? last - first : height;
    const start = outHeight !== height ? first : 0;
    const temp = new Uint8Array(rows * outWidth * channels);
    for (let y = 0; y < rows; y += 1) {
      for (let x = 0; x < outWidth; x += 1) {
        const xMin = horizontal.bounds[x * 2] as number;
        const count = horizontal.bounds[x * 2 + 1] as number;
        for (let c = 0; c < channels; c += 1) {
          let sum = 2 ** (PRECISION_BITS - 1);
          for (let k = 0; k < count; k += 1) {
            sum += (input[((y + start) * width + xMin + k) * channels + c] as number) * (horizontal.weights[x * horizontal.ksize + k] as number);
          }
          temp[(y * outWidth + x) * channels + c] = clip8(sum);
        }
      }
    }
    source = temp;
    rowOffset = start;
    sourceWidth = outWidth;
  }
  if (outHeight === height) return source === input ? input.slice() : source;
  const out = new Uint8Array(outHeight * outWidth * channels);
  for (let y = 0; y < outHeight; y += 1) {
    const yMin = (vertical.bounds[y * 2] as number) - rowOffset;
    const count = vertical.bounds[y * 2 + 1] as number;
    for (let x = 0; x < sourceWidth; x += 1) {
      for (let c = 0; c < channels; c += 1) {
        let sum = 2 ** (PRECISION_BITS - 1);
        for (let k = 0; k < count; k += 1) {
          sum += (source[((yMin + k) * sourceWidth + x) * channels + c] as number) * (vertical.weights[y * vertical.ksize + k] as number);
        }
        out[(y * sourceWidth + x) * channels + c] = clip8(sum);
      }
    }
  }
  return out;
}

/**
 * An image file as the reference script reads it: decoded to 8-bit RGB (our decoder; Pillow's
 * `convert('RGB')`), resized with {@link pilResizeBilinear}, scaled to [0, 1] (before ImageNet
 * normalisation). `[size, size, 3]` float32.
 */
export async function loadImageLikePil(path: string, size: number): Promise<Float32Array> {
  const decoded = await loadImage(path);
  const bytes = new Uint8Array(decoded.data.length);
  for (let i = 0; i < bytes.length; i += 1) bytes[i] = Math.round((decoded.data[i] as number) * 255);
  const resized = pilResizeBilinear(bytes, decoded.height, decoded.width, 3, size, size);
  const out = new Float32Array(resized.length);
  for (let i = 0; i < out.length; i += 1) out[i] = (resized[i] as number) / 255;
  return out;
}
