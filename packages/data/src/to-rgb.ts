import { InvalidArgumentError } from '@dfm/errors';

/** Interleaved pixel values: 8-bit, 16-bit or float. */
export type PixelArray = Uint8Array | Uint16Array | Float32Array;

/**
 * Interleaved pixels with `channels` values each (HWC) as RGB: grey is replicated to the three
 * channels, a fourth (alpha) channel is dropped, not composited (as PIL's `convert('RGB')` does);
 * 2 channels are grey + alpha. Returns `data` itself when it already has 3 channels, else a new
 * array of the same type. Sharp-free: used by the image loader and by the browser-safe Detector.
 *
 * @example
 * toRgb(new Uint8Array([7, 9]), 1); // Uint8Array [7, 7, 7, 9, 9, 9]
 */
export function toRgb<T extends PixelArray>(data: T, channels: number): T {
  if (channels === 3) return data;
  if (!Number.isInteger(channels) || channels < 1 || channels > 4 || data.length % channels !== 0) {
    throw new InvalidArgumentError(
      `toRgb(): channels must be 1, 2, 3 or 4 and divide the ${data.length} values — got ${channels}.`,
    );
  }
  const pixels = data.length / channels;
  // The constructor is chosen by type (a Buffer's own constructor must not be called).
  const out = (data instanceof Uint16Array ? new Uint16Array(pixels * 3) : data instanceof Float32Array ? new Float32Array(pixels * 3) : new Uint8Array(pixels * 3)) as T;
  // Grey (+ alpha) reads channel 0 three times; RGBA reads 0, 1, 2.
  const source = channels < 3 ? [0, 0, 0] : [0, 1, 2];
  for (let i = 0; i < pixels; i++) {
    const from = i * channels;
    out[i * 3] = data[from + source[0]!]!;
    out[i * 3 + 1] = data[from + source[1]!]!;
    out[i * 3 + 2] = data[from + source[2]!]!;
  }
  return out;
}
