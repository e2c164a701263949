import { type ImageSize, DEFAULT_PIXEL_LIMIT, decodeRaw, headerOf, normalizeSize, readImageFile } from './load-image';
import { resizeNearest } from './resize';
import { InvalidArgumentError } from '@dfm/errors';

export interface LoadMaskOptions {
  /** Output size (nearest-neighbour); omitted = the mask's own size. */
  size?: ImageSize;
  /** Refuse masks with more pixels than this (from the header). Default {@link DEFAULT_PIXEL_LIMIT}. */
  pixelLimit?: number;
}

/** A binary mask: 1 = anomalous pixel. */
export interface DecodedMask {
  /** [height, width] row-major, values 0 or 1. */
  data: Uint8Array;
  height: number;
  width: number;
  /** The mask file's own size (after EXIF orientation), before resizing. */
  originalHeight: number;
  originalWidth: number;
  path: string;
}

/**
 * Decodes a ground-truth mask: a pixel is anomalous (1) when any colour channel is > 0 (alpha
 * ignored; 16-bit masks are read at 16 bits so small values count). Resized with nearest
 * neighbour (PyTorch `interpolate(mode='nearest')`), so it stays binary.
 *
 * @throws ImageDecodeError / ImageTooLargeError as {@link loadImage}.
 *
 * @example
 * const mask = await loadMask('ground_truth/crack/000_mask.png', { size: 256 });
 */
export async function loadMask(path: string, options: LoadMaskOptions = {}): Promise<DecodedMask> {
  const target = options.size === undefined ? undefined : normalizeSize(options.size, 'loadMask()');
  const pixelLimit = options.pixelLimit ?? DEFAULT_PIXEL_LIMIT;
  if (!(pixelLimit > 0)) {
    throw new InvalidArgumentError(`loadMask(): pixelLimit must be a positive number — got ${pixelLimit}.`);
  }
  const bytes = await readImageFile(path, 'mask');
  const header = await headerOf(bytes, path, pixelLimit, 'mask');
  const raw = await decodeRaw(bytes, path, header, { pixelLimit, what: 'mask' });
  const pixels = raw.width * raw.height;
  const binary = new Uint8Array(pixels);
  const { data, channels } = raw;
  for (let i = 0; i < pixels; i++) {
    for (let c = 0; c < channels; c++) {
      if (data[i * channels + c]! > 0) {
        binary[i] = 1;
        break;
      }
    }
  }
  const [height, width] = target ?? [raw.height, raw.width];
  return {
    data: resizeNearest(binary, raw.height, raw.width, height, width),
    height,
    width,
    originalHeight: raw.height,
    originalWidth: raw.width,
    path,
  };
}
