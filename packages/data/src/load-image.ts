import { readFile } from 'node:fs/promises';
import sharp, { type Metadata, type Sharp } from 'sharp';
import { decodeBmp, isBmp, readBmpHeader } from './bmp';
import { ImageDecodeError, ImageTooLargeError } from './errors';
import { type Normalization, normalizationAffine } from './normalization';
import { resizeBilinearAntialiased } from './resize';
import { toRgb } from './to-rgb';
import { InvalidArgumentError } from '@dfm/errors';

/**
 * Default pixel limit: PIL's decompression-bomb threshold (2 × 89,478,485 pixels). Larger
 * images are refused from their header, before decoding.
 */
export const DEFAULT_PIXEL_LIMIT = 178_956_970;

/** The file types {@link loadImage} reads (by content, not by extension). */
export const SUPPORTED_FORMATS = ['png', 'jpeg', 'bmp', 'tiff', 'webp', 'gif'] as const;

/**
 * Resampling used when resizing: `'bilinear-antialiased'` (default) is PIL / torchvision
 * `Resize(antialias=True)` bilinear computed in float, matching the PyTorch reference; the others
 * are libvips kernels run inside sharp on 8/16-bit data (faster on very large images, but rounded
 * to the input bit depth and with replicated rather than renormalised borders).
 */
export type ResizeKernel = 'bilinear-antialiased' | 'linear' | 'cubic' | 'mitchell' | 'lanczos2' | 'lanczos3';

/** `number` = square `size × size`; `[height, width]` otherwise. Aspect ratio is not kept. */
export type ImageSize = number | readonly [number, number];

export interface LoadImageOptions {
  /** Output size; omitted = the image's own (oriented) size. The aspect ratio is not kept (`fit: 'fill'`). */
  size?: ImageSize;
  /** Refuse images with more pixels than this, from the header (decompression bombs). Default {@link DEFAULT_PIXEL_LIMIT}; `Infinity` = no limit. */
  pixelLimit?: number;
  /** Resampling kernel. Default `'bilinear-antialiased'`. */
  kernel?: ResizeKernel;
  /**
   * Normalise while resizing: `data` holds `(v − mean[c]) / std[c]` instead of `v` in [0, 1]
   * (e.g. ImageNet's, what the backbones expect). Free here; saves a pass over the pixels later.
   */
  normalize?: Normalization;
}

/** A decoded image: HWC RGB float32 in [0, 1] (or normalised, with `normalize`). */
export interface DecodedImage {
  /** [height, width, 3] row-major, values in [0, 1] (normalised with `normalize`). */
  data: Float32Array;
  height: number;
  width: number;
  channels: 3;
  /** Size of the file's image after EXIF orientation, before resizing. */
  originalHeight: number;
  originalWidth: number;
  path: string;
}

/** What a file's header says, without decoding pixels. */
export interface ImageHeader {
  format: string;
  /** After EXIF orientation. */
  width: number;
  height: number;
}

/** Every {@link ResizeKernel}, for validation and help texts. */
export const RESIZE_KERNELS: readonly ResizeKernel[] = ['bilinear-antialiased', 'linear', 'cubic', 'mitchell', 'lanczos2', 'lanczos3'];

/** Checks and normalises an {@link ImageSize}; `where` names the caller for messages. */
export function normalizeSize(size: ImageSize, where: string): [number, number] {
  const pair: readonly number[] = typeof size === 'number' ? [size, size] : size;
  if (pair.length !== 2 || !pair.every((n) => Number.isInteger(n) && n > 0)) {
    throw new InvalidArgumentError(
      `${where}: size must be a positive integer or [height, width] of positive integers — got ${JSON.stringify(size)}. Pass e.g. 256 or [256, 256].`,
    );
  }
  return [pair[0]!, pair[1]!];
}

/** @internal Checks a pixel limit (shared with decodeImagePixels). */
export function checkPixelLimit(pixelLimit: number, where: string): number {
  if (!(pixelLimit > 0)) {
    throw new InvalidArgumentError(
      `${where}: pixelLimit must be a positive number of pixels (or Infinity) — got ${pixelLimit}. The default is ${DEFAULT_PIXEL_LIMIT}.`,
    );
  }
  return pixelLimit;
}

/** Reads a file, turning IO errors and empty files into {@link ImageDecodeError}. */
export async function readImageFile(path: string, what = 'image'): Promise<Buffer> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new ImageDecodeError(`cannot read ${what} ${path} (${code}). Check that the file exists and is readable.`, {
      file: path,
      cause: error,
    });
  }
  if (bytes.length === 0) {
    throw new ImageDecodeError(`${what} ${path} is empty (0 bytes). Re-copy or remove the file.`, { file: path });
  }
  return bytes;
}

function sharpError(path: string, what: string, error: unknown): ImageDecodeError {
  const detail = error instanceof Error ? error.message.split('\n')[0] : String(error);
  const hint = /unsupported image format/i.test(detail ?? '')
    ? `is not a supported image (${SUPPORTED_FORMATS.join(', ')})`
    : `is corrupt or truncated (${detail})`;
  return new ImageDecodeError(`${what} ${path} ${hint}. Re-export or remove the file.`, { file: path, cause: error });
}

/**
 * Reads only the header of an image file (format and oriented size); refuses files above
 * `pixelLimit`. Cheap: no pixel is decoded. Used by {@link validateSamples}.
 */
export async function readImageHeader(
  path: string,
  options: { pixelLimit?: number; what?: string } = {},
): Promise<ImageHeader> {
  const what = options.what ?? 'image';
  const pixelLimit = checkPixelLimit(options.pixelLimit ?? DEFAULT_PIXEL_LIMIT, 'readImageHeader()');
  const bytes = await readImageFile(path, what);
  const { format, width, height } = await headerOf(bytes, path, pixelLimit, what);
  return { format, width, height };
}

/** @internal */
export interface ParsedHeader extends ImageHeader {
  sixteenBit: boolean;
  cmyk: boolean;
}

/** @internal Parses and checks a header (shared with loadMask). */
export async function headerOf(bytes: Buffer, path: string, pixelLimit: number, what: string): Promise<ParsedHeader> {
  let header: ParsedHeader;
  if (isBmp(bytes)) {
    const bmp = readBmpHeader(bytes, path);
    header = { format: 'bmp', width: bmp.width, height: bmp.height, sixteenBit: false, cmyk: false };
  } else {
    let metadata: Metadata;
    try {
      metadata = await sharp(bytes, { limitInputPixels: false }).metadata();
    } catch (error) {
      throw sharpError(path, what, error);
    }
    const width = metadata.autoOrient?.width ?? metadata.width;
    const height = metadata.autoOrient?.height ?? metadata.height;
    if (!width || !height) throw sharpError(path, what, new Error('no image size in the header'));
    header = {
      format: metadata.format ?? 'unknown',
      width,
      height,
      sixteenBit: metadata.depth === 'ushort',
      cmyk: metadata.space === 'cmyk',
    };
  }
  const pixels = header.width * header.height;
  if (pixels > pixelLimit) {
    throw new ImageTooLargeError(
      `${what} ${path} is ${header.width}×${header.height} = ${pixels} pixels, above pixelLimit ${pixelLimit} (refused before decoding, a possible decompression bomb). Shrink the image or raise pixelLimit.`,
      { file: path, pixels, pixelLimit },
    );
  }
  return header;
}

/** Raw interleaved pixels at their own depth. */
interface RawPixels {
  data: Uint8Array | Uint16Array;
  width: number;
  height: number;
  channels: number;
  /** 255 or 65535. */
  maxValue: number;
}

/**
 * @internal Decodes bytes to raw pixels: EXIF orientation applied, first frame of animations,
 * alpha dropped, converted to sRGB (grey replicated), 8 or 16 bits.
 */
export async function decodeRaw(
  bytes: Buffer,
  path: string,
  header: ParsedHeader,
  options: {
    pixelLimit: number;
    what: string;
    resize?: { height: number; width: number; kernel: ResizeKernel };
  },
): Promise<RawPixels> {
  let input: Sharp;
  const sixteen = header.sixteenBit;
  if (header.format === 'bmp') {
    const bmp = decodeBmp(bytes, path);
    input = sharp(bmp.data, { raw: { width: bmp.width, height: bmp.height, channels: 3 } });
  } else {
    const limit = Number.isFinite(options.pixelLimit) ? Math.floor(options.pixelLimit) : false;
    // Embedded ICC profiles are ignored for RGB/grey (as PIL's convert('RGB') does); CMYK needs one.
    input = sharp(bytes, { limitInputPixels: limit, ignoreIcc: !header.cmyk, autoOrient: true });
  }
  let pipeline = input.removeAlpha();
  pipeline = pipeline.toColourspace(sixteen ? 'rgb16' : 'srgb');
  if (options.resize !== undefined && options.resize.kernel !== 'bilinear-antialiased') {
    pipeline = pipeline.resize({
      width: options.resize.width,
      height: options.resize.height,
      fit: 'fill',
      kernel: options.resize.kernel,
      fastShrinkOnLoad: false,
    });
  }
  try {
    const { data, info } = await pipeline.raw({ depth: sixteen ? 'ushort' : 'uchar' }).toBuffer({ resolveWithObject: true });
    const pixels = sixteen
      ? new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2)
      : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    return { data: pixels, width: info.width, height: info.height, channels: info.channels, maxValue: sixteen ? 65535 : 255 };
  } catch (error) {
    throw sharpError(path, options.what, error);
  }
}

/**
 * Decodes an image file to RGB float32 in [0, 1], HWC.
 *
 * PNG, JPEG, BMP, TIFF, WebP (and GIF); 8- and 16-bit; grey, grey+alpha, palette and CMYK become
 * RGB; alpha is dropped (not composited, like PIL's `convert('RGB')`); EXIF orientation is
 * applied; animations give their first frame. With `size` the image is resized to exactly that
 * size (aspect ratio not kept) with antialiased bilinear filtering (see {@link ResizeKernel}).
 *
 * @throws ImageDecodeError empty, unreadable, corrupt or unsupported file (names the file).
 * @throws ImageTooLargeError above `pixelLimit`, from the header, before decoding.
 *
 * @example
 * const image = await loadImage('bottle/train/good/000.png', { size: 256 });
 * image.data.length; // 256 * 256 * 3
 */
export async function loadImage(path: string, options: LoadImageOptions = {}): Promise<DecodedImage> {
  const kernel = options.kernel ?? 'bilinear-antialiased';
  if (!RESIZE_KERNELS.includes(kernel)) {
    throw new InvalidArgumentError(`loadImage(): kernel must be one of ${RESIZE_KERNELS.join(', ')} — got ${JSON.stringify(kernel)}.`);
  }
  const target = options.size === undefined ? undefined : normalizeSize(options.size, 'loadImage()');
  const pixelLimit = checkPixelLimit(options.pixelLimit ?? DEFAULT_PIXEL_LIMIT, 'loadImage()');
  const affine = options.normalize === undefined ? undefined : normalizationAffine(options.normalize, 'loadImage()');
  const bytes = await readImageFile(path, 'image');
  const header = await headerOf(bytes, path, pixelLimit, 'image');
  const raw = await decodeRaw(bytes, path, header, {
    pixelLimit,
    what: 'image',
    resize: target === undefined ? undefined : { height: target[0], width: target[1], kernel },
  });
  const rgb = toRgb(raw.data, raw.channels);
  const [outHeight, outWidth] = target ?? [raw.height, raw.width];
  const data = resizeBilinearAntialiased(rgb, raw.height, raw.width, 3, outHeight, outWidth, 1 / raw.maxValue, affine);
  return {
    data,
    height: outHeight,
    width: outWidth,
    channels: 3,
    originalHeight: header.height,
    originalWidth: header.width,
    path,
  };
}
