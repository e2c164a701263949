import { InvalidArgumentError, ShapeMismatchError } from '@dfm/errors';
/**
 * Resampling on plain typed arrays (HWC, row-major).
 *
 * `resizeBilinearAntialiased` is PIL's `Image.resize(..., BILINEAR)` / torchvision's
 * `Resize(antialias=True)` bilinear: a triangle filter whose support grows with the downscale
 * factor, pixel centres at +0.5, the window clipped at the borders and the weights renormalised.
 * It runs in float64 and writes float32, so a float pipeline matches torchvision on float tensors.
 */


type Pixels = Uint8Array | Uint16Array | Float32Array;

/** Per-channel affine map `v · scale[c] + offset[c]` applied to every output value (one entry per channel). */
export interface ResizeAffine {
  scale: ArrayLike<number>;
  offset: ArrayLike<number>;
}

/**
 * Filter taps for one axis. Output `i` reads `count[i]` inputs starting at the flat offset
 * `start[i]` (input index already multiplied by `stride`), one every `stride` elements, with
 * weights `weights[i · maxTaps + k]`, `k < count[i]` (the rest of each slot is zero).
 */
interface Taps {
  start: Int32Array;
  count: Int32Array;
  weights: Float64Array;
  maxTaps: number;
}

// Taps depend only on (inSize, outSize, stride): datasets resize every image the same way, so a
// few cached entries cover them. Cached arrays are never handed out or written after creation.
const tapsCache = new Map<string, Taps>();
const TAPS_CACHE_LIMIT = 32;

function bilinearTaps(inSize: number, outSize: number, stride: number): Taps {
  const key = `${inSize},${outSize},${stride}`;
  const cached = tapsCache.get(key);
  if (cached !== undefined) return cached;
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
    start[i] = xMin * stride;
    count[i] = n;
  }
  const taps: Taps = { start, count, weights, maxTaps };
  if (tapsCache.size >= TAPS_CACHE_LIMIT) tapsCache.clear();
  tapsCache.set(key, taps);
  return taps;
}

/**
 * The same taps padded to exactly four per output: `start[i]` is the first of four inputs (times
 * `stride`), the real taps sit among them and the others weigh 0. A window that would run past the
 * end is moved left, so all four inputs exist. For finite inputs the sums are unchanged bit for bit:
 * `s + 0 · v === s` and `0 + 0 · v === 0`. Undefined when some output has more than four taps (a
 * downscale by more than 2) or the input is shorter than four.
 */
interface Taps4 {
  start: Int32Array;
  weights: Float64Array;
}

const taps4Cache = new Map<string, Taps4 | undefined>();

function bilinearTaps4(inSize: number, outSize: number, stride: number): Taps4 | undefined {
  const key = `${inSize},${outSize},${stride}`;
  if (taps4Cache.has(key)) return taps4Cache.get(key);
  let padded: Taps4 | undefined;
  const { start, count, weights, maxTaps } = bilinearTaps(inSize, outSize, 1);
  if (inSize >= 4 && count.every((n) => n <= 4)) {
    padded = { start: new Int32Array(outSize), weights: new Float64Array(outSize * 4) };
    for (let i = 0; i < outSize; i++) {
      const first = Math.min(start[i]!, inSize - 4);
      const lead = start[i]! - first;
      for (let k = 0; k < count[i]!; k++) padded.weights[i * 4 + lead + k] = weights[i * maxTaps + k]!;
      padded.start[i] = first * stride;
    }
  }
  if (taps4Cache.size >= TAPS_CACHE_LIMIT) taps4Cache.clear();
  taps4Cache.set(key, padded);
  return padded;
}

/**
 * Both passes at once for Uint8 RGB when no output needs more than four taps on either axis (any
 * resize down by at most 2, or up): the hot case. It walks down two output columns at a time (the
 * second one repeats the first when the width is odd), keeps for each the four float32 horizontal
 * results per channel that the current output row needs in locals, slides them down the rows, and
 * never writes the intermediate. Values, rounding and summation order are those of the two passes:
 * horizontal in float64 times `valueScale`, rounded to float32; vertical accumulated in float32.
 * Needs 0 < valueScale ≤ 1e30, so every horizontal result is finite and ≥ +0: the zero-weight
 * padding is then exact and no −0 can appear.
 */
function fusedU8Rgb(
  src: Uint8Array,
  out: Float32Array,
  width: number,
  outHeight: number,
  outWidth: number,
  hTaps: Taps4,
  vTaps: Taps4,
  valueScale: number,
  affine: ResizeAffine | undefined,
): void {
  const fround = Math.fround;
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const rowInLength = width * 3;
  const rowOutLength = outWidth * 3;
  const vs = +valueScale;
  const hStart = hTaps.start;
  const hWeights = hTaps.weights;
  const vStart = vTaps.start;
  const vWeights = vTaps.weights;
  const hasAffine = affine !== undefined;
  const a0 = hasAffine ? +affine.scale[0]! : 1;
  const a1 = hasAffine ? +affine.scale[1]! : 1;
  const a2 = hasAffine ? +affine.scale[2]! : 1;
  const b0 = hasAffine ? +affine.offset[0]! : 0;
  const b1 = hasAffine ? +affine.offset[1]! : 0;
  const b2 = hasAffine ? +affine.offset[2]! : 0;
  for (let x = 0; x < outWidth; x += 2) {
    const z = Math.min(x + 1, outWidth - 1); // the second column
    const xw0 = hWeights[x * 4]!;
    const xw1 = hWeights[x * 4 + 1]!;
    const xw2 = hWeights[x * 4 + 2]!;
    const xw3 = hWeights[x * 4 + 3]!;
    const zw0 = hWeights[z * 4]!;
    const zw1 = hWeights[z * 4 + 1]!;
    const zw2 = hWeights[z * 4 + 2]!;
    const zw3 = hWeights[z * 4 + 3]!;
    const xp = hStart[x]!;
    const zp = hStart[z]!;
    // Horizontal results (r, g, b) of rows lo … lo + 3 for column x (xr0 … xb3) and z (zr0 … zb3).
    let xr0 = 0;
    let xg0 = 0;
    let xb0 = 0;
    let xr1 = 0;
    let xg1 = 0;
    let xb1 = 0;
    let xr2 = 0;
    let xg2 = 0;
    let xb2 = 0;
    let xr3 = 0;
    let xg3 = 0;
    let xb3 = 0;
    let zr0 = 0;
    let zg0 = 0;
    let zb0 = 0;
    let zr1 = 0;
    let zg1 = 0;
    let zb1 = 0;
    let zr2 = 0;
    let zg2 = 0;
    let zb2 = 0;
    let zr3 = 0;
    let zg3 = 0;
    let zb3 = 0;
    let lo = vStart[0]! - 4;
    for (let y = 0, ox = x * 3, oz = z * 3; y < outHeight; y++, ox += rowOutLength, oz += rowOutLength) {
      const sy = vStart[y]!;
      if (sy < lo) lo = sy - 4; // never for the taps built here (starts never decrease); kept for safety
      for (; lo < sy; lo++) {
        // Row lo + 4 enters. Four pixels are 12 bytes r g b r | g b r g | b r g b.
        const row = (lo + 4) * rowInLength;
        let a = view.getUint32(row + xp, true);
        let b = view.getUint32(row + xp + 4, true);
        let c = view.getUint32(row + xp + 8, true);
        xr0 = xr1;
        xg0 = xg1;
        xb0 = xb1;
        xr1 = xr2;
        xg1 = xg2;
        xb1 = xb2;
        xr2 = xr3;
        xg2 = xg3;
        xb2 = xb3;
        xr3 = fround((xw0 * (a & 255) + xw1 * (a >>> 24) + xw2 * ((b >>> 16) & 255) + xw3 * ((c >>> 8) & 255)) * vs);
        xg3 = fround((xw0 * ((a >>> 8) & 255) + xw1 * (b & 255) + xw2 * (b >>> 24) + xw3 * ((c >>> 16) & 255)) * vs);
        xb3 = fround((xw0 * ((a >>> 16) & 255) + xw1 * ((b >>> 8) & 255) + xw2 * (c & 255) + xw3 * (c >>> 24)) * vs);
        a = view.getUint32(row + zp, true);
        b = view.getUint32(row + zp + 4, true);
        c = view.getUint32(row + zp + 8, true);
        zr0 = zr1;
        zg0 = zg1;
        zb0 = zb1;
        zr1 = zr2;
        zg1 = zg2;
        zb1 = zb2;
        zr2 = zr3;
        zg2 = zg3;
        zb2 = zb3;
        zr3 = fround((zw0 * (a & 255) + zw1 * (a >>> 24) + zw2 * ((b >>> 16) & 255) + zw3 * ((c >>> 8) & 255)) * vs);
        zg3 = fround((zw0 * ((a >>> 8) & 255) + zw1 * (b & 255) + zw2 * (b >>> 24) + zw3 * ((c >>> 16) & 255)) * vs);
        zb3 = fround((zw0 * ((a >>> 16) & 255) + zw1 * ((b >>> 8) & 255) + zw2 * (c & 255) + zw3 * (c >>> 24)) * vs);
      }
      const v0 = vWeights[y * 4]!;
      const v1 = vWeights[y * 4 + 1]!;
      const v2 = vWeights[y * 4 + 2]!;
      const v3 = vWeights[y * 4 + 3]!;
      // Every term is ≥ +0 (weights ≥ 0, bytes ≥ 0, valueScale > 0), so starting from v0 · h0
      // rather than 0 + v0 · h0 gives the same float32 sums, never −0.
      const xr = fround(fround(fround(fround(v0 * xr0) + v1 * xr1) + v2 * xr2) + v3 * xr3);
      const xg = fround(fround(fround(fround(v0 * xg0) + v1 * xg1) + v2 * xg2) + v3 * xg3);
      const xb = fround(fround(fround(fround(v0 * xb0) + v1 * xb1) + v2 * xb2) + v3 * xb3);
      const zr = fround(fround(fround(fround(v0 * zr0) + v1 * zr1) + v2 * zr2) + v3 * zr3);
      const zg = fround(fround(fround(fround(v0 * zg0) + v1 * zg1) + v2 * zg2) + v3 * zg3);
      const zb = fround(fround(fround(fround(v0 * zb0) + v1 * zb1) + v2 * zb2) + v3 * zb3);
      if (hasAffine) {
        out[ox] = xr * a0 + b0;
        out[ox + 1] = xg * a1 + b1;
        out[ox + 2] = xb * a2 + b2;
        out[oz] = zr * a0 + b0;
        out[oz + 1] = zg * a1 + b1;
        out[oz + 2] = zb * a2 + b2;
      } else {
        out[ox] = xr;
        out[ox + 1] = xg;
        out[ox + 2] = xb;
        out[oz] = zr;
        out[oz + 1] = zg;
        out[oz + 2] = zb;
      }
    }
  }
}

// Horizontal pass: [height, width, C] → [height, outWidth, C]. Each output sums its taps in float64
// in tap order, is multiplied by `valueScale` and stored as float32. Uint8 RGB (every 8-bit image
// loadImage resizes) has its own kernel so its element reads stay monomorphic in V8; the rest share one.

/**
 * Uint8. RGB (what the fused path does not take: downscales by more than 2, or one axis unchanged)
 * reads four pixels (12 bytes) with three little-endian 32-bit DataView
 * loads instead of twelve bounds-checked byte loads, and walks column by column so the four weights
 * of a column stay in locals for all rows. Same arithmetic in the same order as the plain loop.
 */
function horizontalU8(src: Uint8Array, dst: Float32Array, height: number, width: number, outWidth: number, channels: number, taps: Taps, valueScale: number): void {
  const { start, count, weights, maxTaps } = taps;
  const rowInLength = width * channels;
  const rowOutLength = outWidth * channels;
  const vs = +valueScale;
  if (channels === 3) {
    const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
    for (let x = 0, wi = 0; x < outWidth; x++, wi += maxTaps) {
      const n = count[x]!;
      const s = start[x]!;
      if (n === 4) {
        const w0 = weights[wi]!;
        const w1 = weights[wi + 1]!;
        const w2 = weights[wi + 2]!;
        const w3 = weights[wi + 3]!;
        for (let y = 0, p = s, o = x * 3; y < height; y++, p += rowInLength, o += rowOutLength) {
          // Bytes r0 g0 b0 r1 | g1 b1 r2 g2 | b2 r3 g3 b3.
          const a = view.getUint32(p, true);
          const b = view.getUint32(p + 4, true);
          const c = view.getUint32(p + 8, true);
          dst[o] = (w0 * (a & 255) + w1 * (a >>> 24) + w2 * ((b >>> 16) & 255) + w3 * ((c >>> 8) & 255)) * vs;
          dst[o + 1] = (w0 * ((a >>> 8) & 255) + w1 * (b & 255) + w2 * (b >>> 24) + w3 * ((c >>> 16) & 255)) * vs;
          dst[o + 2] = (w0 * ((a >>> 16) & 255) + w1 * ((b >>> 8) & 255) + w2 * (c & 255) + w3 * (c >>> 24)) * vs;
        }
        continue;
      }
      for (let y = 0, q = s, o = x * 3; y < height; y++, q += rowInLength, o += rowOutLength) {
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let k = 0;
        let p = q;
        for (; k + 4 <= n; k += 4, p += 12) {
          const a = view.getUint32(p, true);
          const b = view.getUint32(p + 4, true);
          const c = view.getUint32(p + 8, true);
          const w0 = weights[wi + k]!;
          const w1 = weights[wi + k + 1]!;
          const w2 = weights[wi + k + 2]!;
          const w3 = weights[wi + k + 3]!;
          s0 = s0 + w0 * (a & 255) + w1 * (a >>> 24) + w2 * ((b >>> 16) & 255) + w3 * ((c >>> 8) & 255);
          s1 = s1 + w0 * ((a >>> 8) & 255) + w1 * (b & 255) + w2 * (b >>> 24) + w3 * ((c >>> 16) & 255);
          s2 = s2 + w0 * ((a >>> 16) & 255) + w1 * ((b >>> 8) & 255) + w2 * (c & 255) + w3 * (c >>> 24);
        }
        for (; k < n; k++, p += 3) {
          const w = weights[wi + k]!;
          s0 += w * src[p]!;
          s1 += w * src[p + 1]!;
          s2 += w * src[p + 2]!;
        }
        dst[o] = s0 * vs;
        dst[o + 1] = s1 * vs;
        dst[o + 2] = s2 * vs;
      }
    }
    return;
  }
  // Other channel counts (loadImage always resizes RGB): the shared kernel.
  horizontalWide(src, dst, height, width, outWidth, channels, taps, valueScale);
}

/**
 * Uint16 and Float32 (off the hot path: 16-bit files and float inputs), and Uint8 with other than
 * 3 channels: one kernel for all. Its element reads see up to three array types (polymorphic, not
 * megamorphic, in V8).
 */
function horizontalWide(src: Pixels, dst: Float32Array, height: number, width: number, outWidth: number, channels: number, taps: Taps, valueScale: number): void {
  const { start, count, weights, maxTaps } = taps;
  const rowInLength = width * channels;
  let o = 0;
  if (channels === 3) {
    for (let y = 0; y < height; y++) {
      const rowIn = y * rowInLength;
      for (let x = 0, wi = 0; x < outWidth; x++, wi += maxTaps, o += 3) {
        let p = rowIn + start[x]!;
        const n = count[x]!;
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        for (let k = 0; k < n; k++, p += 3) {
          const w = weights[wi + k]!;
          s0 += w * src[p]!;
          s1 += w * src[p + 1]!;
          s2 += w * src[p + 2]!;
        }
        dst[o] = s0 * valueScale;
        dst[o + 1] = s1 * valueScale;
        dst[o + 2] = s2 * valueScale;
      }
    }
    return;
  }
  for (let y = 0; y < height; y++) {
    const rowIn = y * rowInLength;
    for (let x = 0, wi = 0; x < outWidth; x++, wi += maxTaps) {
      const s = rowIn + start[x]!;
      const n = count[x]!;
      for (let c = 0; c < channels; c++, o++) {
        let sum = 0;
        for (let k = 0, p = s + c; k < n; k++, p += channels) sum += weights[wi + k]! * src[p]!;
        dst[o] = sum * valueScale;
      }
    }
  }
}

/** Same-width "horizontal pass": `dst[i] = src[i] · valueScale`, one monomorphic loop per type. */
function scaleCopy(src: Pixels, dst: Float32Array, n: number, valueScale: number): void {
  if (src instanceof Uint8Array) for (let i = 0; i < n; i++) dst[i] = src[i]! * valueScale;
  else if (src instanceof Uint16Array) for (let i = 0; i < n; i++) dst[i] = src[i]! * valueScale;
  else for (let i = 0; i < n; i++) dst[i] = src[i]! * valueScale;
}

/**
 * Vertical pass: float32 `[height, rowLength]` → `out` `[outHeight, rowLength]` (zero-filled).
 * Every output accumulates in float32, tap by tap in tap order: `acc = fround(acc + w · v)` — the
 * same values as adding each weighted input row into the output row in turn. Taps are taken four
 * (or the remaining three, two, one) rows at a time with the weights in locals, so each output is
 * read and written once per four taps. The affine, if any, is applied to each finished row while it
 * is still in cache.
 */
function vertical(src: Float32Array, out: Float32Array, height: number, outHeight: number, rowLength: number, channels: number, affine: ResizeAffine | undefined): void {
  const { start, count, weights, maxTaps } = bilinearTaps(height, outHeight, rowLength);
  const fround = Math.fround;
  for (let y = 0, o = 0, wi = 0; y < outHeight; y++, o += rowLength, wi += maxTaps) {
    const n = count[y]!;
    for (let k = 0; k < n; ) {
      const r0 = start[y]! + k * rowLength;
      const w0 = weights[wi + k]!;
      const left = n - k;
      // `first`: the output row still holds zeros; start from 0 + w0 · v as adding into it would (never −0).
      const first = k === 0;
      if (left >= 4) {
        const w1 = weights[wi + k + 1]!;
        const w2 = weights[wi + k + 2]!;
        const w3 = weights[wi + k + 3]!;
        const r1 = r0 + rowLength;
        const r2 = r1 + rowLength;
        const r3 = r2 + rowLength;
        if (first) {
          for (let i = 0; i < rowLength; i++) out[o + i] = fround(fround(fround(0 + w0 * src[r0 + i]!) + w1 * src[r1 + i]!) + w2 * src[r2 + i]!) + w3 * src[r3 + i]!;
        } else {
          for (let i = 0; i < rowLength; i++) {
            out[o + i] = fround(fround(fround(out[o + i]! + w0 * src[r0 + i]!) + w1 * src[r1 + i]!) + w2 * src[r2 + i]!) + w3 * src[r3 + i]!;
          }
        }
        k += 4;
      } else if (left === 3) {
        const w1 = weights[wi + k + 1]!;
        const w2 = weights[wi + k + 2]!;
        const r1 = r0 + rowLength;
        const r2 = r1 + rowLength;
        if (first) for (let i = 0; i < rowLength; i++) out[o + i] = fround(fround(0 + w0 * src[r0 + i]!) + w1 * src[r1 + i]!) + w2 * src[r2 + i]!;
        else for (let i = 0; i < rowLength; i++) out[o + i] = fround(fround(out[o + i]! + w0 * src[r0 + i]!) + w1 * src[r1 + i]!) + w2 * src[r2 + i]!;
        k += 3;
      } else if (left === 2) {
        const w1 = weights[wi + k + 1]!;
        const r1 = r0 + rowLength;
        if (first) for (let i = 0; i < rowLength; i++) out[o + i] = fround(0 + w0 * src[r0 + i]!) + w1 * src[r1 + i]!;
        else for (let i = 0; i < rowLength; i++) out[o + i] = fround(out[o + i]! + w0 * src[r0 + i]!) + w1 * src[r1 + i]!;
        k += 2;
      } else {
        for (let i = 0; i < rowLength; i++) out[o + i] = out[o + i]! + w0 * src[r0 + i]!;
        k += 1;
      }
    }
    if (affine !== undefined) applyAffine(out, o, o + rowLength, channels, affine);
  }
}

/** In place on `data[from, to)` (whole pixels): `v = v · scale[c] + offset[c]`, in float64, stored float32. */
function applyAffine(data: Float32Array, from: number, to: number, channels: number, affine: ResizeAffine): void {
  const { scale, offset } = affine;
  if (channels === 3) {
    const a0 = +scale[0]!;
    const a1 = +scale[1]!;
    const a2 = +scale[2]!;
    const b0 = +offset[0]!;
    const b1 = +offset[1]!;
    const b2 = +offset[2]!;
    for (let i = from; i < to; i += 3) {
      data[i] = data[i]! * a0 + b0;
      data[i + 1] = data[i + 1]! * a1 + b1;
      data[i + 2] = data[i + 2]! * a2 + b2;
    }
    return;
  }
  for (let c = 0; c < channels; c++) {
    const a = +scale[c]!;
    const b = +offset[c]!;
    for (let i = from + c; i < to; i += channels) data[i] = data[i]! * a + b;
  }
}

// The intermediate of the two passes, kept between calls (up to SCRATCH_LIMIT floats): a fresh
// megabyte-sized array costs zero-filling and page faults on every call.
let scratchBuffer = new Float32Array(0);
const SCRATCH_LIMIT = 1 << 20; // 4 MB

function scratch(length: number): Float32Array {
  if (scratchBuffer.length >= length) return scratchBuffer;
  const buffer = new Float32Array(length);
  if (length <= SCRATCH_LIMIT) scratchBuffer = buffer;
  return buffer;
}

function checkArguments(source: Pixels, height: number, width: number, channels: number, affine: ResizeAffine | undefined): void {
  const where = 'resizeBilinearAntialiased()';
  const needed = height * width * channels;
  if (source.length < needed) {
    throw new ShapeMismatchError(
      `${where}: source must hold height·width·channels = ${height}·${width}·${channels} = ${needed} values (HWC) — got ${source.length}. Check the size and channel count passed with it.`,
    );
  }
  if (affine === undefined) return;
  for (const field of ['scale', 'offset'] as const) {
    const values = (affine as Partial<ResizeAffine> | null)?.[field];
    const got = values == null ? undefined : values.length;
    if (got !== channels) {
      const seen = values == null ? String(values) : `${got} entries`;
      throw new InvalidArgumentError(
        `${where}: affine.${field} must have one entry per channel (${channels}) — got ${seen}. ` +
          `Pass ${channels} numbers (for (v − mean) / std: scale = 1 / std, offset = −mean / std), or leave affine out.`,
      );
    }
  }
}

/**
 * Resizes an HWC image with antialiased bilinear filtering (PIL / torchvision `antialias=True`).
 * `valueScale` multiplies every input value (e.g. `1/255` to turn bytes into [0, 1]).
 *
 * `affine`, when given, maps every resized value `v` of channel `c` to `v · scale[c] + offset[c]`
 * (float64 arithmetic on the float32 resized value, stored as float32). It is applied as the output
 * is written (in one in-place pass when the height is unchanged) and allocates nothing. Both arrays
 * need exactly `channels` entries.
 * It folds a normalisation `(v − mean[c]) / std[c]` into the resize with `scale[c] = 1 / std[c]`
 * and `offset[c] = −mean[c] / std[c]`.
 *
 * @throws ShapeMismatchError if `source` has fewer than `height · width · channels` values.
 * @throws InvalidArgumentError if `affine.scale` or `affine.offset` does not have `channels` entries.
 *
 * @example
 * const out = resizeBilinearAntialiased(bytes, 512, 512, 3, 256, 256, 1 / 255); // Float32Array 256·256·3
 * // Resize and ImageNet-normalise in one go:
 * const mean = [0.485, 0.456, 0.406];
 * const std = [0.229, 0.224, 0.225];
 * const input = resizeBilinearAntialiased(bytes, 512, 512, 3, 256, 256, 1 / 255, {
 *   scale: std.map((s) => 1 / s),
 *   offset: mean.map((m, c) => -m / std[c]!),
 * });
 */
export function resizeBilinearAntialiased(
  source: Pixels,
  height: number,
  width: number,
  channels: number,
  outHeight: number,
  outWidth: number,
  valueScale = 1,
  affine?: ResizeAffine,
): Float32Array {
  checkArguments(source, height, width, channels, affine);
  if (source instanceof Uint8Array && channels === 3 && outHeight !== height && outWidth !== width && valueScale > 0 && valueScale <= 1e30) {
    const hTaps = bilinearTaps4(width, outWidth, 3);
    const vTaps = hTaps && bilinearTaps4(height, outHeight, 1);
    if (hTaps !== undefined && vTaps !== undefined) {
      const out = new Float32Array(outHeight * outWidth * 3);
      fusedU8Rgb(source, out, width, outHeight, outWidth, hTaps, vTaps, valueScale, affine);
      return out;
    }
  }
  // Horizontal pass: [height, outWidth, channels]. It is returned when the height does not change,
  // otherwise it goes to a reused scratch buffer (every element is written before being read).
  const horizontal = outHeight === height ? new Float32Array(height * outWidth * channels) : scratch(height * outWidth * channels);
  if (outWidth === width) {
    scaleCopy(source, horizontal, height * width * channels, valueScale);
  } else {
    const taps = bilinearTaps(width, outWidth, channels);
    if (source instanceof Uint8Array) horizontalU8(source, horizontal, height, width, outWidth, channels, taps, valueScale);
    else horizontalWide(source, horizontal, height, width, outWidth, channels, taps, valueScale);
  }
  if (outHeight === height) {
    if (affine !== undefined) applyAffine(horizontal, 0, horizontal.length, channels, affine);
    return horizontal;
  }
  // Vertical pass: [outHeight, outWidth, channels].
  const out = new Float32Array(outHeight * outWidth * channels);
  vertical(horizontal, out, height, outHeight, outWidth * channels, channels, affine);
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
