import { DEFAULT_PIXEL_LIMIT, checkPixelLimit, decodeRaw, headerOf, readImageFile, RESIZE_KERNELS, type ResizeKernel } from './load-image';
import { ImageDecodeError } from './errors';
import { toRgb } from './to-rgb';
import { InvalidArgumentError } from '@dfm/errors';

/** Options of {@link decodeImagePixels}. */
export interface DecodeImagePixelsOptions {
  /** Refuse images with more pixels than this, from the header. Default {@link DEFAULT_PIXEL_LIMIT}; `Infinity` = no limit. */
  pixelLimit?: number;
  /**
   * Resize inside sharp (libvips, on the 8/16-bit values) with one of its kernels, exactly as
   * {@link loadImage} does for a `kernel` other than `'bilinear-antialiased'`. Omitted = the file's
   * own size (the antialiased bilinear resize runs afterwards on the pixels, in float).
   */
  resize?: { height: number; width: number; kernel: Exclude<ResizeKernel, 'bilinear-antialiased'> };
  /** The name of in-memory bytes in messages. Default `'<image bytes>'`. */
  label?: string;
}

/** An image's pixels as decoded, before any scaling: HWC RGB at the file's own bit depth. */
export interface DecodedPixels {
  /** `[height, width, 3]` row-major, 0…`maxValue`. */
  data: Uint8Array | Uint16Array;
  width: number;
  height: number;
  channels: 3;
  /** 255 for 8-bit images, 65535 for 16-bit ones. */
  maxValue: 255 | 65535;
}

/**
 * Decodes an image file (path) or its bytes to RGB pixels at their own size and bit depth, exactly
 * as {@link loadImage} decodes them before resizing: EXIF orientation applied, first frame of an
 * animation, alpha dropped (not composited), grey replicated, 16-bit kept, ICC profiles ignored
 * except for CMYK. `loadImage(path, { size, normalize })` equals, bit for bit,
 * `resizeBilinearAntialiased(p.data, p.height, p.width, 3, h, w, 1 / p.maxValue, normalizationAffine(normalize))`
 * of these pixels: what the Detector does with pixels from anywhere.
 *
 * @throws ImageDecodeError empty, unreadable, corrupt or unsupported image (`E_IMAGE_DECODE`).
 * @throws ImageTooLargeError above `pixelLimit`, from the header (`E_IMAGE_TOO_LARGE`).
 *
 * @example
 * const { data, width, height, maxValue } = await decodeImagePixels('bottle/test/broken_large/000.png');
 */
export async function decodeImagePixels(source: string | Uint8Array, options: DecodeImagePixelsOptions = {}): Promise<DecodedPixels> {
  const pixelLimit = checkPixelLimit(options.pixelLimit ?? DEFAULT_PIXEL_LIMIT, 'decodeImagePixels()');
  const { resize } = options;
  if (
    resize !== undefined &&
    (!Number.isSafeInteger(resize.height) ||
      resize.height < 1 ||
      !Number.isSafeInteger(resize.width) ||
      resize.width < 1 ||
      (resize.kernel as ResizeKernel) === 'bilinear-antialiased' ||
      !RESIZE_KERNELS.includes(resize.kernel))
  ) {
    throw new InvalidArgumentError(
      `decodeImagePixels(): resize must be { height, width } positive integers and a sharp kernel (${RESIZE_KERNELS.filter((k) => k !== 'bilinear-antialiased').join(', ')}) — got ${JSON.stringify(resize)}. For 'bilinear-antialiased' decode at the own size and call resizeBilinearAntialiased.`,
    );
  }
  let bytes: Buffer;
  let label: string;
  if (typeof source === 'string' && source.length > 0) {
    bytes = await readImageFile(source, 'image');
    label = source;
  } else if (source instanceof Uint8Array) {
    label = options.label ?? '<image bytes>';
    if (source.length === 0) throw new ImageDecodeError(`image ${label} is empty (0 bytes). Pass the bytes of a PNG, JPEG, BMP, TIFF, WebP or GIF file.`, { file: label });
    bytes = Buffer.from(source.buffer, source.byteOffset, source.byteLength);
  } else {
    throw new InvalidArgumentError(
      `decodeImagePixels(): source must be an image path or the file's bytes (Uint8Array) — got ${source === null ? 'null' : typeof source === 'string' ? 'an empty string' : typeof source}.`,
    );
  }
  const header = await headerOf(bytes, label, pixelLimit, 'image');
  const raw = await decodeRaw(bytes, label, header, { pixelLimit, what: 'image', resize });
  return { data: toRgb(raw.data, raw.channels), width: raw.width, height: raw.height, channels: 3, maxValue: raw.maxValue as 255 | 65535 };
}
