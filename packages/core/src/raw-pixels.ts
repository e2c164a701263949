import { type PixelArray, toRgb } from '@dfm/data/pixels';
import { InvalidArgumentError } from '@dfm/errors';

/**
 * Decoded pixels, interleaved HWC: 8-bit (`Uint8Array`, `Uint8ClampedArray` as in `ImageData`,
 * 0–255), 16-bit (`Uint16Array`, 0–65535) or float (`Float32Array`, 0–1). Grey (1 channel) is
 * replicated to RGB; a fourth channel (alpha) is dropped, not composited.
 */
export interface RawPixels {
  data: Uint8Array | Uint8ClampedArray | Uint16Array | Float32Array;
  width: number;
  height: number;
  channels: 1 | 3 | 4;
}

/** @internal RGB pixels and the value that means full intensity (255, 65535 or 1). */
export interface RgbPixels {
  data: PixelArray;
  width: number;
  height: number;
  maxValue: number;
}

/** @internal A short description of any value for messages: its type, constructor, size or keys. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return value.length > 60 ? `a string (${JSON.stringify(`${value.slice(0, 57)}...`)})` : `the string ${JSON.stringify(value)}`;
  if (typeof value !== 'object') return `${typeof value} ${String(value)}`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name} of ${(value as unknown as ArrayLike<unknown>).length ?? value.byteLength} values`;
  if (Array.isArray(value)) return `an Array of ${value.length}`;
  const name = value.constructor?.name;
  if (name !== undefined && name !== 'Object') return `a ${name}`;
  const keys = Object.keys(value);
  return `an object with keys {${keys.slice(0, 8).join(', ')}${keys.length > 8 ? ', …' : ''}}`;
}

const isSize = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) > 0;

/**
 * @internal Checks {@link RawPixels} and returns them as RGB (no copy when they already are; a
 * `Uint8ClampedArray` becomes a `Uint8Array` view of the same memory).
 *
 * @param where the caller, for messages (`Detector.predict()`)
 * @param what the argument, for messages (`input`, `inputs[3]`)
 */
export function rawPixelsToRgb(pixels: RawPixels, where: string, what: string): RgbPixels {
  const { data, width, height, channels } = (pixels ?? {}) as Partial<RawPixels>;
  const expected = `{ data: Uint8Array | Uint8ClampedArray | Uint16Array | Float32Array, width, height, channels: 1 | 3 | 4 } with data.length = width·height·channels`;
  const fail = (got: string): never => {
    throw new InvalidArgumentError(`${where}: ${what} must be raw pixels ${expected} — got ${got}.`);
  };
  if (
    !(data instanceof Uint8Array || data instanceof Uint8ClampedArray || data instanceof Uint16Array || data instanceof Float32Array)
  ) {
    return fail(`data = ${describeValue(data)}${(data as unknown) instanceof Float64Array ? ' (convert it with Float32Array.from(data))' : ''}`);
  }
  if (!isSize(width) || !isSize(height)) return fail(`width ${describeValue(width)}, height ${describeValue(height)} (positive integers expected)`);
  if (channels !== 1 && channels !== 3 && channels !== 4) {
    return fail(`channels = ${describeValue(channels)}${channels === undefined && data.length === width * height * 4 ? ' (for ImageData-like RGBA pass channels: 4)' : ''}`);
  }
  if (data.length !== width * height * channels) {
    return fail(`data.length ${data.length} for ${width}×${height}×${channels} = ${width * height * channels}`);
  }
  const typed: PixelArray = data instanceof Uint8ClampedArray ? new Uint8Array(data.buffer, data.byteOffset, data.length) : data;
  const maxValue = typed instanceof Uint16Array ? 65535 : typed instanceof Float32Array ? 1 : 255;
  return { data: toRgb(typed, channels), width, height, maxValue };
}
