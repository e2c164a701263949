/**
 * NHWC → NCHW copy of an image batch (`[B, H, W, C]` → `[B, C, H, W]`).
 */
export function nhwcToNchw(data: Float32Array, shape: readonly number[]): Float32Array {
  const [batch, height, width, channels] = shape as [number, number, number, number];
  const plane = height * width;
  const out = new Float32Array(data.length);
  for (let b = 0; b < batch; b++) {
    const base = b * plane * channels;
    for (let c = 0; c < channels; c++) {
      const target = base + c * plane;
      for (let p = 0, q = base + c; p < plane; p++, q += channels) out[target + p] = data[q] as number;
    }
  }
  return out;
}
